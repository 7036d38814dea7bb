/* conv_float_onnx.c: the QDQ convolutions onnxruntime runs unfused (conv_float_onnx.h). */
#include "conv_float_onnx.h"

#include "layer_table.h"

#define F32_HALF 0x3F000000u
#define F32_MARGIN_T 0x36000000u          /* 2^-19: onnx_fast.MARGIN_T */
#define RINT_LIMIT (1 << 22)              /* onnx_fast._LIMIT_RINT */

static f32_t deq[256];                    /* DequantizeLinear of every int8 value */

static void dequant_table(const struct conv_float_onnx *c)
{
    for (int32_t v = -128; v < 128; v++)
        deq[v + 128] = f32_mul(f32_from_i32(v - c->zx), c->sx);
}

/* The float32 value onnxruntime's Conv gives output (b, pixel p, filter f) of group g before
 * QuantizeLinear: FMA chains from +0 over k in (ci, kh, kw) order restarted every `sk` and
 * added up (one filter per group: products summed in groups of 4, 2, 1, no FMA), + bias. */
static f32_t float_value(const struct conv_float_onnx *c, uint32_t b, uint32_t g, uint32_t p,
                         uint32_t f, uint32_t sk)
{
    uint32_t cg = c->cin / c->groups, fo = c->cout / c->groups, k = cg * c->kh * c->kw;
    uint32_t oy = p / c->ow, ox = p % c->ow;
    const f32_t *wf = c->wt + (uint64_t)f * k;
    f32_t total = 0, acc = 0, grp = 0;
    uint32_t first = 1, in_grp = 0, glen = 0;
    for (uint32_t kk = 0; kk < k; kk++) {
        uint32_t ci = kk / (c->kh * c->kw), i = kk / c->kw % c->kh, j = kk % c->kw;
        int32_t iy = (int32_t)(oy * c->sh + i * c->dh) - c->pt;
        int32_t ix = (int32_t)(ox * c->sw + j * c->dw) - c->pl;
        f32_t xd = 0;
        if (iy >= 0 && iy < (int32_t)c->h && ix >= 0 && ix < (int32_t)c->w)
            xd = deq[c->x[(((uint64_t)b * c->h + (uint32_t)iy) * c->w + (uint32_t)ix) * c->cin
                          + g * cg + ci] + 128];
        if (fo == 1) {                              /* MLAS's one-row kernel */
            if (!in_grp)
                glen = k - kk >= 4 ? 4 : k - kk >= 2 ? 2 : 1;
            f32_t pr = f32_mul(wf[kk], xd);
            grp = in_grp ? f32_add(grp, pr) : pr;
            if (++in_grp == glen) {
                total = first ? grp : f32_add(total, grp);
                first = 0;
                in_grp = 0;
            }
            continue;
        }
        acc = f32_fma(wf[kk], xd, kk % sk ? acc : 0);
        if (kk % sk == sk - 1 || kk == k - 1) {
            total = first ? acc : f32_add(total, acc);
            first = 0;
        }
    }
    return c->bias ? f32_add(total, c->bias[f]) : total;
}

static int8_t clamp_out(const struct conv_float_onnx *c, int32_t q)
{
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    return (int8_t)(q < c->lo ? c->lo : q > c->hi ? c->hi : q);
}

/* QuantizeLinear: clamp(rint(f32(v / s_y)) + z_y), then lo / hi. */
static int8_t quantize(const struct conv_float_onnx *c, f32_t v)
{
    return clamp_out(c, f32_rint_clip(lt_f32_div(v, c->sy), 1 << 20) + c->zy);
}

void conv_float_onnx(const struct conv_float_onnx *c)
{
    dequant_table(c);
    uint32_t fo = c->cout / c->groups;
    for (uint32_t b = 0; b < c->n; b++)
        for (uint32_t g = 0; g < c->groups; g++)
            for (uint32_t s = 0; s < c->nseg; s++)
                for (uint32_t p = c->seg[3 * s]; p < c->seg[3 * s] + c->seg[3 * s + 1]; p++)
                    for (uint32_t f = g * fo; f < (g + 1) * fo; f++)
                        c->y[((uint64_t)b * c->oh * c->ow + p) * c->cout + f] =
                            quantize(c, float_value(c, b, g, p, f, c->seg[3 * s + 2]));
}

