/* npu_gemm.c: tiled GEMM on the NPU for any M x K x N.
 *
 * The plan, its search and the command order are those of sim/npu_model_gemm.py (same integer
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
 * result; COMPUTEs are mc (up to 64) rows; one W LOAD serves q K tiles. npu_gemm_plan searches
 * mc, the sub-blocks per M block and gn for the lowest estimated time (descriptor pushes,
 * main-memory bytes, array cycles). */
#include "npu.h"

static uint32_t cdiv(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

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

/* The next chunk in loop order (sim/npu_model_gemm.py _chunks); 0 when there is none. */
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

/* LOAD i of chunk ch: scale / bias LOADs of its tiles (first chunk of a group), A tiles, W
 * strips. */
static void __attribute__((noinline)) push_load(const struct ctx *x, const struct chunk *ch,
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
static void __attribute__((noinline)) push_store(const struct ctx *x, const struct chunk *ch,
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

_Static_assert(DURE_NPU_LOAD_DRAM_ADDR_WORD == 1 && DURE_NPU_LOAD_DRAM_ADDR_WIDTH == 32 &&
               DURE_NPU_LOAD_ROWS_WORD == 3 && DURE_NPU_LOAD_COLS_WORD == 3 &&
               DURE_NPU_LOAD_LOCAL_ADDR_WORD == 4 && DURE_NPU_LOAD_LOCAL_ADDR_LSB == 0,
               "push_side assumes dram_addr in word 1, rows / cols in 3, local_addr in 4");

/* The LOAD templates of struct side for chunk ch (its first A and W LOADs, steps, last ones). */
static void side_templates(const struct ctx *x, const struct chunk *ch, struct side *s)
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

static void __attribute__((noinline)) push_side(struct side *s)
{
    uint32_t i = s->done - s->stores;
    if (s->done < s->stores) {
        push_store(s->x, s->prev, s->store0 + s->done);
    } else if (i < s->group_loads) {
        push_load(s->x, s->next, i);
    } else {
        volatile uint32_t *cmd = &NPU_REG(DURE_NPU_CMD0);
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
        cmd[8] = 1;                     /* DOORBELL */
    }
    s->done++;
    s->done_nc += s->nc;
}

/* One K tile's COMPUTEs: for each N tile j of the group, for each sub-block i of the M block.
 * Words 1-3 (A, W, ACC rows) are whole fields (checked below), so consecutive COMPUTEs differ by
 * adds; word 4 (m, k, n) takes one of four values: [last N tile][last sub-block]. */
struct ktile {
    uint32_t d0, a, w, acc;
    uint32_t mkn[4];
    uint32_t tiles, gm, mc, strip, mblk;
    const struct chunk *own;            /* the last K tile of the GEMM: its STOREs follow */
};

_Static_assert(DURE_NPU_COMPUTE_A_ADDR_WORD == 1 && DURE_NPU_COMPUTE_A_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_W_ADDR_WORD == 2 && DURE_NPU_COMPUTE_W_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_ACC_ADDR_WORD == 3 && DURE_NPU_COMPUTE_ACC_ADDR_LSB == 0 &&
               DURE_NPU_COMPUTE_M_WORD == 4 && DURE_NPU_COMPUTE_K_WORD == 4 &&
               DURE_NPU_COMPUTE_N_WORD == 4 && DURE_NPU_DOORBELL == DURE_NPU_CMD0 + 32,
               "push_ktile assumes the COMPUTE layout of words 1-4 and DOORBELL after CMD7");

/* Push the COMPUTEs of k, each followed by the side commands then due (ceil(due / nc) in
 * all). A small leaf, so that its loop stays in registers. CMD0..7 keep their values after a
 * DOORBELL, so between two COMPUTEs only words 1-4 are rewritten. */
static void __attribute__((noinline)) push_ktile(const struct ktile *k, struct side *s)
{
    volatile uint32_t *cmd = &NPU_REG(DURE_NPU_CMD0);
    /* locals, so that nothing is reloaded around the MMIO stores and push_side calls */
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
        cmd[8] = 1;                     /* DOORBELL */
        due += ns;
        if (done_nc < due) {
            s->due = due;
            do
                push_side(s);
            while (s->done_nc < due);
            done_nc = s->done_nc;
            full = 1;
        }
        if (k->own && i + 1 == gm) {    /* the last group: STORE each tile when done */
            push_store(s->x, k->own, j);
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

/* push_ktile for the common case of one sub-block per M block (gm = 1) and no STOREs: A and
 * word 0 stay, each COMPUTE writes words 2-4 and the DOORBELL. */
static void __attribute__((noinline)) push_ktile_1(const struct ktile *k, struct side *s)
{
    volatile uint32_t *cmd = &NPU_REG(DURE_NPU_CMD0);
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
        cmd[8] = 1;                     /* DOORBELL */
        w += strip;
        acc += mblk;
        due += ns;
        if (done_nc < due) {
            s->due = due;
            do
                push_side(s);
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
        push_load(&x, cur, i);
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
            side_templates(&x, next, &side);
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
                push_ktile_1(&kt, &side);
            else
                push_ktile(&kt, &side);
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
