/* dense.c: the TFLite INT8 FULLY_CONNECTED of dot_dense.h, on the dot-product unit and on the
 * core alone (also compiled into dot_model_run, through its dense.c). */
#include "dot_dense.h"

#include "dot_unit.h"
#include "fixedpoint.h"

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
    if (p->double_rounding != 0 && p->double_rounding != 1)
        return 1;
    for (uint32_t o = 0; o < p->out; o++)
        if (p->shift[o] < -31 || p->shift[o] > 30)
            return 1;
    return 0;
}

static inline int8_t requant(int32_t acc, int32_t mult, int32_t shift, int32_t double_rounding,
                             int32_t output_zp, int32_t lo, int32_t hi)
{
    int32_t v = (double_rounding ? fx_mbqm(acc, mult, shift) : dot_mbqm_single(acc, mult, shift)) +
                output_zp;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (int8_t)v;
}

int8_t dot_requantize(int32_t acc, int32_t mult, int32_t shift, int32_t double_rounding,
                      int32_t output_zp, int32_t lo, int32_t hi)
{
    return requant(acc, mult, shift, double_rounding, output_zp, lo, hi);
}

/* inlined into the layer loops (the call of dot_requantize cost the dense layers 10-17 %) */
static inline int8_t requantize(const struct dot_dense *p, int32_t acc, uint32_t o)
{
    return requant(acc, p->mult[o], p->shift[o], p->double_rounding, p->output_zp, p->lo, p->hi);
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
    for (uint32_t o = 0; o < p->out; o++) {
        const int8_t *w = p->w + o * p->in;
        int32_t base = p->bias ? p->bias[o] : 0;
        if (p->input_zp) {
            int32_t wsum = dot_stream(p->ones, w, words, 0);
            base = (int32_t)((uint32_t)base - (uint32_t)p->input_zp * (uint32_t)wsum);
        }
        for (uint32_t b = 0; b < p->batch; b++)
            y[b * p->out + o] = requantize(p, dot_stream(p->x + b * p->in, w, words, base), o);
    }
    return 0;
}

int cpu_dense_int8(const struct dot_dense *p, int8_t *y)
{
    if (bad(p))
        return -1;
    for (uint32_t o = 0; o < p->out; o++) {
        const int8_t *w = p->w + o * p->in;
        for (uint32_t b = 0; b < p->batch; b++) {
            int32_t acc = cpu_dot(p->x + b * p->in, w, p->in, p->input_zp,
                                  p->bias ? p->bias[o] : 0);
            y[b * p->out + o] = requantize(p, acc, o);
        }
    }
    return 0;
}
