/* npu_walk.c: the windowed-operator engine's stream, the C port of sim/walk_plan.py's
 * walk_descriptors (see its module docstring for the layout and the stream order; the comments
 * here name the Python function each part follows; the blocking is npu_walk_plan.c's).
 *
 * The stream is written unit by unit into the caller's list: first the unit's COMPUTEs in
 * their final slots' order, then its side commands (the previous unit's STOREs, the next
 * unit's LOADs, the first unit's own LOADs, the last unit's STOREs) are staged at the end of
 * the buffer as records (sort key, descriptor), sorted stably by the key of the Python stream
 * (after which COMPUTE, then class), and merged in from the back. */
#include "npu_walk.h"

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

/* --- emission (walk_descriptors) --------------------------------------------------------- */

/* One command with the rows it touches (_Cmd); -1: none. */
struct cmd {
    uint32_t d[8];
    int32_t sw0, sw1, aw0, aw1, ar0, ar1;
};

static void cmd_new(struct cmd *c, uint32_t opcode)
{
    for (int i = 0; i < 8; i++)
        c->d[i] = 0;
    c->d[0] = opcode;
    c->sw0 = c->sw1 = c->aw0 = c->aw1 = c->ar0 = c->ar1 = -1;
}

#define STAGE_WORDS 10u       /* key (2 words) and the descriptor */

/* The stream being written. */
struct out {
    uint32_t *list;           /* NULL: count only */
    uint32_t cap, cur, need;
    uint32_t ncomp, nside;    /* of the unit being written */
    int err;
    /* bounds of the SPAD rows the unit's COMPUTEs read (A tile rows [rmin, rmax), weight rows
     * [wmin, wmax): two ranges, so that a LOAD between them, as the other weight buffer,
     * needs no search) and of the ACC rows they write: a side command outside them needs no
     * search */
    int32_t rmin, rmax, wmin, wmax, amin, amax;
};

/* A command writing SPAD rows [w0, w1) may meet a read of the unit's COMPUTEs. */
static int may_read(const struct out *o, int32_t w0, int32_t w1)
{
    return (w0 < o->rmax && o->rmin < w1) || (w0 < o->wmax && o->wmin < w1);
}

static uint32_t *comp_at(struct out *o, uint32_t ci)
{
    return o->list + 8u * (o->cur + ci);
}

static uint32_t *stage_at(struct out *o, uint32_t s)
{
    return o->list + 8u * o->cap - STAGE_WORDS * (s + 1);
}

static void emit_direct(struct out *o, const uint32_t *d)
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

