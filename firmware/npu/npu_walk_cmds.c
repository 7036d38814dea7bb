/* npu_walk_cmds.c: the walk engine's units and the LOADs and STOREs of each (FILLs, tiles,
 * weights, ACC init, STOREs), the C port of sim/walk_cmds.py (WalkCmds:
 * fill, tap_loads, weight_loads, tile_loads, side_fills, acc_init, stores); each command goes
 * to npu_walk_stream.c's walk_sink, which gives it its slot. */
#include "npu_walk_emit.h"

void walk_unit_at(const struct walk *w, uint32_t i, struct unit *u)
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
int walk_waved(const struct walk *w)
{
    return w->p->wmode != WALK_TAPS;
}

int walk_chunks_outer(const struct walk_layer *l, const struct walk_plan *p)
{
    return l->prec != NPU_FP16 && !l->diagonal && !l->eltwise_mac && !l->eltwise_max &&
           p->wmode != WALK_TAPS && kin_chunks(l) > 1 && !l->has_shared;
}

int walk_pair_applies(const struct walk_layer *l, const struct walk_plan *p)
{
    return walk_chunks_outer(l, p) && l->g.kh * l->g.kw >= 2 && l->has_weights;
}

int walk_c_outer(const struct walk *w)
{
    return walk_chunks_outer(w->l, w->p);
}

uint32_t walk_waves_of(const struct walk *w, const struct unit *u, uint32_t (*wv)[2])
{
    return walk_unit_waves(w->l, u->rows, u->gcount, walk_waved(w) && u->index == 0,
                           walk_waved(w) && u->index + 1 == w->nunits, wv);
}

uint32_t walk_joint_first(struct walk *w)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    struct unit u0, u1;
    uint32_t wv[WALK_WAVES_MAX][2];
    w->joint_rows = 0;
    if (!walk_c_outer(w) || w->p->wmode != WALK_DOUBLE || w->nunits < 2 ||
        g->kh * g->kw < 2 || !walk_init_rows(l))
        return 0;
    walk_unit_at(w, 0, &u0);
    walk_unit_at(w, 1, &u1);
    if (u0.gcount != 1 || u1.block != u0.block)
        return 0;
    if (walk_waves_of(w, &u0, wv) != 1 || wv[0][1] > w->p->sbh)
        return 0;
    uint32_t sr = wv[0][1], h = sr - sr / 2;
    if ((sr / 2) * g->ow < DURE_NPU_GEMM_RELOAD * npu_get_info()->rows ||
        2 * (sr / 2) * g->ow < DURE_NPU_GEMM_LATENCY)
        return 0;
    w->joint_rows = sr;
    return h;
}

uint32_t walk_fp16_joint(const struct walk *w)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    struct unit u0, u1;
    uint32_t wv[WALK_WAVES_MAX][2];
    if (l->prec != NPU_FP16 || l->diagonal || l->eltwise_mac || l->eltwise_max ||
        (w->p->wmode != WALK_RESIDENT && w->p->wmode != WALK_DOUBLE) || w->nunits < 3 ||
        g->kh * g->kw < 2 || (l->has_acc_init && !walk_init_rows(l)))
        return 0;
    walk_unit_at(w, 0, &u0);
    walk_unit_at(w, 1, &u1);
    if (u0.gcount != 1 || u1.gcount != 1 || u1.n != u0.n || u1.oy0 != u0.oy0 ||
        u1.rows != u0.rows)
        return 0;
    if (walk_waves_of(w, &u0, wv) < 2 || wv[0][1] > w->p->sbh)
        return 0;
    return wv[0][1];
}

static void fill(struct walk *w, uint32_t first, uint32_t rows, uint32_t cols, uint32_t groups,
                 uint32_t step)
{
    struct cmd c;
    walk_cmd_new(&c, DURE_NPU_OP_LOAD);
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
    walk_sink(w, &c);
}

