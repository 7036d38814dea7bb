/* npu_walk_stream.c: the walk engine's stream being written and the slots of its side
 * commands, the C port of the slot placement in sim/walk_emit.py's walk_descriptors (its
 * `slots`, `first_use` and the last unit's STOREs).
 *
 * The stream is written unit by unit into the caller's list: first the unit's COMPUTEs in
 * their final slots' order, then its side commands (the previous unit's STOREs, the next
 * unit's LOADs, the first unit's own LOADs, the last unit's STOREs) are staged at the end of
 * the buffer as records (sort key, descriptor), sorted stably by the key of the Python stream
 * (after which COMPUTE, then class), and merged in from the back. */
#include "npu_walk_emit.h"

void walk_cmd_new(struct cmd *c, uint32_t opcode)
{
    for (int i = 0; i < 8; i++)
        c->d[i] = 0;
    c->d[0] = opcode;
    c->sw0 = c->sw1 = c->aw0 = c->aw1 = c->ar0 = c->ar1 = -1;
}

/* A command writing SPAD rows [w0, w1) may meet a read of the unit's COMPUTEs. */
static int may_read(const struct out *o, int32_t w0, int32_t w1)
{
    return (w0 < o->rmax && o->rmin < w1) || (w0 < o->wmax && o->wmin < w1);
}

static uint32_t *comp_at(struct out *o, uint32_t ci)
{
    return o->list + 8u * (o->cur + ci);
}

uint32_t *walk_stage_at(struct out *o, uint32_t s)
{
    return o->list + 8u * o->cap - STAGE_WORDS * (s + 1);
}

void walk_emit_direct(struct out *o, const uint32_t *d)
{
    if (o->list) {
        if (o->cur + 1 > o->cap) {
            o->err = NPU_E_NO_MEMORY;
            return;
        }
        for (int i = 0; i < 8; i++)
            o->list[8u * o->cur + i] = d[i];
    }
    o->cur++;
    if (o->cur > o->need)
        o->need = o->cur;
}

void walk_stage(struct out *o, const struct cmd *c, uint32_t key_hi, uint32_t key_lo)
{
    if (o->list && !o->err) {
        uint64_t bottom = (uint64_t)8u * o->cap - (uint64_t)STAGE_WORDS * (o->nside + 1);
        if ((uint64_t)8u * o->cap < (uint64_t)STAGE_WORDS * (o->nside + 1) ||
            bottom < (uint64_t)8u * (o->cur + o->ncomp)) {
            o->err = NPU_E_NO_MEMORY;
        } else {
            uint32_t *p = walk_stage_at(o, o->nside);
            p[0] = key_hi;
            p[1] = key_lo;
            for (int i = 0; i < 8; i++)
                p[2 + i] = c->d[i];
        }
    }
    o->nside++;
}

/* The staged records' order: indices sorted stably by key (a merge sort, n log n: the first
 * unit stages a few hundred records whose insertion sort cost the core more than the rest
 * of the list); more than SORT_MAX records: sorted in place by insertion instead. */
#define SORT_MAX 512u
static uint16_t sort_idx[2 * SORT_MAX];

static void sort_records(struct out *o)
{
    uint32_t n = o->nside;
    uint16_t *src = sort_idx, *dst = sort_idx + SORT_MAX;
    const uint32_t *top = walk_stage_at(o, 0);      /* record i at top - STAGE_WORDS * i */
    for (uint32_t i = 0; i < n; i++)
        src[i] = (uint16_t)i;
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = walk_min(lo + width, n), hi = walk_min(lo + 2 * width, n);
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                const uint32_t *a = top - STAGE_WORDS * src[i], *b = top - STAGE_WORDS * src[j];
                if (a[0] < b[0] || (a[0] == b[0] && a[1] <= b[1]))
                    dst[k++] = src[i++];
                else
                    dst[k++] = src[j++];
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        uint16_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != sort_idx)
        for (uint32_t i = 0; i < n; i++)
            sort_idx[i] = src[i];
}

