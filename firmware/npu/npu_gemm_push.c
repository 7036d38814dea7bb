/* npu_gemm_push.c: the pushes of the GEMM command stream (npu_gemm.c orders them): LOADs and
 * STOREs, the side commands spread between COMPUTEs, and the COMPUTE loops of one K tile. The
 * COMPUTE and A / W LOAD paths write precomputed words (templates plus steps): per COMPUTE
 * ~30 core cycles, which keeps an 8x8 array busy with 64- and 128-row COMPUTEs. */
#include "npu_gemm_stream.h"

#include "npu_hw.h"

/* LOAD i of chunk ch: scale / bias LOADs of its tiles (first chunk of a group), A tiles, W
 * strips. */
void __attribute__((noinline)) gemm_push_load(const struct ctx *x, const struct chunk *ch,
                                              uint32_t i)
{
    uint32_t d[8];
    uint32_t per_tile = (x->scale != 0) + (x->bias != 0);
    uint32_t group_loads = ch->first ? ch->tiles * per_tile : 0;
    if (i < group_loads) {
        uint32_t j = per_tile == 2 ? i / 2 : i, n0 = ch->g0 + j * x->c;
        uint32_t nn = min_u32(x->c, x->g->n - n0);
        if (x->scale && (per_tile == 1 || i % 2 == 0))
            npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, x->scale + 4 * n0, 0,
                         1, nn, ch->scale_rows + j);
        else
            npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, x->bias + 4 * n0, 0,
                         ch->mm, nn, ch->acc_half + j * x->p.mblk);
    } else if ((i -= group_loads) < ch->nk) {
        uint32_t k0 = ch->k0c + i * x->r;
        npu_cmd_load(d, DURE_NPU_TARGET_SPAD, x->elem, 0,
                     x->a + ch->m0 * x->g->a_stride + k0 * x->eb, x->g->a_stride, ch->mm,
                     min_u32(x->r, x->g->k - k0), ch->a_buf + i * x->p.mblk);
    } else {
        uint32_t j = i - ch->nk, n0 = ch->g0 + j * x->c;
        npu_cmd_load(d, DURE_NPU_TARGET_SPAD, x->elem, 0,
                     x->b + ch->k0c * x->g->b_stride + n0 * x->eb, x->g->b_stride, ch->kc,
                     min_u32(x->c, x->g->n - n0), ch->w_buf + j * x->strip);
    }
    npu_push(d);
}

/* STORE j of chunk ch's group. */
void __attribute__((noinline)) gemm_push_store(const struct ctx *x, const struct chunk *ch,
                                               uint32_t j)
{
    uint32_t d[8];
    uint32_t n0 = ch->g0 + j * x->c;
    npu_cmd_store(d, x->g->out_type, x->g->prec, x->scale != 0, (int)x->clamp, x->zp,
                  x->out + ch->m0 * x->g->out_stride + n0 * x->ob, x->g->out_stride, ch->mm,
                  min_u32(x->c, x->g->n - n0), ch->acc_half + j * x->p.mblk,
                  x->scale ? ch->scale_rows + j : 0, x->lo, x->hi);
    npu_push(d);
}

_Static_assert(DURE_NPU_LOAD_DRAM_ADDR_WORD == 1 && DURE_NPU_LOAD_DRAM_ADDR_WIDTH == 32 &&
               DURE_NPU_LOAD_ROWS_WORD == 3 && DURE_NPU_LOAD_COLS_WORD == 3 &&
               DURE_NPU_LOAD_LOCAL_ADDR_WORD == 4 && DURE_NPU_LOAD_LOCAL_ADDR_LSB == 0,
               "gemm_push_side assumes dram_addr in word 1, rows / cols in 3, local_addr in 4");

/* The LOAD templates of struct side for chunk ch (its first A and W LOADs, steps, last ones). */
void gemm_side_templates(const struct ctx *x, const struct chunk *ch, struct side *s)
{
    uint32_t d[8];
    s->group_loads = ch->first ? ch->tiles * ((x->scale != 0) + (x->bias != 0)) : 0;
    s->nk = ch->nk;
    s->tiles = ch->tiles;
    uint32_t k_last = ch->k0c + (ch->nk - 1) * x->r, n_last = ch->g0 + (ch->tiles - 1) * x->c;
    npu_cmd_load(s->a_tpl, DURE_NPU_TARGET_SPAD, x->elem, 0,
                 x->a + ch->m0 * x->g->a_stride + ch->k0c * x->eb, x->g->a_stride, ch->mm,
                 min_u32(x->r, x->g->k - ch->k0c), ch->a_buf);
    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, x->elem, 0, 0, 0, ch->mm,
                 min_u32(x->r, x->g->k - k_last), 0);
    s->a_last3 = d[3];
    s->a_dstep = x->r * x->eb;
    s->a_lstep = x->p.mblk;
    npu_cmd_load(s->w_tpl, DURE_NPU_TARGET_SPAD, x->elem, 0,
                 x->b + ch->k0c * x->g->b_stride + ch->g0 * x->eb, x->g->b_stride, ch->kc,
                 min_u32(x->c, x->g->n - ch->g0), ch->w_buf);
    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, x->elem, 0, 0, 0, ch->kc,
                 min_u32(x->c, x->g->n - n_last), 0);
    s->w_last3 = d[3];
    s->w_dstep = x->c * x->eb;
    s->w_lstep = x->strip;
}

