/* conv_float_onnx.c: the QDQ convolutions onnxruntime runs unfused (conv_float_onnx.h). */
#include "conv_float_onnx.h"

#include "layer_table.h"

#define FAST_WORDS 10u                    /* onnx_fast.TABLE_WORDS */
#define FAST_STAGE_COUT 64u               /* channels whose table rows are staged in RAM */

/* Main memory is slow for the core (a bus transaction per access): the per-channel rows,
 * read once per output, are copied to on-chip RAM first when they fit. */
static uint32_t fast_rows[FAST_STAGE_COUT * FAST_WORDS];

static f32_t deq[256];                    /* DequantizeLinear of every int8 value */

static void dequant_table(const struct conv_float_onnx *c)
{
    for (int32_t v = -128; v < 128; v++)
        deq[v + 128] = f32_mul(f32_from_i32(v - c->zx), c->sx);
}

/* The float32 value onnxruntime's Conv gives output (b, pixel p, filter f) of group g before
 * QuantizeLinear: FMA chains from +0 over k in (ci, kh, kw) order restarted every `sk` and
 * added up (one filter per group: products summed in groups of 4, 2, 1, no FMA), + bias.
 * `table`: the input dequantized from deq[] (else each tap's f32(x - z_x) * s_x computed). */
static f32_t float_value(const struct conv_float_onnx *c, uint32_t b, uint32_t g, uint32_t p,
                         uint32_t f, uint32_t sk, int table)
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
        if (iy >= 0 && iy < (int32_t)c->h && ix >= 0 && ix < (int32_t)c->w) {
            int32_t v = c->x[(((uint64_t)b * c->h + (uint32_t)iy) * c->w + (uint32_t)ix) *
                             c->cin + g * cg + ci];
            xd = table ? deq[v + 128] : f32_mul(f32_from_i32(v - c->zx), c->sx);
        }
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
                            quantize(c, float_value(c, b, g, p, f, c->seg[3 * s + 2], 1));
}

static int64_t word64(const uint32_t *w)
{
    return (int64_t)((uint64_t)w[0] | (uint64_t)w[1] << 32);
}

static int32_t out_level(const struct conv_float_onnx *c, int64_t n)
{
    const int64_t lim = 1 << 20;
    int32_t q = (int32_t)(n < -lim ? -lim : n > lim ? lim : n) + c->zy;
    return q < c->lo ? c->lo : q > c->hi ? c->hi : q;
}

/* onnx_fast.decide for one output: X = S * M + B is the exact value in 2^-F units and `e`
 * the bound; fl(v / s_y) rounds to an integer in [ceil((X - e) 2^-F - 1/2),
 * floor((X + e) 2^-F + 1/2)]: decided (1, *out) when both ends give the same output. */
static int decide(const struct conv_float_onnx *c, int32_t s, int64_t e, const uint32_t *row,
                  int8_t *out)
{
    uint32_t f = row[1];
    int64_t x = (int64_t)s * (int32_t)row[0] + word64(row + 2), h = (int64_t)1 << (f - 1);
    int32_t lo = out_level(c, -((e + h - x) >> f)), hi = out_level(c, (x + e + h) >> f);
    *out = (int8_t)lo;
    return lo == hi;
}

uint32_t conv_float_onnx_fast(const struct conv_float_onnx *c, const int32_t *sums,
                              const uint32_t *table)
{
    const uint8_t *absw = (const uint8_t *)(table + FAST_WORDS * c->cout);
    uint32_t taps = c->kh * c->kw * c->cin, recomputed = 0, have_deq = 0;
    const uint32_t *rows = table;
    if (c->cout <= FAST_STAGE_COUT) {
        for (uint32_t i = 0; i < c->cout * FAST_WORDS; i++)
            fast_rows[i] = table[i];
        rows = fast_rows;
    }
    for (uint32_t b = 0; b < c->n; b++)
        for (uint32_t p = 0; p < c->oh * c->ow; p++) {
            uint32_t oy = p / c->ow, ox = p % c->ow, sk = 0;
            for (uint32_t s = 0; s < c->nseg; s++)
                if (p >= c->seg[3 * s] && p - c->seg[3 * s] < c->seg[3 * s + 1])
                    sk = c->seg[3 * s + 2];
            uint64_t o = ((uint64_t)b * c->oh * c->ow + p) * c->cout;
            for (uint32_t f = 0; f < c->cout; f++) {
                const uint32_t *row = rows + FAST_WORDS * f;
                int32_t sum = sums[o + f];
                int64_t k1s = (int64_t)row[4] * (sum < 0 ? -(int64_t)sum : sum);
                if (decide(c, sum, word64(row + 8) + k1s, row, &c->y[o + f]))
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
                if (decide(c, sum, word64(row + 6) + (int64_t)row[5] * a + k1s, row,
                           &c->y[o + f]))
                    continue;
                /* a few outputs dequantize their taps; the 256-entry table once it pays */
                if (!have_deq && (recomputed + 1) * taps > 512) {
                    dequant_table(c);
                    have_deq = 1;
                }
                c->y[o + f] = quantize(c, float_value(c, b, 0, p, f, sk, (int)have_deq));
                recomputed++;
            }
        }
    return recomputed;
}