/* The unit's COMPUTEs and its staged records, merged (stable by key) into their places. */
void walk_finish_unit(struct out *o)
{
    uint32_t total = o->cur + o->ncomp + o->nside;
    uint32_t need = total + walk_cdiv(STAGE_WORDS * o->nside, 8);
    if (need > o->need)
        o->need = need;
    if (o->list && !o->err && (uint64_t)8u * total >
        (uint64_t)8u * o->cap - (uint64_t)STAGE_WORDS * o->nside)
        o->err = NPU_E_NO_MEMORY;
    int indexed = o->nside <= SORT_MAX;
    if (o->list && !o->err && indexed)
        sort_records(o);
    if (o->list && !o->err) {
        /* more than SORT_MAX: stable insertion sort of the records by (key_hi, key_lo) */
        for (uint32_t s = 1; !indexed && s < o->nside; s++) {
            uint32_t rec[STAGE_WORDS];
            uint32_t *p = walk_stage_at(o, s);
            for (uint32_t i = 0; i < STAGE_WORDS; i++)
                rec[i] = p[i];
            uint32_t t = s;
            while (t > 0) {
                uint32_t *q = walk_stage_at(o, t - 1);
                if (q[0] < rec[0] || (q[0] == rec[0] && q[1] <= rec[1]))
                    break;
                uint32_t *dst = walk_stage_at(o, t);
                for (uint32_t i = 0; i < STAGE_WORDS; i++)
                    dst[i] = q[i];
                t--;
            }
            uint32_t *dst = walk_stage_at(o, t);
            for (uint32_t i = 0; i < STAGE_WORDS; i++)
                dst[i] = rec[i];
        }
        /* merge from the back: record with key_hi / 4 > ci goes after COMPUTE ci */
        int32_t ci = (int32_t)o->ncomp - 1, s = (int32_t)o->nside - 1;
        uint32_t pos = total;
        while (s >= 0) {
            uint32_t *rec = walk_stage_at(o, indexed ? sort_idx[s] : (uint32_t)s);
            uint32_t *dst = o->list + 8u * (--pos);
            if (ci >= 0 && (int32_t)(rec[0] / 4) <= ci) {
                uint32_t *src = comp_at(o, (uint32_t)ci);
                for (int i = 0; i < 8; i++)
                    dst[i] = src[i];
                ci--;
            } else {
                for (int i = 0; i < 8; i++)
                    dst[i] = rec[2 + i];
                s--;
            }
        }
    }
    o->cur = total;
    o->ncomp = o->nside = 0;
}

/* Overlap of [a0, a1) and [b0, b1). */
static int overlap(int32_t a0, int32_t a1, int32_t b0, int32_t b1)
{
    return a0 < b1 && b0 < a1;
}

/* COMPUTE ci of the unit reads SPAD rows overlapping [w0, w1). */
static int comp_reads(struct out *o, uint32_t ci, int32_t w0, int32_t w1)
{
    const uint32_t *d = comp_at(o, ci);
    /* an ELTWISE MAC keeps A's walk fields where a COMPUTE has them; its weight is one row,
     * two with pair (whose second tap's rows lie tap_step after the first's) */
    int elt = (d[0] & 0xFu) == DURE_NPU_OP_ELTWISE;
    int mac = elt && WGET(d, ELTWISE, MAC);
    int32_t pair = mac ? (int32_t)WGET(d, ELTWISE, PAIR) : 0;
    int32_t a = (int32_t)WGET(d, COMPUTE, A_ADDR);
    int32_t a_end = a + (int32_t)((WGET(d, COMPUTE, A_ROWS) - 1) * WGET(d, COMPUTE, A_ROW_STEP) +
                                  (WGET(d, COMPUTE, A_COLS) - 1) * WGET(d, COMPUTE, A_COL_STEP))
                    + 1 + (pair ? (int32_t)WGET(d, ELTWISE, TAP_STEP) : 0);
    int32_t w = mac ? (int32_t)WGET(d, ELTWISE, B_ADDR) : (int32_t)WGET(d, COMPUTE, W_ADDR);
    int32_t k = mac ? 1 + pair : (int32_t)WGET(d, COMPUTE, K);
    if (elt && !mac)
        return overlap(a, a_end, w0, w1);         /* ELTWISE MAX: no weight row */
    return overlap(a, a_end, w0, w1) || overlap(w, w + k, w0, w1);
}

/* COMPUTE ci of the unit reads SPAD rows the LOAD `ld` (descriptor words, writing [w0, w1))
 * may write: comp_reads, and with the NPU's row-exact hazards (npu_info.row_hazard) not
 * when its walk and the LOAD's 2-D placement share a row pitch but no column window on the
 * circle of that pitch (rtl/npu/hazard.py conflict_lc; walk_cmds.a_rows_meet). */
