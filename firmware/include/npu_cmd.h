/* npu_cmd.h: descriptor builders and the push, inline (included by npu.h).
 *
 * They are inline so that a caller's descriptor stays in registers and the constant fields fold
 * away: the GEMM loops push one descriptor per ~20 core cycles (8 CMD writes and the DOORBELL
 * write, one bus access per cycle), which keeps an 8x8 array fed with 64-row COMPUTEs. */
#ifndef DURE_NPU_CMD_H
#define DURE_NPU_CMD_H

#include <stdint.h>

#include "npu_hw.h"

/* One descriptor: CMD0..7, then DOORBELL, which the hardware holds off while the queue is full.
 * All 8 words are written every time: a write costs one cycle, less than comparing it with the
 * previous descriptor. */
static inline void npu_push(const uint32_t desc[8])
{
#if NPU_MULTI_TILE
    if (npu_rec) {                      /* recording a list (npu_record_begin) */
        npu_rec_put(desc);
        return;
    }
#endif
    for (uint32_t i = 0; i < 8; i++)
        NPU_REG(DURE_NPU_CMD0 + 4u * i) = desc[i];
    NPU_REG(DURE_NPU_DOORBELL) = 1;
}

static inline void npu_desc_clear(uint32_t d[8])
{
    for (int i = 0; i < 8; i++)
        d[i] = 0;
}

static inline void npu_cmd_load(uint32_t d[8], int target, int elem, int broadcast,
                                uint32_t dram_addr, uint32_t stride, uint32_t rows,
                                uint32_t cols, uint32_t local_addr)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_LOAD;
    NPU_DESC_SET(d, LOAD, TARGET, target);
    NPU_DESC_SET(d, LOAD, ELEM, elem);
    NPU_DESC_SET(d, LOAD, BROADCAST, broadcast);
    NPU_DESC_SET(d, LOAD, DRAM_ADDR, dram_addr);
    NPU_DESC_SET(d, LOAD, DRAM_STRIDE, stride);
    NPU_DESC_SET(d, LOAD, ROWS, rows);
    NPU_DESC_SET(d, LOAD, COLS, cols);
    NPU_DESC_SET(d, LOAD, LOCAL_ADDR, local_addr);
}

static inline void npu_cmd_compute(uint32_t d[8], int prec, int accumulate, uint32_t a_addr,
                                   uint32_t w_addr, uint32_t acc_addr, uint32_t m, uint32_t k,
                                   uint32_t n)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_COMPUTE;
    NPU_DESC_SET(d, COMPUTE, PRECISION, prec);
    NPU_DESC_SET(d, COMPUTE, ACCUMULATE, accumulate);
    NPU_DESC_SET(d, COMPUTE, A_ADDR, a_addr);
    NPU_DESC_SET(d, COMPUTE, W_ADDR, w_addr);
    NPU_DESC_SET(d, COMPUTE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, COMPUTE, M, m);
    NPU_DESC_SET(d, COMPUTE, K, k);
    NPU_DESC_SET(d, COMPUTE, N, n);
}

static inline void npu_cmd_store(uint32_t d[8], int out, int acc_type, int scale, int clamp,
                                 int32_t zero_point, uint32_t dram_addr, uint32_t stride,
                                 uint32_t rows, uint32_t cols, uint32_t acc_addr,
                                 uint32_t scale_addr, uint32_t lo, uint32_t hi)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_STORE;
    NPU_DESC_SET(d, STORE, OUT, out);
    NPU_DESC_SET(d, STORE, ACC_TYPE, acc_type);
    NPU_DESC_SET(d, STORE, SCALE, scale);
    NPU_DESC_SET(d, STORE, CLAMP, clamp);
    NPU_DESC_SET(d, STORE, ZERO_POINT, (uint32_t)zero_point);
    NPU_DESC_SET(d, STORE, DRAM_ADDR, dram_addr);
    NPU_DESC_SET(d, STORE, DRAM_STRIDE, stride);
    NPU_DESC_SET(d, STORE, ROWS, rows);
    NPU_DESC_SET(d, STORE, COLS, cols);
    NPU_DESC_SET(d, STORE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, STORE, SCALE_ADDR, scale_addr);
    NPU_DESC_SET(d, STORE, LO, lo);
    NPU_DESC_SET(d, STORE, HI, hi);
}