static void spad_load(struct walk *w, uint32_t addr, uint32_t stride, uint32_t rows,
                      uint32_t cols, uint32_t base)
{
    struct cmd c;
    walk_cmd_new(&c, DURE_NPU_OP_LOAD);
    WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(c.d, LOAD, ELEM, w->elem);
    WPUT(c.d, LOAD, DRAM_ADDR, addr);
    WPUT(c.d, LOAD, DRAM_STRIDE, stride);
    WPUT(c.d, LOAD, ROWS, rows);
    WPUT(c.d, LOAD, COLS, cols);
    WPUT(c.d, LOAD, LOCAL_ADDR, base);
    c.sw0 = (int32_t)base;
    c.sw1 = (int32_t)(base + rows);
    walk_sink(w, &c);
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

uint32_t walk_weight_row(const struct walk *w, uint32_t u_index, uint32_t jj, uint32_t j,
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
                      walk_weight_row(w, 0, jj, j, t));
        }
    }
}

enum { PIECES_WHOLE, PIECES_TAPS, PIECES_JIT, PIECES_FINE };

static void weight_loads(struct walk *w, uint32_t u_index, uint32_t j0, uint32_t gcount,
                         int per_tap)
{
    const struct walk_layer *l = w->l;
    uint32_t taps = l->g.kh * l->g.kw;
    if (per_tap == PIECES_JIT && l->eltwise_mac)
        per_tap = PIECES_WHOLE;       /* one row per tap: one LOAD (walk_plan's weight_loads) */
    if (per_tap != PIECES_JIT && per_tap != PIECES_FINE && taps == 1) {
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
        } else if (per_tap == PIECES_FINE) {
            /* the first unit's with its input chunks outermost: one LOAD per (chunk, tap);
             * with the copies, taps 0 and 1 of chunk 0 in one, in two groups k rows apart */
            if (l->has_pairs) {
                uint32_t kc = in_cols(l, 0);
                struct cmd c;
                walk_cmd_new(&c, DURE_NPU_OP_LOAD);
                WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
                WPUT(c.d, LOAD, ELEM, w->elem);
                WPUT(c.d, LOAD, DRAM_ADDR, l->pair_addr + j * l->pair_step);
                WPUT(c.d, LOAD, DRAM_STRIDE, nn * w->eb);
                WPUT(c.d, LOAD, ROWS, 2 * kc);
                WPUT(c.d, LOAD, COLS, nn);
                WPUT(c.d, LOAD, LOCAL_ADDR, base);
                WPUT(c.d, LOAD, LOCAL_COLS, kc);
                WPUT(c.d, LOAD, LOCAL_GROUPS, 2);
                WPUT(c.d, LOAD, LOCAL_ROW_STEP, k);
                c.sw0 = (int32_t)base;
                c.sw1 = (int32_t)(base + k + kc);
                walk_sink(w, &c);
            }
            /* with the first pair copy input chunk 0 of the first unit's first two chunks
             * (a 1x1 layer: one piece each) in one LOAD of it, in two groups a slot apart
             * (the resident mode asks chunk by chunk; walk_cmds.py's weight_loads) */
            struct unit u0;
            walk_unit_at(w, 0, &u0);
            int paired = l->has_first_pair && (j == u0.j0 || j == u0.j0 + 1);
            if (paired && j == u0.j0) {
                uint32_t kc = in_cols(l, 0);
                uint32_t step = weight_base(w, u_index, jj + 1, j + 1) - base;
                struct cmd c;
                walk_cmd_new(&c, DURE_NPU_OP_LOAD);
                WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
                WPUT(c.d, LOAD, ELEM, w->elem);
                WPUT(c.d, LOAD, DRAM_ADDR, l->first_pair_addr);
                WPUT(c.d, LOAD, DRAM_STRIDE, nn * w->eb);
                WPUT(c.d, LOAD, ROWS, 2 * kc);
                WPUT(c.d, LOAD, COLS, nn);
                WPUT(c.d, LOAD, LOCAL_ADDR, base);
                WPUT(c.d, LOAD, LOCAL_COLS, kc);
                WPUT(c.d, LOAD, LOCAL_GROUPS, 2);
                WPUT(c.d, LOAD, LOCAL_ROW_STEP, step);
                c.sw0 = (int32_t)base;
                c.sw1 = (int32_t)(base + step + kc);
                walk_sink(w, &c);
            }
            for (uint32_t c = paired ? 1 : 0; c < w->cc; c++)
                /* (with the joint copy input chunk 0's taps of the window's first row
                 * come in its LOADs, walk_pre_commands) */
                for (uint32_t t = c ? 0 : l->has_joint ? l->g.kw : l->has_pairs ? 2 : 0;
                     t < taps; t++)
                    spad_load(w, addr + (t * k + c * l->k_chunk) * nn * w->eb, nn * w->eb,
                              in_cols(l, c), nn, base + t * k + c * l->k_chunk);
        } else if (per_tap == PIECES_TAPS && u_index == 1 && w->joint_h) {
            /* input chunk 0's rows are the first unit's (joint_weight_loads) */
            uint32_t kc = in_cols(l, 0);
            for (uint32_t t = 0; t < taps; t++) {
                uint32_t r0 = t < l->g.kw ? kc : 0;     /* the window's first row */
                spad_load(w, addr + (t * k + r0) * nn * w->eb, nn * w->eb, k - r0, nn,
                          base + t * k + r0);
            }
        } else {                      /* one LOAD per tap (also the first unit's JIT) */
            for (uint32_t t = 0; t < taps; t++)
                spad_load(w, addr + t * k * nn * w->eb, nn * w->eb, k, nn, base + t * k);
        }
    }
}

