/* dot_dense.h: a TFLite INT8 FULLY_CONNECTED layer with the dot-product unit or on the core
 * alone (firmware/dot_apps/dot_dense/; the model runner dot_model_run uses the same functions
 * for FULLY_CONNECTED and, over the patch matrix, CONV_2D). Bit for bit the golden model's
 * sim/golden_tflite.py::fully_connected_int8 (weights zero point 0):
 *   acc[b][o] = bias[o] + sum_k (x[b][k] - input_zp) * w[o][k]     (int32, wrapping)
 *   y[b][o]   = clamp(MultiplyByQuantizedMultiplierSingleRounding(acc, mult[o], shift[o])
 *                     + output_zp, lo, hi)
 * With `double_rounding` set, MultiplyByQuantizedMultiplier (gemmlowp's two roundings,
 * fixedpoint.h fx_mbqm) instead: TFLite's CONV_2D (golden conv2d_int8). With `double_rounding`
 * DOT_DOUBLE_RESCALE, LiteRT's double rescale of FULLY_CONNECTED instead (golden
 * fully_connected_int8; cpu_scale_round_double of npu_cpu_ops.h, then + output_zp wrapping):
 * mult[o] / shift[o] hold the low / high 32 bits of unit o's float64 scale (compiler/fc_store.py's
 * fallback, where no Q0.31 rounding is exact). */
#ifndef DURE_DOT_DENSE_H
#define DURE_DOT_DENSE_H

#include <stdint.h>

#define DOT_DOUBLE_RESCALE 2        /* dot_dense.double_rounding: the float64 rescale */

struct dot_dense {
    uint32_t batch, in, out;        /* x: batch x in, w: out x in (TFLite's layout), y: batch x out */
    int32_t input_zp, output_zp;    /* in [-128, 127] */
    int32_t lo, hi;                 /* activation clamp inside [-128, 127] */
    const int8_t *x, *w;
    const int32_t *bias;            /* out values, or 0 for none */
    const int32_t *mult, *shift;    /* per output unit; shift in [-31, 30] */
    uint32_t *ones;                 /* dot_stream_dense_int8 with input_zp != 0: in bytes of
                                       scratch in main memory (filled with ones) */
    int32_t double_rounding;        /* 0: single rounding, 1: double (CONV_2D; the compiler picks
                                       either for FULLY_CONNECTED, compiler/fc_store.py),
                                       DOT_DOUBLE_RESCALE: LiteRT's double rescale */
};

/* The dense layer with the unit reading x and w from main memory itself (dot_stream): x, w and
 * (with an input zero point) `ones` word aligned in main memory, in a multiple of 4 and
 * in / 4 <= DOT_MAX_WORDS. The input zero point is folded into the bias with the unit
 * (sum_k w[o][k] as a stream against `ones`, once per unit for the whole batch).
 * Returns 0, or -1 for arguments out of contract. */
int dot_stream_dense_int8(const struct dot_dense *p, int8_t *y);

/* The same layer on the core alone (the software reference loop; any in, any alignment). */
int cpu_dense_int8(const struct dot_dense *p, int8_t *y);

/* MultiplyByQuantizedMultiplierSingleRounding (golden:
 * multiply_by_quantized_multiplier_single_rounding): (x * m + 2^(30 - shift)) >> (31 - shift),
 * shift in [-31, 30]. */
int32_t dot_mbqm_single(int32_t x, int32_t m, int32_t shift);

#endif /* DURE_DOT_DENSE_H */