static int comp_reads_load(struct out *o, uint32_t ci, int32_t w0, int32_t w1,
                           const uint32_t *ld)
{
    if (!comp_reads(o, ci, w0, w1))
        return 0;
    if (!npu_get_info()->row_hazard)
        return 1;
    const uint32_t *d = comp_at(o, ci);
    /* an ELTWISE MAC of one tap too (the element-wise unit follows its walk by the load
     * unit's row-exact spad_wait) */
    uint32_t op = d[0] & 0xFu;
    int single = op == DURE_NPU_OP_ELTWISE && WGET(d, ELTWISE, MAC) && !WGET(d, ELTWISE, PAIR);
    if (op != DURE_NPU_OP_COMPUTE && !single)
        return 1;
    uint32_t lcols = WGET(ld, LOAD, LOCAL_COLS), lstep = WGET(ld, LOAD, LOCAL_ROW_STEP);
    uint32_t cols = WGET(d, COMPUTE, A_COLS), step = WGET(d, COMPUTE, A_ROW_STEP);
    uint32_t k = single ? 1 : WGET(d, COMPUTE, K);
    uint32_t w = single ? WGET(d, ELTWISE, B_ADDR) : WGET(d, COMPUTE, W_ADDR);
    if (!lcols || lstep < lcols || !cols || lstep != step)
        return 1;
    uint32_t span = (cols - 1) * WGET(d, COMPUTE, A_COL_STEP) + 1;
    if (span > step)
        return 1;
    if (overlap((int32_t)w, (int32_t)(w + k), w0, w1))
        return 1;                                 /* the weight rows */
    uint32_t lo = WGET(ld, LOAD, LOCAL_ADDR) % step, co = WGET(d, COMPUTE, A_ADDR) % step;
    return (co + step - lo) % step < lcols || (lo + step - co) % step < span;
}

static int comp_writes(struct out *o, uint32_t ci, int32_t a0, int32_t a1)
{
    const uint32_t *d = comp_at(o, ci);
    int32_t acc = (int32_t)WGET(d, COMPUTE, ACC_ADDR), m = (int32_t)WGET(d, COMPUTE, M);
    return overlap(acc, acc + m, a0, a1);
}

/* The COMPUTEs of MAC step st of the unit (indices st * per_tap to (st + 1) * per_tap - 1,
 * input chunk c's a run of per_c of them) that may read SPAD rows [s0, s1), by the order of
 * computes(): chunk c's tile reads lie in [first + c * region, first + c * region + ext) (a
 * COMPUTE's walk never leaves its chunk's region), and the step's weight reads in [w0, w1) (each
 * chunk of the group reads rows of its own slot, below the next chunk's). Returns the first
 * and one past the last input chunk whose COMPUTEs must be looked at (all of the step's when
 * the weight rows meet), *lo == *hi: none. The searches for a side command's first or last
 * reader test these few instead of every COMPUTE of the unit. */
static void step_chunks(const struct walk *w, uint32_t st, int32_t s0, int32_t s1, uint32_t *lo,
                        uint32_t *hi)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    uint32_t taps = g->kh * g->kw, t = l->eltwise_pair ? 2 * st : st;
    uint32_t ky = t / g->kw, kx = t % g->kw;
    uint32_t second = l->eltwise_pair && t + 1 < taps;
    uint32_t tap_step = second ? ((t + 1) / g->kw - ky) * g->wp + (t + 1) % g->kw - kx : 0;
    uint32_t c_lo = l->diagonal ? w->u_j0 : 0;
    uint32_t c_n = l->diagonal ? w->gcount : w->cc;
    int32_t region = (int32_t)(w->th_full * g->wp);
    int32_t first = (int32_t)(w->u_base + ky * g->wp + kx + c_lo * (uint32_t)region);
    int32_t ext = (int32_t)((w->u_rows - 1) * g->sh * g->wp + (g->ow - 1) * g->sw + 1 +
                            tap_step);
    *lo = 0;
    *hi = c_n;
    if (!l->eltwise_max) {
        int32_t w0, w1;
        if (l->has_shared) {
            w0 = 0;
            w1 = (int32_t)l->k_chunk;
        } else {
            uint32_t jl = w->u_j0 + w->gcount - 1;
            w0 = (int32_t)walk_weight_row(w, w->u_index, 0, w->u_j0, t);
            w1 = (int32_t)(walk_weight_row(w, w->u_index, w->gcount - 1, jl, t) +
                           (l->diagonal ? 0 : (w->cc - 1) * l->k_chunk) +
                           (l->eltwise_mac ? 2 : l->k_chunk));
        }
        if (overlap(w0, w1, s0, s1))
            return;                   /* the weight rows: every chunk */
    }
    /* chunks k (from c_lo) with first + k * region < s1 and s0 < first + k * region + ext */
    if (s1 <= first) {
        *hi = 0;
        return;
    }
    uint32_t k_hi = (uint32_t)(s1 - 1 - first) / (uint32_t)region + 1;
    uint32_t k_lo = s0 - first - ext < 0 ? 0 : (uint32_t)(s0 - first - ext) / (uint32_t)region + 1;
    *lo = k_lo;
    *hi = walk_max(k_lo, walk_min(k_hi, c_n));
}