/* One FILL for a row's right padding columns and the next row's left ones (walk_emit's
 * pair): on the array (not per-unit tiles) with top padding, when the spill fits the SPAD. */
static int side_pair(const struct walk *w)
{
    const struct walk_geo *g = &w->l->g;
    uint32_t right = g->wp - g->pl - g->width;
    return g->pl > 0 && right > 0 && g->pt > 0 && !unit_tiles(w->l) &&
           w->tile0 + w->p->tbufs * w->p->tile_rows + g->pl <= npu_get_info()->spad_rows;
}

/* With the pair FILL: the first block's top padding rows, whose side columns (and the next
 * row's left ones) its top FILL of input chunk 0 writes, so tile buffer 0's side FILL starts
 * below them (walk_cmds.py's top_skip); 0 otherwise. */
static uint32_t top_skip(const struct walk *w)
{
    const struct walk_geo *g = &w->l->g;
    uint32_t top0 = walk_min(g->pt, (walk_min(w->p->bh, g->oh) - 1) * g->sh + g->kh);
    return side_pair(w) && top0 < w->th_full ? top0 : 0;
}

uint32_t walk_tile_base(const struct walk *w, uint32_t block)
{
    return w->tile0 + (block % w->p->tbufs) * w->p->tile_rows;
}

/* The end of tile buffer 0's side-FILL groups from k0 whose first row lies in the SPAD range
 * of the first COMPUTE's A rows (tap (0, 0) of the first unit's first sub-block; walk_cmds.py's
 * _first_range_groups). */
static uint32_t first_range_groups(const struct walk *w, uint32_t k0, uint32_t groups)
{
    const struct walk_geo *g = &w->l->g;
    struct unit u0;
    uint32_t wv[WALK_WAVES_MAX][2];
    walk_unit_at(w, 0, &u0);
    walk_waves_of(w, &u0, wv);
    uint32_t sr = w->joint_h ? w->joint_h : walk_min(w->p->sbh, wv[0][1]);
    /* SPAD rows (the plan keeps them below 2^16): 32-bit arithmetic, no 64-bit division on
     * the core */
    uint32_t a_end = walk_tile_base(w, 0) + (sr - 1) * g->sh * g->wp + (g->ow - 1) * g->sw + 1;
    uint32_t first = walk_tile_base(w, 0) + g->pl + g->width;        /* group 0's first row */
    uint32_t k = a_end > first ? (a_end - first + g->wp - 1) / g->wp : 0;
    return walk_max(k0, walk_min(groups, k));
}

int walk_fills_first(const struct walk *w)
{
    return npu_get_info()->row_hazard && walk_first_copied(w->l);
}

int walk_bias_ahead(const struct walk *w)
{
    return walk_fills_first(w) && w->l->listed && w->l->prec == NPU_INT8;
}

int walk_first_tap_swap(const struct walk *w)
{
    const struct walk_geo *g = &w->l->g;
    if (!(npu_get_info()->row_hazard && walk_first_copied(w->l) && g->kw >= 2 && g->pl == 1 &&
          (g->ow - 1) * g->sw < g->width && side_pair(w) && walk_c_outer(w)))
        return 0;
    /* only when a first-range side FILL exists (walk_computes' first_tap_swap) */
    uint32_t k0 = top_skip(w);
    uint32_t groups = w->l->spread ? w->th_full : tile_chunks(w->l, w->p->gn) * w->th_full;
    return first_range_groups(w, k0, groups) > k0;
}