/* Select the requantization of an INT8 -> INT8 STORE built by npu_cmd_store (scale = 1):
 * DURE_NPU_REQUANT_FLOAT_SCALE (the default: fp32 scales in ACC row scale_addr), or
 * DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING / _SINGLE_ROUNDING (int32 multipliers in ACC row
 * scale_addr, int32 shifts in [-31, 30] in ACC row scale_addr + 1). */
static inline void npu_cmd_store_requant(uint32_t d[8], int mode)
{
    NPU_DESC_SET(d, STORE, REQUANT, mode);
}

/* Walk A's rows over a 2-D grid in a COMPUTE built by npu_cmd_compute (whose m must be
 * a_rows * a_cols): A's row i is SPAD row a_addr + (i / a_cols) * row_step + (i % a_cols) *
 * col_step. One kernel tap (ky, kx) over a block of output pixels of an image tile held one
 * pixel per SPAD row with row pitch Wp, at stride s: a_addr = base + ky * Wp + kx,
 * col_step = s, row_step = s * Wp. */
static inline void npu_cmd_compute_walk(uint32_t d[8], uint32_t a_cols, uint32_t a_rows,
                                        uint32_t col_step, uint32_t row_step)
{
    NPU_DESC_SET(d, COMPUTE, A_COLS, a_cols);
    NPU_DESC_SET(d, COMPUTE, A_ROWS, a_rows);
    NPU_DESC_SET(d, COMPUTE, A_COL_STEP, col_step);
    NPU_DESC_SET(d, COMPUTE, A_ROW_STEP, row_step);
}

/* Only the products A[m, k] * W[k, n] with k == n take part (depthwise convolution, average
 * pooling, element-wise add with a diagonal weight matrix per tap). */
static inline void npu_cmd_compute_diagonal(uint32_t d[8], int diagonal)
{
    NPU_DESC_SET(d, COMPUTE, DIAGONAL, diagonal);
}

/* Place the rows of a LOAD built by npu_cmd_load (or npu_cmd_fill; rows must be
 * groups * local_cols) as groups of local_cols consecutive rows, row_step rows apart: source
 * row r goes to local_addr + (r / local_cols) * row_step + r % local_cols. */
static inline void npu_cmd_load_place(uint32_t d[8], uint32_t local_cols, uint32_t groups,
                                      uint32_t row_step)
{
    NPU_DESC_SET(d, LOAD, LOCAL_COLS, local_cols);
    NPU_DESC_SET(d, LOAD, LOCAL_GROUPS, groups);
    NPU_DESC_SET(d, LOAD, LOCAL_ROW_STEP, row_step);
}

/* A LOAD that reads no main memory: lanes 0..cols-1 of rows local_addr.. get value (INT8:
 * bits 7:0 sign-extended; FP16: bits 15:0; ACC with WORD32: the word), lanes cols.. zero. */
static inline void npu_cmd_fill(uint32_t d[8], int target, int elem, uint32_t value,
                                uint32_t rows, uint32_t cols, uint32_t local_addr)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_LOAD;
    NPU_DESC_SET(d, LOAD, TARGET, target);
    NPU_DESC_SET(d, LOAD, ELEM, elem);
    NPU_DESC_SET(d, LOAD, FILL, 1);
    NPU_DESC_SET(d, LOAD, FILL_VALUE, value);
    NPU_DESC_SET(d, LOAD, ROWS, rows);
    NPU_DESC_SET(d, LOAD, COLS, cols);
    NPU_DESC_SET(d, LOAD, LOCAL_ADDR, local_addr);
}

/* Make a LOAD built by npu_cmd_load (SPAD, no broadcast) read packed weights
 * (DURE_NPU_WFMT_*): INT4 (ceil(cols/2) bytes per row, INT8 elem), INT4_FP16 (the same rows,
 * FP16 elem, lanes times the cols fp16 scales at scale_addr), SPARSE24 / SPARSE24_INT4 (one
 * source row per 4 destination rows: values, values, 4-bit codes; rows % 4 == 0),
 * SPARSE24_LANES / SPARSE24_INT4_LANES (2:4 along each row's lanes, cols % 4 == 0),
 * INT4_FP16_ROWS (an fp16 scale and 4 int4 rows per source row, FP16 elem). rows and
 * cols stay the destination's; dram_stride is the packed row's. */
static inline void npu_cmd_load_weights(uint32_t d[8], int weight_format, uint32_t scale_addr)
{
    NPU_DESC_SET(d, LOAD, WEIGHT_FORMAT, weight_format);
    NPU_DESC_SET(d, LOAD, SCALE_ADDR, scale_addr);
}

