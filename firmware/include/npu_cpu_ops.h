/* npu_cpu_ops.h: the operators the NPU does not run, on the core, bit for bit as the golden
 * operators (firmware/npu/cpu_ops_*.c).
 *
 * INT8 kernels follow TFLite's reference integer kernels (sim/golden_tflite.py,
 * sim/golden_tflite_softmax.py): ADD with two input rescalings, MAX_POOL_2D, AVERAGE_POOL_2D
 * (round half away from zero, padded taps not counted) and SOFTMAX (gemmlowp fixed point).
 * FP16 kernels follow the project's FP16 contract (sim/golden_tflite_fp16.py): ADD, MAX_POOL_2D,
 * AVERAGE_POOL_2D (binary32 sum in (kh, kw) order, times float32(1/n)).
 *
 * Tensors are NHWC, dense. Functions return 0, or NPU_E_ARG for a bad argument (zero size, a
 * window that lies entirely in the padding, lo > hi). They compile for the host too
 * (tests/firmware/test_cpu_ops.py). */
#ifndef DURE_NPU_CPU_OPS_H
#define DURE_NPU_CPU_OPS_H

#include <stdint.h>

#include "softfloat.h"

#ifndef NPU_E_ARG
#define NPU_E_ARG (-2)
#endif

/* Output size and leading padding of one spatial axis, TFLite's rules: SAME: out =
 * ceil(in / stride), pad_before = max((out - 1) * stride + k - in, 0) / 2; VALID: out =
 * ceil((in - k + 1) / stride), pad_before = 0. Returns 0 or NPU_E_ARG (out would be < 1). */
int cpu_conv_axis(uint32_t in, uint32_t k, uint32_t stride, int same, uint32_t *out,
                  uint32_t *pad_before);

/* A pooling window over an NHWC tensor (n x h x w x c) giving n x oh x ow x c. */
struct cpu_pool {
    uint32_t n, h, w, c;
    uint32_t kh, kw, sh, sw;
    int same;                  /* 1: SAME padding, 0: VALID */
};

/* ADD parameters (tflite::ArithmeticParams subset; golden_tflite_params.add_params). */
struct cpu_add_int8 {
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t input1_zero_point, input2_zero_point, output_zero_point;
    int32_t lo, hi;
};

int cpu_add_int8(const struct cpu_add_int8 *p, const int8_t *x1, const int8_t *x2, int8_t *y,
                 uint32_t count);
int cpu_max_pool_int8(const struct cpu_pool *p, const int8_t *x, int8_t *y, int32_t lo,
                      int32_t hi);
int cpu_avg_pool_int8(const struct cpu_pool *p, const int8_t *x, int8_t *y, int32_t lo,
                      int32_t hi);
/* SOFTMAX over the last axis: rows x depth, parameters from golden_tflite_softmax.softmax_params
 * (output scale 1/256, zero point -128). */
int cpu_softmax_int8(const int8_t *x, int8_t *y, uint32_t rows, uint32_t depth,
                     int32_t multiplier, int32_t left_shift, int32_t diff_min);

/* FP16: clamp bounds are binary32 bit patterns applied when clamp is set. */
int cpu_add_fp16(const f16_t *a, const f16_t *b, f16_t *y, uint32_t count, int clamp, f32_t lo,
                 f32_t hi);
int cpu_max_pool_fp16(const struct cpu_pool *p, const f16_t *x, f16_t *y, int clamp, f32_t lo,
                      f32_t hi);
int cpu_avg_pool_fp16(const struct cpu_pool *p, const f16_t *x, f16_t *y, int clamp, f32_t lo,
                      f32_t hi);

/* FP16 SOFTMAX over the last axis (rows x depth) with beta (binary32 bits), as
 * sim/golden_softmax_fp16.py (integer fixed point, one rounding per output). NPU_E_ARG for a
 * zero size or a beta that is not positive and finite. cpu_exp2_neg is its exponential
 * (golden_softmax_fp16.exp2_neg): 2^-(z / 2^27) ~ E * 2^(-31 - *shift), E returned. */
