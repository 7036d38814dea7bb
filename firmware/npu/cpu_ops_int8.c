/* cpu_ops_int8.c: INT8 operators the NPU does not run, on the core, bit for bit as TFLite's
 * reference integer kernels (the golden functions named at each one). See npu_cpu_ops.h. */
#include "bitlen.h"
#include "fixedpoint.h"
#include "npu_cpu_ops.h"

int cpu_conv_axis(uint32_t in, uint32_t k, uint32_t stride, int same, uint32_t *out,
                  uint32_t *pad_before)
{
    if (in == 0 || k == 0 || stride == 0)
        return NPU_E_ARG;
    if (same) {
        uint32_t o = (in + stride - 1) / stride;
        uint32_t need = (o - 1) * stride + k;
        *out = o;
        *pad_before = need > in ? (need - in) / 2 : 0;
        return 0;
    }
    if (k > in)
        return NPU_E_ARG;
    *out = (in - k) / stride + 1;
    *pad_before = 0;
    return 0;
}

/* The in-bounds tap range [lo, hi) of one output position along an axis. */
static void tap_range(uint32_t o, uint32_t stride, uint32_t pad, uint32_t k, uint32_t in,
                      uint32_t *lo, uint32_t *hi)
{
    int32_t start = (int32_t)(o * stride) - (int32_t)pad;
    int32_t a = start < 0 ? -start : 0;
    int32_t b = (int32_t)in - start;
    *lo = (uint32_t)a;
    *hi = b < (int32_t)k ? (uint32_t)(b < 0 ? 0 : b) : k;
}

/* Geometry of a pooling window; 0 or NPU_E_ARG. */
static int pool_geometry(const struct cpu_pool *p, uint32_t *oh, uint32_t *ow, uint32_t *pt,
                         uint32_t *pl)
{
    if (p->n == 0 || p->c == 0)
        return NPU_E_ARG;
    if (cpu_conv_axis(p->h, p->kh, p->sh, p->same, oh, pt) ||
        cpu_conv_axis(p->w, p->kw, p->sw, p->same, ow, pl))
        return NPU_E_ARG;
    return 0;
}

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

static int bad_bounds(int32_t lo, int32_t hi)
{
    return lo < -128 || hi > 127 || lo > hi;
}

/* golden_tflite.add_int8 */
int cpu_add_int8(const struct cpu_add_int8 *p, const int8_t *x1, const int8_t *x2, int8_t *y,
                 uint32_t count)
{
    if (bad_bounds(p->lo, p->hi) || p->left_shift < 0 || p->left_shift > 30 ||
        p->input1_shift > 0 || p->input2_shift > 0 || p->output_shift > 0 ||
        p->input1_shift < -31 || p->input2_shift < -31 || p->output_shift < -31)
        return NPU_E_ARG;
    for (uint32_t i = 0; i < count; i++) {
        int32_t v1 = (int32_t)((uint32_t)(x1[i] - p->input1_zero_point) << p->left_shift);
        int32_t v2 = (int32_t)((uint32_t)(x2[i] - p->input2_zero_point) << p->left_shift);
        int32_t s1 = fx_rdbpot(fx_srdhm(v1, p->input1_multiplier), -p->input1_shift);
        int32_t s2 = fx_rdbpot(fx_srdhm(v2, p->input2_multiplier), -p->input2_shift);
        int32_t out = fx_rdbpot(fx_srdhm(fx_add(s1, s2), p->output_multiplier),
                                -p->output_shift);
        y[i] = clamp8(out + p->output_zero_point, p->lo, p->hi);
    }
    return 0;
}

/* golden_tflite_quantize.requantize_int8 */
int cpu_requantize_int8(const int8_t *x, int8_t *y, uint32_t count, int32_t multiplier,
                        int32_t shift, int32_t zp_in, int32_t zp_out)
{
    if (zp_in < -128 || zp_in > 127 || zp_out < -128 || zp_out > 127 || shift < -31 ||
        shift > 30)
        return NPU_E_ARG;
    for (uint32_t i = 0; i < count; i++)
        y[i] = clamp8(fx_mbqm(x[i] - zp_in, multiplier, shift) + zp_out, -128, 127);
    return 0;
}

