/* npu_walk_emit.c: the walk engine's stream, the C port of sim/walk_emit.py's
 * walk_descriptors (see sim/walk_layer.py and sim/walk_emit.py's docstrings for the layout and
 * the stream order; the comments here name the Python function each part follows; the
 * blocking is npu_walk_plan.c's): the unit's COMPUTEs and the loop over units, which places
 * the side commands of npu_walk_cmds.c through npu_walk_stream.c. */
#include "npu_walk_emit.h"

int walk_bad;
void (*npu_op_flush)(const uint32_t *list, uint32_t count);

void walk_put(uint32_t *d, uint32_t word, uint32_t lsb, uint32_t width, int64_t value)
{
    uint32_t mask = width >= 32 ? 0xFFFFFFFFu : (1u << width) - 1;
    int64_t low = width >= 32 ? INT32_MIN : 0;
    if (value < low || value > (int64_t)mask)
        walk_bad = 1;
    d[word] |= ((uint32_t)value & mask) << lsb;
}

/* walk_computes' tail_interleave: the last 2n COMPUTEs at list (two waves of a 1x1 last
 * unit's last chunk, n each, a then b) reordered in place to a0 b0 a1 b1 ... a[n-k-1]
 * b[n-k-1], a[n-k..], b[n-k..]: b[i] moves to slot 2i + 1, a[i + 1..] one slot on. */
static void tail_interleave(uint32_t *list, uint32_t n, uint32_t k)
{
    for (uint32_t i = 0; i + k < n; i++) {
        uint32_t *dst = list + 8u * (2 * i + 1), *src = list + 8u * (n + i), t[8];
        for (uint32_t x = 0; x < 8; x++)
            t[x] = src[x];
        for (uint32_t *q = src; q > dst; q -= 8)
            for (uint32_t x = 0; x < 8; x++)
                q[x] = (q - 8)[x];
        for (uint32_t x = 0; x < 8; x++)
            dst[x] = t[x];
    }
}

/* The unit's COMPUTEs, straight into the list: the hot loop of the build, so the fields are
 * set without the range check (they are rows of SPAD / ACC, whose sizes walk_emit checks fit
 * the 16-bit fields, and the plan keeps m = rows * OW below 2^16) and the bounds of the rows
 * they touch are kept in registers. */
