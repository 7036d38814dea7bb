/* npu_gemm.c: tiled GEMM on the NPU for any M x K x N.
 *
 * The plan, its search and the command order are those of sim/gemm_plan.py (same integer
 * formulas, same search order), whose streams the tests check against dure.sim.golden through
 * the golden command model, and which tests/firmware checks equal to what this file pushes:
 *
 *   for each M block of mblk rows:
 *     for each group of gn N tiles (C columns each):          ACC half by group parity
 *       scale / bias LOADs of the group's tiles
 *       for each chunk of q K tiles (R rows each):             SPAD buffers by chunk parity
 *         q A LOADs (mblk x R), gn W LOADs (a q*R x C strip per N tile)
 *         for each K tile t: for each N tile j: for each sub-block of mc rows: COMPUTE
 *       gn STOREs
 *
 * Consecutive COMPUTEs write different ACC rows, so the array never waits for its own previous
 * result; COMPUTEs are mc (up to 128) rows; one W LOAD serves q K tiles. The NPU's front end
 * takes commands in order with one waiting slot per unit, so each chunk's *side* commands (the
 * next chunk's LOADs, a share of the previous group's STOREs) are spread evenly between its
 * COMPUTEs; the last group's STOREs follow their tiles' last COMPUTEs. npu_gemm_plan
 * (npu_gemm_plan.c) searches mc, the sub-blocks per M block and gn for the lowest estimated
 * time; this file walks the chunks and npu_gemm_push.c pushes the commands. */
#include "npu_gemm_stream.h"

static uint32_t elem_size(int prec)
{
    return prec == NPU_FP16 ? 2 : 1;
}

static uint32_t out_size(int out)
{
    return out == NPU_OUT_INT8 ? 1 : out == NPU_OUT_FP16 ? 2 : 4;
}

void npu_gemm_init(struct npu_gemm *g, int prec, uint32_t m, uint32_t k, uint32_t n,
                   const void *a, const void *b, void *out, int out_type)
{
    g->m = m;
    g->k = k;
    g->n = n;
    g->prec = prec;
    g->a = a;
    g->a_stride = k * elem_size(prec);
    g->b = b;
    g->b_stride = n * elem_size(prec);
    g->out = out;
    g->out_stride = n * out_size(out_type);
    g->out_type = out_type;
    g->bias = 0;
    g->scale = 0;
    g->zero_point = 0;
    g->clamp = 0;
    g->lo = out_type == NPU_OUT_INT8 ? (uint32_t)-128 : 0;
    g->hi = out_type == NPU_OUT_INT8 ? 127 : 0;
}

static int check(const struct npu_gemm *g)
{
    const struct npu_info *hw = npu_get_info();
    if (g->prec == NPU_FP16 && !hw->fp16)
        return NPU_E_UNSUPPORTED;
    if (g->prec == NPU_INT8) {
        if (g->out_type == NPU_OUT_FP32)
            return NPU_E_ARG;
        if ((g->out_type == NPU_OUT_INT32) == (g->scale != 0))
            return NPU_E_ARG;            /* INT32 forbids a scale; INT8 / FP16 need one */
    } else if (g->out_type != NPU_OUT_FP16 && g->out_type != NPU_OUT_FP32) {
        return NPU_E_ARG;
    }
    return 0;
}

/* The next chunk in loop order (sim/gemm_plan.py chunks); 0 when there is none. */
static int next_chunk(struct ctx *x, struct chunk *ch)
{
    const struct npu_gemm *g = x->g;
    if (x->m0 >= g->m)
        return 0;
    ch->m0 = x->m0;
    ch->mm = min_u32(x->p.mblk, g->m - x->m0);
    ch->g0 = x->g0;
    ch->g_end = min_u32(g->n, x->g0 + x->p.gn * x->c);
    ch->tiles = cdiv(ch->g_end - ch->g0, x->c);
    ch->k0c = x->k0c;
    ch->kc = min_u32(x->strip, g->k - x->k0c);
    ch->nk = cdiv(ch->kc, x->r);
    ch->a_buf = (x->chunk % 2) * x->p.q * x->p.mblk;
    ch->w_buf = x->p.w_base + (x->chunk % 2) * x->p.gn * x->strip;
    ch->acc_half = (x->group % 2) * x->p.gn * x->p.mblk;
    ch->scale_rows = x->p.scale_row + (x->group % 2) * x->p.gn;
    ch->first = x->k0c == 0;
    ch->last = x->k0c + x->strip >= g->k;
    x->chunk++;
    x->k0c += x->strip;
    if (x->k0c >= g->k) {               /* next group, then next M block */
        x->k0c = 0;
        x->group++;
        x->g0 += x->p.gn * x->c;
        if (x->g0 >= g->n) {
            x->g0 = 0;
            x->m0 += x->p.mblk;
        }
    }
    return 1;
}

static uint32_t count_loads(const struct ctx *x, const struct chunk *ch)
{
    uint32_t per_tile = (x->scale != 0) + (x->bias != 0);
    return (ch->first ? ch->tiles * per_tile : 0) + ch->nk + ch->tiles;
}