int walk_dw_first_tap(const struct walk *w)
{
    struct unit u0;
    walk_unit_at(w, 0, &u0);
    return walk_dw_lead(w->l, u0.oy0, u0.rows);
}

/* The LOAD of input chunk c's image rows [r0, r1) into its tile region (tile_loads). */
static void image_load(struct walk *w, const struct unit *u, uint32_t c, uint32_t region,
                       int32_t py0, int32_t r0, int32_t r1)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    uint32_t nv = (uint32_t)(r1 - r0);
    uint32_t first = region + (uint32_t)(r0 + (int32_t)g->pt - py0) * g->wp + g->pl;
    struct cmd cm;
    walk_cmd_new(&cm, DURE_NPU_OP_LOAD);
    WPUT(cm.d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(cm.d, LOAD, ELEM, w->elem);
    WPUT64(cm.d, LOAD, DRAM_ADDR, (int64_t)l->x_addr +
         (int64_t)((u->n * g->height + (uint32_t)r0) * g->width) * w->x_pix +
         (int64_t)c * l->k_chunk * w->eb);
    WPUT(cm.d, LOAD, DRAM_STRIDE, w->x_pix);
    WPUT64(cm.d, LOAD, ROWS, (uint64_t)nv * g->width);
    WPUT(cm.d, LOAD, COLS, in_cols(l, c));
    WPUT(cm.d, LOAD, LOCAL_ADDR, first);
    if (g->wp != g->width) {
        WPUT(cm.d, LOAD, LOCAL_COLS, g->width);
        WPUT(cm.d, LOAD, LOCAL_GROUPS, nv);
        WPUT(cm.d, LOAD, LOCAL_ROW_STEP, g->wp);
    }
    cm.sw0 = (int32_t)first;
    cm.sw1 = (int32_t)(first + (nv - 1) * g->wp + g->width);
    walk_sink(w, &cm);
}

/* tile_loads: waves (nw > 0): the image rows LOADed in one piece per wave, the first wave's
 * tap row ky = 0 in a piece of its own first */
static void tile_loads(struct walk *w, const struct unit *u, uint32_t (*wv)[2], uint32_t nw)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    uint32_t th = (u->rows - 1) * g->sh + g->kh;
    uint32_t base = walk_tile_base(w, u->tile);
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
                fill(w, region, (uint32_t)top * g->wp +
                     (u->tile == 0 && c == 0 && top_skip(w) ? g->pl : 0), kk, 0, 0);
            if (bottom_start < (int32_t)th)
                fill(w, region + (uint32_t)bottom_start * g->wp, (th - (uint32_t)bottom_start) *
                     g->wp, kk, 0, 0);
        }
        int32_t r0 = iy0;
        /* the joint first wave's first part: its tap row ky = 0 first (walk_cmds.py) */
        if (nw && w->joint_h && u->tile == 0 && c == u->c0) {
            int32_t cut = py0 + (int32_t)((w->joint_h - 1) * g->sh + 1) - (int32_t)g->pt;
            if (cut > iy1)
                cut = iy1;
            if (cut > r0) {
                image_load(w, u, c, region, py0, r0, cut);
                r0 = cut;
            }
        }
        /* wi < 0: the first wave's image rows up to tap row ky = kh + wi (ky = 0, 1, ..,
         * kh - 2) each in a piece of their own first (each tap row's first COMPUTEs wait
         * for its rows only), then one piece per wave */
        for (int32_t wi = nw ? 1 - (int32_t)g->kh : 0; wi <= (int32_t)nw && r0 < iy1; wi++) {
            int32_t r1 = iy1;
            if (wi < (int32_t)nw) {
                uint32_t k = wi < 0 ? 0 : (uint32_t)wi;
                uint32_t reach = wi < 0 ? (uint32_t)((int32_t)g->kh + wi) : g->kh;
                int32_t cut = py0 + (int32_t)((wv[k][0] + wv[k][1] - 1) * g->sh + reach) -
                              (int32_t)g->pt;
                if (cut < r1)
                    r1 = cut;
                if (r1 <= r0)
                    continue;
            }
            image_load(w, u, c, region, py0, r0, r1);
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
    int pair = side_pair(w);
    for (uint32_t b = 0; b < w->p->tbufs; b++) {
        for (uint32_t c = 0; c < parts; c++) {
            uint32_t base = walk_tile_base(w, b) + c * w->th_full * g->wp;
            if (pair) {
                /* tile buffer 0's first groups: the first block's top FILL's rows; of the
                 * rest, those in the first COMPUTE's A range in a FILL of their own (ahead of
                 * it), the others in one after it (INT8: input chunks outermost) */
                uint32_t k0 = b == 0 && c == 0 ? top_skip(w) : 0;
                uint32_t cut = b == 0 && c == 0 && walk_c_outer(w)
                               ? first_range_groups(w, k0, groups) : k0;
                if (cut > k0)
                    fill(w, base + k0 * g->wp + g->pl + g->width, (cut - k0) * (right + g->pl),
                         w->l->k_chunk, cut - k0, g->wp);
                if (groups > cut)
                    fill(w, base + cut * g->wp + g->pl + g->width, (groups - cut) *
                         (right + g->pl), w->l->k_chunk, groups - cut, g->wp);
                continue;
            }
            if (g->pl > 0)
                fill(w, base, groups * g->pl, w->l->k_chunk, groups, g->wp);
            if (right > 0)
                fill(w, base + g->pl + g->width, groups * right, w->l->k_chunk, groups,
                     g->wp);
        }
    }
}