/* The first COMPUTE of the unit reading SPAD rows [s0, s1) that LOAD `ld` writes (ncomp:
 * none; comp_reads_load). */
static uint32_t first_reader(struct walk *w, int32_t s0, int32_t s1, const uint32_t *ld)
{
    struct out *o = w->o;
    if (!w->indexed) {
        for (uint32_t ci = 0; ci < o->ncomp; ci++)
            if (comp_reads_load(o, ci, s0, s1, ld))
                return ci;
        return o->ncomp;
    }
    uint32_t steps = walk_steps(w->l), per_c = w->l->diagonal ? w->nsub : w->gcount * w->nsub;
    for (uint32_t st = 0; st < steps; st++) {
        uint32_t lo, hi;
        step_chunks(w, st, s0, s1, &lo, &hi);
        for (uint32_t ci = st * w->per_tap + lo * per_c; ci < st * w->per_tap + hi * per_c; ci++)
            if (comp_reads_load(o, ci, s0, s1, ld))
                return ci;
    }
    return o->ncomp;
}

/* The last COMPUTE before `limit` of the unit reading SPAD rows [s0, s1), plus one (0:
 * none). */
uint32_t walk_last_reader_end(struct walk *w, int32_t s0, int32_t s1, uint32_t limit)
{
    struct out *o = w->o;
    if (!w->indexed) {
        for (uint32_t ci = walk_min(limit, o->ncomp); ci-- > 0;)
            if (comp_reads(o, ci, s0, s1))
                return ci + 1;
        return 0;
    }
    uint32_t per_c = w->l->diagonal ? w->nsub : w->gcount * w->nsub;
    for (uint32_t st = walk_steps(w->l); st-- > 0;) {
        if (st * w->per_tap >= limit)
            continue;
        uint32_t lo, hi;
        step_chunks(w, st, s0, s1, &lo, &hi);
        uint32_t end = walk_min(st * w->per_tap + hi * per_c, limit);
        for (uint32_t ci = end; ci-- > st * w->per_tap + lo * per_c;)
            if (comp_reads(o, ci, s0, s1))
                return ci + 1;
    }
    return 0;
}

/* The last unit's STOREs: after the last COMPUTE that writes their rows. */
static void last_store_sink(struct walk *w, const struct cmd *c)
{
    struct out *o = w->o;
    uint32_t writer = 0;
    for (uint32_t ci = o->list ? o->ncomp : 0; ci-- > 0;) {
        if (comp_writes(o, ci, c->ar0, c->ar1)) {
            writer = ci;
            break;
        }
    }
    walk_stage(o, c, (writer + 1) * 4 + 2, 0);
}

/* A side command of the unit being written (loop body of walk_descriptors' slots). */
/* walk_computes' wave_ahead_slots: an FP16 first unit's image LOAD `c` (from main memory,
 * not a FILL) first used by COMPUTE `use` in a later wave than its first. With
 * DURE_NPU_WALK_FP16_EVEN_WAVE_CHUNKS input chunks or more it goes ahead of the use by the
 * COMPUTEs whose rows (a COMPUTE of that wave's) cover the bytes of its wave's image LOADs up
 * to it at DURE_NPU_GEMM_BYTES_PER_CYCLE, rounded up, plus DURE_NPU_WALK_JIT_LEAD; with
 * fewer, in the third wave or later, halfway through the wave before; or at `slot` if that
 * is earlier. Returns its slot. */
static uint32_t wave_ahead_slot(struct walk *w, const struct cmd *c, uint32_t use,
                                uint32_t slot)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    if (l->prec != NPU_FP16 || l->eltwise_mac || l->eltwise_max || l->diagonal || use == 0)
        return slot;
    struct unit u0;
    uint32_t wv[WALK_WAVES_MAX][2], start[WALK_WAVES_MAX + 1];
    walk_unit_at(w, 0, &u0);
    uint32_t nw = walk_waves_of(w, &u0, wv), at = 0, k = 0;
    uint32_t per = g->kh * g->kw * w->cc * u0.gcount;
    for (uint32_t wi = 0; wi < nw; wi++) {
        start[wi] = at;
        if (at <= use)
            k = wi;
        at += per * walk_cdiv(wv[wi][1], w->p->sbh) * (wi == 0 && w->fp16_joint ? 2 : 1);
    }
    start[nw] = at;
    if (k < 1)
        return slot;
    if (w->cc < DURE_NPU_WALK_FP16_EVEN_WAVE_CHUNKS)
        return k < 2 ? slot : walk_min(slot, start[k - 1] + (start[k] - start[k - 1]) / 2);
    w->wave_cum[k] += WGET(c->d, LOAD, ROWS) * WGET(c->d, LOAD, COLS) * w->eb;
    uint32_t port = DURE_NPU_GEMM_BYTES_PER_CYCLE * walk_min(w->p->sbh, wv[k][1]) * g->ow;
    uint32_t ahead = DURE_NPU_WALK_JIT_LEAD + walk_cdiv(w->wave_cum[k], port);
    return walk_min(slot, use > ahead ? use - ahead : 0);
}

