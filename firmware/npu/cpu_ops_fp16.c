/* cpu_ops_fp16.c: FP16 operators on the core, bit for bit as the project's FP16 contract
 * (sim/golden_tflite_fp16.py: add_fp16, max_pool_fp16, average_pool_fp16), with the integer-only
 * soft-float of softfloat.c. See npu_cpu_ops.h. */
#include "npu_cpu_ops.h"

static f32_t clamp_f32(f32_t y, int clamp, f32_t lo, f32_t hi)
{
    if (!clamp)
        return y;
    if (f32_lt(y, lo))
        y = lo;
    if (f32_lt(hi, y))
        y = hi;
    return y;
}

static int bad_bounds(int clamp, f32_t lo, f32_t hi)
{
    return clamp && (f32_is_nan(lo) || f32_is_nan(hi) || f32_lt(hi, lo));
}

int cpu_add_fp16(const f16_t *a, const f16_t *b, f16_t *y, uint32_t count, int clamp, f32_t lo,
                 f32_t hi)
{
    if (bad_bounds(clamp, lo, hi))
        return NPU_E_ARG;
    for (uint32_t i = 0; i < count; i++)
        y[i] = f16_from_f32(clamp_f32(f32_add(f32_from_f16(a[i]), f32_from_f16(b[i])), clamp,
                                      lo, hi));
    return 0;
}

/* float32(1 / n) rounded to nearest even, for 1 <= n < 2^24, by long division. */
static f32_t f32_recip(uint32_t n)
{
    int p = 0;
    while (p < 32 && (n >> p))
        p++;                                   /* 2^(p-1) <= n < 2^p */
    uint32_t q = 0, rem = 0;
    for (int bit = p + 23; bit >= 0; bit--) {  /* numerator 2^(p+23), one bit at a time */
        rem = (rem << 1) | (bit == p + 23);
        q <<= 1;
        if (rem >= n) {
            rem -= n;
            q |= 1;
        }
    }
    /* 1/n = (q + rem/n) * 2^-(p+23), q in [2^23, 2^24]. */
    if (2 * rem > n || (2 * rem == n && (q & 1)))
        q++;
    return ((uint32_t)(127 - p) << 23) + q - (1u << 23);
}

struct window {
    uint32_t oh, ow, pt, pl;
};

static int geometry(const struct cpu_pool *p, struct window *w)
{
    if (p->n == 0 || p->c == 0)
        return NPU_E_ARG;
    if (cpu_conv_axis(p->h, p->kh, p->sh, p->same, &w->oh, &w->pt) ||
        cpu_conv_axis(p->w, p->kw, p->sw, p->same, &w->ow, &w->pl))
        return NPU_E_ARG;
    return 0;
}

static uint32_t first_tap(uint32_t o, uint32_t stride, uint32_t pad)
{
    return o * stride < pad ? pad - o * stride : 0;
}

static uint32_t end_tap(uint32_t o, uint32_t stride, uint32_t pad, uint32_t k, uint32_t in)
{
    int32_t limit = (int32_t)in + (int32_t)pad - (int32_t)(o * stride);
    return limit < 0 ? 0 : (uint32_t)limit < k ? (uint32_t)limit : k;
}

static int pool_fp16(const struct cpu_pool *p, const f16_t *x, f16_t *y, int clamp, f32_t lo,
                     f32_t hi, int avg)
{
    struct window g;
    if (bad_bounds(clamp, lo, hi) || geometry(p, &g))
        return NPU_E_ARG;
    for (uint32_t b = 0; b < p->n; b++)
        for (uint32_t oy = 0; oy < g.oh; oy++) {
            uint32_t y0 = first_tap(oy, p->sh, g.pt), y1 = end_tap(oy, p->sh, g.pt, p->kh, p->h);
            for (uint32_t ox = 0; ox < g.ow; ox++) {
                uint32_t x0 = first_tap(ox, p->sw, g.pl);
                uint32_t x1 = end_tap(ox, p->sw, g.pl, p->kw, p->w);
                if (y1 <= y0 || x1 <= x0)
                    return NPU_E_ARG;
                f32_t recip = f32_recip((y1 - y0) * (x1 - x0));
                f16_t *out = y + ((b * g.oh + oy) * g.ow + ox) * p->c;
                for (uint32_t ch = 0; ch < p->c; ch++) {
                    f32_t acc = avg ? 0u : F32_NEG_INF;
                    int nan = 0;
                    for (uint32_t i = y0; i < y1; i++)
                        for (uint32_t j = x0; j < x1; j++) {
                            uint32_t iy = oy * p->sh + i - g.pt, ix = ox * p->sw + j - g.pl;
                            f32_t v = f32_from_f16(x[((b * p->h + iy) * p->w + ix) * p->c + ch]);
                            if (avg) {
                                acc = f32_add(acc, v);
                            } else if (f32_is_nan(v)) {
                                nan = 1;
                            } else if (f32_lt(acc, v) || (v == 0u && acc == 0x80000000u)) {
                                acc = v;        /* +0.0 beats -0.0 */
                            }
                        }
                    if (avg)
                        acc = f32_mul(acc, recip);
                    else if (nan)
                        acc = F32_CANONICAL_NAN;
                    out[ch] = f16_from_f32(clamp_f32(acc, clamp, lo, hi));
                }
            }
        }
    return 0;
}

int cpu_max_pool_fp16(const struct cpu_pool *p, const f16_t *x, f16_t *y, int clamp, f32_t lo,
                      f32_t hi)
{
    return pool_fp16(p, x, y, clamp, lo, hi, 0);
}

int cpu_avg_pool_fp16(const struct cpu_pool *p, const f16_t *x, f16_t *y, int clamp, f32_t lo,
                      f32_t hi)
{
    return pool_fp16(p, x, y, clamp, lo, hi, 1);
}
