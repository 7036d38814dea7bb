/* softfloat.c: IEEE 754 binary32 / binary16 operations with integer instructions only.
 *
 * Every finite value is handled as sig * 2^exp (sig an unsigned integer, exp a signed int);
 * results are exact until one rounding step, pack32() / pack16(), which rounds to nearest,
 * ties to even, into the normal or the subnormal range. No libcalls: 64-bit shifts, adds and
 * the 32 x 32 -> 64 multiply are inline on RV32IM; the bit length is bitlen.h's. */
#include "bitlen.h"
#include "softfloat.h"

#define SIGN32 0x80000000u

/* sig >> shift rounded to nearest, ties to even (shift >= 0, any size). */
static uint64_t shift_rne(uint64_t sig, int shift)
{
    if (shift == 0)
        return sig;
    if (shift > 64)
        return 0;                               /* sig < 2^64 <= half an ulp */
    if (shift == 64)
        return sig > (1ull << 63) ? 1 : 0;      /* tie (== 2^63) goes to the even 0 */
    uint64_t q = sig >> shift;
    uint64_t rem = sig & ((1ull << shift) - 1);
    uint64_t half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

/* Round sign * sig * 2^exp (sig != 0) to a format with `mant` fraction bits, minimum
 * (subnormal) lsb exponent `emin_lsb` and all-ones exponent field `emax_field`. */
static uint32_t pack(uint32_t sign, int exp, uint64_t sig, int mant, int emin_lsb,
                     int emax_field)
{
    int msb = bitlen64(sig) - 1;
    int shift = msb - mant;
    if (shift < emin_lsb - exp)
        shift = emin_lsb - exp;
    uint64_t r;
    if (shift >= 0) {
        r = shift_rne(sig, shift);
    } else {
        r = sig << -shift;                      /* exact: fewer than mant + 1 bits */
    }
    int lsb_exp = exp + shift;
    uint32_t sign_bit = sign << (mant + (mant == 23 ? 8 : 5));
    if (r == 0)
        return sign_bit;
    if (r >> (mant + 1)) {                      /* rounded up to 2^(mant+1) */
        r >>= 1;
        lsb_exp++;
    }
    if (!(r >> mant))                           /* subnormal: lsb_exp == emin_lsb */
        return sign_bit | (uint32_t)r;
    int bias = emax_field >> 1;
    int field = lsb_exp + mant + bias;
    if (field >= emax_field)
        return sign_bit | ((uint32_t)emax_field << mant);   /* overflow: Inf */
    return sign_bit | ((uint32_t)field << mant) | ((uint32_t)r & ((1u << mant) - 1));
}

static f32_t pack32(uint32_t sign, int exp, uint64_t sig)
{
    return pack(sign, exp, sig, 23, -149, 255);
}

/* Unpack a finite nonzero binary32: value = sig * 2^exp. */
static void unpack32(f32_t a, uint32_t *sig, int *exp)
{
    uint32_t e = (a >> 23) & 0xFF, m = a & 0x7FFFFF;
    if (e) {
        *sig = m | 0x800000;
        *exp = (int)e - 150;
    } else {
        *sig = m;
        *exp = -149;
    }
}

int f32_is_nan(f32_t a)
{
    return (a & 0x7FFFFFFF) > 0x7F800000;
}

static int is_inf(f32_t a)
{
    return (a & 0x7FFFFFFF) == 0x7F800000;
}

static int is_zero(f32_t a)
{
    return (a & 0x7FFFFFFF) == 0;
}

f32_t f32_mul(f32_t a, f32_t b)
{
    uint32_t sign = (a ^ b) >> 31;
    if (f32_is_nan(a) || f32_is_nan(b))
        return F32_CANONICAL_NAN;
    if (is_inf(a) || is_inf(b)) {
        if (is_zero(a) || is_zero(b))
            return F32_CANONICAL_NAN;
        return (sign << 31) | F32_POS_INF;
    }
    if (is_zero(a) || is_zero(b))
        return sign << 31;
    uint32_t sa, sb;
    int ea, eb;
    unpack32(a, &sa, &ea);
    unpack32(b, &sb, &eb);
    return pack32(sign, ea + eb, (uint64_t)sa * sb);
}

f32_t f32_add(f32_t a, f32_t b)
{
    if (f32_is_nan(a) || f32_is_nan(b))
        return F32_CANONICAL_NAN;
    if (is_inf(a) || is_inf(b)) {
        if (is_inf(a) && is_inf(b) && ((a ^ b) & SIGN32))
            return F32_CANONICAL_NAN;
        return is_inf(a) ? a : b;
    }
    if (is_zero(a) && is_zero(b))
        return a & b & SIGN32;                  /* -0 only when both are -0 */
    if (is_zero(a))
        return b;
    if (is_zero(b))
        return a;
    uint32_t sa, sb;
    int ea, eb;
    unpack32(a, &sa, &ea);
    unpack32(b, &sb, &eb);
    uint32_t signa = a >> 31, signb = b >> 31;
    if (ea < eb) {                              /* make a the one with the larger lsb exp */
        uint32_t t = sa; sa = sb; sb = t;
        int te = ea; ea = eb; eb = te;
        t = signa; signa = signb; signb = t;
    }
    int d = ea - eb;
    uint64_t xa, xb;
    int exp;
    if (d <= 38) {                              /* exact in 64 bits */
        xa = (uint64_t)sa << d;
        xb = sb;
        exp = eb;
    } else {                                    /* b only matters as a sticky bit */
        xa = (uint64_t)sa << 39;
        int sh = d - 39;                        /* sb < 2^24 */
        if (sh == 0)
            xb = sb;
        else if (sh >= 24)
            xb = 1;
        else
            xb = (sb >> sh) | ((sb & ((1u << sh) - 1)) != 0);
        exp = ea - 39;
    }
    if (signa == signb)
        return pack32(signa, exp, xa + xb);
    if (xa == xb)
        return 0;                               /* exact zero: +0 in RNE */
    if (xa > xb)
        return pack32(signa, exp, xa - xb);
    return pack32(signb, exp, xb - xa);
}

/* value = sig * 2^exp with sig shifted so that its highest set bit is bit 61 (sig != 0,
 * sig < 2^62: exact). */
static uint64_t norm61(uint64_t sig, int *exp)
{
    int s = 62 - bitlen64(sig);
    *exp -= s;
    return sig << s;
}

/* (-1)^sp * prod * 2^er + c rounded once (RNE): prod the exact non-zero product of two
 * significands (< 2^62), c finite. The tail of f32_fma_i32 and f32_fma. */
static f32_t add_product(uint32_t sp, int er, uint64_t prod, f32_t c)
{
    uint32_t sc, signc = c >> 31;
    int ec;
    if (is_zero(c))                             /* the product rounded once */
        return pack32(sp, er, prod);
    unpack32(c, &sc, &ec);
    uint64_t xp = norm61(prod, &er);
    uint64_t xc = norm61(sc, &ec);
    if (er < ec) {                              /* make p the one with the larger exponent */
        uint64_t t = xp; xp = xc; xc = t;
        int te = er; er = ec; ec = te;
        uint32_t ts = sp; sp = signc; signc = ts;
    }
    int d = er - ec, exp = er;
    if (d <= 1) {                               /* exact: xp << 1 < 2^63 */
        xp <<= d;
        exp = ec;
    } else if (d >= 63) {
        xc = 1;                                 /* only a sticky bit below the result's lsb */
    } else {
        xc = (xc >> d) | ((xc & ((1ull << d) - 1)) != 0);
    }
    if (sp == signc)
        return pack32(sp, exp, xp + xc);
    if (xp == xc)
        return 0;                               /* exact zero: +0 in RNE */
    if (xp > xc)
        return pack32(sp, exp, xp - xc);
    return pack32(signc, exp, xc - xp);
}

f32_t f32_fma_i32(int32_t k, f32_t r, f32_t c)
{
    if (f32_is_nan(r) || f32_is_nan(c) || is_inf(r) || is_inf(c))
        return f32_add(f32_mul(f32_from_i32(k), r), c);     /* k * r exact: the rules */
    if (k == 0 || is_zero(r))
        return f32_add((((uint32_t)(k < 0) ^ (r >> 31)) << 31), c);
    uint32_t sr;
    int er;
    unpack32(r, &sr, &er);
    uint32_t sp = (uint32_t)(k < 0) ^ (r >> 31);
    uint32_t mag = k < 0 ? 0u - (uint32_t)k : (uint32_t)k;
    return add_product(sp, er, (uint64_t)mag * sr, c);   /* exact product < 2^55 */
}

f32_t f32_fma(f32_t a, f32_t b, f32_t c)
{
    if (f32_is_nan(a) || f32_is_nan(b) || f32_is_nan(c) || is_inf(a) || is_inf(b) ||
        is_inf(c))
        return f32_add(f32_mul(a, b), c);       /* the special cases follow the same rules */
    uint32_t sp = (a ^ b) >> 31;
    if (is_zero(a) || is_zero(b))
        return f32_add(sp << 31, c);
    uint32_t sa, sb;
    int ea, eb;
    unpack32(a, &sa, &ea);
    unpack32(b, &sb, &eb);
    int er = ea + eb;
    return add_product(sp, er, (uint64_t)sa * sb, c);    /* exact product < 2^48 */
}

int f32_lt(f32_t a, f32_t b)
{
    if (f32_is_nan(a) || f32_is_nan(b))
        return 0;
    if (is_zero(a) && is_zero(b))
        return 0;
    int32_t ka = (a & SIGN32) ? -(int32_t)(a & 0x7FFFFFFF) : (int32_t)a;
    int32_t kb = (b & SIGN32) ? -(int32_t)(b & 0x7FFFFFFF) : (int32_t)b;
    return ka < kb;
}

f32_t f32_from_i32(int32_t x)
{
    if (x == 0)
        return 0;
    uint32_t sign = x < 0;
    uint32_t mag = sign ? 0u - (uint32_t)x : (uint32_t)x;
    return pack32(sign, 0, mag);
}

f32_t f32_from_f16(f16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0x1F)
        return sign | F32_POS_INF | (m << 13);  /* Inf or NaN (payload kept) */
    if (e == 0) {
        if (m == 0)
            return sign;
        return pack32(sign >> 31, -24, m);      /* subnormal: exact in binary32 */
    }
    return sign | ((e + 112) << 23) | (m << 13);
}

