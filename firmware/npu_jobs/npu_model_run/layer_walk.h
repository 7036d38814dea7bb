/* layer_walk.h: what the parts of the layer-table walker share (layer_table.c walks the
 * table and runs the core layers through layer_stage.c, layer_layout.c and layer_onnx.c). */
#ifndef DURE_LAYER_WALK_H
#define DURE_LAYER_WALK_H

#include <stdint.h>

#include "layer_table.h"

/* Host view of `bytes` bytes at bus address `addr`, or NULL when they leave main memory or
 * `addr` is not a multiple of `align`. */
void *lt_at(const struct lt_env *env, uint32_t addr, uint64_t bytes, uint32_t align);

/* The product of n 32-bit factors, or UINT64_MAX once a partial product passes 2^32. */
uint64_t lt_product(const uint32_t *f, int n);

/* A C kernel's return code as a layer status (any failure: LT_E_ARG). */
static inline int lt_kernel_status(int rc)
{
    return rc ? LT_E_ARG : LT_OK;
}

/* n bytes from src to dst (not overlapping), a word at a time where both are aligned. */
void lt_copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n);

/* layer_stage.c: element-wise kernels on chunks staged through on-chip RAM. ADD (INT8 with
 * the record's parameters, or FP16; eb bytes per element) of count elements; float32 ->
 * int8 QUANTIZE of r[5] values (TFLite, or ONNX with its clamp). Return a C kernel's code. */
int lt_staged_add(const uint32_t *r, const uint8_t *a, const uint8_t *b, uint8_t *y,
                  uint32_t count, uint32_t eb);
int lt_staged_quantize(const uint32_t *r, const uint32_t *x, int8_t *y, int onnx);

/* layer_layout.c: IM2COL, TRANSPOSE and PAD records (bytes moved, no arithmetic). */
int lt_layout_op(const struct lt_env *env, const uint32_t *r);

/* layer_onnx.c: the core layers in onnxruntime's arithmetic (ADD, depthwise and unfused
 * float convolutions, average and global average pooling, softmax, dequantize). */
int lt_onnx_op(const struct lt_env *env, const uint32_t *r);

#endif