static void computes(struct walk *w, const struct unit *u)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    struct out *o = w->o;
    uint32_t base = walk_tile_base(w, u->tile), sbh = w->p->sbh, row_step = g->sh * g->wp;
    uint32_t acc_unit = walk_acc_base(w, u->index);
    uint32_t wv[WALK_WAVES_MAX][2], cw[WALK_WAVES_MAX][2];
    uint32_t nw = walk_waves_of(w, u, wv), n = 0;
    /* the FP16 joint first wave (walk_fp16_joint): the first unit computed the second unit's
     * rows [0, jh), which computes the rest in one wave; the first unit's first wave holds
     * the second unit's COMPUTEs too, (tap, input chunk) by (tap, input chunk) */
    uint32_t jh = w->fp16_joint;
    int joint0 = jh && u->index == 0;
    struct unit uj;
    if (jh && u->index == 1) {
        nw = 1;
        wv[0][0] = jh;
        wv[0][1] = u->rows - jh;
    }
    if (joint0)
        walk_unit_at(w, 1, &uj);
    uint32_t ncw = walk_chunk_waves(l, u->rows, u->gcount,
                                    walk_waved(w) && u->index + 1 == w->nunits, cw);
    /* input chunks outermost (walk_emit's c_outer) */
    int outer = u->index == 0 && walk_c_outer(w);
    /* input chunk 0's tap 1 before its tap 0 (walk_computes' first_tap_swap) */
    int swap = outer && walk_first_tap_swap(w);
    for (uint32_t wi = 0; wi < nw; wi++)
        n += walk_steps(l) * (l->diagonal ? u->gcount : w->cc * u->gcount) *
             walk_cdiv(wv[wi][1], sbh);
    if (joint0)
        n += walk_steps(l) * w->cc;
    /* walk_computes' first_halves: input chunk 0 of a 1x1 first unit in two parts of its
     * output rows (a third first), each one sub-block (one more COMPUTE per chunk of each
     * range) */
    /* the last chunk range of a 1x1 last unit in two waves (walk_cmds' last_halves): one
     * more COMPUTE per step and input chunk */
    uint32_t lh = walk_last_half(w, u);
    if (lh)
        n += walk_steps(l) * w->cc;
    uint32_t cuts[2];
    for (uint32_t wi = 0; outer && wi < nw; wi++)
        for (uint32_t ci = 0; ci < ncw; ci++)
            n += walk_first_parts(w, wv[wi][1], cw[ci][1], cuts) * cw[ci][1];
    /* the joint first wave (walk_computes' joint_computes): input chunk 0 of the first two
     * units' chunks is the first unit's first part, two parts of two chunks per tap */
    int skip0 = w->joint_h && u->index < 2;
    if (skip0) {
        for (uint32_t wi = 0; wi < nw; wi++)
            n -= g->kw * u->gcount * walk_cdiv(wv[wi][1], sbh);
        if (u->index == 0)
            n += 4 * g->kw;
    }
    uint32_t *p = 0;
    if (o->list) {
        if (o->cur + n > o->cap) {
            o->err = NPU_E_NO_MEMORY;
            return;
        }
        p = o->list + 8u * o->cur;
    }
    int32_t rmin = 0x7FFFFFFF, rmax = -1, wmin = 0x7FFFFFFF, wmax = -1;
    int32_t amin = 0x7FFFFFFF, amax = -1;
    uint32_t span = (g->ow - 1) * g->sw + 1;
    /* the fields every COMPUTE of the layer shares (an ELTWISE MAC has A's walk, ACC_ADDR
     * and M where a COMPUTE has them; its weight row is B_ADDR, it has no K) */
    int mac = l->eltwise_mac, max = l->eltwise_max;
    uint32_t tpl[8] = {mac || max ? DURE_NPU_OP_ELTWISE : DURE_NPU_OP_COMPUTE,
                       0, 0, 0, 0, 0, 0, 0};
    NPU_DESC_SET(tpl, COMPUTE, PRECISION, l->prec == NPU_FP16 ? DURE_NPU_PREC_FP16
                                                              : DURE_NPU_PREC_INT8);
    if (mac)
        NPU_DESC_SET(tpl, ELTWISE, MAC, 1);
    else if (max)
        NPU_DESC_SET(tpl, ELTWISE, OP, DURE_NPU_ELTWISE_MAX);
    else
        NPU_DESC_SET(tpl, COMPUTE, DIAGONAL, l->diagonal ? 1 : 0);
    NPU_DESC_SET(tpl, COMPUTE, A_COLS, g->ow);
    NPU_DESC_SET(tpl, COMPUTE, A_COL_STEP, g->sw);
    NPU_DESC_SET(tpl, COMPUTE, A_ROW_STEP, row_step);
    /* the MAC steps: one tap each, or (pair) taps t and t + 1 in row-major order, the second's
     * tile rows tap_step after the first's and its weight row the next one */
    uint32_t taps = g->kh * g->kw, tstride = l->eltwise_pair ? 2 : 1;
    uint32_t nsteps = walk_cdiv(taps, tstride);
    /* the first unit of INT8 depthwise: the tap that reads no padding first, alone, the
     * others in pairs of consecutive taps around it (walk_computes' dw_first_tap) */
    int lead = u->index == 0 ? walk_dw_first_tap(w) : -1;
    /* a diagonal layer's chunk j reads input chunk j only: the group's chunks */
    uint32_t c_first = l->diagonal ? u->j0 : 0;
    uint32_t c_end = l->diagonal ? walk_min(w->cc, u->j0 + u->gcount) : w->cc;
    uint32_t ncs = c_end - c_first;
    if (skip0 && u->index == 0) {
        struct unit u1;
        walk_unit_at(w, 1, &u1);
        uint32_t h = w->joint_h;
        uint32_t parts[2][2] = {{0, h}, {h, w->joint_rows - h}};
        /* the window's first row in the first unit's tap order, each tap's two parts, each
         * part's two chunks */
        for (uint32_t q = 0; q < g->kw; q++) {
            for (uint32_t pi = 0; pi < 2; pi++)
            for (uint32_t k = 0; k < 2; k++) {
                uint32_t t = swap && q < 2 ? 1 - q : q, t0 = swap ? 1 : 0;
                uint32_t ui = k ? 1 : 0, j = k ? u1.j0 : u->j0;
                uint32_t ky = t / g->kw, kx = t % g->kw, kk = in_cols(l, 0);
                /* with the joint copy both chunks' rows in the second unit's slot, the
                 * first unit's after the second's (walk_cmds.py's joint_w_row) */
                uint32_t w_row = l->has_joint ? walk_weight_row(w, 1, 0, u1.j0, t) + (k ? 0 : kk)
                                              : walk_weight_row(w, ui, 0, j, t);
                uint32_t a = base + ky * g->wp + kx + parts[pi][0] * row_step;
                uint32_t sr = parts[pi][1];
                uint32_t acc = walk_acc_base(w, ui) + parts[pi][0] * g->ow;
                uint32_t a_end = a + (sr - 1) * row_step + span;
                int first = t == t0;
                uint32_t d[8] = {tpl[0], tpl[1], tpl[2], tpl[3], tpl[4], tpl[5], tpl[6],
                                 tpl[7]};
                NPU_DESC_SET(d, COMPUTE, ACCUMULATE, !first);
                if (first) {
                    NPU_DESC_SET(d, COMPUTE, INIT_ROW, 1);
                    WPUT(d, COMPUTE, INIT_ADDR, w->p->const_row + l->const_rows + j);
                }
                NPU_DESC_SET(d, COMPUTE, W_ADDR, w_row);
                NPU_DESC_SET(d, COMPUTE, K, kk);
                NPU_DESC_SET(d, COMPUTE, N, chunk_cols(l, j));
                NPU_DESC_SET(d, COMPUTE, A_ADDR, a);
                NPU_DESC_SET(d, COMPUTE, ACC_ADDR, acc);
                NPU_DESC_SET(d, COMPUTE, M, sr * g->ow);
                NPU_DESC_SET(d, COMPUTE, A_ROWS, sr);
                wmin = (int32_t)w_row < wmin ? (int32_t)w_row : wmin;
                wmax = (int32_t)(w_row + kk) > wmax ? (int32_t)(w_row + kk) : wmax;
                rmin = (int32_t)a < rmin ? (int32_t)a : rmin;
                rmax = (int32_t)a_end > rmax ? (int32_t)a_end : rmax;
                amin = (int32_t)acc < amin ? (int32_t)acc : amin;
                amax = (int32_t)(acc + sr * g->ow) > amax ? (int32_t)(acc + sr * g->ow) : amax;
                if (p) {
                    p[0] = d[0]; p[1] = d[1]; p[2] = d[2]; p[3] = d[3];
                    p[4] = d[4]; p[5] = d[5]; p[6] = d[6]; p[7] = d[7];
                    p += 8;
                }
            }
        }
    }
    /* taps outermost, then input chunks; the first unit of an INT8 convolution input chunks
     * outermost */
    for (uint32_t ci = 0; ci < ncw; ci++) {
    uint32_t lv[2][2] = {{wv[0][0], lh}, {wv[0][0] + lh, wv[0][1] - lh}};
    int split = lh && ci + 1 == ncw;
    uint32_t (*cv)[2] = split ? lv : wv;
    for (uint32_t wi = 0; wi < (split ? 2u : nw); wi++)
    for (uint32_t q = 0; q < nsteps * ncs; q++) {
        uint32_t st = outer ? q % nsteps : q / ncs;
        uint32_t c = c_first + (outer ? q / nsteps : q % ncs);
        uint32_t t = (swap && c == 0 && st < 2 ? 1 - st : st) * tstride;
        if (lead >= 0)
            t = st == 0 ? (uint32_t)lead : 2 * (st - 1) + (2 * (st - 1) >= (uint32_t)lead);
        if (skip0 && c == 0 && t < g->kw)
            continue;                /* the joint first wave's */
        uint32_t ky = t / g->kw, kx = t % g->kw;
        uint32_t second = l->eltwise_pair && t + 1 < taps && (lead < 0 || st > 0);
        uint32_t tap_step = second ? ((t + 1) / g->kw - ky) * g->wp + (t + 1) % g->kw - kx
                                   : 0;
        for (uint32_t k = 0; k < (joint0 && wi == 0 ? 2u : 1u); k++) {
            /* k = 1: the second unit's chunk (joint0) */
            uint32_t ui = k ? 1 : u->index, uj0 = k ? uj.j0 : u->j0;
            uint32_t acc_k = k ? walk_acc_base(w, 1) : acc_unit;
            uint32_t kk = in_cols(l, c);
            uint32_t a_tap = base + (c - u->c0) * w->th_full * g->wp + ky * g->wp + kx;
            /* input chunk 0 in parts (first_halves), the range's chunks inside each */
            uint32_t nc = outer && !split && c == 0
                          ? walk_first_parts(w, cv[wi][1], cw[ci][1], cuts) : 0;
            uint32_t nparts = nc + 1;
            for (uint32_t pj = 0, s_at = cv[wi][0]; pj < nparts * cw[ci][1]; pj++) {
                uint32_t jj = cw[ci][0] + pj % cw[ci][1], part = pj / cw[ci][1];
                uint32_t s_lo = cv[wi][0], s_hi = cv[wi][0] + cv[wi][1];
                if (nc) {
                    if (pj % cw[ci][1] == 0 && part)
                        s_at += cuts[part - 1];
                    s_lo = s_at;
                    s_hi = part < nc ? s_at + cuts[part] : cv[wi][0] + cv[wi][1];
                }
                uint32_t j = uj0 + jj;
                if (l->diagonal && c != j)
                    continue;
                uint32_t w_row = l->has_shared ? 0 :
                    walk_weight_row(w, ui, jj, j, t) + (l->diagonal ? 0 : c * l->k_chunk);
                uint32_t t0 = lead >= 0 ? (uint32_t)lead : swap ? 1u : 0u;
                int first = t == t0 && (l->diagonal || c == 0) && !skip0;
                uint32_t d[8] = {tpl[0], tpl[1], tpl[2], tpl[3], tpl[4], tpl[5], tpl[6],
                                 tpl[7]};
                uint32_t w_end = w_row + (mac ? 1 + second : kk);
                /* COMPUTE (ELTWISE MAC) init_row: the first tap from the chunk's bias row */
                int init = first && walk_init_rows(l);
                NPU_DESC_SET(d, COMPUTE, ACCUMULATE,
                             !first || (l->has_acc_init && !max && !init));
                if (init && mac) {
                    NPU_DESC_SET(d, ELTWISE, INIT_ROW, 1);
                    WPUT(d, ELTWISE, INIT_ADDR, w->p->const_row + l->const_rows + j);
                } else if (init) {
                    NPU_DESC_SET(d, COMPUTE, INIT_ROW, 1);
                    WPUT(d, COMPUTE, INIT_ADDR, w->p->const_row + l->const_rows + j);
                }
                if (max) {
                    /* ELTWISE MAX: A's walk only */
                } else if (mac) {
                    NPU_DESC_SET(d, ELTWISE, B_ADDR, w_row);
                    if (second) {
                        NPU_DESC_SET(d, ELTWISE, PAIR, 1);
                        NPU_DESC_SET(d, ELTWISE, TAP_STEP, tap_step);
                    }
                } else {
                    NPU_DESC_SET(d, COMPUTE, W_ADDR, w_row);
                    NPU_DESC_SET(d, COMPUTE, K, kk);
                }
                NPU_DESC_SET(d, COMPUTE, N, chunk_cols(l, j));
                if (!max) {
                    wmin = (int32_t)w_row < wmin ? (int32_t)w_row : wmin;
                    wmax = (int32_t)w_end > wmax ? (int32_t)w_end : wmax;
                }
                uint32_t acc_chunk = acc_k + jj * w->p->bh * g->ow;
                for (uint32_t s0 = s_lo; s0 < s_hi; s0 += sbh) {
                    uint32_t sr = walk_min(sbh, s_hi - s0);
                    uint32_t a = a_tap + s0 * row_step, acc = acc_chunk + s0 * g->ow;
                    uint32_t a_end = a + (sr - 1) * row_step + span + tap_step;
                    uint32_t acc_end = acc + sr * g->ow;
                    rmin = (int32_t)a < rmin ? (int32_t)a : rmin;
                    rmax = (int32_t)a_end > rmax ? (int32_t)a_end : rmax;
                    amin = (int32_t)acc < amin ? (int32_t)acc : amin;
                    amax = (int32_t)acc_end > amax ? (int32_t)acc_end : amax;
                    if (p) {
                        uint32_t e[8] = {d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]};
                        NPU_DESC_SET(e, COMPUTE, A_ADDR, a);
                        NPU_DESC_SET(e, COMPUTE, ACC_ADDR, acc);
                        NPU_DESC_SET(e, COMPUTE, M, sr * g->ow);
                        NPU_DESC_SET(e, COMPUTE, A_ROWS, sr);
                        p[0] = e[0]; p[1] = e[1]; p[2] = e[2]; p[3] = e[3];
                        p[4] = e[4]; p[5] = e[5]; p[6] = e[6]; p[7] = e[7];
                        p += 8;
                    }
                }
            }
        }
    }
    }
    uint32_t b_px = (wv[0][1] - lh) * g->ow;
    if (lh && p && b_px < DURE_NPU_GEMM_LATENCY) {
        /* the last chunk's two waves interleaved (walk_computes' tail_interleave) where the
         * second wave's links are closer than LATENCY rows: k of its COMPUTEs after the
         * first's last, the fewest whose rows cover the first wave's STORE at
         * DURE_NPU_WALK_TAIL_PORT_BYTES a cycle */
        uint32_t a_px = lh * g->ow;
        uint32_t store = a_px * chunk_cols(l, u->j0 + u->gcount - 1) * l->out_bytes;
        uint32_t k = walk_min(ncs, walk_cdiv(store, DURE_NPU_WALK_TAIL_PORT_BYTES * b_px));
        tail_interleave(p - 16u * ncs, ncs, k);
    }
    o->ncomp = n;
    w->u_j0 = u->j0;
    w->u_rows = u->rows;
    w->u_index = u->index;
    w->u_base = base - u->c0 * w->th_full * g->wp;   /* input chunk c's region: + c * region */
    w->nsub = walk_cdiv(u->rows, sbh);
    w->per_tap = (l->diagonal ? u->gcount : w->cc * u->gcount) * w->nsub;
    /* step_chunks maps a step to its tap in row-major order: not with the lead tap */
    w->indexed = nw == 1 && ncw == 1 && !outer && !skip0 && lead < 0 && !(jh && u->index < 2);
    w->gcount = u->gcount;
    w->acc_unit = acc_unit;
    o->rmin = rmin;
    o->rmax = rmax;
    o->wmin = wmin;
    o->wmax = wmax;
    o->amin = amin;
    o->amax = amax;
}

