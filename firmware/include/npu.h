/* npu.h: the Dure NPU driver library (firmware/npu/).
 *
 * Layers, from the bottom:
 *   - device: npu_init (checks ID, reads CONFIG, opens the DMA window on main memory),
 *     npu_push (one descriptor: CMD0..7 + DOORBELL, which the hardware holds while the queue is
 *     full), npu_wait (FENCE, then poll) / npu_wait_irq (FENCE with irq, WFI), errors, perf.
 *   - descriptors: npu_cmd_load / npu_cmd_compute / npu_cmd_store / npu_cmd_fence.
 *   - npu_gemm: any M x K x N, INT8 or FP16, tiled for the array, double-buffered, blocked
 *     for reuse (the plan of sim/gemm_plan.py, which is checked against the golden model).
 *   - npu_fc, npu_conv2d: layers on top of npu_gemm.
 *   - npu_ops.h: NHWC layers (conv2d, depthwise, average pool, FP16 add) lowered onto walked
 *     COMPUTEs as descriptor lists, list-equal to the Python planners, run by LIST.
 *   - the CPU reference path (npu_gemm_cpu, npu_conv2d_cpu): the same numerics as
 *     dure.sim.golden on the CPU (soft-float, softfloat.h), for self-checks.
 *
 * Operands the NPU reads or writes must lie inside the DMA window: npu_init opens it on the
 * whole main-memory region, and npu_alloc hands out buffers there. int8 / fp16 elements are
 * int8_t / f16_t (uint16_t bit patterns); int32 / fp32 are int32_t / f32_t (uint32_t bits).
 * Functions returning int give 0 on success or an NPU error code (DURE_NPU_ERR_*, > 0), or a
 * negative NPU_E_* value for a bad call. */
#ifndef DURE_NPU_LIB_H
#define DURE_NPU_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "dure_npu.h"   /* generated: DURE_NPU_ERR_* and the other encodings */
#include "softfloat.h"

/* Bad-call results (negative, so they never collide with the hardware's error codes). */
#define NPU_E_NO_DEVICE   (-1)   /* ID register does not read the NPU magic */
#define NPU_E_ARG         (-2)   /* bad argument (zero dimension, missing scale, ...) */
#define NPU_E_NO_MEMORY   (-3)   /* npu_alloc could not satisfy a request */
#define NPU_E_UNSUPPORTED (-4)   /* FP16 requested on an INT8-only NPU */

enum npu_prec { NPU_INT8 = 0, NPU_FP16 = 1 };
enum npu_out { NPU_OUT_INT8 = 0, NPU_OUT_INT32 = 1, NPU_OUT_FP16 = 2, NPU_OUT_FP32 = 3 };

struct npu_info {
    uint32_t rows, cols;      /* array: K per pass, N per pass */
    uint32_t lanes;           /* SPAD lanes per row = max(rows, cols) */
    uint32_t spad_rows, acc_rows;
    uint32_t fp16;            /* FP16 datapath present */
    uint32_t gather;          /* 2:4 MAC-skipping path (LOAD keep, COMPUTE gather, STORE
                                 lane_sum; npu_gather) present */
    uint32_t row_hazard;      /* row-exact LOAD / walk hazards (npu_row_hazard; the build's
                                 DURE_NPU_HAS_ROW_HAZARD): the walk planner's tap order */
};

struct npu_perf {
    uint64_t busy, macs, compute, dma_rd, dma_wr, stall_dep, stall_mem, stall_out;
    uint64_t fill, gaps, drain;   /* the non-row cycles before / between / after the rows */
};

/* --- device ------------------------------------------------------------------------------- */
int npu_init(void);                              /* 0 or NPU_E_NO_DEVICE */
const struct npu_info *npu_get_info(void);
void npu_set_window(uint32_t base, uint32_t size);
int npu_queue_full(void);
int npu_busy(void);
int npu_wait(void);        /* FENCE, poll until idle; returns the error code (0: none) */
int npu_wait_irq(void);    /* FENCE with irq, sleep in WFI until it completes; same result */
uint32_t npu_error(uint32_t *seq);               /* ERROR code (0 if STATUS.error is clear) */
void npu_clear_error(void);
uint32_t npu_issued(void);
uint32_t npu_done(void);
uint32_t npu_error_index(void); /* ERROR_INDEX: list index of ERROR's command, ~0u if none */
/* One LIST doorbell for `count` (1..65535) descriptors of 8 words at `list` (main memory, in
 * the DMA window; written before the call, unchanged until they are done). Returns the LIST's
 * sequence number s (entry i is s + 1 + i). The NPU reads the list by DMA: a list written by
 * an NPU STORE needs a FENCE (npu_wait) first. */