int npu_gemm_submit(const struct npu_gemm *g)
{
    int err = check(g);
    if (err)
        return err;
    struct ctx x;
    if ((err = npu_gemm_plan(g, &x.p)))
        return err;
    const struct npu_info *hw = npu_get_info();
    int int8_out = g->out_type == NPU_OUT_INT8;
    x.g = g;
    x.r = hw->rows;
    x.c = hw->cols;
    x.eb = elem_size(g->prec);
    x.ob = out_size(g->out_type);
    x.strip = x.p.q * x.r;
    x.elem = g->prec == NPU_FP16 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    x.clamp = int8_out ? 0 : (uint32_t)g->clamp;
    x.lo = int8_out || x.clamp ? g->lo : 0;
    x.hi = int8_out || x.clamp ? g->hi : 0;
    x.zp = int8_out ? g->zero_point : 0;
    x.a = (uint32_t)(uintptr_t)g->a;
    x.b = (uint32_t)(uintptr_t)g->b;
    x.out = (uint32_t)(uintptr_t)g->out;
    x.bias = (uint32_t)(uintptr_t)g->bias;
    x.scale = (uint32_t)(uintptr_t)g->scale;
    x.m0 = x.g0 = x.k0c = x.group = x.chunk = 0;

    struct chunk ring[2];               /* the current and the next chunk, swapped */
    struct chunk *cur = &ring[0], *next = &ring[1];
    struct chunk done_group;            /* the previous group's last chunk */
    int have_next = next_chunk(&x, cur), have_done = 0;
    uint32_t per_group = cdiv(g->k, x.strip), c_in_group = 0;
    for (uint32_t i = 0, n = count_loads(&x, cur); i < n; i++)
        gemm_push_load(&x, cur, i);
    /* word 0 of the COMPUTEs: the first K tile starts the sum (unless on a bias) */
    uint32_t d0[2], d[8];
    npu_cmd_compute(d, g->prec, x.bias != 0, 0, 0, 0, 1, 1, 1);
    d0[0] = d[0];
    npu_cmd_compute(d, g->prec, 1, 0, 0, 0, 1, 1, 1);
    d0[1] = d[0];
    struct ktile kt;
    kt.mc = x.p.mc;
    kt.strip = x.strip;
    kt.mblk = x.p.mblk;
    uint32_t key_k = 0, key_m = 0, key_n = 0;  /* (kk, last m, last n) of the kt.mkn set */
    while (have_next) {
        have_next = next_chunk(&x, next);
        struct side side;               /* (no initializer: memset is byte-wise here) */
        side.x = &x;
        side.prev = &done_group;
        side.next = next;
        side.store0 = side.stores = side.due = side.done = side.done_nc = 0;
        side.group_loads = side.nk = side.tiles = 0;
        if (have_done) {
            side.store0 = c_in_group * done_group.tiles / per_group;
            side.stores = (c_in_group + 1) * done_group.tiles / per_group - side.store0;
        }
        side.ns = side.stores;
        if (have_next) {
            side.ns += count_loads(&x, next);
            gemm_side_templates(&x, next, &side);
        }
        kt.tiles = cur->tiles;
        kt.gm = cdiv(cur->mm, x.p.mc);
        side.nc = cur->nk * kt.tiles * kt.gm;
        uint32_t last_n = cur->g_end - (cur->g0 + (cur->tiles - 1) * x.c);
        uint32_t last_m = cur->mm - (kt.gm - 1) * x.p.mc;
        for (uint32_t t = 0; t < cur->nk; t++) {
            uint32_t k0 = cur->k0c + t * x.r, kk = min_u32(x.r, g->k - k0);
            if (kk != key_k || last_m != key_m || last_n != key_n) {
                for (uint32_t v = 0; v < 4; v++) {  /* word 4: [last N tile][last sub-block] */
                    npu_cmd_compute(d, 0, 0, 0, 0, 0, v & 1 ? last_m : x.p.mc, kk,
                                    v & 2 ? last_n : x.c);
                    kt.mkn[v] = d[4];
                }
                key_k = kk;
                key_m = last_m;
                key_n = last_n;
            }
            kt.d0 = d0[k0 > 0];
            kt.a = cur->a_buf + t * x.p.mblk;
            kt.w = cur->w_buf + t * x.r;
            kt.acc = cur->acc_half;
            kt.own = !have_next && t + 1 == cur->nk ? cur : 0;
            if (kt.gm == 1 && !kt.own)
                gemm_push_ktile_1(&kt, &side);
            else
                gemm_push_ktile(&kt, &side);
        }
        if (cur->last) {
            done_group = *cur;
            have_done = 1;
            c_in_group = 0;
        } else {
            c_in_group++;
        }
        struct chunk *t = cur;
        cur = next;
        next = t;
    }
    return 0;                           /* the last group's STOREs went with its COMPUTEs */
}

int npu_gemm(const struct npu_gemm *g)
{
    int err = npu_gemm_submit(g);
    return err ? err : npu_wait();
}

