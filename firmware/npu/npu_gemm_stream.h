/* npu_gemm_stream.h: the GEMM command stream's private types and pushers, shared by npu_gemm.c
 * (plan, chunk order, orchestration) and npu_gemm_push.c (the pushes). Not a public API. */
#ifndef DURE_NPU_GEMM_STREAM_H
#define DURE_NPU_GEMM_STREAM_H

#include <stdint.h>

#include "npu.h"

static inline uint32_t cdiv(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* One chunk of the loop nest: q K tiles of one (M block, N group), with its buffers. */
struct chunk {
    uint32_t m0, mm, g0, g_end, tiles, k0c, kc, nk, a_buf, w_buf, acc_half, scale_rows;
    uint32_t first, last;               /* first / last chunk of its group */
};

/* Everything the emitters need, fixed for one GEMM. */
struct ctx {
    const struct npu_gemm *g;
    struct npu_gemm_plan p;
    uint32_t r, c, eb, ob, strip, elem, clamp, lo, hi, a, b, out, bias, scale;
    int32_t zp;
    uint32_t m0, g0, k0c, group, chunk; /* iterator: the chunk after the current one */
};

/* The side commands of chunk c of a group (of P chunks per group): STOREs [c T / P, (c + 1)
 * T / P) of the previous group's T STOREs (so that they spread over the group), then the LOADs
 * of the chunk after it. */
struct side {
    const struct ctx *x;
    const struct chunk *prev, *next;    /* the previous group's last chunk; the next chunk */
    uint32_t store0, stores;            /* first STORE of the share; STOREs in it */
    uint32_t ns, nc;                    /* side commands; COMPUTEs of the chunk */
    uint32_t due, done, done_nc;        /* ns x COMPUTEs pushed; side commands pushed; x nc */
    /* next's A and W LOADs from templates (the first of each) and steps: the other words are
     * equal, but for the last one's rows / cols (word 3) */
    uint32_t group_loads, nk, tiles;
    uint32_t a_tpl[8], a_dstep, a_lstep, a_last3;
    uint32_t w_tpl[8], w_dstep, w_lstep, w_last3;
};

/* One K tile's COMPUTEs: for each N tile j of the group, for each sub-block i of the M block.
 * Words 1-3 (A, W, ACC rows) are whole fields (checked below), so consecutive COMPUTEs differ by
 * adds; word 4 (m, k, n) takes one of four values: [last N tile][last sub-block]. */
struct ktile {
    uint32_t d0, a, w, acc;
    uint32_t mkn[4];
    uint32_t tiles, gm, mc, strip, mblk;
    const struct chunk *own;            /* the last K tile of the GEMM: its STOREs follow */
};

/* npu_gemm_push.c */
void gemm_push_load(const struct ctx *x, const struct chunk *ch, uint32_t i);
void gemm_push_store(const struct ctx *x, const struct chunk *ch, uint32_t j);
void gemm_side_templates(const struct ctx *x, const struct chunk *ch, struct side *s);
void gemm_push_side(struct side *s);
void gemm_push_ktile(const struct ktile *k, struct side *s);
void gemm_push_ktile_1(const struct ktile *k, struct side *s);

#endif