uint32_t walk_acc_base(const struct walk *w, uint32_t u_index)
{
    return (u_index % 2) * w->p->acc_half;
}

static void acc_init(struct walk *w, const struct unit *u)
{
    const struct walk_layer *l = w->l;
    if (!l->has_acc_init || walk_init_rows(l))
        return;
    for (uint32_t jj = 0; jj < u->gcount; jj++) {
        uint32_t j = u->j0 + jj;
        uint32_t first = walk_acc_base(w, u->index) + jj * w->p->bh * l->g.ow;
        struct cmd c;
        walk_cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
        WPUT(c.d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
        WPUT(c.d, LOAD, BROADCAST, 1);
        WPUT(c.d, LOAD, DRAM_ADDR, l->acc_init + 4 * j * l->n_chunk);
        WPUT(c.d, LOAD, ROWS, u->rows * l->g.ow);
        WPUT(c.d, LOAD, COLS, chunk_cols(l, j));
        WPUT(c.d, LOAD, LOCAL_ADDR, first);
        c.aw0 = (int32_t)first;
        c.aw1 = (int32_t)(first + u->rows * l->g.ow);
        walk_sink(w, &c);
    }
}

static void store_one(struct walk *w, uint32_t scale_addr, uint32_t dram, uint32_t rows,
                      uint32_t cols, uint32_t acc, struct cmd *c)
{
    const struct walk_layer *l = w->l;
    walk_cmd_new(c, DURE_NPU_OP_STORE);
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
void walk_stores(struct walk *w, const struct unit *u, int split)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    for (uint32_t jj = 0; jj < u->gcount; jj++) {
        uint32_t j = u->j0 + jj, nn = chunk_cols(l, j);
        uint32_t acc0 = walk_acc_base(w, u->index) + jj * w->p->bh * g->ow;
        uint64_t dram0 = (uint64_t)l->out_addr + (uint64_t)((u->n * g->oh + u->oy0) * g->ow) *
                         w->o_pix + (uint64_t)j * l->n_chunk * l->out_bytes;
        uint32_t step = split ? w->p->sbh : u->rows;
        uint32_t wv[WALK_WAVES_MAX][2], nw = 1;
        wv[0][0] = 0;
        wv[0][1] = u->rows;
        if (split)
            nw = walk_unit_waves(w->l, u->rows, u->gcount, walk_waved(w) && w->nunits == 1,
                                 walk_waved(w), wv);
        /* the last chunk of a 1x1 last unit in two waves (walk_cmds' last_halves) */
        uint32_t lh = split && jj + 1 == u->gcount ? walk_last_half(w, u) : 0;
        if (lh) {
            wv[1][0] = wv[0][0] + lh;
            wv[1][1] = wv[0][1] - lh;
            wv[0][1] = lh;
            nw = 2;
        }
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
                walk_sink(w, &c);
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
                walk_sink(w, &c);
            }
        }
    }
}

