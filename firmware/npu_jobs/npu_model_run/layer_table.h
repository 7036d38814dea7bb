/* layer_table.h: the walker of a compiled model's layer table (format: the docstring of
 * compiler/layer_table.py; constants mirrored here and checked by
 * tests/firmware/test_layer_table.py). It runs every layer in order: NPU layers through a callback (LIST
 * doorbells on the SoC), core layers by calling the C kernels of npu_cpu_ops.h, and times each.
 * It has no SoC dependency, so it compiles for the host too (the tests drive it with the golden
 * NPU model as the callback). */
#ifndef DURE_LAYER_TABLE_H
#define DURE_LAYER_TABLE_H

#include <stdint.h>

#define LT_MAGIC 0x544C5544u          /* "DULT" */
#define LT_VERSION 1u
#define LT_HEADER_WORDS 16u
#define LT_RECORD_WORDS 32u
#define LT_RESULT_HEAD_WORDS 16u
#define LT_MAX_LAYERS 4096u

enum lt_kind { LT_KIND_NPU = 1, LT_KIND_CORE = 2, LT_KIND_NPU_TILES = 3 };

#define LT_MAX_TILES 8u               /* tile lists of one LT_KIND_NPU_TILES record */

enum lt_op {
    LT_OP_COPY = 1, LT_OP_ADD_INT8 = 2, LT_OP_MAX_POOL_INT8 = 3, LT_OP_AVG_POOL_INT8 = 4,
    LT_OP_SOFTMAX_INT8 = 5, LT_OP_ADD_FP16 = 6, LT_OP_MAX_POOL_FP16 = 7,
    LT_OP_AVG_POOL_FP16 = 8, LT_OP_IM2COL = 9, LT_OP_QUANTIZE_ONNX = 10,
    LT_OP_DEQUANTIZE_ONNX = 11, LT_OP_ADD_ONNX = 12, LT_OP_TRANSPOSE = 13,
    LT_OP_GLOBAL_AVG_POOL_ONNX = 14, LT_OP_SOFTMAX_ONNX = 15, LT_OP_PAD = 16,
    LT_OP_QUANTIZE_TFLITE = 17, LT_OP_AVG_POOL_ONNX = 18,
    LT_OP_DEPTHWISE_ONNX = 19, LT_OP_REQUANTIZE_TFLITE = 20, LT_OP_SOFTMAX_FP16 = 21,
    LT_OP_CONV_FLOAT_ONNX = 22, LT_OP_CONV_FAST_ONNX = 23, LT_OP_DENSE_DOT_INT8 = 24,
    LT_OP_DEPTHWISE_DOT_INT8 = 25, LT_OP_FC_RESCALE_TFLITE = 26
};

/* Status (results word 0, the firmware's exit code); names as compiler.program.TableError. */
enum lt_status {
    LT_OK = 0, LT_E_NO_TABLE = 1, LT_E_MAGIC = 2, LT_E_VERSION = 3, LT_E_HEADER = 4,
    LT_E_RANGE = 5, LT_E_KIND = 6, LT_E_OP = 7, LT_E_ARG = 8, LT_E_NPU = 9, LT_E_NO_NPU = 10
};

struct lt_env {
    uint8_t *mem;                /* main memory's first byte as seen by this code */
    uint32_t base, size;         /* main memory's bus address and size */
    /* Run `count` descriptors at bus address `list` and wait; returns the NPU error code
     * (0: none) and then sets *index to the failing descriptor (within this list). */
    uint32_t (*npu_list)(void *ctx, uint32_t list, uint32_t count, uint32_t *index);
    uint64_t (*now)(void *ctx);  /* a cycle counter */
    void *ctx;
    /* Run list t (`counts[t]` descriptors at bus address `lists[t]`) on NPU tile t for t <
     * `tiles`, all at once, and wait until every tile is idle; returns the first NPU error
     * (0: none) and then sets *tile and *index to the failing tile and descriptor. NULL when
     * the SoC has one tile (LT_KIND_NPU_TILES records then fail with LT_E_KIND). */
    uint32_t (*npu_tiles)(void *ctx, uint32_t tiles, const uint32_t *lists,
                          const uint32_t *counts, uint32_t *tile, uint32_t *index);
    /* Core records this walker has no kernel for (LT_OP_DENSE_DOT_INT8: the dot-product
     * unit's, and LT_OP_DEPTHWISE_DOT_INT8: firmware/dot_apps/dot_model_run/); returns an
     * lt_status. NULL: LT_E_OP. */
    int (*core_op)(const struct lt_env *env, const uint32_t *rec);
    /* A second region the NPU records' lists may lie in (the part of on-chip RAM the
     * firmware leaves free, when the SoC's LIST fetcher reaches it: dure.compiler.soc);
     * list_size 0: lists in main memory only. */
    uint32_t list_base, list_size;
};

/* Walk the table at bus address `table`. Returns an lt_status; *results is set to the results
 * area (host view) once the header is valid (else NULL), and holds the status, the failing
 * layer, the NPU's error and descriptor index, total and per-layer cycles (words 0..5 and 16..;
 * the caller fills the performance counters, words 6..13). */
int lt_walk(const struct lt_env *env, uint32_t table, uint32_t **results);

/* binary32 division a / b, IEEE round to nearest even (subnormals kept, NaN canonical). */
uint32_t lt_f32_div(uint32_t a, uint32_t b);

#endif
