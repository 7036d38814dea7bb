/* npu_walk_plan.c: the walk engine's geometry and blocking search, the C port of
 * sim/walk_layer.py's geometry() and sim/walk_plan.py's plan_walk() (same candidates, same
 * order, same integer cost with the constants of dure_npu.h: DURE_NPU_GEMM_* and
 * DURE_NPU_WALK_*). The waves of the first and last units are npu_walk_waves.c's. */
#include "npu_walk.h"

/* --- geometry (sim/golden_padding.py conv_padding) ------------------------------------- */

static int axis(uint32_t in, uint32_t k, uint32_t s, int padding, uint32_t *out,
                uint32_t *before)
{
    if (in > 0xFFFFu || k > 0xFFFFu || s > 0xFFFFu)
        return NPU_E_ARG;               /* far beyond any SPAD; keeps the sums in int32 */
    int32_t num = padding == NPU_PAD_SAME ? (int32_t)(in + s - 1) : (int32_t)(in + s) - (int32_t)k;
    int32_t o = num / (int32_t)s;       /* C truncation, as TFLite's ComputeOutSize */
    if (o < 1)
        return NPU_E_ARG;
    int32_t need = (o - 1) * (int32_t)s + (int32_t)k - (int32_t)in;
    *out = (uint32_t)o;
    *before = need > 0 ? (uint32_t)(need / 2) : 0;
    return 0;
}

int walk_geometry(struct walk_geo *g, uint32_t n, uint32_t h, uint32_t w, uint32_t kh,
                  uint32_t kw, uint32_t sh, uint32_t sw, int padding)
{
    if (!n || !h || !w || !kh || !kw || !sh || !sw ||
        (padding != NPU_PAD_SAME && padding != NPU_PAD_VALID))
        return NPU_E_ARG;
    g->batch = n; g->height = h; g->width = w; g->kh = kh; g->kw = kw; g->sh = sh; g->sw = sw;
    if (axis(h, kh, sh, padding, &g->oh, &g->pt) || axis(w, kw, sw, padding, &g->ow, &g->pl))
        return NPU_E_ARG;
    g->hp = walk_max((g->oh - 1) * sh + kh, g->pt + h);
    g->wp = walk_max((g->ow - 1) * sw + kw, g->pl + w);
    return 0;
}

int32_t walk_count(uint32_t o, uint32_t size, uint32_t k, uint32_t s, uint32_t before)
{
    int32_t p = (int32_t)(o * s) - (int32_t)before;
    int32_t hi = p + (int32_t)k < (int32_t)size ? p + (int32_t)k : (int32_t)size;
    return hi - (p > 0 ? p : 0);
}

/* --- the blocking search (plan_walk, _estimate, _tile_rows) ------------------------------ */

