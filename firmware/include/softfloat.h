/* softfloat.h: the few IEEE 754 operations the NPU's CPU reference path needs, on bit patterns.
 *
 * The Dure core has no FPU, and the firmware links without compiler-rt (-nostdlib), so C float
 * arithmetic is not available; these integer-only routines are. Every operation rounds to
 * nearest, ties to even, keeps subnormals (no flush to zero) and returns the canonical quiet
 * NaN (0x7FC00000 / 0x7E00) for any NaN result, which is what dure.sim.golden produces.
 * The file compiles for the host too (tests/firmware/test_npu_softfloat.py checks it against
 * numpy bit for bit).
 */
#ifndef DURE_SOFTFLOAT_H
#define DURE_SOFTFLOAT_H

#include <stdint.h>

typedef uint32_t f32_t;   /* binary32 bit pattern */
typedef uint16_t f16_t;   /* binary16 bit pattern */

#define F32_CANONICAL_NAN 0x7FC00000u
#define F16_CANONICAL_NAN 0x7E00u
#define F32_POS_INF 0x7F800000u
#define F32_NEG_INF 0xFF800000u

int f32_is_nan(f32_t a);
f32_t f32_add(f32_t a, f32_t b);            /* a + b */
f32_t f32_mul(f32_t a, f32_t b);            /* a * b */
f32_t f32_div(f32_t a, f32_t b);            /* a / b */
f32_t f32_fma_i32(int32_t k, f32_t r, f32_t c); /* k * r + c rounded once (fused) */
f32_t f32_fma(f32_t a, f32_t b, f32_t c);       /* a * b + c rounded once (fused) */
int f32_lt(f32_t a, f32_t b);               /* a < b (IEEE: false when either is NaN) */
f32_t f32_from_i32(int32_t x);              /* int32 -> binary32, RNE */
f32_t f32_from_f16(f16_t h);                /* exact */
f16_t f16_from_f32(f32_t a);                /* RNE, overflow to Inf, subnormals kept */
/* rint(a) (ties to even) clipped to [-limit, limit]; +/-Inf saturate, NaN gives 0. */
int32_t f32_rint_clip(f32_t a, int32_t limit);

#endif
