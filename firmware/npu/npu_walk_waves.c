/* npu_walk_waves.c: the walk engine's waves of the first and last units, the C port of
 * sim/walk_waves.py (unit_waves, chunk_waves, tail_waves, tail_min_rows, eltwise_tail). */
#include "npu_walk.h"

/* --- waves of the first and last units (unit_waves, chunk_waves, tail_waves) ------------- */

static uint32_t tail_min_rows(const struct walk_layer *l, uint32_t gcount)
{
    uint32_t pixels = walk_max(walk_cdiv(DURE_NPU_GEMM_LATENCY, gcount),
                               DURE_NPU_GEMM_RELOAD * npu_get_info()->rows);
    return walk_cdiv(pixels, l->g.ow);
}

/* tail_waves: appends the waves of rows [w0, w0 + rows) at wv[n..]; returns the new count */
static uint32_t tail_waves(const struct walk_layer *l, uint32_t w0, uint32_t rows,
                           uint32_t gcount, uint32_t (*wv)[2], uint32_t n)
{
    uint32_t least = tail_min_rows(l, gcount), at = 0;
    while (rows - at >= 2 * least && n + 1 < WALK_WAVES_MAX) {
        uint32_t left = rows - at, wr = left - left / 2;
        wv[n][0] = w0 + at;
        wv[n][1] = wr;
        n++;
        at += wr;
    }
    wv[n][0] = w0 + at;
    wv[n][1] = rows - at;
    return n + 1;
}

/* head waves: tail_waves' sizes in reverse order; returns the new count */
static uint32_t head_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount,
                           uint32_t (*wv)[2], uint32_t n)
{
    uint32_t m = tail_waves(l, 0, rows, gcount, wv, n), at = 0;
    for (uint32_t i = n, k = m - 1; i < k; i++, k--) {
        uint32_t t = wv[i][1];
        wv[i][1] = wv[k][1];
        wv[k][1] = t;
    }
    for (uint32_t i = n; i < m; i++) {
        wv[i][0] = at;
        at += wv[i][1];
    }
    return m;
}

/* even_waves (an FP16 first unit with DURE_NPU_WALK_FP16_EVEN_WAVE_CHUNKS input chunks or
 * more, not diagonal): waves of tail_min_rows each, the last one taking the rest; else
 * head_waves. Returns the new count */
static uint32_t first_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount,
                            uint32_t (*wv)[2], uint32_t n)
{
    if (l->prec != NPU_FP16 || l->diagonal ||
        kin_chunks(l) < DURE_NPU_WALK_FP16_EVEN_WAVE_CHUNKS)
        return head_waves(l, rows, gcount, wv, n);
    uint32_t least = tail_min_rows(l, gcount), at = 0;
    uint32_t count = walk_max(1, rows / least);
    for (uint32_t i = 0; i + 1 < count && n + 1 < WALK_WAVES_MAX; i++) {
        wv[n][0] = at;
        wv[n][1] = least;
        n++;
        at += least;
    }
    wv[n][0] = at;
    wv[n][1] = rows - at;
    return n + 1;
}

/* eltwise_tail: the last unit of a layer on the element-wise MAC ends with its last
 * DURE_NPU_WALK_DW_TAIL_PIXELS pixels (whole rows) as a wave of their own, when the first
 * wave keeps at least as many rows; returns the count */
static uint32_t eltwise_tail(const struct walk_layer *l, uint32_t rows, uint32_t (*wv)[2])
{
    uint32_t tail = walk_cdiv(DURE_NPU_WALK_DW_TAIL_PIXELS, l->g.ow);
    wv[0][0] = 0;
    if (rows < 2 * tail) {
        wv[0][1] = rows;
        return 1;
    }
    wv[0][1] = rows - tail;
    wv[1][0] = rows - tail;
    wv[1][1] = tail;
    return 2;
}