uint32_t npu_run_list(const uint32_t *list, unsigned count);
void npu_perf_read(struct npu_perf *perf);
void npu_perf_clear(void);

/* --- main-memory buffers (bump allocator over the main-memory region) ------------------ */
void *npu_alloc(size_t bytes, size_t align);     /* NULL when the region is exhausted */
void npu_alloc_reset(void);                      /* free everything */
void npu_alloc_init(uintptr_t base, size_t size);/* use another range (default: all of MAIN) */
size_t npu_alloc_free(size_t align);             /* bytes npu_alloc(., align) could give */
void *npu_alloc_mark(void);                      /* the current allocation point ... */
void npu_alloc_release(void *mark);              /* ... to free everything allocated since */

/* --- descriptors -------------------------------------------------------------------------- */
/* npu_push (CMD0..7 + DOORBELL; waits while the queue is full) and the builders
 * npu_cmd_load / npu_cmd_compute / npu_cmd_store / npu_cmd_fence, inline in npu_cmd.h.
 * elem: 0 int8, 1 fp16, 2 word32 (DURE_NPU_ELEM_*); target: 0 SPAD, 1 ACC. */
#include "npu_cmd.h"

/* --- GEMM --------------------------------------------------------------------------------- */
/* out = post(A x B + bias): A is M x K, B is K x N (row-major, strides in bytes).
 * prec NPU_INT8: int8 operands, int32 accumulation (wrapping); out NPU_OUT_INT8
 *   (requantize: clamp(rne(f32(acc) * scale[j]) + zero_point, lo, hi), scale required),
 *   NPU_OUT_INT32 (raw, no scale), NPU_OUT_FP16 (f32(acc) * scale[j] -> fp16, scale required).
 * prec NPU_FP16: fp16 operands, fp32 sequential accumulation; out NPU_OUT_FP16 or NPU_OUT_FP32,
 *   optional scale, optional clamp.
 * bias: N int32 (INT8) or fp32 bits (FP16), or NULL. scale: N fp32 bits or NULL.
 * lo / hi: INT8 output: integer bounds in [-128, 127] (always applied); float outputs: fp32
 * bits, applied when clamp is set. */
struct npu_gemm {
    uint32_t m, k, n;
    int prec;
    const void *a;
    uint32_t a_stride;
    const void *b;
    uint32_t b_stride;
    void *out;
    uint32_t out_stride;
    int out_type;
    const void *bias;
    const f32_t *scale;
    int32_t zero_point;
    int clamp;
    uint32_t lo, hi;
};

/* Blocking of one GEMM (see sim/gemm_plan.py). */
struct npu_gemm_plan {
    uint32_t mc, mblk, gn, q;     /* COMPUTE rows, M block rows, N tiles per group, K tiles per chunk */
    uint32_t kt, nt, w_base, scale_row;
};

/* Fill g with defaults: dense strides for the given shape and types, no bias / scale, no clamp
 * (INT8 output: lo = -128, hi = 127). */
void npu_gemm_init(struct npu_gemm *g, int prec, uint32_t m, uint32_t k, uint32_t n,
                   const void *a, const void *b, void *out, int out_type);
int npu_gemm_plan(const struct npu_gemm *g, struct npu_gemm_plan *plan);
int npu_gemm_submit(const struct npu_gemm *g);   /* push the stream, do not wait */
int npu_gemm(const struct npu_gemm *g);          /* submit + npu_wait */
int npu_gemm_cpu(const struct npu_gemm *g);      /* the same result computed on the CPU */

/* --- several NPU tiles (npu_tiles.c) ------------------------------------------------------- */
/* An SoC with DURE_NPU_TILES > 1 has that many identical NPUs, tile t's registers at
 * DURE_NPU_BASE + t * DURE_NPU_TILE_STRIDE. Every npu_* call above acts on the selected tile
 * (tile 0 after reset), so single-tile code runs unchanged on tile 0. Recording (multi-tile
 * builds only): between npu_record_begin and npu_record_end, pushes (npu_push and the GEMM's)
 * append their descriptors to a list in memory instead of reaching a tile; npu_run_list plays
 * it on any tile, any number of times. */