/* The walk's layer-wide fields (walk_emit's; w->o left unset). */
static void walk_init(struct walk *w, const struct walk_layer *l, const struct walk_plan *p)
{
    const struct walk_geo *g = &l->g;
    w->l = l;
    w->p = p;
    w->eb = elem_bytes(l);
    w->elem = l->prec == NPU_FP16 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    w->cc = kin_chunks(l);
    w->th_full = (p->bh - 1) * g->sh + g->kh;
    w->tile0 = p->w_rows;
    w->nt = out_chunks(l);
    w->blocks = walk_cdiv(g->oh, p->bh);
    w->groups = walk_cdiv(w->nt, p->gn);
    w->nunits = g->batch * w->blocks * w->groups;
    w->x_pix = l->cin * w->eb;
    w->o_pix = l->cout * l->out_bytes;
    w->joint_h = 0;
    w->joint_h = walk_joint_first(w);
    w->fp16_joint = 0;
    w->fp16_joint = walk_fp16_joint(w);
}

int walk_joint_applies(const struct walk_layer *l, const struct walk_plan *p, uint32_t *j0,
                       uint32_t *j1)
{
    struct walk w;
    struct unit u0, u1;
    walk_init(&w, l, p);
    if (!w.joint_h)
        return 0;
    walk_unit_at(&w, 0, &u0);
    walk_unit_at(&w, 1, &u1);
    *j0 = u0.j0;
    *j1 = u1.j0;
    return chunk_cols(l, u0.j0) == chunk_cols(l, u1.j0);
}