void walk_sink(struct walk *w, const struct cmd *c)
{
    struct out *o = w->o;
    if (w->mode == SINK_COUNT) {
        w->side_total++;
        return;
    }
    if (w->o->err)
        return;
    if (w->mode == SINK_LAST) {
        last_store_sink(w, c);
        return;
    }
    if (w->mode == SINK_SIDE) {
        uint32_t f = w->side_floor;
        uint32_t q = f + w->side_index * (o->ncomp - f) / w->side_total;   /* below 2^32 */
        if (c->sw0 >= 0 && o->list && may_read(o, c->sw0, c->sw1))
            q = walk_max(q, walk_last_reader_end(w, c->sw0, c->sw1, o->ncomp));
        w->side_last = walk_max(q, w->side_last);
        w->side_index++;
        walk_stage(o, c, (w->side_last + 1) * 4 + 1, 0);
        return;
    }
    /* SINK_PRE: the first unit's own LOADs, by first use (SINK_FLOOR: the slot of the last
     * tile LOAD from main memory it reads, not a FILL: the side commands' floor) */
    uint32_t use = o->ncomp;
    if (o->list && ((c->sw0 >= 0 && may_read(o, c->sw0, c->sw1)) ||
                    (c->aw0 >= 0 && overlap(c->aw0, c->aw1, o->amin, o->amax)))) {
        if (c->sw0 >= 0) {
            use = first_reader(w, c->sw0, c->sw1, c->d);
        } else {
            /* an ACC LOAD (the bias): every step writes all of the unit's ACC rows */
            for (uint32_t ci = 0; ci < o->ncomp; ci++) {
                if (comp_writes(o, ci, c->aw0, c->aw1)) {
                    use = ci;
                    break;
                }
            }
        }
    }
    if (w->mode == SINK_FLOOR) {
        if (use > 0 && use < o->ncomp && c->sw0 >= (int32_t)w->tile0 &&
            !WGET(c->d, LOAD, FILL))
            w->side_floor = walk_max(w->side_floor, use > DURE_NPU_WALK_JIT_LEAD
                                                    ? use - DURE_NPU_WALK_JIT_LEAD : 0);
        return;
    }
    /* spread: a tile command the first unit never reads goes evenly between its COMPUTEs,
     * after the others of its slot */
    if (w->l->spread && use == o->ncomp && c->sw0 >= (int32_t)w->tile0) {
        /* its slot needs the count of them: walk_emit patches key_hi once they are all in */
        walk_stage(o, c, 0, o->ncomp + 1 + w->late_total++);
        return;
    }
    /* JIT_LEAD COMPUTEs ahead per element byte on the array (an FP16 row moves twice the
     * bytes), JIT_LEAD on the element-wise unit (walk_emit's lead) */
    uint32_t lead = DURE_NPU_WALK_JIT_LEAD *
                    (w->l->eltwise_mac || w->l->eltwise_max ? 1 : w->eb);
    uint32_t slot = use > lead ? use - lead : 0;
    if (use < o->ncomp && c->sw0 >= (int32_t)w->tile0 && !WGET(c->d, LOAD, FILL))
        slot = wave_ahead_slot(w, c, use, slot);
    /* with tap 1 first (walk_first_tap_swap) the first two COMPUTEs go back to back with only
     * the side FILL the second reads between them (walk_emit's low) */
    if (use > 1 && slot < 1 && walk_c_outer(w) && walk_first_tap_swap(w))
        slot = 1;
    /* with the pair LOAD and row-exact hazards the first COMPUTE's FILLs (its top padding)
     * go first, then its weights and starting-value rows, then its image (walk_emit.py);
     * as one LIST (walk_bias_ahead) the starting-value rows (staged at key_lo 1) ahead of
     * the weights */
    if (use == 0)
        walk_stage(o, c, 0, walk_fills_first(w) && !WGET(c->d, LOAD, FILL)
                                ? 1u + (uint32_t)walk_bias_ahead(w) : 0u);
    else
        walk_stage(o, c, (slot + 1) * 4, use);
}