/* Whether tap t reads only image pixels over output rows [oy0, oy0 + rows) (dw_lead_tap). */
static int tap_clear(const struct walk_geo *g, uint32_t oy0, uint32_t rows, uint32_t t)
{
    uint32_t ky = t / g->kw, kx = t % g->kw;
    uint32_t y0 = oy0 * g->sh + ky, y1 = (oy0 + rows - 1) * g->sh + ky;
    uint32_t x1 = (g->ow - 1) * g->sw + kx;
    return g->pt <= y0 && y1 < g->pt + g->height && g->pl <= kx && x1 < g->pl + g->width;
}

int walk_dw_lead(const struct walk_layer *l, uint32_t oy0, uint32_t rows)
{
    const struct walk_geo *g = &l->g;
    uint32_t taps = g->kh * g->kw;
    if (!l->eltwise_mac || !l->eltwise_pair || l->prec != NPU_INT8 || taps % 2 == 0)
        return -1;
    /* narrow maps only: the side padding's FILL rows a third of the unit's pixels or more,
     * and LATENCY pixels or more */
    uint32_t pixels = rows * g->ow;
    uint32_t side = ((rows - 1) * g->sh + g->kh) * (g->wp - g->width);
    if (3 * side < pixels || pixels < DURE_NPU_GEMM_LATENCY || tap_clear(g, oy0, rows, 0))
        return -1;
    for (uint32_t t = 2; t < taps; t += 2)
        if (tap_clear(g, oy0, rows, t))
            return (int)t;
    return -1;
}

/* eltwise_head: the first unit from a lead tap (walk_dw_lead) in two waves, its first
 * 9 / 20 of the rows first; returns the count */
static uint32_t eltwise_head(const struct walk_layer *l, uint32_t rows, uint32_t (*wv)[2])
{
    uint32_t h = 9 * rows / 20;
    wv[0][0] = 0;
    if (h < 1 || walk_dw_lead(l, 0, rows) < 0) {
        wv[0][1] = rows;
        return 1;
    }
    wv[0][1] = h;
    wv[1][0] = h;
    wv[1][1] = rows - h;
    return 2;
}

uint32_t walk_unit_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount, int first,
                         int last, uint32_t (*wv)[2])
{
    if (l->eltwise_mac && last && !first && gcount == 1)
        return eltwise_tail(l, rows, wv);
    if (l->eltwise_mac && first && !last && gcount == 1)
        return eltwise_head(l, rows, wv);
    /* 1x1 and element-wise layers (MAC and MAX): one wave per unit (but eltwise_tail) */
    if (l->g.kh * l->g.kw == 1 || l->eltwise_mac || l->eltwise_max)
        first = last = 0;
    if (gcount > 1)
        last = 0;                    /* the last unit's chunks go in waves (chunk_waves) */
    if (first && last) {
        uint32_t h = rows - rows / 2;
        if (rows / 2 < tail_min_rows(l, gcount))
            return tail_waves(l, 0, rows, gcount, wv, 0);
        uint32_t n = first_waves(l, h, gcount, wv, 0);
        return tail_waves(l, h, rows - h, gcount, wv, n);
    }
    if (first)
        return first_waves(l, rows, gcount, wv, 0);
    if (last)
        return tail_waves(l, 0, rows, gcount, wv, 0);
    wv[0][0] = 0;
    wv[0][1] = rows;
    return 1;
}

uint32_t walk_chunk_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount, int last,
                          uint32_t (*cw)[2])
{
    uint32_t n = 0, c0 = 0;
    if (last && gcount > 1) {
        uint32_t least = walk_cdiv(DURE_NPU_GEMM_LATENCY, rows * l->g.ow);
        while (gcount - c0 >= 2 * least && n + 1 < WALK_WAVES_MAX) {
            uint32_t left = gcount - c0, cn = left - left / 2;
            cw[n][0] = c0;
            cw[n][1] = cn;
            n++;
            c0 += cn;
        }
    }
    cw[n][0] = c0;
    cw[n][1] = gcount - c0;
    return n + 1;
}
