/* cpu_rescale_double.c: LiteRT's double-precision rescale of FULLY_CONNECTED's int32
 * accumulators (sim/golden_double_rescale.py), with integer instructions only (RV32IM).
 *
 * LiteRT 2.3's reference int8 FULLY_CONNECTED computes
 *     static_cast<int32_t>(round(double(acc) * s))      then + zp (int32, wrapping), clamp,
 * s = double(s_x) * double(s_w[j]) / double(s_y) (golden_tflite_params.fully_connected_scales,
 * passed here as its 64-bit IEEE pattern). The compiler runs a layer through this kernel when
 * no Q0.31 STORE parameters are exact on its reachable accumulators (compiler/fc_store.py).
 *
 * How: s = m * 2^-n with m the 53-bit significand (hidden bit included; m < 2^52 for a
 * subnormal). The exact product P = |acc| * m (< 2^84) is formed from two 32 x 32 -> 64
 * products; the double multiplication rounds it to 53 significant bits (ties to even), C's
 * round then goes to an integer with halves away from zero, and every magnitude of 2^31 or more
 * gives INT32_MIN (x86's cvttsd2si for a value outside int32; -2^31 itself is INT32_MIN too).
 * Both roundings together are one add and one shift of P (round_magnitude, where the argument
 * is). Products below 1/4 give 0 (their double is below 1/2, subnormal or not); products of
 * 2^31 and more give INT32_MIN (an infinity too). No libcalls: 64-bit shifts and adds and the
 * 32 x 32 -> 64 multiply are inline on RV32IM. */
#include "bitlen.h"
#include "npu_cpu_ops.h"

#define MAG_LIMIT 0x80000000u       /* |round(v)| >= 2^31: out of int32 (INT32_MIN) */

/* |round(|acc| * s)| as a magnitude, MAG_LIMIT when it is 2^31 or more.
 *
 * With the exact product X = P * 2^-n (P = |acc| * m, nb bits) and s = nb - 53 > 0 the bits
 * the double drops: rounding X to 53 bits can move it across k + 1/2 only upward, from a
 * fraction of at least 1/2 - 2^(s-1-n) (bits s .. n-2 all ones, the dropped bits at least half
 * an ulp; an exact tie goes up too, bit s being odd), and never downward (k + 1/2 is on the
 * 53-bit grid). So the double-then-half-away result is one add and one shift:
 *     r = (P + 2^(n-1) + 2^(s-1)) >> n            (no 2^(s-1) when s <= 0: X is exact),
 * valid while s <= n - 2, which holds whenever X < 2^31 (then s <= n - 22). */
static uint32_t round_magnitude(uint32_t a, uint32_t s_lo, uint32_t s_hi)
{
    uint32_t field = (s_hi >> 20) & 0x7FFu;
    uint32_t mh = s_hi & 0xFFFFFu;
    int n = 1074;                                   /* subnormal: m * 2^-1074 */
    if (field) {
        mh |= 0x100000u;                            /* the hidden bit */
        n = 1075 - (int)field;
    }
    if (!a || !(mh | s_lo))
        return 0;
    /* P = a * m = phi * 2^32 + plo, m = mh * 2^32 + s_lo (mh < 2^21): P < 2^84 */
    uint64_t low = (uint64_t)a * s_lo;
    uint64_t phi = (uint64_t)a * mh + (low >> 32);
    uint32_t plo = (uint32_t)low;
    int nb = phi ? 32 + bitlen64(phi) : bitlen64(plo);
    int top = nb - n;                               /* 2^(top-1) <= X < 2^top */
    if (top > 31)
        return MAG_LIMIT;                           /* X >= 2^31 */
    if (top < -1)
        return 0;                                   /* X < 1/4: the double is below 1/2 */
    if (n <= 0)
        return plo << -n;                           /* an integer below 2^31 (phi == 0) */
    int s = nb - 53;                                /* at most 31 */
    uint64_t r;
    if (n < 32) {                                   /* nb <= n + 31 < 63: P fits 64 bits */
        uint64_t p = phi << 32 | plo;
        r = (p + (1ull << (n - 1)) + (s > 0 ? 1ull << (s - 1) : 0)) >> n;
    } else {
        uint64_t lo = (uint64_t)plo + (s > 0 ? 1ull << (s - 1) : 0) +
                      (n == 32 ? 1ull << 31 : 0);
        r = (phi + (lo >> 32) + (n > 32 ? 1ull << (n - 33) : 0)) >> (n - 32);
    }
    return r >= MAG_LIMIT ? MAG_LIMIT : (uint32_t)r;
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