static uint32_t tile_rows(const struct walk_layer *l, uint32_t bh, uint32_t gn)
{
    const struct walk_geo *g = &l->g;
    uint32_t th = (walk_min(bh, g->oh) - 1) * g->sh + g->kh;
    return tile_chunks(l, gn) * th * g->wp;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* The COMPUTEs of `rows` output rows in sub-blocks of sbh rows (floor(rows / sbh) of sbh
 * rows, then one of the rest), closed form of _estimate's loops over them: the sum of
 * max(m, RELOAD * R), the sum of m + ELTWISE_OVERHEAD, the largest m and their number. */
struct subs {
    uint64_t sum_reload, sum_mac, max_m, count;
};

static void sub_blocks(uint32_t rows, uint32_t sbh, uint32_t ow, uint64_t reload,
                       struct subs *s)
{
    uint64_t full = rows / sbh, rest = rows % sbh;
    uint64_t m_full = (uint64_t)sbh * ow, m_rest = rest * ow;
    s->sum_reload = full * max64(m_full, reload) + (rest ? max64(m_rest, reload) : 0);
    s->sum_mac = full * (m_full + DURE_NPU_WALK_ELTWISE_OVERHEAD) +
                 (rest ? m_rest + DURE_NPU_WALK_ELTWISE_OVERHEAD : 0);
    s->max_m = full ? m_full : m_rest;
    s->count = full + (rest != 0);
}

/* _estimate: (time, commands) of one blocking; w_bytes: the bytes of every chunk's weight
 * matrix (the same for every blocking: walk_plan computes it once). */
static void estimate(const struct walk_layer *l, const struct npu_info *hw, uint32_t bh,
                     uint32_t sbh, uint32_t gn, uint32_t wmode, int startup, uint64_t w_bytes,
                     uint64_t *time, uint64_t *commands_out)
{
    const struct walk_geo *g = &l->g;
    uint32_t r = hw->rows, nt = out_chunks(l), cc = kin_chunks(l);
    uint32_t blocks = walk_cdiv(g->oh, bh);
    uint32_t taps = walk_steps(l), steps_in = l->diagonal ? 1 : cc;   /* pair: per MAC */
    /* every block but the last has bh rows, every group but the last gn chunks: the sums
     * over blocks and groups of sim/walk_plan.py's _estimate loops, by kind */
    uint32_t last_rows = g->oh - (blocks - 1) * bh, full_groups = nt / gn, rem = nt % gn;
    uint64_t compute = 0, commands = 0, last_max_sub = 0;
    for (int kind = 0; kind < 2; kind++) {
        uint32_t rows = kind ? last_rows : bh, count = kind ? 1 : blocks - 1;
        if (!count)
            continue;
        struct subs sb;
        sub_blocks(rows, sbh, g->ow, (uint64_t)DURE_NPU_GEMM_RELOAD * r, &sb);
        uint64_t sum_sub = sb.sum_reload, nsubs = sb.count;
        last_max_sub = sb.max_m;
        uint64_t wait = DURE_NPU_GEMM_LATENCY;   /* accumulate chains ordered per ACC row */
        uint64_t steps = max64(sum_sub * gn, wait) * full_groups +
                         (rem ? max64(sum_sub * rem, wait) : 0);
        if (l->eltwise_mac) {
            /* one row per cycle and a few cycles per command, no weight load or latency */
            steps = sb.sum_mac * nt;
        }
        compute += count * ((uint64_t)taps * steps_in * steps);
        commands += count * ((uint64_t)taps * steps_in * nsubs * nt + 2 * (uint64_t)nt);
    }
    compute *= g->batch;
    commands *= g->batch;
    uint64_t eb = elem_bytes(l);
    uint64_t th = (uint64_t)(bh - 1) * g->sh + g->kh;
    uint64_t tile_bytes = (uint64_t)blocks * (th < g->height ? th : g->height) * g->width *
                          l->cin * eb;
    uint64_t reloads = (wmode == WALK_RESIDENT || wmode == WALK_SHARED)
                       ? 1 : (uint64_t)blocks * g->batch;
    uint64_t pixels = (uint64_t)g->batch * g->oh * g->ow;
    uint64_t memory = ((uint64_t)g->batch * tile_bytes + reloads * w_bytes +
                       pixels * l->cout * l->out_bytes) / DURE_NPU_GEMM_BYTES_PER_CYCLE;
    if (wmode == WALK_SINGLE || wmode == WALK_TAPS)
        commands += reloads * nt * taps;
    uint64_t push = commands * DURE_NPU_WALK_PUSH_CYCLES;
    uint64_t extra = 0;
    if (startup) {
        /* the first unit cannot start before its data (tile rows and the weights loaded with
         * it) arrives; what exceeds its own compute is not hidden */
        uint32_t rows0 = walk_min(bh, g->oh), chunks0 = walk_min(gn, nt);
        struct subs sb0;
        sub_blocks(rows0, sbh, g->ow, (uint64_t)DURE_NPU_GEMM_RELOAD * r, &sb0);
        uint64_t sum0 = sb0.sum_reload;
        uint64_t compute0 = (uint64_t)taps * steps_in *
            max64(sum0 * chunks0, DURE_NPU_GEMM_LATENCY);   /* chains ordered per ACC row */
        uint64_t kin0 = l->diagonal ? chunks0 : cc;
        uint64_t lanes0 = kin0 * l->k_chunk < l->cin ? kin0 * l->k_chunk : l->cin;
        uint64_t tile0 = (th < g->height ? th : g->height) * g->width * lanes0 * eb;
        uint64_t w0 = wmode == WALK_RESIDENT ? w_bytes : walk_div64(w_bytes * chunks0, nt);
        uint64_t need = (tile0 + w0) / DURE_NPU_GEMM_BYTES_PER_CYCLE;
        extra = need > compute0 ? need - compute0 : 0;
    }
    *time = max64(max64(compute, memory), push) + last_max_sub + DURE_NPU_GEMM_LATENCY + extra;
    *commands_out = commands;
}

static int plan_search(const struct walk_layer *l, struct walk_plan *best)
{
    const struct npu_info *hw = npu_get_info();
    const struct walk_geo *g = &l->g;
    uint32_t s_rows = hw->spad_rows, a_rows = hw->acc_rows, nt = out_chunks(l);
    uint32_t slot = 0, kmax = 0;
    /* plan_walk's startup: the spread stream of a 1x1 stride-1 layer */
    int pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1;
    int startup = l->spread && pointwise;
    /* plan_walk's startup_tiebreak: without the spread stream, of equal times the blocking
     * whose first unit does not wait for its data */
    int tiebreak = !l->spread && pointwise && !l->diagonal && !l->has_shared;
    for (uint32_t j = 0; j < nt; j++) {
        if (l->has_weights)
            slot = walk_max(slot, weight_rows(l, j));
        kmax = walk_max(kmax, kin(l, j));
    }
    uint64_t w_bytes = 0;
    for (uint32_t j = 0; j < nt; j++)
        w_bytes += (uint64_t)weight_rows(l, j) * chunk_cols(l, j);
    w_bytes *= elem_bytes(l);
    int found = 0;
    uint64_t best_t = 0, best_c = 0, best_w = 0;
    uint32_t prev_bh = 0;
    for (uint32_t nb = 1; nb <= g->oh; nb++) {
        uint32_t bh = walk_cdiv(g->oh, nb);
        if (bh == prev_bh)
            continue;
        prev_bh = bh;
        if ((uint64_t)bh * g->ow > 0xFFFF)
            continue;
        uint32_t blocks = walk_cdiv(g->oh, bh);
        uint32_t sbh_opt[2] = {bh, bh};
        for (uint32_t s = 1; s <= bh; s++) {
            if ((uint64_t)s * g->ow >= (uint64_t)DURE_NPU_GEMM_RELOAD * hw->rows) {
                sbh_opt[0] = s;
                break;
            }
        }
        uint32_t nsbh = sbh_opt[0] == bh ? 1 : 2;
        for (uint32_t gn = 1; gn <= nt; gn++) {
            if (gn > 1 && walk_cdiv(nt, gn) == walk_cdiv(nt, gn - 1))
                continue;
            uint64_t half = (uint64_t)gn * bh * g->ow;
            if (a_rows < l->const_rows + walk_init_rows(l))
                continue;
            uint32_t const_row = a_rows - l->const_rows - walk_init_rows(l);
            uint64_t units = (uint64_t)blocks * g->batch * walk_cdiv(nt, gn);
            if ((units > 1 ? 2 : 1) * half > const_row)
                continue;
            uint32_t tile = tile_rows(l, bh, gn);
            uint32_t tbufs = (unit_tiles(l) ? units : (uint64_t)blocks * g->batch) > 1 ? 2 : 1;
            uint32_t modes[5], mrows[5], nm = 0;
            if (l->has_shared) {
                modes[nm] = WALK_SHARED; mrows[nm++] = l->shared_rows;
            } else {
                /* per-unit tiles on the array (FP16 depthwise): not resident unless one
                 * group holds every chunk (walk_plan.plan_walk) */
                if (gn == nt || !unit_tiles(l) || l->eltwise_mac) {
                    modes[nm] = WALK_RESIDENT; mrows[nm++] = nt * slot;
                }
                if (gn != nt) {
                    modes[nm] = WALK_DOUBLE; mrows[nm++] = 2 * gn * slot;
                    modes[nm] = WALK_SINGLE; mrows[nm++] = gn * slot;
                }
                if (g->kh * g->kw > 2 && !l->eltwise_pair) {   /* pairs: adjacent rows */
                    modes[nm] = WALK_TAPS; mrows[nm++] = 2 * gn * kmax;
                }
            }
            for (uint32_t mi = 0; mi < nm; mi++) {
                uint32_t wmode = modes[mi];
                uint64_t w_rows = mrows[mi];
                for (uint32_t tb = tbufs;; tb = 1) {
                    if (w_rows + (uint64_t)tb * tile <= s_rows) {
                        for (uint32_t si = 0; si < nsbh; si++) {
                            uint64_t t, c;
                            uint64_t wt = 0;
                            estimate(l, hw, bh, sbh_opt[si], gn, wmode, startup, w_bytes,
                                     &t, &c);
                            if (tiebreak) {
                                uint64_t t1, c1;
                                estimate(l, hw, bh, sbh_opt[si], gn, wmode, 1, w_bytes,
                                         &t1, &c1);
                                wt = t1 > t;
                            }
                            t += (tb == tbufs ? 0 : tile / 2) +
                                 (uint64_t)DURE_NPU_WALK_DESCRIPTOR_WEIGHT * c;
                            if (!found || t < best_t || (t == best_t && wt < best_w) ||
                                (t == best_t && wt == best_w && c < best_c)) {
                                found = 1;
                                best_t = t;
                                best_w = wt;
                                best_c = c;
                                best->bh = bh;
                                best->sbh = sbh_opt[si];
                                best->gn = gn;
                                best->wmode = wmode;
                                best->tbufs = tb;
                                best->slot = wmode == WALK_TAPS ? kmax : slot;
                                best->w_rows = (uint32_t)w_rows;
                                best->tile_rows = tile;
                                best->acc_half = (uint32_t)half;
                                best->const_row = const_row;
                            }
                        }
                        break;               /* two tile buffers fit: one is never better */
                    }
                    if (tb == 1)
                        break;
                }
                if (wmode == WALK_RESIDENT && w_rows + tile <= s_rows)
                    break;                   /* resident fits: the others load more */
            }
        }
    }
    return found ? 0 : NPU_E_ARG;
}

/* The last layer planned and its plan: a caller asks for the capacity (list NULL), then
 * builds the same layer, and the second call takes the plan without the search (a few
 * hundred 64-bit estimates, tens of thousands of cycles on the core). Equal bytes of the
 * layer and the NPU's shape are equal inputs; anything else searches again. */
static struct {
    int valid, err;
    struct walk_layer layer;
    struct npu_info hw;
    struct walk_plan plan;
} last_plan;

static int same_bytes(const void *a, const void *b, uint32_t n)
{
    const uint8_t *x = a, *y = b;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

int walk_plan(const struct walk_layer *l, struct walk_plan *best)
{
    const struct npu_info *hw = npu_get_info();
    if (last_plan.valid && same_bytes(&last_plan.layer, l, sizeof *l) &&
        same_bytes(&last_plan.hw, hw, sizeof *hw)) {
        *best = last_plan.plan;
        return last_plan.err;
    }
    int err = plan_search(l, best);
    last_plan.valid = 1;
    last_plan.err = err;
    last_plan.layer = *l;
    last_plan.hw = *hw;
    last_plan.plan = *best;
    return err;
}