f16_t f16_from_f32(f32_t a)
{
    uint32_t sign = a >> 31;
    if (f32_is_nan(a))
        return F16_CANONICAL_NAN;
    if (is_inf(a))
        return (f16_t)((sign << 15) | 0x7C00);
    if (is_zero(a))
        return (f16_t)(sign << 15);
    uint32_t sig;
    int exp;
    unpack32(a, &sig, &exp);
    return (f16_t)pack(sign, exp, sig, 10, -24, 31);
}

int32_t f32_rint_clip(f32_t a, int32_t limit)
{
    if (f32_is_nan(a))
        return 0;
    int neg = a >> 31;
    if (is_inf(a))
        return neg ? -limit : limit;
    if (is_zero(a))
        return 0;
    uint32_t sig;
    int exp;
    unpack32(a, &sig, &exp);
    uint64_t mag;
    if (exp >= 0) {
        mag = exp >= 31 ? (uint64_t)limit + 1 : (uint64_t)sig << exp;
    } else {
        mag = shift_rne(sig, -exp);
    }
    if (mag > (uint64_t)limit)
        mag = (uint64_t)limit;
    return neg ? -(int32_t)mag : (int32_t)mag;
}

/* a / b: the quotient to 27 bits (guard, round, sticky) by long division, one rounding. */
f32_t f32_div(f32_t a, f32_t b)
{
    uint32_t sign = (a ^ b) & 0x80000000u;
    int32_t ea = (int32_t)((a >> 23) & 0xFF), eb = (int32_t)((b >> 23) & 0xFF);
    uint32_t ma = a & 0x7FFFFFu, mb = b & 0x7FFFFFu;
    if ((ea == 0xFF && ma) || (eb == 0xFF && mb))
        return F32_CANONICAL_NAN;
    if (ea == 0xFF)
        return eb == 0xFF ? F32_CANONICAL_NAN : sign | F32_POS_INF;
    if (eb == 0xFF)
        return sign;
    if (eb == 0 && mb == 0)
        return (ea == 0 && ma == 0) ? F32_CANONICAL_NAN : sign | F32_POS_INF;
    if (ea == 0 && ma == 0)
        return sign;
    if (ea == 0) {                       /* subnormal: normalise */
        ea = 1;
        while (!(ma & 0x800000u)) {
            ma <<= 1;
            ea--;
        }
    } else {
        ma |= 0x800000u;
    }
    if (eb == 0) {
        eb = 1;
        while (!(mb & 0x800000u)) {
            mb <<= 1;
            eb--;
        }
    } else {
        mb |= 0x800000u;
    }
    int32_t e = ea - eb + 127;
    uint32_t rem = ma;
    if (ma < mb) {
        rem <<= 1;
        e--;
    }
    /* q = floor(rem * 2^26 / mb), 27 bits (24 + guard, round, sticky), bit by bit: the core
     * has no 64-bit division */
    uint64_t q = 0;
    for (int i = 0; i < 27; i++) {
        q <<= 1;
        if (rem >= mb) {
            rem -= mb;
            q |= 1;
        }
        rem <<= 1;
    }
    if (rem)
        q |= 1;
    if (e >= 0xFF)
        return sign | F32_POS_INF;
    if (e <= 0) {                                /* subnormal result */
        uint32_t shift = (uint32_t)(1 - e);
        q = shift < 32 ? (q >> shift) | ((q & ((1ull << shift) - 1)) != 0) : 1;
        e = 0;
    }
    uint32_t r = (uint32_t)q & 7u;
    q >>= 3;
    if (r > 4 || (r == 4 && (q & 1)))
        q++;
    uint32_t bits = ((uint32_t)(e > 0 ? e - 1 : 0) << 23) + (uint32_t)q;
    if (bits >= F32_POS_INF)
        return sign | F32_POS_INF;
    return sign | bits;
}