void __attribute__((noinline)) gemm_push_side(struct side *s)
{
    uint32_t i = s->done - s->stores;
    if (s->done < s->stores) {
        gemm_push_store(s->x, s->prev, s->store0 + s->done);
    } else if (i < s->group_loads) {
        gemm_push_load(s->x, s->next, i);
    } else {
        volatile uint32_t *cmd = NPU_CMD_PORT();
        const uint32_t *t;
        uint32_t w3;
        i -= s->group_loads;
        if (i < s->nk) {
            t = s->a_tpl;
            w3 = i + 1 == s->nk ? s->a_last3 : t[3];
            cmd[1] = t[1] + i * s->a_dstep;
            cmd[4] = t[4] + i * s->a_lstep;
        } else {
            i -= s->nk;
            t = s->w_tpl;
            w3 = i + 1 == s->tiles ? s->w_last3 : t[3];
            cmd[1] = t[1] + i * s->w_dstep;
            cmd[4] = t[4] + i * s->w_lstep;
        }
        cmd[0] = t[0];
        cmd[2] = t[2];
        cmd[3] = w3;
        cmd[5] = 0;
        cmd[6] = 0;
        cmd[7] = 0;
        npu_ring(cmd);                  /* DOORBELL */
    }
    s->done++;
    s->done_nc += s->nc;
}

_Static_assert(DURE_NPU_COMPUTE_A_ADDR_WORD == 1 && DURE_NPU_COMPUTE_A_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_W_ADDR_WORD == 2 && DURE_NPU_COMPUTE_W_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_ACC_ADDR_WORD == 3 && DURE_NPU_COMPUTE_ACC_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_M_WORD == 4 && DURE_NPU_COMPUTE_K_WORD == 4 &&
               DURE_NPU_COMPUTE_N_WORD == 4 && DURE_NPU_DOORBELL == DURE_NPU_CMD0 + 32,
               "gemm_push_ktile assumes the COMPUTE layout of words 1-4 and DOORBELL after CMD7");

/* Push the COMPUTEs of k, each followed by the side commands then due (ceil(due / nc) in
 * all). A small leaf, so that its loop stays in registers. CMD0..7 keep their values after a
 * DOORBELL, so between two COMPUTEs only words 1-4 are rewritten. */
void __attribute__((noinline)) gemm_push_ktile(const struct ktile *k, struct side *s)
{
    volatile uint32_t *cmd = NPU_CMD_PORT();
    /* locals, so that nothing is reloaded around the MMIO stores and gemm_push_side calls */
    const uint32_t d0 = k->d0, a0 = k->a, mc = k->mc, strip = k->strip, mblk = k->mblk;
    const uint32_t gm = k->gm, ns = s->ns, n = k->tiles * gm;
    uint32_t w = k->w, acc_j = k->acc, a = a0, acc = acc_j, i = 0, j = 0;
    uint32_t due = s->due, done_nc = s->done_nc;
    const uint32_t *row = &k->mkn[n == gm ? 2 : 0];     /* [last N tile][last sub-block] */
    int full = 1;                       /* CMD0 / CMD5-7 hold another command's words */
    for (uint32_t c = 0; c < n; c++) {
        if (full) {
            cmd[0] = d0;
            cmd[5] = 0;
            cmd[6] = 0;
            cmd[7] = 0;
            full = 0;
        }
        cmd[1] = a;
        cmd[2] = w;
        cmd[3] = acc;
        cmd[4] = row[i + 1 == gm];
        npu_ring(cmd);                  /* DOORBELL */
        due += ns;
        if (done_nc < due) {
            s->due = due;
            do
                gemm_push_side(s);
            while (s->done_nc < due);
            done_nc = s->done_nc;
            full = 1;
        }
        if (k->own && i + 1 == gm) {    /* the last group: STORE each tile when done */
            gemm_push_store(s->x, k->own, j);
            full = 1;
        }
        if (++i < gm) {                 /* next sub-block */
            a += mc;
            acc += mc;
        } else {                        /* next N tile */
            i = 0;
            j++;
            a = a0;
            w += strip;
            acc = acc_j += mblk;
            if (c + 1 + gm == n)
                row = &k->mkn[2];
        }
    }
    s->due = due;
}

/* gemm_push_ktile for the common case of one sub-block per M block (gm = 1) and no STOREs: A and
 * word 0 stay, each COMPUTE writes words 2-4 and the DOORBELL. */
void __attribute__((noinline)) gemm_push_ktile_1(const struct ktile *k, struct side *s)
{
    volatile uint32_t *cmd = NPU_CMD_PORT();
    const uint32_t d0 = k->d0, a = k->a, strip = k->strip, mblk = k->mblk, ns = s->ns;
    const uint32_t n = k->tiles, mkn = k->mkn[1], mkn_last = k->mkn[3];
    uint32_t w = k->w, acc = k->acc, due = s->due, done_nc = s->done_nc;
    cmd[0] = d0;
    cmd[1] = a;
    cmd[5] = 0;
    cmd[6] = 0;
    cmd[7] = 0;
    for (uint32_t j = 0; j < n; j++) {
        cmd[2] = w;
        cmd[3] = acc;
        cmd[4] = j + 1 < n ? mkn : mkn_last;
        npu_ring(cmd);                  /* DOORBELL */
        w += strip;
        acc += mblk;
        due += ns;
        if (done_nc < due) {
            s->due = due;
            do
                gemm_push_side(s);
            while (s->done_nc < due);
            done_nc = s->done_nc;
            cmd[0] = d0;
            cmd[1] = a;
            cmd[5] = 0;
            cmd[6] = 0;
            cmd[7] = 0;
        }
    }
    s->due = due;
}