static void stage(struct out *o, const struct cmd *c, uint32_t key_hi, uint32_t key_lo)
{
    if (o->list && !o->err) {
        uint64_t bottom = (uint64_t)8u * o->cap - (uint64_t)STAGE_WORDS * (o->nside + 1);
        if ((uint64_t)8u * o->cap < (uint64_t)STAGE_WORDS * (o->nside + 1) ||
            bottom < (uint64_t)8u * (o->cur + o->ncomp)) {
            o->err = NPU_E_NO_MEMORY;
        } else {
            uint32_t *p = stage_at(o, o->nside);
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
    const uint32_t *top = stage_at(o, 0);      /* record i at top - STAGE_WORDS * i */
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
static void finish_unit(struct out *o)
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
            uint32_t *p = stage_at(o, s);
            for (uint32_t i = 0; i < STAGE_WORDS; i++)
                rec[i] = p[i];
            uint32_t t = s;
            while (t > 0) {
                uint32_t *q = stage_at(o, t - 1);
                if (q[0] < rec[0] || (q[0] == rec[0] && q[1] <= rec[1]))
                    break;
                uint32_t *dst = stage_at(o, t);
                for (uint32_t i = 0; i < STAGE_WORDS; i++)
                    dst[i] = q[i];
                t--;
            }
            uint32_t *dst = stage_at(o, t);
            for (uint32_t i = 0; i < STAGE_WORDS; i++)
                dst[i] = rec[i];
        }
        /* merge from the back: record with key_hi / 4 > ci goes after COMPUTE ci */
        int32_t ci = (int32_t)o->ncomp - 1, s = (int32_t)o->nside - 1;
        uint32_t pos = total;
        while (s >= 0) {
            uint32_t *rec = stage_at(o, indexed ? sort_idx[s] : (uint32_t)s);
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

static int comp_writes(struct out *o, uint32_t ci, int32_t a0, int32_t a1)
{
    const uint32_t *d = comp_at(o, ci);
    int32_t acc = (int32_t)WGET(d, COMPUTE, ACC_ADDR), m = (int32_t)WGET(d, COMPUTE, M);
    return overlap(acc, acc + m, a0, a1);
}

/* Everything walk_descriptors' closures share. */
struct walk {
    const struct walk_layer *l;
    const struct walk_plan *p;
    struct out *o;
    uint32_t eb, elem, cc, th_full, tile0, nt, blocks, groups, nunits, x_pix, o_pix;
    /* the side-command sink of the moment */
    int mode;                 /* SINK_SIDE, SINK_PRE */
    uint32_t side_total, side_index, side_last;
    /* the first unit's tile LOADs / FILLs it does not read (spread) */
    uint32_t late_total;
    /* the COMPUTEs of the unit being written: per tap, per sub-block; ACC base */
    uint32_t per_tap, nsub, gcount, acc_unit;
    /* whether those COMPUTEs are in one wave and one chunk range (tap, input chunk, group
     * chunk, sub-block), so step_chunks' index arithmetic holds; else the searches scan */
    int indexed;
    /* and its first chunk, output rows, index and tile base (step_chunks) */
    uint32_t u_j0, u_rows, u_index, u_base;
};

enum { SINK_SIDE, SINK_PRE, SINK_COUNT, SINK_LAST };

struct unit {
    uint32_t n, oy0, rows, j0, gcount, index, block;
    uint32_t tile, c0;    /* its tile buffer (by block, by unit if diagonal), first chunk */
};

static uint32_t weight_row(const struct walk *w, uint32_t u_index, uint32_t jj, uint32_t j,
                           uint32_t t);

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
            w0 = (int32_t)weight_row(w, w->u_index, 0, w->u_j0, t);
            w1 = (int32_t)(weight_row(w, w->u_index, w->gcount - 1, jl, t) +
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

/* The first COMPUTE of the unit reading SPAD rows [s0, s1) (ncomp: none). */
static uint32_t first_reader(struct walk *w, int32_t s0, int32_t s1)
{
    struct out *o = w->o;
    if (!w->indexed) {
        for (uint32_t ci = 0; ci < o->ncomp; ci++)
            if (comp_reads(o, ci, s0, s1))
                return ci;
        return o->ncomp;
    }
    uint32_t steps = walk_steps(w->l), per_c = w->l->diagonal ? w->nsub : w->gcount * w->nsub;
    for (uint32_t st = 0; st < steps; st++) {
        uint32_t lo, hi;
        step_chunks(w, st, s0, s1, &lo, &hi);
        for (uint32_t ci = st * w->per_tap + lo * per_c; ci < st * w->per_tap + hi * per_c; ci++)
            if (comp_reads(o, ci, s0, s1))
                return ci;
    }
    return o->ncomp;
}

/* The last COMPUTE before `limit` of the unit reading SPAD rows [s0, s1), plus one (0:
 * none). */
static uint32_t last_reader_end(struct walk *w, int32_t s0, int32_t s1, uint32_t limit)
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

static void unit_at(const struct walk *w, uint32_t i, struct unit *u)
{
    uint32_t groups = w->groups;
    u->index = i;
    u->block = i / groups;
    u->n = u->block / w->blocks;
    u->oy0 = (u->block % w->blocks) * w->p->bh;
    u->rows = walk_min(w->p->bh, w->l->g.oh - u->oy0);
    u->j0 = (i % groups) * w->p->gn;
    u->gcount = walk_min(w->p->gn, w->nt - u->j0);
    u->tile = unit_tiles(w->l) ? i : u->block;
    u->c0 = unit_tiles(w->l) ? u->j0 : 0;
}

/* the taps weight mode refills its tap buffers in the unit's tap order: no waves there */
static int waved(const struct walk *w)
{
    return w->p->wmode != WALK_TAPS;
}

static uint32_t waves_of(const struct walk *w, const struct unit *u, uint32_t (*wv)[2])
{
    return walk_unit_waves(w->l, u->rows, u->gcount, waved(w) && u->index == 0,
                           waved(w) && u->index + 1 == w->nunits, wv);
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
    stage(o, c, (writer + 1) * 4 + 2, 0);
}

/* A side command of the unit being written (loop body of walk_descriptors' slots). */
static void sink(struct walk *w, const struct cmd *c)
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
        uint32_t q = w->side_index * o->ncomp / w->side_total;   /* below 2^32 */
        if (c->sw0 >= 0 && o->list && may_read(o, c->sw0, c->sw1))
            q = walk_max(q, last_reader_end(w, c->sw0, c->sw1, o->ncomp));
        w->side_last = walk_max(q, w->side_last);
        w->side_index++;
        stage(o, c, (w->side_last + 1) * 4 + 1, 0);
        return;
    }
    /* SINK_PRE: the first unit's own LOADs, by first use */
    uint32_t use = o->ncomp;
    if (o->list && ((c->sw0 >= 0 && may_read(o, c->sw0, c->sw1)) ||
                    (c->aw0 >= 0 && overlap(c->aw0, c->aw1, o->amin, o->amax)))) {
        if (c->sw0 >= 0) {
            use = first_reader(w, c->sw0, c->sw1);
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
    /* spread: a tile command the first unit never reads goes evenly between its COMPUTEs,
     * after the others of its slot */
    if (w->l->spread && use == o->ncomp && c->sw0 >= (int32_t)w->tile0) {
        /* its slot needs the count of them: walk_emit patches key_hi once they are all in */
        stage(o, c, 0, o->ncomp + 1 + w->late_total++);
        return;
    }
    if (use == 0)
        stage(o, c, 0, 0);
    else
        stage(o, c, ((use > DURE_NPU_WALK_JIT_LEAD ? use - DURE_NPU_WALK_JIT_LEAD : 0) + 1) * 4,
              use);
}

static void fill(struct walk *w, uint32_t first, uint32_t rows, uint32_t cols, uint32_t groups,
                 uint32_t step)
{
    struct cmd c;
    cmd_new(&c, DURE_NPU_OP_LOAD);
    WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(c.d, LOAD, ELEM, w->elem);
    WPUT(c.d, LOAD, FILL, 1);
    WPUT(c.d, LOAD, FILL_VALUE, w->l->pad_value);
    WPUT(c.d, LOAD, ROWS, rows);
    WPUT(c.d, LOAD, COLS, cols);
    WPUT(c.d, LOAD, LOCAL_ADDR, first);
    if (groups) {
        WPUT(c.d, LOAD, LOCAL_COLS, rows / groups);
        WPUT(c.d, LOAD, LOCAL_GROUPS, groups);
        WPUT(c.d, LOAD, LOCAL_ROW_STEP, step);
    }
    c.sw0 = (int32_t)first;
    c.sw1 = (int32_t)(groups ? first + (groups - 1) * step + rows / groups : first + rows);
    sink(w, &c);
}

static void spad_load(struct walk *w, uint32_t addr, uint32_t stride, uint32_t rows,
                      uint32_t cols, uint32_t base)
{
    struct cmd c;
    cmd_new(&c, DURE_NPU_OP_LOAD);
    WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(c.d, LOAD, ELEM, w->elem);
    WPUT(c.d, LOAD, DRAM_ADDR, addr);
    WPUT(c.d, LOAD, DRAM_STRIDE, stride);
    WPUT(c.d, LOAD, ROWS, rows);
    WPUT(c.d, LOAD, COLS, cols);
    WPUT(c.d, LOAD, LOCAL_ADDR, base);
    c.sw0 = (int32_t)base;
    c.sw1 = (int32_t)(base + rows);
    sink(w, &c);
}

static uint32_t weight_base(const struct walk *w, uint32_t u_index, uint32_t jj, uint32_t j)
{
    const struct walk_plan *p = w->p;
    if (p->wmode == WALK_RESIDENT)
        return j * p->slot;
    if (p->wmode == WALK_DOUBLE)
        return ((u_index % 2) * p->gn + jj) * p->slot;
    return jj * p->slot;
}

static uint32_t weight_row(const struct walk *w, uint32_t u_index, uint32_t jj, uint32_t j,
                           uint32_t t)
{
    if (w->p->wmode == WALK_TAPS)
        return ((t % 2) * w->p->gn + jj) * w->p->slot;
    return weight_base(w, u_index, jj, j) + t * kin(w->l, j);
}

/* tap_loads: the group's matrices of taps [t0, t1), one LOAD per (tap, chunk). */
static void tap_loads(struct walk *w, const struct unit *u, uint32_t t0, uint32_t t1)
{
    const struct walk_layer *l = w->l;
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t jj = 0; jj < u->gcount; jj++) {
            uint32_t j = u->j0 + jj, nn = chunk_cols(l, j), k = kin(l, j);
            spad_load(w, l->w_addr + j * l->w_step + t * k * nn * w->eb, nn * w->eb, k, nn,
                      weight_row(w, 0, jj, j, t));
        }
    }
}

enum { PIECES_WHOLE, PIECES_TAPS, PIECES_JIT };

static void weight_loads(struct walk *w, uint32_t u_index, uint32_t j0, uint32_t gcount,
                         int per_tap)
{
    const struct walk_layer *l = w->l;
    uint32_t taps = l->g.kh * l->g.kw;
    if (per_tap == PIECES_JIT && l->eltwise_mac)
        per_tap = PIECES_WHOLE;       /* one row per tap: one LOAD (walk_plan's weight_loads) */
    if (per_tap != PIECES_JIT && taps == 1) {
        /* a 1x1 refill: pieces of PIECE_ROWS rows, piece by piece across the group's chunks */
        uint32_t kmax = 0;
        for (uint32_t jj = 0; jj < gcount; jj++)
            kmax = kin(l, j0 + jj) > kmax ? kin(l, j0 + jj) : kmax;
        for (uint32_t r0 = 0; r0 < kmax; r0 += DURE_NPU_WALK_PIECE_ROWS) {
            for (uint32_t jj = 0; jj < gcount; jj++) {
                uint32_t j = j0 + jj, nn = chunk_cols(l, j), k = kin(l, j);
                if (r0 < k)
                    spad_load(w, l->w_addr + j * l->w_step + r0 * nn * w->eb, nn * w->eb,
                              walk_min(DURE_NPU_WALK_PIECE_ROWS, k - r0), nn,
                              weight_base(w, u_index, jj, j) + r0);
            }
        }
        return;
    }
    for (uint32_t jj = 0; jj < gcount; jj++) {
        uint32_t j = j0 + jj, nn = chunk_cols(l, j), k = kin(l, j);
        uint32_t addr = l->w_addr + j * l->w_step, rows = weight_rows(l, j);
        uint32_t base = weight_base(w, u_index, jj, j);
        if (per_tap == PIECES_WHOLE) {
            spad_load(w, addr, nn * w->eb, rows, nn, base);
        } else if (per_tap == PIECES_TAPS) {
            for (uint32_t t = 0; t < taps; t++)
                spad_load(w, addr + t * k * nn * w->eb, nn * w->eb, k, nn, base + t * k);
        } else {                      /* taps [0, 1), [1, 2), [2, 4), [4, 8), ... */
            for (uint32_t t0 = 0, t1 = 1; t0 < taps; t0 = t1, t1 = walk_min(taps, 2 * t1))
                spad_load(w, addr + t0 * k * nn * w->eb, nn * w->eb, (t1 - t0) * k, nn,
                          base + t0 * k);
        }
    }
}

static uint32_t tile_base(const struct walk *w, uint32_t block)
{
    return w->tile0 + (block % w->p->tbufs) * w->p->tile_rows;
}

/* tile_loads: waves (nw > 0): the image rows LOADed in one piece per wave */
static void tile_loads(struct walk *w, const struct unit *u, uint32_t (*wv)[2], uint32_t nw)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    uint32_t th = (u->rows - 1) * g->sh + g->kh;
    uint32_t base = tile_base(w, u->tile);
    uint32_t c_end = unit_tiles(w->l) ? walk_min(w->cc, u->j0 + u->gcount) : w->cc;
    int32_t py0 = (int32_t)(u->oy0 * g->sh);
    int32_t iy0 = py0 - (int32_t)g->pt > 0 ? py0 - (int32_t)g->pt : 0;
    int32_t iy1 = py0 + (int32_t)th - (int32_t)g->pt;
    if (iy1 > (int32_t)g->height)
        iy1 = (int32_t)g->height;
    int32_t top = py0 < (int32_t)g->pt ? walk_min(th, g->pt - (uint32_t)py0) : 0;
    int32_t bottom_start = iy1 + (int32_t)g->pt - py0;
    if (bottom_start < 0)
        bottom_start = 0;
    for (uint32_t c = u->c0; c < c_end; c++) {
        uint32_t kk = in_cols(l, c);
        uint32_t region = base + (c - u->c0) * w->th_full * g->wp;
        if (unit_tiles(l) && top > 0 && top == (int32_t)th - bottom_start) {
            /* top and bottom padding rows of as many rows: one FILL placed twice */
            fill(w, region, 2 * (uint32_t)top * g->wp, kk, 2, (uint32_t)bottom_start * g->wp);
        } else {
            if (top > 0)
                fill(w, region, (uint32_t)top * g->wp, kk, 0, 0);
            if (bottom_start < (int32_t)th)
                fill(w, region + (uint32_t)bottom_start * g->wp, (th - (uint32_t)bottom_start) *
                     g->wp, kk, 0, 0);
        }
        int32_t r0 = iy0;
        for (uint32_t wi = 0; wi <= nw && r0 < iy1; wi++) {
            int32_t r1 = iy1;
            if (wi < nw) {
                int32_t cut = py0 + (int32_t)((wv[wi][0] + wv[wi][1] - 1) * g->sh + g->kh) -
                              (int32_t)g->pt;
                if (cut < r1)
                    r1 = cut;
                if (r1 <= r0)
                    continue;
            }
            uint32_t nv = (uint32_t)(r1 - r0);
            uint32_t first = region + (uint32_t)(r0 + (int32_t)g->pt - py0) * g->wp + g->pl;
            struct cmd cm;
            cmd_new(&cm, DURE_NPU_OP_LOAD);
            WPUT(cm.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
            WPUT(cm.d, LOAD, ELEM, w->elem);
            WPUT64(cm.d, LOAD, DRAM_ADDR, (int64_t)l->x_addr +
                 (int64_t)((u->n * g->height + (uint32_t)r0) * g->width) * w->x_pix +
                 (int64_t)c * l->k_chunk * w->eb);
            WPUT(cm.d, LOAD, DRAM_STRIDE, w->x_pix);
            WPUT64(cm.d, LOAD, ROWS, (uint64_t)nv * g->width);
            WPUT(cm.d, LOAD, COLS, kk);
            WPUT(cm.d, LOAD, LOCAL_ADDR, first);
            if (g->wp != g->width) {
                WPUT(cm.d, LOAD, LOCAL_COLS, g->width);
                WPUT(cm.d, LOAD, LOCAL_GROUPS, nv);
                WPUT(cm.d, LOAD, LOCAL_ROW_STEP, g->wp);
            }
            cm.sw0 = (int32_t)first;
            cm.sw1 = (int32_t)(first + (nv - 1) * g->wp + g->width);
            sink(w, &cm);
            r0 = r1;
        }
    }
}

static void side_fills(struct walk *w)
{
    const struct walk_geo *g = &w->l->g;
    uint32_t right = g->wp - g->pl - g->width;
    /* spread: one FILL per channel chunk, so the first COMPUTE waits for its own only */
    uint32_t per_tile = tile_chunks(w->l, w->p->gn);
    uint32_t parts = w->l->spread ? per_tile : 1, groups = w->l->spread ? w->th_full
                                                                        : per_tile * w->th_full;
    for (uint32_t b = 0; b < w->p->tbufs; b++) {
        for (uint32_t c = 0; c < parts; c++) {
            uint32_t base = tile_base(w, b) + c * w->th_full * g->wp;
            if (g->pl > 0)
                fill(w, base, groups * g->pl, w->l->k_chunk, groups, g->wp);
            if (right > 0)
                fill(w, base + g->pl + g->width, groups * right, w->l->k_chunk, groups,
                     g->wp);
        }
    }
}

static uint32_t acc_base(const struct walk *w, uint32_t u_index)
{
    return (u_index % 2) * w->p->acc_half;
}

static void acc_init(struct walk *w, const struct unit *u)
{
    const struct walk_layer *l = w->l;
    if (!l->has_acc_init)
        return;
    for (uint32_t jj = 0; jj < u->gcount; jj++) {
        uint32_t j = u->j0 + jj;
        uint32_t first = acc_base(w, u->index) + jj * w->p->bh * l->g.ow;
        struct cmd c;
        cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
        WPUT(c.d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
        WPUT(c.d, LOAD, BROADCAST, 1);
        WPUT(c.d, LOAD, DRAM_ADDR, l->acc_init + 4 * j * l->n_chunk);
        WPUT(c.d, LOAD, ROWS, u->rows * l->g.ow);
        WPUT(c.d, LOAD, COLS, chunk_cols(l, j));
        WPUT(c.d, LOAD, LOCAL_ADDR, first);
        c.aw0 = (int32_t)first;
        c.aw1 = (int32_t)(first + u->rows * l->g.ow);
        sink(w, &c);
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
    uint32_t base = tile_base(w, u->tile), sbh = w->p->sbh, row_step = g->sh * g->wp;
    uint32_t acc_unit = acc_base(w, u->index);
    uint32_t wv[WALK_WAVES_MAX][2], cw[WALK_WAVES_MAX][2];
    uint32_t nw = waves_of(w, u, wv), n = 0;
    uint32_t ncw = walk_chunk_waves(l, u->rows, u->gcount,
                                    waved(w) && u->index + 1 == w->nunits, cw);
    for (uint32_t wi = 0; wi < nw; wi++)
        n += walk_steps(l) * (l->diagonal ? u->gcount : w->cc * u->gcount) *
             walk_cdiv(wv[wi][1], sbh);
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
    for (uint32_t ci = 0; ci < ncw; ci++)
    for (uint32_t wi = 0; wi < nw; wi++)
    for (uint32_t t = 0; t < taps; t += tstride) {
        uint32_t ky = t / g->kw, kx = t % g->kw;
        uint32_t second = l->eltwise_pair && t + 1 < taps;
        uint32_t tap_step = second ? ((t + 1) / g->kw - ky) * g->wp + (t + 1) % g->kw - kx
                                   : 0;
        /* a diagonal layer's chunk j reads input chunk j only: the group's chunks */
        uint32_t c_first = l->diagonal ? u->j0 : 0;
        uint32_t c_end = l->diagonal ? walk_min(w->cc, u->j0 + u->gcount) : w->cc;
        for (uint32_t c = c_first; c < c_end; c++) {
            uint32_t kk = in_cols(l, c);
            uint32_t a_tap = base + (c - u->c0) * w->th_full * g->wp + ky * g->wp + kx;
            for (uint32_t jj = cw[ci][0]; jj < cw[ci][0] + cw[ci][1]; jj++) {
                uint32_t j = u->j0 + jj;
                if (l->diagonal && c != j)
                    continue;
                uint32_t w_row = l->has_shared ? 0 :
                    weight_row(w, u->index, jj, j, t) + (l->diagonal ? 0 : c * l->k_chunk);
                int first = t == 0 && (l->diagonal || c == 0);
                uint32_t d[8] = {tpl[0], tpl[1], tpl[2], tpl[3], tpl[4], tpl[5], tpl[6],
                                 tpl[7]};
                uint32_t w_end = w_row + (mac ? 1 + second : kk);
                NPU_DESC_SET(d, COMPUTE, ACCUMULATE, !first || (l->has_acc_init && !max));
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
                uint32_t acc_chunk = acc_unit + jj * w->p->bh * g->ow;
                for (uint32_t s0 = wv[wi][0]; s0 < wv[wi][0] + wv[wi][1]; s0 += sbh) {
                    uint32_t sr = walk_min(sbh, wv[wi][0] + wv[wi][1] - s0);
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
    o->ncomp = n;
    w->u_j0 = u->j0;
    w->u_rows = u->rows;
    w->u_index = u->index;
    w->u_base = base - u->c0 * w->th_full * g->wp;   /* input chunk c's region: + c * region */
    w->nsub = walk_cdiv(u->rows, sbh);
    w->per_tap = (l->diagonal ? u->gcount : w->cc * u->gcount) * w->nsub;
    w->indexed = nw == 1 && ncw == 1;
    w->gcount = u->gcount;
    w->acc_unit = acc_unit;
    o->rmin = rmin;
    o->rmax = rmax;
    o->wmin = wmin;
    o->wmax = wmax;
    o->amin = amin;
    o->amax = amax;
}

static void store_one(struct walk *w, uint32_t scale_addr, uint32_t dram, uint32_t rows,
                      uint32_t cols, uint32_t acc, struct cmd *c)
{
    const struct walk_layer *l = w->l;
    cmd_new(c, DURE_NPU_OP_STORE);
    WPUT(c->d, STORE, OUT, l->st_out);
    WPUT(c->d, STORE, ACC_TYPE, l->st_acc_type);
    WPUT(c->d, STORE, SCALE, l->st_scale);
    WPUT(c->d, STORE, REQUANT, l->st_requant);
    WPUT(c->d, STORE, CLAMP, l->st_clamp);
    walk_put(c->d, DURE_NPU_STORE_ZERO_POINT_WORD, DURE_NPU_STORE_ZERO_POINT_LSB,
             DURE_NPU_STORE_ZERO_POINT_WIDTH, (int64_t)(l->st_zero_point & 0xFF));
    WPUT(c->d, STORE, LO, l->st_lo);
    WPUT(c->d, STORE, HI, l->st_hi);
    WPUT(c->d, STORE, SCALE_ADDR, scale_addr);
    WPUT(c->d, STORE, DRAM_ADDR, dram);
    WPUT(c->d, STORE, DRAM_STRIDE, w->o_pix);
    WPUT(c->d, STORE, ROWS, rows);
    WPUT(c->d, STORE, COLS, cols);
    WPUT(c->d, STORE, ACC_ADDR, acc);
    c->ar0 = (int32_t)acc;
    c->ar1 = (int32_t)(acc + rows);
}

/* stores: per chunk (split: per chunk and sub-block). */
static void stores(struct walk *w, const struct unit *u, int split)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    for (uint32_t jj = 0; jj < u->gcount; jj++) {
        uint32_t j = u->j0 + jj, nn = chunk_cols(l, j);
        uint32_t acc0 = acc_base(w, u->index) + jj * w->p->bh * g->ow;
        uint64_t dram0 = (uint64_t)l->out_addr + (uint64_t)((u->n * g->oh + u->oy0) * g->ow) *
                         w->o_pix + (uint64_t)j * l->n_chunk * l->out_bytes;
        uint32_t step = split ? w->p->sbh : u->rows;
        uint32_t wv[WALK_WAVES_MAX][2], nw = 1;
        wv[0][0] = 0;
        wv[0][1] = u->rows;
        if (split)
            nw = walk_unit_waves(w->l, u->rows, u->gcount, waved(w) && w->nunits == 1,
                                 waved(w), wv);
        if (!l->runs) {
            uint32_t scale_addr = l->st_scale ? w->p->const_row + j * l->const_per_chunk : 0;
            for (uint32_t wi = 0; wi < nw; wi++)
            for (uint32_t s0 = wv[wi][0]; s0 < wv[wi][0] + wv[wi][1]; s0 += step) {
                uint32_t sr = walk_min(step, wv[wi][0] + wv[wi][1] - s0), px = s0 * g->ow;
                struct cmd c;
                store_one(w, scale_addr, (uint32_t)(dram0 + (uint64_t)px * w->o_pix),
                          sr * g->ow, nn, acc0 + px, &c);
                if (dram0 + (uint64_t)px * w->o_pix > 0xFFFFFFFFu)
                    walk_bad = 1;
                sink(w, &c);
            }
            continue;
        }
        for (uint32_t y = 0; y < u->rows; y++) {
            uint32_t oy = u->oy0 + y;
            int32_t cy = walk_count(oy, g->height, g->kh, g->sh, g->pt);
            uint32_t ox = 0;
            while (ox < g->ow) {
                int32_t n = cy * walk_count(ox, g->width, g->kw, g->sw, g->pl);
                uint32_t first = ox;
                while (ox < g->ow && cy * walk_count(ox, g->width, g->kw, g->sw, g->pl) == n)
                    ox++;
                uint32_t px = y * g->ow + first;
                struct cmd c;
                store_one(w, w->p->const_row + l->runs_per * l->count_index[n],
                          (uint32_t)(dram0 + (uint64_t)px * w->o_pix), ox - first, nn,
                          acc0 + px, &c);
                if (dram0 + (uint64_t)px * w->o_pix > 0xFFFFFFFFu)
                    walk_bad = 1;
                sink(w, &c);
            }
        }
    }
}

static void side_commands(struct walk *w, uint32_t i, const struct unit *u)
{
    const struct walk_plan *p = w->p;
    if (i > 0) {
        struct unit prev;
        unit_at(w, i - 1, &prev);
        stores(w, &prev, 0);
    }
    if (i + 1 < w->nunits) {
        struct unit nxt;
        unit_at(w, i + 1, &nxt);
        if (p->wmode == WALK_DOUBLE || p->wmode == WALK_SINGLE)
            weight_loads(w, i + 1, nxt.j0, nxt.gcount,
                         p->wmode == WALK_SINGLE ? PIECES_TAPS : PIECES_WHOLE);
        else if (p->wmode == WALK_TAPS)
            tap_loads(w, &nxt, 0, walk_min(2, w->l->g.kh * w->l->g.kw));
        if (nxt.tile != u->tile)
            tile_loads(w, &nxt, 0, 0);
        acc_init(w, &nxt);
    }
}

static void pre_commands(struct walk *w, const struct unit *u)
{
    const struct walk_plan *p = w->p;
    uint32_t wv[WALK_WAVES_MAX][2];
    uint32_t nw = walk_unit_waves(w->l, u->rows, u->gcount, waved(w),
                                  waved(w) && w->nunits == 1, wv);
    side_fills(w);
    tile_loads(w, u, wv, nw);
    acc_init(w, u);
    if (p->wmode == WALK_RESIDENT) {
        for (uint32_t j = 0; j < w->nt; j++)
            weight_loads(w, 0, j, 1, PIECES_JIT);
    } else if (p->wmode == WALK_DOUBLE || p->wmode == WALK_SINGLE) {
        weight_loads(w, 0, u->j0, u->gcount, PIECES_JIT);
    } else if (p->wmode == WALK_TAPS) {
        tap_loads(w, u, 0, walk_min(2, w->l->g.kh * w->l->g.kw));
    }
}

int walk_emit(const struct walk_layer *l, const struct walk_plan *p, uint32_t *list,
              uint32_t cap)
{
    struct out o = {.list = list, .cap = cap};
    struct walk w;
    const struct walk_geo *g = &l->g;
    w.l = l;
    w.p = p;
    w.o = &o;
    w.eb = elem_bytes(l);
    w.elem = l->prec == NPU_FP16 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    w.cc = kin_chunks(l);
    w.th_full = (p->bh - 1) * g->sh + g->kh;
    w.tile0 = p->w_rows;
    w.nt = out_chunks(l);
    w.blocks = walk_cdiv(g->oh, p->bh);
    w.groups = walk_cdiv(w.nt, p->gn);
    w.nunits = g->batch * w.blocks * w.groups;
    w.x_pix = l->cin * w.eb;
    w.o_pix = l->cout * l->out_bytes;
    walk_bad = 0;
    {
        const struct npu_info *hw = npu_get_info();
        if (hw->spad_rows > 0x10000u || hw->acc_rows > 0x10000u || hw->rows > 0xFFu ||
            hw->cols > 0xFFu)
            return NPU_E_ARG;        /* the COMPUTE fields would not hold every row */
    }

    /* prologue: constants and the shared weights */
    struct cmd c;
    if (l->const_rows) {
        cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
        WPUT(c.d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
        WPUT(c.d, LOAD, DRAM_ADDR, l->const_addr);
        WPUT(c.d, LOAD, DRAM_STRIDE, l->const_stride);
        WPUT(c.d, LOAD, ROWS, l->const_rows);
        WPUT(c.d, LOAD, COLS, l->n_chunk);
        WPUT(c.d, LOAD, LOCAL_ADDR, p->const_row);
        emit_direct(&o, c.d);
    }
    if (l->has_shared && l->shared_rows) {
        cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
        WPUT(c.d, LOAD, ELEM, w.elem);
        WPUT(c.d, LOAD, DRAM_ADDR, l->shared_addr);
        WPUT(c.d, LOAD, DRAM_STRIDE, l->n_chunk * w.eb);
        WPUT(c.d, LOAD, ROWS, l->shared_rows);
        WPUT(c.d, LOAD, COLS, l->n_chunk);
        WPUT(c.d, LOAD, LOCAL_ADDR, 0);
        emit_direct(&o, c.d);
    }

    uint32_t flushed = 0;
    for (uint32_t i = 0; i < w.nunits && !o.err; i++) {
        struct unit u;
        unit_at(&w, i, &u);
        computes(&w, &u);
        /* the side commands: counted, then staged with their slots */
        w.mode = SINK_COUNT;
        w.side_total = 0;
        side_commands(&w, i, &u);
        if (w.side_total) {
            w.mode = SINK_SIDE;
            w.side_index = 0;
            w.side_last = 0;
            side_commands(&w, i, &u);
        }
        if (i == 0) {
            uint32_t first = o.nside;
            w.late_total = 0;
            w.mode = SINK_PRE;
            pre_commands(&w, &u);
            /* the late ones (key_lo ncomp + 1 + k) evenly between the COMPUTEs */
            for (uint32_t s = first; w.late_total && o.list && !o.err && s < o.nside; s++) {
                uint32_t *rec = stage_at(&o, s);
                if (rec[1] > o.ncomp)
                    rec[0] = ((rec[1] - o.ncomp) * o.ncomp / (w.late_total + 1) + 1) * 4;
            }
        }
        if (p->wmode == WALK_TAPS && o.list) {
            uint32_t taps = g->kh * g->kw;
            for (uint32_t t = 2; t < taps; t++) {
                uint32_t use = t * o.ncomp / taps;
                /* the buffer of tap t: the rows of its first chunk's LOAD */
                int32_t w0 = (int32_t)weight_row(&w, 0, 0, u.j0, t);
                int32_t w1 = w0 + (int32_t)kin(l, u.j0);
                int32_t free_ci = (int32_t)last_reader_end(&w, w0, w1, use) - 1;
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
                    uint32_t base = weight_row(&w, 0, jj, j, t);
                    cmd_new(&c, DURE_NPU_OP_LOAD);
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
                    stage(&o, &c, (uint32_t)(slot + 1) * 4, 0xFFFFFFFFu);
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
            stores(&w, &u, 1);
        }
        finish_unit(&o);
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
