/* conv_float_onnx.h: the QDQ convolutions onnxruntime runs unfused on x86-64, as the layer
 * table's CONV_FLOAT_ONNX / CONV_FAST_ONNX records give them (compiler/core_record.py). The walker
 * (layer_onnx.c) checks the record and resolves the operands; these kernels compute. */
#ifndef DURE_CONV_FLOAT_ONNX_H
#define DURE_CONV_FLOAT_ONNX_H

#include <stdint.h>

#include "softfloat.h"

struct conv_float_onnx {
    uint32_t n, h, w, cin, kh, kw, sh, sw, dh, dw, oh, ow, cout, groups, nseg;
    int32_t pt, pl, lo, hi, zx, zy;        /* lo / hi inside [-128, 127] */
    f32_t sx, sy;                          /* input / output scales */
    const int8_t *x;                       /* (n, h, w, cin) */
    const f32_t *wt;                       /* float32 (cout, K), K in (ci, kh, kw) order */
    const f32_t *bias;                     /* float32 (cout) or NULL */
    const uint32_t *seg;                   /* nseg x (start, count, stride_k) */
    int8_t *y;                             /* (n, oh, ow, cout) */
};

/* MLAS's float32 convolution, every output (compiler/onnx_float.py). */
void conv_float_onnx(const struct conv_float_onnx *c);

/* The exact fast path (compiler/onnx_fast.py; groups == 1): `sums` the NPU's int32
 * sum (x - z_x) * w per output (n, oh, ow, cout); `table` 10 words per output channel
 * (M, F, B, K1, K2, K0, KC; B, K0, KC int64, low word first) then |w| as uint8
 * (cout, kh, kw, cin). Each output is decided from its
 * sum when the error bound allows, else recomputed with the float32 chain. Returns the number
 * of outputs recomputed. */
uint32_t conv_float_onnx_fast(const struct conv_float_onnx *c, const int32_t *sums,
                              const uint32_t *table);

#endif