#define NPU_MAX_TILES 8
unsigned npu_tile_count(void);                   /* DURE_NPU_TILES (0 without an NPU) */
int npu_tile_select(unsigned tile);              /* 0 or NPU_E_ARG */
unsigned npu_tile_current(void);
int npu_tiles_init(void);                        /* npu_init on every tile; tile 0 selected */
/* Record into list (room for cap descriptors); cap 0 and list NULL: only count them. */
int npu_record_begin(uint32_t *list, uint32_t cap);   /* NPU_E_UNSUPPORTED with one tile */
/* Stop recording; *count = descriptors recorded. NPU_E_NO_MEMORY if more than cap. */
int npu_record_end(uint32_t *count);

/* A GEMM split across tiles: by output columns (whole array-width N tiles per tile, so each
 * output column is computed exactly as on one tile) or by rows of A / the output. Each tile's
 * share is an ordinary npu_gemm (own plan) recorded into its own LIST (npu_alloc); running
 * rings every tile's LIST, then a FENCE on each, and polls all of them. The result is bit-exact
 * with one tile (columns and rows of a GEMM are independent). */
enum npu_split_dim { NPU_SPLIT_COLS = 0, NPU_SPLIT_ROWS = 1 };
struct npu_split {
    unsigned tiles;                     /* tiles with a share (at most the tiles asked for) */
    uint32_t *list[NPU_MAX_TILES];
    uint32_t count[NPU_MAX_TILES];      /* descriptors in each tile's list */
    uint32_t done[NPU_MAX_TILES];       /* npu_split_run: cycles from the first LIST to the
                                           poll that saw the tile idle */
    uint32_t launch;                    /* npu_split_run: cycles to ring every LIST + FENCE */
};
/* Plan and record g's shares for `tiles` tiles (1..npu_tile_count()); lists from npu_alloc. */
int npu_gemm_split(const struct npu_gemm *g, unsigned tiles, int dim, struct npu_split *s);
int npu_split_run(struct npu_split *s);          /* run on tiles 0..s->tiles-1, wait: error */
/* npu_gemm_split + npu_split_run, the lists freed after (npu_alloc_mark / release). */
int npu_gemm_tiles(const struct npu_gemm *g, unsigned tiles, int dim);

/* --- layers -------------------------------------------------------------------------------- */
enum npu_act { NPU_ACT_NONE = 0, NPU_ACT_RELU = 1, NPU_ACT_CLAMP = 2 };

/* Fully connected: y[b, :] = act(x[b, :] W + bias), x batch x in, W in x out (row-major).
 * INT8: requantized int8 output with per-channel scale and zero point; RELU clamps at the zero
 * point, CLAMP uses lo / hi (integers). FP16: fp16 output with optional scale; RELU clamps at
 * 0.0, CLAMP at lo / hi (fp32 bits). */
struct npu_fc {
    int prec;
    uint32_t batch, in, out;
    const void *x, *w, *bias;
    const f32_t *scale;
    int32_t zero_point;
    int act;
    uint32_t lo, hi;
    void *y;
};
int npu_fc(const struct npu_fc *fc);
int npu_fc_cpu(const struct npu_fc *fc);

/* 2-D convolution, NHWC (batch n), weights HWIO (kh x kw x cin x cout = a (kh*kw*cin) x cout
 * matrix), output n x oh x ow x cout with oh = (h + 2 pad - kh) / stride + 1 (same for w).
 * Output and activation as in npu_fc. Padding reads pad_value (int8; 0.0 for fp16). On the NPU,
 * a 1x1 kernel without padding runs straight from the input by strided DMA; any other shape
 * goes through an im2col buffer in main memory (npu_alloc). */
struct npu_conv2d {
    int prec;
    uint32_t n, h, w, cin, cout, kh, kw, stride, pad;
    const void *x, *weights, *bias;
    const f32_t *scale;
    int32_t zero_point;
    int8_t pad_value;
    int act;
    uint32_t lo, hi;
    void *y;
};
uint32_t npu_conv2d_out_h(const struct npu_conv2d *c);
uint32_t npu_conv2d_out_w(const struct npu_conv2d *c);
int npu_conv2d(const struct npu_conv2d *c);
int npu_conv2d_cpu(const struct npu_conv2d *c);  /* direct convolution, same numerics */

/* --- CPU reference numerics (dure.sim.golden) -------------------------------------------- */
int8_t npu_ref_requantize(int32_t acc, f32_t scale, int32_t zero_point, int32_t lo,
                          int32_t hi);
f16_t npu_ref_fp16_post(f32_t acc, const f32_t *scale, int clamp, f32_t lo, f32_t hi);

#endif
