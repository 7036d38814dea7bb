/* cpu_ops_softmax.c: FP16 SOFTMAX on the core, bit for bit as sim/golden_softmax_fp16.py: an
 * integer fixed-point definition (exp as 2^-Z from a 64-entry table and a degree-3 correction
 * by three multiplies, the sum exact in 64 bits, one reciprocal per row) whose only rounding
 * is each output's one RNE rounding to fp16. See npu_cpu_ops.h. */
#include "bitlen.h"
#include "npu_cpu_ops.h"

#define LOG2E_Q 0xB8AA3B29u   /* round(log2(e) * 2^31) */
#define EXP2_C1 0xB17217F8u   /* round(ln(2) * 2^32) */
#define EXP2_C2 0x3D7F7BFFu   /* round(ln(2)^2 / 2 * 2^32) */
#define EXP2_C3 0x0E35846Cu   /* round(ln(2)^3 / 6 * 2^32) */

/* round(2^(-j/64) * 2^31), j = 0 .. 63 */
static const uint32_t exp2_table[64] = {
    0x80000000u, 0x7E9F0606u, 0x7D41D96Eu, 0x7BE86FBAu, 0x7A92BE8Bu, 0x7940BB9Eu,
    0x77F25CCEu, 0x76A7980Fu, 0x75606374u, 0x741CB528u, 0x72DC8374u, 0x719FC4B9u,
    0x70666F76u, 0x6F307A41u, 0x6DFDDBCCu, 0x6CCE8AE1u, 0x6BA27E65u, 0x6A79AD56u,
    0x69540EC9u, 0x683199EDu, 0x6712460Bu, 0x65F60A7Fu, 0x64DCDEC3u, 0x63C6BA64u,
    0x62B39509u, 0x61A3666Du, 0x60962665u, 0x5F8BCCDBu, 0x5E8451D0u, 0x5D7FAD59u,
    0x5C7DD7A4u, 0x5B7EC8F2u, 0x5A82799Au, 0x5988E209u, 0x5891FAC1u, 0x579DBC57u,
    0x56AC1F75u, 0x55BD1CDBu, 0x54D0AD5Au, 0x53E6C9DAu, 0x52FF6B55u, 0x521A8AD7u,
    0x51382182u, 0x50582888u, 0x4F7A9930u, 0x4E9F6CD4u, 0x4DC69CDDu, 0x4CF022CAu,
    0x4C1BF829u, 0x4B4A169Cu, 0x4A7A77D4u, 0x49AD1598u, 0x48E1E9BAu, 0x4818EE22u,
    0x47521CC6u, 0x468D6FAEu, 0x45CAE0F2u, 0x450A6ABBu, 0x444C0740u, 0x438FB0CBu,
    0x42D561B4u, 0x421D1462u, 0x4166C34Cu, 0x40B268FAu,
};

static uint32_t mulhu(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)a * b) >> 32);
}

uint32_t cpu_exp2_neg(uint32_t z, uint32_t *shift)
{
    *shift = z >> 27;
    uint32_t j = (z >> 21) & 63u, u = (z & 0x1FFFFFu) << 5;
    uint32_t t = mulhu(u, EXP2_C3);
    t = mulhu(u, EXP2_C2 - t);
    t = mulhu(u, EXP2_C1 - t);
    return exp2_table[j] - mulhu(exp2_table[j], t);
}

/* An fp16 value times 2^24 as an exact integer (|.| < 2^40); finite h only. */
static int64_t fixed24(f16_t h)
{
    uint32_t e = (h >> 10) & 0x1Fu, sig = h & 0x3FFu;
    int64_t v = e ? (int64_t)(sig | 0x400u) << (e - 1) : (int64_t)sig;
    return (h >> 15) ? -v : v;
}

/* Z = floor(dm * wm * 2^(dsh + wexp + 3)) (the golden's), 0 when 2^-(Z/2^27) is dropped
 * (Z >= 2^32), else 1 with *z set. */
static int z_of(uint64_t d, uint32_t wm, int wexp, uint32_t *z)
{
    int dsh = 0;
    uint32_t dm = (uint32_t)d;
    if (d >> 32) {
        dsh = bitlen64(d) - 32;
        dm = (uint32_t)(d >> dsh);
    }
    if (!dm) {
        *z = 0;
        return 1;
    }
    uint64_t prod = (uint64_t)dm * wm;
    int k = dsh + wexp + 3;
    if (k > 0) {
        if (k >= 32 || (prod >> (32 - k)))
            return 0;
        *z = (uint32_t)prod << k;
        return 1;
    }
    if (k <= -64) {
        *z = 0;
        return 1;
    }
    prod >>= -k;
    if (prod >> 32)
        return 0;
    *z = (uint32_t)prod;
    return 1;
}