static inline void npu_cmd_fence(uint32_t d[8], int irq)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_FENCE;
    NPU_DESC_SET(d, FENCE, IRQ, irq);
}

/* LIST: run `count` (1..65535) descriptors stored from byte address `list_addr` (4-byte
 * aligned, inside the DMA window), 32 bytes each, as if each had been pushed in its place. */
static inline void npu_cmd_list(uint32_t d[8], uint32_t list_addr, uint32_t count)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_LIST;
    NPU_DESC_SET(d, LIST, LIST_ADDR, list_addr);
    NPU_DESC_SET(d, LIST, COUNT, count);
}

/* ELTWISE MAX (element-wise unit): ACC[acc_addr + i, j] = v or max(ACC, v) (accumulate) for
 * j < n, v the lane of SPAD row a_addr + i (INT8 as int32, FP16 as fp32; IEEE maximum, NaN
 * canonical, +0.0 above -0.0). Walk A like a COMPUTE with npu_cmd_eltwise_walk. */
static inline void npu_cmd_eltwise_max(uint32_t d[8], int prec, int accumulate, uint32_t a_addr,
                                       uint32_t acc_addr, uint32_t m, uint32_t n)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_ELTWISE;
    NPU_DESC_SET(d, ELTWISE, PRECISION, prec);
    NPU_DESC_SET(d, ELTWISE, OP, DURE_NPU_ELTWISE_MAX);
    NPU_DESC_SET(d, ELTWISE, ACCUMULATE, accumulate);
    NPU_DESC_SET(d, ELTWISE, A_ADDR, a_addr);
    NPU_DESC_SET(d, ELTWISE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, ELTWISE, M, m);
    NPU_DESC_SET(d, ELTWISE, N, n);
}

/* ELTWISE ADD (INT8, TFLite): ACC = s(A) + s(B) as int32 with s(x) = RoundingDivideByPOT(
 * SaturatingRoundingDoublingHighMul((x - zp) << 20, mult), rshift) per input; rshift is
 * -shift of QuantizeMultiplierSmallerThanOneExp (0..31). Then a STORE in the
 * TFLITE_DOUBLE_ROUNDING mode with the output multiplier / shift rows. */
static inline void npu_cmd_eltwise_add(uint32_t d[8], uint32_t a_addr, uint32_t b_addr,
                                       uint32_t acc_addr, uint32_t m, uint32_t n, int zp_a,
                                       int32_t mult_a, uint32_t rshift_a, int zp_b,
                                       int32_t mult_b, uint32_t rshift_b)
{
    npu_desc_clear(d);
    d[0] = DURE_NPU_OP_ELTWISE;
    NPU_DESC_SET(d, ELTWISE, OP, DURE_NPU_ELTWISE_ADD);
    NPU_DESC_SET(d, ELTWISE, A_ADDR, a_addr);
    NPU_DESC_SET(d, ELTWISE, B_ADDR, b_addr);
    NPU_DESC_SET(d, ELTWISE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, ELTWISE, M, m);
    NPU_DESC_SET(d, ELTWISE, N, n);
    NPU_DESC_SET(d, ELTWISE, ZP_A, (uint32_t)zp_a);
    NPU_DESC_SET(d, ELTWISE, ZP_B, (uint32_t)zp_b);
    NPU_DESC_SET(d, ELTWISE, MULT_A, (uint32_t)mult_a);
    NPU_DESC_SET(d, ELTWISE, MULT_B, (uint32_t)mult_b);
    NPU_DESC_SET(d, ELTWISE, RSHIFT_A, rshift_a);
    NPU_DESC_SET(d, ELTWISE, RSHIFT_B, rshift_b);
}

/* Walk A's (and B's) rows over a 2-D grid in an ELTWISE (m must be a_rows * a_cols). */
static inline void npu_cmd_eltwise_walk(uint32_t d[8], uint32_t a_cols, uint32_t a_rows,
                                        uint32_t col_step, uint32_t row_step)
{
    NPU_DESC_SET(d, ELTWISE, A_COLS, a_cols);
    NPU_DESC_SET(d, ELTWISE, A_ROWS, a_rows);
    NPU_DESC_SET(d, ELTWISE, A_COL_STEP, col_step);
    NPU_DESC_SET(d, ELTWISE, A_ROW_STEP, row_step);
}

#endif
