/* dense.c: the TFLite INT8 FULLY_CONNECTED of dot_dense.h, on the dot-product unit and on the
 * core alone (also compiled into dot_model_run, through its dense.c). */
#include "dot_dense.h"

#include "dot_unit.h"
#include "fixedpoint.h"
#include "npu_cpu_ops.h"

int32_t dot_mbqm_single(int32_t x, int32_t m, int32_t shift)
{
    int total = 31 - shift;
    int64_t p = (int64_t)x * (int64_t)m + ((int64_t)1 << (total - 1));
    return (int32_t)(p >> total);
}

static int bad(const struct dot_dense *p)
{
    if (p->batch == 0 || p->in == 0 || p->out == 0)
        return 1;
    if (p->input_zp < -128 || p->input_zp > 127 || p->output_zp < -128 || p->output_zp > 127)
        return 1;
    if (p->lo < -128 || p->hi > 127 || p->lo > p->hi)
        return 1;
    if (p->double_rounding < 0 || p->double_rounding > DOT_DOUBLE_RESCALE)
        return 1;
    for (uint32_t o = 0; o < p->out; o++) {
        uint32_t hi = (uint32_t)p->shift[o];
        if (p->double_rounding == DOT_DOUBLE_RESCALE ? hi >> 31 || ((hi >> 20) & 0x7FFu) == 0x7FFu
                                                     : p->shift[o] < -31 || p->shift[o] > 30)
            return 1;                   /* a shift out of range; a negative, Inf or NaN scale */
    }
    return 0;
}

static inline int8_t requant(int32_t acc, int32_t mult, int32_t shift, int32_t double_rounding,
                             int32_t output_zp, int32_t lo, int32_t hi)
{
    int32_t v;
    if (double_rounding == DOT_DOUBLE_RESCALE)  /* LiteRT's double rescale; + zp wraps */
        v = (int32_t)((uint32_t)cpu_scale_round_double(acc, (uint32_t)mult, (uint32_t)shift) +
                      (uint32_t)output_zp);
    else
        v = (double_rounding ? fx_mbqm(acc, mult, shift) : dot_mbqm_single(acc, mult, shift)) +
            output_zp;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (int8_t)v;
}


/* init + sum_k (x[k] - zp) * w[k] on the core (int32 wrapping), unrolled by four. */
static int32_t cpu_dot(const int8_t *x, const int8_t *w, uint32_t n, int32_t zp, int32_t init)
{
    uint32_t acc = (uint32_t)init;
    uint32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        acc += (uint32_t)((x[k] - zp) * w[k]);
        acc += (uint32_t)((x[k + 1] - zp) * w[k + 1]);
        acc += (uint32_t)((x[k + 2] - zp) * w[k + 2]);
        acc += (uint32_t)((x[k + 3] - zp) * w[k + 3]);
    }
    for (; k < n; k++)
        acc += (uint32_t)((x[k] - zp) * w[k]);
    return (int32_t)acc;
}

/* The outputs of dot_stream_dense_int8, inlined once per rounding (`dbl` a constant): the
 * rounding chosen per output made the compiler compute both (branch-free), and the layer's
 * fields are copied to locals (the unit's volatile registers otherwise force reloads). */
static inline __attribute__((always_inline)) void
stream_outputs(const struct dot_dense *p, int8_t *y, uint32_t words, int dbl)
{
    const uint32_t batch = p->batch, in = p->in, out = p->out;
    const int32_t zp = p->input_zp, out_zp = p->output_zp, lo = p->lo, hi = p->hi;
    const int8_t *x = p->x, *wbase = p->w;
    const int32_t *bias = p->bias, *mult = p->mult, *shift = p->shift;
    const uint32_t *ones = p->ones;
    for (uint32_t o = 0; o < out; o++) {
        const int8_t *w = wbase + o * in;
        int32_t base = bias ? bias[o] : 0, m = mult[o], s = shift[o];
        if (zp) {
            int32_t wsum = dot_stream(ones, w, words, 0);
            base = (int32_t)((uint32_t)base - (uint32_t)zp * (uint32_t)wsum);
        }
        int8_t *yo = y + o;
        const int8_t *xb = x;
        for (uint32_t b = 0; b < batch; b++, yo += out, xb += in)
            *yo = requant(dot_stream(xb, w, words, base), m, s, dbl, out_zp, lo, hi);
    }
}

int dot_stream_dense_int8(const struct dot_dense *p, int8_t *y)
{
    uint32_t words = p->in / 4;
    if (bad(p) || p->in % 4 || words > DOT_MAX_WORDS || ((uintptr_t)p->x | (uintptr_t)p->w) % 4 ||
        !dot_in_main(p->x, p->batch * p->in) || !dot_in_main(p->w, p->out * p->in))
        return -1;
    if (p->input_zp) {
        if (!p->ones || (uintptr_t)p->ones % 4 || !dot_in_main(p->ones, p->in))
            return -1;
        for (uint32_t i = 0; i < words; i++)
            p->ones[i] = 0x01010101u;
    }
    if (p->double_rounding == DOT_DOUBLE_RESCALE)
        stream_outputs(p, y, words, DOT_DOUBLE_RESCALE);
    else if (p->double_rounding)
        stream_outputs(p, y, words, 1);
    else
        stream_outputs(p, y, words, 0);
    return 0;
}

/* The outputs of cpu_dense_int8, inlined once per rounding as stream_outputs. */
static inline __attribute__((always_inline)) void
cpu_outputs(const struct dot_dense *p, int8_t *y, int dbl)
{
    const uint32_t batch = p->batch, in = p->in, out = p->out;
    const int32_t zp = p->input_zp, out_zp = p->output_zp, lo = p->lo, hi = p->hi;
    const int8_t *x = p->x, *wbase = p->w;
    const int32_t *bias = p->bias, *mult = p->mult, *shift = p->shift;
    for (uint32_t o = 0; o < out; o++) {
        const int8_t *w = wbase + o * in;
        int32_t base = bias ? bias[o] : 0, m = mult[o], s = shift[o];
        int8_t *yo = y + o;
        const int8_t *xb = x;
        for (uint32_t b = 0; b < batch; b++, yo += out, xb += in)
            *yo = requant(cpu_dot(xb, w, in, zp, base), m, s, dbl, out_zp, lo, hi);
    }
}

int cpu_dense_int8(const struct dot_dense *p, int8_t *y)
{
    if (bad(p))
        return -1;
    if (p->double_rounding == DOT_DOUBLE_RESCALE)
        cpu_outputs(p, y, DOT_DOUBLE_RESCALE);
    else if (p->double_rounding)
        cpu_outputs(p, y, 1);
    else
        cpu_outputs(p, y, 0);
    return 0;
}
