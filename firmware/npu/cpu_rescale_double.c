/* cpu_rescale_double.c: LiteRT's double-precision rescale of FULLY_CONNECTED's int32
 * accumulators (sim/golden_double_rescale.py), with integer instructions only (RV32IM).
 *
 * LiteRT 2.3's reference int8 FULLY_CONNECTED computes
 *     static_cast<int32_t>(round(double(acc) * s))      then + zp (int32, wrapping), clamp,
 * s = double(s_x) * double(s_w[j]) / double(s_y) (golden_tflite_params.fully_connected_scales,
 * passed here as its 64-bit IEEE pattern). The compiler runs a layer through this kernel when
 * no Q0.31 STORE parameters are exact on its reachable accumulators (compiler/fc_store.py).
 *
 * How: s = m * 2^E with m the 53-bit significand (hidden bit included; m < 2^52 for a
 * subnormal). The exact product |acc| * m (< 2^84) is formed from two 32 x 32 -> 64 products,
 * rounded once to 53 significant bits with ties to even (the double multiplication: an int32
 * converts to double exactly), giving q * 2^F; then rounded to an integer with halves away from
 * zero (C's round), and every magnitude of 2^31 or more gives INT32_MIN (x86's cvttsd2si for
 * a value outside int32; -2^31 itself is INT32_MIN too). Products below the double's normal
 * range are far below 1/2 and give 0, as the double's subnormal rounding would; products above
 * its range give INT32_MIN, as an infinity would. (Which way the 53-bit rounding breaks an
 * exact tie cannot change the result in int32: below 2^52 every k + 1/2 has an even
 * significand, so a tie next to it goes to it either way; ties to even is kept regardless.)
 * No libcalls: 64-bit shifts and adds and the
 * 32 x 32 -> 64 multiply are inline on RV32IM. */
#include "npu_cpu_ops.h"

#define MAG_LIMIT 0x80000000u       /* |round(v)| >= 2^31: out of int32 (INT32_MIN) */

static int bitlen64(uint64_t x)     /* bits needed for x (0 for 0) */
{
    int n = 0;
    if (x >> 32) { n += 32; x >>= 32; }
    uint32_t y = (uint32_t)x;
    if (y >> 16) { n += 16; y >>= 16; }
    if (y >> 8) { n += 8; y >>= 8; }
    if (y >> 4) { n += 4; y >>= 4; }
    if (y >> 2) { n += 2; y >>= 2; }
    if (y >> 1) { n += 1; y >>= 1; }
    return n + (int)y;
}

/* |round(|acc| * s)| as a magnitude, MAG_LIMIT when it is 2^31 or more. */
static uint32_t round_magnitude(uint32_t a, uint32_t s_lo, uint32_t s_hi)
{
    uint32_t field = (s_hi >> 20) & 0x7FFu;
    uint32_t mh = s_hi & 0xFFFFFu;
    int e = -1074;                                  /* subnormal: m * 2^-1074 */
    if (field) {
        mh |= 0x100000u;                            /* the hidden bit */
        e = (int)field - 1075;
    }
    if (!a || !(mh | s_lo))
        return 0;
    /* P = a * m = phi * 2^32 + plo, m = mh * 2^32 + s_lo (mh < 2^21) */
    uint64_t low = (uint64_t)a * s_lo;
    uint64_t phi = (uint64_t)a * mh + (low >> 32);
    uint32_t plo = (uint32_t)low;
    uint64_t q;
    int shift = phi ? bitlen64(phi) + 32 - 53 : 0;  /* bits below the 53 kept */
    if (shift <= 0) {
        q = phi << 32 | plo;                        /* exact: at most 53 bits */
        shift = 0;
    } else {                                        /* 1 <= shift <= 32 */
        uint32_t rem = shift == 32 ? plo : plo & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);
        q = shift == 32 ? phi : phi << (32 - shift) | plo >> shift;
        if (rem > half || (rem == half && (q & 1u)))
            q++;                                    /* may reach 2^53: still exact below */
    }
    int f = e + shift;                              /* the product is q * 2^f */
    if (f >= 0)
        return bitlen64(q) + f > 31 ? MAG_LIMIT : (uint32_t)q << f;
    int n = -f;
    if (n > 54)
        return 0;                                   /* q <= 2^53: at most 1/4 */
    uint64_t t = q >> n;
    uint64_t frac = q & ((1ull << n) - 1u);
    t += frac >= 1ull << (n - 1);                   /* halves away from zero */
    return t >= MAG_LIMIT ? MAG_LIMIT : (uint32_t)t;
}

int32_t cpu_scale_round_double(int32_t acc, uint32_t s_lo, uint32_t s_hi)
{
    uint32_t a = acc < 0 ? 0u - (uint32_t)acc : (uint32_t)acc;
    uint32_t r = round_magnitude(a, s_lo, s_hi);
    if (r == MAG_LIMIT)
        return INT32_MIN;
    return acc < 0 ? -(int32_t)r : (int32_t)r;
}

int cpu_fc_rescale_tflite(const int32_t *acc, int8_t *y, uint32_t rows, uint32_t units,
                          const uint32_t *scales, int32_t zp, int32_t lo, int32_t hi)
{
    if (zp < -128 || zp > 127 || lo < -128 || hi > 127 || lo > hi)
        return NPU_E_ARG;
    for (uint32_t j = 0; j < units; j++)
        if (scales[2 * j + 1] >> 31 || ((scales[2 * j + 1] >> 20) & 0x7FFu) == 0x7FFu)
            return NPU_E_ARG;                       /* negative, Inf or NaN */
    for (uint32_t b = 0; b < rows; b++)
        for (uint32_t j = 0; j < units; j++) {
            int32_t r = cpu_scale_round_double(acc[b * units + j], scales[2 * j],
                                               scales[2 * j + 1]);
            int32_t v = (int32_t)((uint32_t)r + (uint32_t)zp);     /* wraps, as LiteRT's */
            y[b * units + j] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
        }
    return 0;
}
