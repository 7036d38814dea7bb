/* fixedpoint.h: the integer primitives of TFLite's reference kernels (gemmlowp fixed point),
 * inline, integer-only (no libcalls on RV32IM: 32 x 32 -> 64 multiplies and 64-bit shifts are
 * inline). Each function states the golden function it equals bit for bit
 * (sim/golden_fixedpoint.py); tests/firmware/test_cpu_ops.py compiles them for the host and
 * compares. Compiles for the host as well as for the Dure core. */
#ifndef DURE_FIXEDPOINT_H
#define DURE_FIXEDPOINT_H

#include <stdint.h>

#define FX_INT32_MIN ((int32_t)0x80000000)
#define FX_INT32_MAX ((int32_t)0x7FFFFFFF)

/* int32 wrapping add / subtract (two's complement, as gemmlowp's raw arithmetic). */
static inline int32_t fx_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t fx_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* SaturatingRoundingDoublingHighMul (golden: saturating_rounding_doubling_high_mul):
 * round(a * b / 2^31), an exact half toward +infinity; INT32_MIN * INT32_MIN gives INT32_MAX. */
static inline int32_t fx_srdhm(int32_t a, int32_t b)
{
    if (a == FX_INT32_MIN && b == FX_INT32_MIN)
        return FX_INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t t = ab + (ab >= 0 ? (int64_t)1 << 30 : 1 - ((int64_t)1 << 30));
    /* C division by 2^31 truncates toward zero. */
    int64_t q = t >= 0 ? (t >> 31) : -((-t) >> 31);
    return (int32_t)q;
}

/* RoundingDivideByPOT (golden: rounding_divide_by_pot): x / 2^e, nearest, ties away from 0;
 * e in [0, 31]. */
static inline int32_t fx_rdbpot(int32_t x, int e)
{
    int32_t mask = (int32_t)(((uint32_t)1 << e) - 1u);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier, double rounding (golden: multiply_by_quantized_multiplier):
 * shift in [-31, 31]; x << max(shift, 0) wraps modulo 2^32. */
static inline int32_t fx_mbqm(int32_t x, int32_t m, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return fx_rdbpot(fx_srdhm((int32_t)((uint32_t)x << left), m), right);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<e> for e > 0 (golden: _sat_shl). */
static inline int32_t fx_sat_shl(int32_t x, int e)
{
    int32_t thr = (int32_t)(((uint32_t)1 << (31 - e)) - 1u);
    if (x > thr)
        return FX_INT32_MAX;
    if (x < -thr)
        return FX_INT32_MIN;
    return (int32_t)((uint32_t)x << e);
}

#endif