/* golden_tflite.max_pool_int8 (avg = 0) and average_pool_int8 (avg = 1). */
static int pool_int8(const struct cpu_pool *p, const int8_t *x, int8_t *y, int32_t lo,
                     int32_t hi, int avg)
{
    uint32_t oh, ow, pt, pl;
    if (bad_bounds(lo, hi) || pool_geometry(p, &oh, &ow, &pt, &pl))
        return NPU_E_ARG;
    for (uint32_t b = 0; b < p->n; b++)
        for (uint32_t oy = 0; oy < oh; oy++) {
            uint32_t y0, y1;
            tap_range(oy, p->sh, pt, p->kh, p->h, &y0, &y1);
            for (uint32_t ox = 0; ox < ow; ox++) {
                uint32_t x0, x1;
                tap_range(ox, p->sw, pl, p->kw, p->w, &x0, &x1);
                int32_t count = (int32_t)((y1 - y0) * (x1 - x0));
                if (count <= 0)
                    return NPU_E_ARG;
                int8_t *out = y + ((b * oh + oy) * ow + ox) * p->c;
                for (uint32_t ch = 0; ch < p->c; ch++) {
                    int32_t acc = avg ? 0 : -128;
                    for (uint32_t i = y0; i < y1; i++)
                        for (uint32_t j = x0; j < x1; j++) {
                            uint32_t iy = oy * p->sh + i - pt, ix = ox * p->sw + j - pl;
                            int32_t v = x[((b * p->h + iy) * p->w + ix) * p->c + ch];
                            if (avg)
                                acc += v;
                            else if (v > acc)
                                acc = v;
                        }
                    if (avg)   /* C division truncates: round half away from zero */
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[ch] = clamp8(acc, lo, hi);
                }
            }
        }
    return 0;
}

int cpu_max_pool_int8(const struct cpu_pool *p, const int8_t *x, int8_t *y, int32_t lo,
                      int32_t hi)
{
    return pool_int8(p, x, y, lo, hi, 0);
}

int cpu_avg_pool_int8(const struct cpu_pool *p, const int8_t *x, int8_t *y, int32_t lo,
                      int32_t hi)
{
    return pool_int8(p, x, y, lo, hi, 1);
}

/* --- SOFTMAX (golden_tflite_softmax) ------------------------------------------------------ */