/* onnx_fast.decide for one output: 1 and *out when the sum `s` and the bound part `e` decide
 * it (binary32 operations in that function's order). */
static int decide(const struct conv_float_onnx *c, int32_t s, f32_t e, const uint32_t *row,
                  int8_t *out)
{
    f32_t sm = f32_mul(f32_from_i32(s), row[0]);
    f32_t t = f32_add(sm, row[1]);
    f32_t g = f32_add(sm & 0x7FFFFFFFu, row[1] & 0x7FFFFFFFu);
    f32_t e2 = f32_add(e, f32_mul(g, F32_MARGIN_T));
    int32_t ni = f32_rint_clip(t, RINT_LIMIT);
    if (ni != RINT_LIMIT && ni != -RINT_LIMIT) {
        f32_t d = f32_add(t, f32_from_i32(ni) ^ 0x80000000u);
        if (f32_lt(f32_add(d & 0x7FFFFFFFu, e2), F32_HALF)) {
            int32_t q = ni < -(1 << 20) ? -(1 << 20) : ni > (1 << 20) ? 1 << 20 : ni;
            *out = clamp_out(c, q + c->zy);
            return 1;
        }
    }
    /* wholly below lo + 1/2 or above hi - 1/2 (in units of s_y, from z_y) */
    if (f32_lt(f32_add(t, e2), f32_mul(f32_from_i32(2 * (c->lo - c->zy) + 1), F32_HALF))) {
        *out = (int8_t)c->lo;
        return 1;
    }
    if (f32_lt(f32_mul(f32_from_i32(2 * (c->hi - c->zy) - 1), F32_HALF),
               f32_add(t, e2 ^ 0x80000000u))) {
        *out = (int8_t)c->hi;
        return 1;
    }
    return 0;
}

uint32_t conv_float_onnx_fast(const struct conv_float_onnx *c, const int32_t *sums,
                              const uint32_t *table)
{
    const uint8_t *absw = (const uint8_t *)(table + 5 * c->cout);
    uint32_t taps = c->kh * c->kw * c->cin, recomputed = 0, have_deq = 0;
    for (uint32_t b = 0; b < c->n; b++)
        for (uint32_t p = 0; p < c->oh * c->ow; p++) {
            uint32_t oy = p / c->ow, ox = p % c->ow, sk = 0;
            for (uint32_t s = 0; s < c->nseg; s++)
                if (p >= c->seg[3 * s] && p - c->seg[3 * s] < c->seg[3 * s + 1])
                    sk = c->seg[3 * s + 2];
            uint64_t o = ((uint64_t)b * c->oh * c->ow + p) * c->cout;
            for (uint32_t f = 0; f < c->cout; f++) {
                const uint32_t *row = table + 5 * f;
                if (decide(c, sums[o + f], row[4], row, &c->y[o + f]))
                    continue;
                /* the exact A = sum |x - z_x| |w| of this output instead of the worst case */
                const uint8_t *wa = absw + (uint64_t)f * taps;
                int32_t a = 0;
                for (uint32_t i = 0; i < c->kh; i++) {
                    int32_t iy = (int32_t)(oy * c->sh + i) - c->pt;
                    for (uint32_t j = 0; j < c->kw; j++) {
                        int32_t ix = (int32_t)(ox * c->sw + j) - c->pl;
                        if (iy < 0 || iy >= (int32_t)c->h || ix < 0 || ix >= (int32_t)c->w)
                            continue;
                        const int8_t *xp = c->x + (((uint64_t)b * c->h + (uint32_t)iy) * c->w +
                                                   (uint32_t)ix) * c->cin;
                        const uint8_t *wp = wa + (i * c->kw + j) * c->cin;
                        for (uint32_t ci = 0; ci < c->cin; ci++) {
                            int32_t d = xp[ci] - c->zx;
                            a += (d < 0 ? -d : d) * wp[ci];
                        }
                    }
                }
                f32_t e = f32_add(f32_mul(f32_from_i32(a), row[2]), row[3]);
                if (decide(c, sums[o + f], e, row, &c->y[o + f]))
                    continue;
                if (!have_deq) {
                    dequant_table(c);
                    have_deq = 1;
                }
                c->y[o + f] = quantize(c, float_value(c, b, 0, p, f, sk));
                recomputed++;
            }
        }
    return recomputed;
}