/* floor((2^63 - 1) / sm) for sm in [2^31, 2^32): restoring division, one bit a step. */
static uint32_t recip63(uint32_t sm)
{
    uint64_t rem = 0x7FFFFFFFu;
    uint32_t q = 0;
    for (int i = 0; i < 32; i++) {
        rem = (rem << 1) | 1u;
        q <<= 1;
        if (rem >= sm) {
            rem -= sm;
            q |= 1u;
        }
    }
    return q;
}

/* fp16 bits of v * 2^p rounded once (ties to even), v in [2^61, 2^63). */
static f16_t fp16_of(uint64_t v, int p)
{
    int msb = (v >> 62) ? 62 : 61;
    int lsb = msb + p - 10;
    if (lsb < -24)
        lsb = -24;
    int shift = lsb - p;                    /* >= 51 */
    if (shift >= 64)
        return 0;                           /* v * 2^p < 2^-26: below half the least subnormal */
    uint32_t q = (uint32_t)(v >> shift);
    uint64_t rem = v & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (f16_t)(q + ((uint32_t)(lsb + 24) << 10));
}

/* Rows of up to CACHE values keep their exponentials on the stack; longer rows compute them
 * twice (for the sum, then for the outputs), with the same result. */
#define CACHE 64u

int cpu_softmax_fp16(const f16_t *x, f16_t *y, uint32_t rows, uint32_t depth, f32_t beta)
{
    uint32_t be_field = (beta >> 23) & 0xFFu;
    if (rows == 0 || depth == 0 || (beta >> 31) || be_field == 0xFFu || beta == 0)
        return NPU_E_ARG;
    /* beta * log2(e) = wm * 2^wexp, wm the top 32 bits of bs * LOG2E_Q */
    uint32_t bs = beta & 0x7FFFFFu;
    int be = -149;
    if (be_field) {
        bs |= 0x800000u;
        be = (int)be_field - 150;
    }
    uint64_t p = (uint64_t)bs * LOG2E_Q;
    int drop = bitlen64(p) - 32;
    uint32_t wm = drop >= 0 ? (uint32_t)(p >> drop) : (uint32_t)p << -drop;
    int wexp = be - 31 + drop;

    for (uint32_t row = 0; row < rows; row++, x += depth, y += depth) {
        int bad = 0, any = 0;
        int64_t m = 0;
        for (uint32_t i = 0; i < depth; i++) {
            f16_t h = x[i];
            if ((h & 0x7FFFu) > 0x7C00u || h == 0x7C00u) {
                bad = 1;                    /* NaN or +Inf */
                break;
            }
            if (h == 0xFC00u)
                continue;                   /* -Inf: e = 0 */
            int64_t v = fixed24(h);
            if (!any || v > m)
                m = v;
            any = 1;
        }
        if (bad || !any) {
            for (uint32_t i = 0; i < depth; i++)
                y[i] = F16_CANONICAL_NAN;
            continue;
        }
        uint64_t s = 0;
        uint32_t e[CACHE];
        uint8_t sh[CACHE];
        for (uint32_t i = 0; i < depth; i++) {
            uint32_t z, ei = 0, ii = 0;
            if (x[i] != 0xFC00u && z_of((uint64_t)(m - fixed24(x[i])), wm, wexp, &z))
                ei = cpu_exp2_neg(z, &ii);
            if (i < CACHE) {
                e[i] = ei;
                sh[i] = (uint8_t)ii;
            }
            s += ((uint64_t)ei << 9) >> ii;
        }
        int sb = bitlen64(s);
        uint32_t r = recip63((uint32_t)(s >> (sb - 32)));
        for (uint32_t i = 0; i < depth; i++) {
            uint32_t z, ei = 0, ii = 0;
            if (i < CACHE) {
                ei = e[i];
                ii = sh[i];
            } else if (x[i] != 0xFC00u &&
                       z_of((uint64_t)(m - fixed24(x[i])), wm, wexp, &z)) {
                ei = cpu_exp2_neg(z, &ii);
            }
            y[i] = ei ? fp16_of((uint64_t)ei * r, -22 - (int)ii - sb) : 0;
        }
    }
    return 0;
}