int walk_first_pair_applies(const struct walk_layer *l, const struct walk_plan *p,
                            uint32_t *j0)
{
    struct walk w;
    struct unit u0;
    walk_init(&w, l, p);
    if (!walk_first_pair(&w))
        return 0;
    walk_unit_at(&w, 0, &u0);
    *j0 = u0.j0;
    return 1;
}

int walk_emit(const struct walk_layer *l, const struct walk_plan *p, uint32_t *list,
              uint32_t cap)
{
    struct out o = {.list = list, .cap = cap};
    struct walk w;
    const struct walk_geo *g = &l->g;
    walk_init(&w, l, p);
    w.o = &o;
    walk_bad = 0;
    {
        const struct npu_info *hw = npu_get_info();
        if (hw->spad_rows > 0x10000u || hw->acc_rows > 0x10000u || hw->rows > 0xFFu ||
            hw->cols > 0xFFu)
            return NPU_E_ARG;        /* the COMPUTE fields would not hold every row */
    }

    /* prologue: the starting values and the shared weights (the STOREs' parameter rows
     * come just ahead of the first STORE: walk_const_load) */
    struct cmd c;
    /* the starting values' rows (walk_init_rows): whole chunks in one LOAD, a partial last
     * chunk in its own; with input chunks outermost only the first unit's (the others are
     * its first side commands; with the pair LOAD they come after its weights instead,
     * walk_pre_commands) */
    if (!walk_first_copied(l)) {
        /* with the first pair copy only its two chunks' rows (walk_emit.py's mid_bias) */
        struct unit u0;
        walk_unit_at(&w, 0, &u0);
        walk_bias_loads(&w, 0, l->has_first_pair ? u0.j0 + 2 : walk_bias_split(&w),
                        BIAS_DIRECT);
    }
    if (l->has_shared && l->shared_rows) {
        walk_cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
        WPUT(c.d, LOAD, ELEM, w.elem);
        WPUT(c.d, LOAD, DRAM_ADDR, l->shared_addr);
        WPUT(c.d, LOAD, DRAM_STRIDE, l->n_chunk * w.eb);
        WPUT(c.d, LOAD, ROWS, l->shared_rows);
        WPUT(c.d, LOAD, COLS, l->n_chunk);
        WPUT(c.d, LOAD, LOCAL_ADDR, 0);
        walk_emit_direct(&o, c.d);
    }

    uint32_t flushed = 0;
    for (uint32_t i = 0; i < w.nunits && !o.err; i++) {
        struct unit u;
        walk_unit_at(&w, i, &u);
        computes(&w, &u);
        /* the side commands: counted, then staged with their slots */
        /* the first unit: no side command before the slot of its last tile LOAD */
        w.side_floor = 0;
        if (i == 0) {
            w.mode = SINK_FLOOR;
            walk_pre_commands(&w, &u);
            /* input chunks outermost: no later than the end of the first chunk's COMPUTEs */
            /* (with the joint first wave, its input chunk 0 is that wave: 4 COMPUTEs a
             * tap) */
            if (walk_c_outer(&w))
                w.side_floor = walk_min(w.side_floor, w.joint_h ? 3 * g->kw + g->kh * g->kw
                                                                : o.ncomp / w.cc);
        }
        w.mode = SINK_COUNT;
        w.side_total = 0;
        walk_side_commands(&w, i, &u);
        if (w.side_total) {
            w.mode = SINK_SIDE;
            w.side_index = 0;
            w.side_last = 0;
            walk_side_commands(&w, i, &u);
        }
        if (i == 0 && w.nunits == 1 && l->const_rows) {
            walk_const_load(&w, &c);
            walk_stage(&o, &c, 4, 0);            /* right after the first COMPUTE */
        }
        if (i == 0) {
            uint32_t first = o.nside;
            w.late_total = 0;
            for (uint32_t k = 0; k < WALK_WAVES_MAX; k++)
                w.wave_cum[k] = 0;
            w.mode = SINK_PRE;
            walk_pre_commands(&w, &u);
            /* the late ones (key_lo ncomp + 1 + k) evenly between the COMPUTEs */
            for (uint32_t s = first; w.late_total && o.list && !o.err && s < o.nside; s++) {
                uint32_t *rec = walk_stage_at(&o, s);
                if (rec[1] > o.ncomp)
                    rec[0] = ((rec[1] - o.ncomp) * o.ncomp / (w.late_total + 1) + 1) * 4;
            }
        }
        if (p->wmode == WALK_TAPS && o.list) {
            uint32_t taps = g->kh * g->kw;
            for (uint32_t t = 2; t < taps; t++) {
                uint32_t use = t * o.ncomp / taps;
                /* the buffer of tap t: the rows of its first chunk's LOAD */
                int32_t w0 = (int32_t)walk_weight_row(&w, 0, 0, u.j0, t);
                int32_t w1 = w0 + (int32_t)kin(l, u.j0);
                int32_t free_ci = (int32_t)walk_last_reader_end(&w, w0, w1, use) - 1;
                if (free_ci < 0) {
                    o.err = NPU_E_ARG;       /* Python: max() of nothing */
                    break;
                }
                int32_t gap = (int32_t)use - free_ci - 2;
                gap = gap > 0 ? gap / ((int32_t)u.gcount + 1) : 0;
                if (gap < 1)
                    gap = 1;
                for (uint32_t jj = 0; jj < u.gcount; jj++) {
                    uint32_t j = u.j0 + jj, nn = chunk_cols(l, j), k = kin(l, j);
                    uint32_t base = walk_weight_row(&w, 0, jj, j, t);
                    walk_cmd_new(&c, DURE_NPU_OP_LOAD);
                    WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
                    WPUT(c.d, LOAD, ELEM, w.elem);
                    WPUT(c.d, LOAD, DRAM_ADDR, l->w_addr + j * l->w_step + t * k * nn * w.eb);
                    WPUT(c.d, LOAD, DRAM_STRIDE, nn * w.eb);
                    WPUT(c.d, LOAD, ROWS, k);
                    WPUT(c.d, LOAD, COLS, nn);
                    WPUT(c.d, LOAD, LOCAL_ADDR, base);
                    int32_t slot = free_ci + 1 + ((int32_t)jj + 1) * gap;
                    if (slot > (int32_t)use - 1)
                        slot = (int32_t)use - 1;
                    walk_stage(&o, &c, (uint32_t)(slot + 1) * 4, 0xFFFFFFFFu);
                }
            }
        } else if (p->wmode == WALK_TAPS) {
            uint32_t taps = g->kh * g->kw;
            for (uint32_t t = 2; t < taps; t++)
                o.nside += u.gcount;
        }
        if (i + 1 == w.nunits) {
            /* the last unit's STOREs, per sub-block, right after their last COMPUTE */
            w.mode = SINK_LAST;
            walk_stores(&w, &u, 1);
        }
        walk_finish_unit(&o);
        if (npu_op_flush && o.list && !o.err && !walk_bad) {
            npu_op_flush(o.list + 8u * flushed, o.cur - flushed);
            flushed = o.cur;
        }
    }
    if (o.err)
        return o.err;
    if (walk_bad)
        return NPU_E_ARG;
    return list ? (int)o.cur : (int)o.need;
}