void walk_const_load(const struct walk *w, struct cmd *c)
{
    const struct walk_layer *l = w->l;
    walk_cmd_new(c, DURE_NPU_OP_LOAD);
    WPUT(c->d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
    WPUT(c->d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
    WPUT(c->d, LOAD, DRAM_ADDR, l->const_addr);
    WPUT(c->d, LOAD, DRAM_STRIDE, l->const_stride);
    WPUT(c->d, LOAD, ROWS, l->const_rows);
    WPUT(c->d, LOAD, COLS, l->n_chunk);
    WPUT(c->d, LOAD, LOCAL_ADDR, w->p->const_row);
}

uint32_t walk_bias_split(const struct walk *w)
{
    uint32_t rows = walk_init_rows(w->l);
    struct unit u0;
    walk_unit_at(w, 0, &u0);
    uint32_t g0 = u0.j0 + u0.gcount + (w->joint_h ? 1 : 0);   /* joint: the second unit's */
    /* also INT8 depthwise on the element-wise MAC (walk_emit.py's dw_int8) */
    int dw_int8 = w->l->eltwise_mac && w->l->prec != NPU_FP16;
    return (walk_c_outer(w) || dw_int8) && rows >= g0 + 2 ? g0 : rows;
}

void walk_bias_loads(struct walk *w, uint32_t j_lo, uint32_t j_hi, int how)
{
    const struct walk_layer *l = w->l;
    uint32_t rows = walk_init_rows(l);
    uint32_t full = rows ? l->cout / l->n_chunk : 0;
    uint32_t part[2][3] = {{j_lo, walk_min(j_hi, full), l->n_chunk},
                           {walk_max(j_lo, full), walk_min(j_hi, rows), l->cout % l->n_chunk}};
    for (int k = 0; k < 2; k++) {
        uint32_t j0 = part[k][0], j1 = part[k][1];
        if (j1 <= j0)
            continue;
        uint32_t first = w->p->const_row + l->const_rows + j0;
        struct cmd c;
        walk_cmd_new(&c, DURE_NPU_OP_LOAD);
        WPUT(c.d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
        WPUT(c.d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
        WPUT(c.d, LOAD, DRAM_ADDR, l->acc_init + 4 * j0 * l->n_chunk);
        WPUT(c.d, LOAD, DRAM_STRIDE, 4 * l->n_chunk);
        WPUT(c.d, LOAD, ROWS, j1 - j0);
        WPUT(c.d, LOAD, COLS, part[k][2]);
        WPUT(c.d, LOAD, LOCAL_ADDR, first);
        c.aw0 = (int32_t)first;
        c.aw1 = (int32_t)(first + j1 - j0);
        if (how == BIAS_DIRECT)
            walk_emit_direct(w->o, c.d);
        else if (how == BIAS_FIRST)
            walk_stage(w->o, &c, 0, walk_fills_first(w));   /* after the FILLs staged first */
        else if (how == BIAS_AFTER_FIRST)
            walk_stage(w->o, &c, 4, 1);           /* slot 0, first use taken as 1 */
        else
            walk_sink(w, &c);
    }
}

/* INT8 depthwise on the element-wise MAC with resident weights: each later unit's weights
 * first among the side commands of the unit before it, not all in the first unit's
 * (walk_emit.py's per_unit). */
static int weights_per_unit(const struct walk *w)
{
    if (!w->l->eltwise_mac || w->l->prec != NPU_INT8 || w->p->wmode != WALK_RESIDENT)
        return 0;
    struct unit u0;                   /* units of LATENCY pixels or more */
    walk_unit_at(w, 0, &u0);
    return u0.rows * w->l->g.ow >= DURE_NPU_GEMM_LATENCY;
}

void walk_side_commands(struct walk *w, uint32_t i, const struct unit *u)
{
    const struct walk_plan *p = w->p;
    if (weights_per_unit(w) && i + 1 < w->nunits) {
        /* the chunks no unit up to this one has (units take chunks in rising order) */
        struct unit nxt, k;
        uint32_t done = 0;
        for (uint32_t q = 0; q <= i; q++) {
            walk_unit_at(w, q, &k);
            done = walk_max(done, k.j0 + k.gcount);
        }
        walk_unit_at(w, i + 1, &nxt);
        for (uint32_t j = walk_max(done, nxt.j0); j < nxt.j0 + nxt.gcount; j++)
            weight_loads(w, 0, j, 1, PIECES_JIT);
    }
    if (i == 0)        /* the other output chunks' starting values (walk_emit.py's rest_bias) */
        walk_bias_loads(w, walk_bias_split(w), walk_init_rows(w->l), BIAS_SINK);
    if (i == 1 && w->l->const_rows) {
        /* the STOREs' parameter rows, ahead of the first unit's STOREs (walk_emit.py) */
        struct cmd c;
        walk_const_load(w, &c);
        walk_sink(w, &c);
    }
    if (i > 0) {
        struct unit prev;
        walk_unit_at(w, i - 1, &prev);
        walk_stores(w, &prev, 0);
    }
    if (i + 1 < w->nunits) {
        struct unit nxt;
        walk_unit_at(w, i + 1, &nxt);
        /* (with the FP16 joint first wave the second unit's are the first unit's own) */
        if ((p->wmode == WALK_DOUBLE || p->wmode == WALK_SINGLE) && !(i == 0 && w->fp16_joint))
            weight_loads(w, i + 1, nxt.j0, nxt.gcount, PIECES_TAPS);   /* per tap */
        else if (p->wmode == WALK_TAPS)
            tap_loads(w, &nxt, 0, walk_min(2, w->l->g.kh * w->l->g.kw));
        if (nxt.tile != u->tile)
            tile_loads(w, &nxt, 0, 0);
        acc_init(w, &nxt);
    }
}

void walk_pre_commands(struct walk *w, const struct unit *u)
{
    const struct walk_plan *p = w->p;
    uint32_t wv[WALK_WAVES_MAX][2];
    uint32_t nw = walk_unit_waves(w->l, u->rows, u->gcount, walk_waved(w),
                                  walk_waved(w) && w->nunits == 1, wv);
    /* ACC rows and weights first, then the FILLs and image rows (walk_emit.py) */
    acc_init(w, u);
    int fine = walk_c_outer(w);
    if (weights_per_unit(w)) {
        for (uint32_t j = u->j0; j < u->j0 + u->gcount; j++)
            weight_loads(w, 0, j, 1, PIECES_JIT);
    } else if (p->wmode == WALK_RESIDENT) {
        for (uint32_t j = 0; j < w->nt; j++)
            weight_loads(w, 0, j, 1, fine && j < u->j0 + u->gcount ? PIECES_FINE : PIECES_JIT);
    } else if (p->wmode == WALK_DOUBLE || p->wmode == WALK_SINGLE) {
        weight_loads(w, 0, u->j0, u->gcount, fine ? PIECES_FINE : PIECES_JIT);
        if (w->fp16_joint) {
            /* the second unit's chunk's weights, per tap: its first use is in the first
             * wave (walk_emit.py) */
            struct unit u1;
            walk_unit_at(w, 1, &u1);
            weight_loads(w, 1, u1.j0, u1.gcount, PIECES_JIT);
        }
        if (w->joint_h) {
            /* the second unit's chunk's weights of input chunk 0, per tap, into its slot
             * (walk_cmds.py's joint_weight_loads) */
            struct unit u1;
            walk_unit_at(w, 1, &u1);
            const struct walk_layer *l = w->l;
            uint32_t nn = chunk_cols(l, u1.j0), k = kin(l, u1.j0), kc = in_cols(l, 0);
            uint32_t addr = l->w_addr + u1.j0 * l->w_step, base = weight_base(w, 1, 0, u1.j0);
            for (uint32_t t = 0; t < l->g.kw; t++) {     /* the window's first row */
                if (l->has_joint)    /* both chunks' rows of tap t, the second unit's first */
                    spad_load(w, l->joint_addr + t * 2 * kc * nn * w->eb, nn * w->eb, 2 * kc,
                              nn, base + t * k);
                else
                    spad_load(w, addr + t * k * nn * w->eb, nn * w->eb, kc, nn, base + t * k);
            }
        }
    } else if (p->wmode == WALK_TAPS) {
        tap_loads(w, u, 0, walk_min(2, w->l->g.kh * w->l->g.kw));
    }
    /* with the pair LOAD the first unit's starting-value rows come after its weights, ahead
     * of the FILLs and image rows (walk_emit.py's first_bias; the prologue left them out) */
    if (walk_first_copied(w->l) && w->mode == SINK_PRE)
        walk_bias_loads(w, 0, walk_bias_split(w), BIAS_FIRST);
    /* with the first pair copy the group's starting-value rows past its first two chunks
     * right after the first COMPUTE (walk_emit.py's mid_bias; the prologue has the two) */
    if (w->l->has_first_pair && w->mode == SINK_PRE)
        walk_bias_loads(w, u->j0 + 2, walk_bias_split(w), BIAS_AFTER_FIRST);
    side_fills(w);
    /* a 1x1 first unit whose input chunk 0 goes in parts (walk_computes' first_halves): its
     * image rows in one LOAD per part (walk_emit.py) */
    if (walk_c_outer(w) && nw == 1) {
        uint32_t cw[WALK_WAVES_MAX][2], cuts[2];
        walk_chunk_waves(w->l, u->rows, u->gcount, walk_waved(w) && w->nunits == 1, cw);
        uint32_t nc = walk_first_parts(w, wv[0][1], cw[0][1], cuts);
        uint32_t at = wv[0][0], end = wv[0][0] + wv[0][1];
        for (uint32_t k = 0; nc && k <= nc; k++) {
            wv[k][0] = at;
            wv[k][1] = k < nc ? cuts[k] : end - at;
            at += wv[k][1];
        }
        nw = nc ? nc + 1 : nw;
    }
    tile_loads(w, u, wv, nw);
}

uint32_t walk_last_half(const struct walk *w, const struct unit *u)
{
    const struct walk_layer *l = w->l;
    const struct walk_geo *g = &l->g;
    uint32_t cw[WALK_WAVES_MAX][2], wv[WALK_WAVES_MAX][2];
    if (u->index + 1 != w->nunits || g->kh * g->kw != 1 || l->eltwise_mac || l->eltwise_max ||
        l->diagonal || w->cc < DURE_NPU_WALK_SPLIT_MIN_CHUNKS)
        return 0;
    uint32_t ncw = walk_chunk_waves(l, u->rows, u->gcount, walk_waved(w), cw);
    if (cw[ncw - 1][1] != 1)
        return 0;
    uint32_t nw = walk_unit_waves(l, u->rows, u->gcount, walk_waved(w) && w->nunits == 1,
                                  walk_waved(w), wv);
    if (nw != 1 || wv[0][1] > w->p->sbh)
        return 0;
    uint32_t h = wv[0][1] - wv[0][1] / 2;
    if ((wv[0][1] - h) * g->ow < DURE_NPU_GEMM_RELOAD * npu_get_info()->rows)
        return 0;
    return h;
}

uint32_t walk_first_parts(const struct walk *w, uint32_t rows, uint32_t gcount,
                          uint32_t *cuts)
{
    const struct walk_geo *g = &w->l->g;
    uint32_t least = DURE_NPU_GEMM_RELOAD * npu_get_info()->rows;
    if (!walk_c_outer(w) || g->kh * g->kw != 1 || gcount < 2 || rows > w->p->sbh ||
        w->cc < DURE_NPU_WALK_SPLIT_MIN_CHUNKS)
        return 0;
    uint32_t n = 0;
    if (gcount >= 4 && (rows / 4) * g->ow >= least)
        /* a quarter (rounded up with the first pair copy), a third, the rest */
        cuts[n++] = w->l->has_first_pair ? (rows + 3) / 4 : rows / 4;
    cuts[n++] = rows / 3;
    return cuts[0] * g->ow < least ? 0 : n;
}

int walk_first_pair(const struct walk *w)
{
    const struct walk_layer *l = w->l;
    struct unit u0;
    uint32_t wv[WALK_WAVES_MAX][2], cw[WALK_WAVES_MAX][2], cuts[2];
    if (!walk_c_outer(w) || !l->has_weights || w->nt < 2)
        return 0;
    walk_unit_at(w, 0, &u0);
    uint32_t nw = walk_unit_waves(l, u0.rows, u0.gcount, walk_waved(w),
                                  walk_waved(w) && w->nunits == 1, wv);
    walk_chunk_waves(l, u0.rows, u0.gcount, walk_waved(w) && w->nunits == 1, cw);
    return nw == 1 && walk_first_parts(w, wv[0][1], cw[0][1], cuts) == 2 &&
           chunk_cols(l, u0.j0) == chunk_cols(l, u0.j0 + 1);
}