static int32_t exp_quarter_interval(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8), Q0.31 */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = fx_add(a, 1 << 28);
    int32_t x2 = fx_srdhm(x, x);
    int32_t x3 = fx_srdhm(x2, x);
    int32_t x4 = fx_srdhm(x2, x2);
    int32_t x4_over_4 = fx_rdbpot(x4, 2);
    int32_t poly = fx_rdbpot(fx_add(fx_srdhm(fx_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return fx_add(constant_term, fx_srdhm(constant_term, fx_add(x, poly)));
}

/* gemmlowp exp_on_negative_values, Q5.26 in, Q0.31 out. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535,
                                      720401, 242};
    const int frac = 26;
    const int32_t one_quarter = 1 << (frac - 2);
    if (a == 0)
        return FX_INT32_MAX;
    int32_t amq = fx_add(a & (one_quarter - 1), -one_quarter);
    int32_t result = exp_quarter_interval(fx_sat_shl(amq, 5));
    int32_t remainder = fx_sub(amq, a);
    for (int k = 0; k < 7; k++)
        if (remainder & (1 << (frac - 2 + k)))
            result = fx_srdhm(result, barrel[k]);
    return result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31. */
static int32_t one_over_one_plus_x(int32_t a)
{
    int64_t s = (int64_t)a + FX_INT32_MAX;
    int32_t half_denominator = (int32_t)(s >= 0 ? (s + 1) / 2 : -((-(s - 1)) / 2));
    int32_t x = fx_add(1515870810, fx_srdhm(half_denominator, -1010580540));
    const int32_t one_f2 = 1 << 29;
    for (int i = 0; i < 3; i++) {
        int32_t hdx = fx_srdhm(half_denominator, x);
        x = fx_add(x, fx_sat_shl(fx_srdhm(x, fx_sub(one_f2, hdx)), 2));
    }
    return fx_sat_shl(x, 1);
}

/* The first SOFTMAX_CACHE exponentials of a row are kept from the sum pass for the output pass
 * (each costs ~200 cycles on the core); the rest of a longer row is computed again. */
#define SOFTMAX_CACHE 64u

int cpu_softmax_int8(const int8_t *x, int8_t *y, uint32_t rows, uint32_t depth,
                     int32_t multiplier, int32_t left_shift, int32_t diff_min)
{
    int32_t cache[SOFTMAX_CACHE];
    if (depth == 0 || left_shift < 0 || left_shift > 31)
        return NPU_E_ARG;
    for (uint32_t r = 0; r < rows; r++) {
        const int8_t *in = x + r * depth;
        int8_t *out = y + r * depth;
        int32_t max = -128;
        for (uint32_t i = 0; i < depth; i++)
            if (in[i] > max)
                max = in[i];
        int32_t total = 0;
        for (uint32_t i = 0; i < depth; i++) {
            int32_t d = in[i] - max;
            if (d >= diff_min) {
                int32_t s = fx_srdhm((int32_t)((uint32_t)d << left_shift), multiplier);
                int32_t e = exp_on_negative_values(s);
                if (i < SOFTMAX_CACHE)
                    cache[i] = e;
                total = fx_add(total, fx_rdbpot(e, 12));
            }
        }
        int h = 32 - bitlen32((uint32_t)total);
        int exponent = 12 - h + 31 - 8;
        if (exponent < 0 || exponent > 31)
            return NPU_E_ARG;
        int32_t shifted = (int32_t)(((uint32_t)total << h) - 0x80000000u);
        int32_t recip = one_over_one_plus_x(shifted);
        for (uint32_t i = 0; i < depth; i++) {
            int32_t d = in[i] - max;
            if (d < diff_min) {
                out[i] = -128;
                continue;
            }
            int32_t e = i < SOFTMAX_CACHE ? cache[i] :
                exp_on_negative_values(fx_srdhm((int32_t)((uint32_t)d << left_shift), multiplier));
            int32_t v = fx_rdbpot(fx_srdhm(recip, e), exponent) - 128;
            out[i] = clamp8(v, -128, 127);
        }
    }
    return 0;
}

/* ---- float32 -> int8 quantization (golden_tflite_quantize.quantize_int8, ONNX QuantizeLinear)
 * without the soft-float division: x / scale is computed as an exact integer quotient from
 * the bit patterns and a reciprocal of the scale's significand made once per tensor, then
 * rounded once to binary32 as the division would. */

int cpu_scale_div_init(struct cpu_scale_div *d, f32_t scale)
{
    uint32_t e = (scale >> 23) & 0xFFu;
    d->fast = 0;
    if ((scale >> 31) || e == 0 || e == 0xFFu)
        return 0;                           /* not positive and normal: f32_div throughout */
    d->ms = (scale & 0x7FFFFFu) | 0x800000u;
    d->es = (int32_t)e - 150;
    /* r = floor((2^87 - 1) / ms) by restoring division (the numerator's bits are all ones) */
    uint32_t rem = 0;
    uint64_t q = 0;
    for (int i = 0; i < 87; i++) {
        rem = (rem << 1) | 1u;
        q <<= 1;
        if (rem >= d->ms) {
            rem -= d->ms;
            q |= 1u;
        }
    }
    d->r = q;
    d->fast = 1;
    return 1;
}

int cpu_scale_quotient(const struct cpu_scale_div *d, f32_t x, uint64_t *g)
{
    uint32_t ax = x & 0x7FFFFFFFu;
    if (!d->fast || ax >= 0x7F800000u)
        return 2;
    if (ax == 0)
        return 0;
    uint32_t mx = ax & 0x7FFFFFu;
    int32_t ex = -149;
    if (ax >> 23) {
        mx |= 0x800000u;
        ex = (int32_t)(ax >> 23) - 150;
    }
    int32_t de = ex - d->es;                /* |x / scale| lies in (2^(de - 1), 2^(de + 1)) */
    if (de < -2)
        return 0;
    if (de > 9)
        return 2;
    int sh = de + 26;                       /* f = floor(mx * 2^sh / ms) = floor(|q| 2^26) */
    uint64_t h = (uint64_t)mx * (uint32_t)(d->r >> 32) +
                 (((uint64_t)mx * (uint32_t)d->r) >> 32);
    uint64_t f = h >> (55 - sh);            /* f or f - 1: r is 2^87 / ms to within 2 */
    uint32_t rem = (uint32_t)((uint64_t)mx << sh) - (uint32_t)f * d->ms;   /* < 2 ms */
    if (rem >= d->ms) {
        f++;
        rem -= d->ms;
    }
    int len = bitlen64(f);
    if (len < 25)
        return 0;                           /* |q| < 1/4 */
    int p = len - 24;                       /* binary32 keeps 24 bits; p >= 1 */
    uint64_t kept = f >> p, low = f & ((1ull << p) - 1), half = 1ull << (p - 1);
    if (low > half || (low == half && (rem || (kept & 1u))))
        kept++;
    *g = kept << p;
    return 1;
}

/* The integer nearest |x / scale| when the quotient is not within 2^-15 of a half: below 2^9
 * the binary32 rounding of the quotient moves it by at most 2^-16, so not across the half, and
 * integers are fixed points of it; from 2^9 on any k saturates the int8 result. 1 and *k, else
 * 0 (near a half, NaN, Inf, large). From (mx / ms) * 2^31 by one mulhu with r >> 32 =
 * floor(2^55 / ms) (2^32 - 1 for ms = 2^23), within 2 units, scaled to |x / scale| * 2^22. */
static inline int quick_round(int32_t es, uint32_t r32, uint32_t ax, int32_t *k)
{
    uint32_t mx = ax & 0x7FFFFFu;
    int32_t ex = -149;
    if (ax >> 23) {
        mx |= 0x800000u;
        ex = (int32_t)(ax >> 23) - 150;
    }
    int32_t de = ex - es;
    if (de < -2) {
        *k = 0;                             /* |q| < 1/4 */
        return 1;
    }
    if (de > 9 || ax >= 0x7F800000u)
        return 0;
    uint32_t qfix = (uint32_t)(((uint64_t)(mx << 8) * r32) >> 32) >> (9 - de);
    uint32_t frac = qfix & 0x3FFFFFu;
    if (frac - (0x200000u - 0x80u) <= 0x100u)
        return 0;                           /* within 2^-15 of a half */
    *k = (int32_t)((qfix + 0x200000u) >> 22);
    return 1;
}

static int8_t clamp_i8(int32_t v)
{
    return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

/* golden_tflite_quantize.quantize_int8 from the binary32 quotient's bits (the slow path). */
static int8_t tflite_quantize_bits(uint32_t q, int32_t zp)
{
    uint32_t e = (q >> 23) & 0xFF, sig = (q & 0x7FFFFFu) | (e ? 0x800000u : 0);
    int32_t i;
    if (e == 0xFF) {
        i = INT32_MIN;                      /* Inf, NaN: x86's "integer indefinite" */
    } else {
        int shift = 150 - (int)(e ? e : 1); /* |q| = sig * 2^-shift */
        uint64_t mag;
        if (shift <= 0)
            mag = shift < -40 ? (1ull << 40) : (uint64_t)sig << -shift;
        else if (shift >= 64)
            mag = 0;
        else
            mag = ((uint64_t)sig + (1ull << (shift - 1))) >> shift;
        if (q >> 31)
            i = mag > 0x80000000ull ? INT32_MIN : (int32_t)(0u - (uint32_t)mag);
        else
            i = mag > 0x7FFFFFFFull ? INT32_MIN : (int32_t)mag;
    }
    return clamp_i8((int32_t)((uint32_t)i + (uint32_t)zp));
}

int cpu_quantize_tflite(const f32_t *x, int8_t *y, uint32_t count, f32_t scale, int32_t zp,
                        const struct cpu_scale_div *d)
{
    if (zp < -128 || zp > 127)
        return NPU_E_ARG;
    const int fast = d->fast;
    const int32_t es = d->es;
    const uint32_t r32 = (uint32_t)(d->r >> 32);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t g = 0;
        int32_t k;
        if (!fast || !quick_round(es, r32, x[i] & 0x7FFFFFFFu, &k)) {
            int how = cpu_scale_quotient(d, x[i], &g);
            if (how == 2) {
                y[i] = tflite_quantize_bits(f32_div(x[i], scale), zp);
                continue;
            }
            k = (int32_t)(g >> 26) + (int32_t)((g >> 25) & 1u);    /* half away from 0 */
        }
        y[i] = clamp_i8(((x[i] >> 31) ? -k : k) + zp);
    }
    return 0;
}

int cpu_quantize_onnx(const f32_t *x, int8_t *y, uint32_t count, f32_t scale, int32_t zp,
                      int32_t lo, int32_t hi, const struct cpu_scale_div *d)
{
    if (zp < -128 || zp > 127 || lo < -128 || hi > 127 || lo > hi)
        return NPU_E_ARG;
    const int fast = d->fast;
    const int32_t es = d->es;
    const uint32_t r32 = (uint32_t)(d->r >> 32);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t g = 0;
        int32_t v, k;
        if (fast && quick_round(es, r32, x[i] & 0x7FFFFFFFu, &k)) {
            v = ((x[i] >> 31) ? -k : k) + zp;
        } else if (cpu_scale_quotient(d, x[i], &g) == 2) {
            f32_t q = f32_div(x[i], scale);
            v = f32_is_nan(q) ? 0 : f32_rint_clip(q, 1 << 20) + zp;
        } else {
            k = (int32_t)(g >> 26);
            uint32_t r = (uint32_t)g & 0x3FFFFFFu;
            if (r > 0x2000000u || (r == 0x2000000u && (k & 1)))
                k++;                        /* ties to even */
            v = ((x[i] >> 31) ? -k : k) + zp;
        }
        v = clamp_i8(v);
        y[i] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
    }
    return 0;
}