uint32_t cpu_exp2_neg(uint32_t z, uint32_t *shift);
int cpu_softmax_fp16(const f16_t *x, f16_t *y, uint32_t rows, uint32_t depth, f32_t beta);

/* TFLite's int8 -> int8 QUANTIZE (reference_ops::Requantize, golden_tflite_quantize.
 * requantize_int8): clamp(MultiplyByQuantizedMultiplier(x - zp_in, m, shift) + zp_out, -128,
 * 127), double rounding. NPU_E_ARG for a zero point outside int8 or shift outside [-31, 30]. */
int cpu_requantize_int8(const int8_t *x, int8_t *y, uint32_t count, int32_t multiplier,
                        int32_t shift, int32_t zp_in, int32_t zp_out);

/* float32 -> int8 quantization of x / scale (one binary32 division, as the runtimes compute
 * it), without the soft-float division. cpu_scale_div_init prepares a scale (1 when it is
 * positive and normal, else 0: every quotient then goes through f32_div); cpu_scale_quotient
 * gives 1 and *g = |f32(x / scale)| * 2^26 (an integer) when 1/4 <= |x / scale| < 2^10, 0
 * when |x / scale| < 1/4 (every rounding to an integer gives 0), 2 otherwise (NaN, Inf, large
 * quotients, a scale not prepared): the caller divides with f32_div. */
struct cpu_scale_div {
    uint32_t ms;               /* the scale's significand, 2^23 <= ms < 2^24 */
    int32_t es;                /* scale = ms * 2^es */
    uint64_t r;                /* floor((2^87 - 1) / ms) */
    int fast;
};
int cpu_scale_div_init(struct cpu_scale_div *d, f32_t scale);
int cpu_scale_quotient(const struct cpu_scale_div *d, f32_t x, uint64_t *g);
/* TFLite's float32 -> int8 QUANTIZE (golden_tflite_quantize.quantize_int8: TfLiteRound, half
 * away from zero; INT32_MIN for NaN / Inf / out of int32, then + zp wrapping, clamped), and
 * ONNX QuantizeLinear (rint, ties to even; NaN gives 0; + zp, clamped to int8 then [lo, hi]).
 * d from cpu_scale_div_init(scale). NPU_E_ARG for a zero point outside int8 or a bad [lo, hi]. */
int cpu_quantize_tflite(const f32_t *x, int8_t *y, uint32_t count, f32_t scale, int32_t zp,
                        const struct cpu_scale_div *d);
int cpu_quantize_onnx(const f32_t *x, int8_t *y, uint32_t count, f32_t scale, int32_t zp,
                      int32_t lo, int32_t hi, const struct cpu_scale_div *d);

/* LiteRT's int8 FULLY_CONNECTED rescale (cpu_rescale_double.c, golden_double_rescale.py):
 * cpu_scale_round_double gives static_cast<int32_t>(round(double(acc) * s)) as the x86 wheel
 * does (one double product, round to nearest even; then halves away from zero; INT32_MIN out of
 * int32), s a finite non-negative double given as its low / high 32-bit halves.
 * cpu_fc_rescale_tflite applies it to rows x units accumulators (row-major) with unit j's scale
 * in scales[2j], scales[2j + 1], then + zp (int32, wrapping) and the clamp to [lo, hi].
 * NPU_E_ARG for a zero point outside int8, a bad [lo, hi], or a negative / Inf / NaN scale. */
int32_t cpu_scale_round_double(int32_t acc, uint32_t s_lo, uint32_t s_hi);
int cpu_fc_rescale_tflite(const int32_t *acc, int8_t *y, uint32_t rows, uint32_t units,
                          const uint32_t *scales, int32_t zp, int32_t lo, int32_t hi);

#endif
