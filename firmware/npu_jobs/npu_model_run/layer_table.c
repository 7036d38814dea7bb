/* layer_table.c: walks a compiled model's layer table (layer_table.h). */
#include "layer_table.h"

#include "conv_float_onnx.h"
#include "fixedpoint.h"
#include "npu_cpu_ops.h"

/* Host view of `bytes` bytes at bus address `addr`, or NULL when they leave main memory or
 * `addr` is not a multiple of `align`. */
static void *at(const struct lt_env *env, uint32_t addr, uint64_t bytes, uint32_t align)
{
    if (addr < env->base || addr % align)
        return 0;
    uint64_t off = addr - env->base;
    if (off > env->size || bytes > env->size - off)
        return 0;
    return env->mem + off;
}

/* The product of n 32-bit factors, or UINT64_MAX once a partial product passes 2^32 (no
 * operand of main memory is that large; keeps the 64-bit arithmetic from wrapping). */
static uint64_t product(const uint32_t *f, int n)
{
    uint64_t p = 1;
    for (int i = 0; i < n; i++) {
        p *= f[i];
        if (p > 0xFFFFFFFFull)
            return UINT64_MAX;
    }
    return p;
}

static void put64(uint32_t *p, uint64_t v)
{
    p[0] = (uint32_t)v;
    p[1] = (uint32_t)(v >> 32);
}

static int pool_out(const uint32_t *r, uint64_t *in_elems, uint64_t *out_elems)
{
    uint32_t oh, ow, pt, pl;
    if (cpu_conv_axis(r[7], r[10], r[12], (int)r[14], &oh, &pt) ||
        cpu_conv_axis(r[8], r[11], r[13], (int)r[14], &ow, &pl))
        return LT_E_ARG;
    uint32_t out[4] = {r[6], oh, ow, r[9]};
    *in_elems = product(r + 6, 4);
    *out_elems = product(out, 4);
    return *out_elems == r[5] ? LT_OK : LT_E_ARG;
}

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n);

static void im2col(const uint32_t *r, const uint8_t *x, uint8_t *y)
{
    uint32_t n = r[6], h = r[7], w = r[8], c = r[9], kh = r[10], kw = r[11];
    uint32_t eb = r[14], oh = r[22], ow = r[23];
    int32_t pt = (int32_t)r[18], pl = (int32_t)r[19];
    uint32_t row = c * eb;
    for (uint32_t b = 0; b < n; b++)
        for (uint32_t oy = 0; oy < oh; oy++)
            for (uint32_t ox = 0; ox < ow; ox++)
                for (uint32_t i = 0; i < kh; i++) {
                    int32_t iy = (int32_t)(oy * r[12] + i * r[20]) - pt;
                    for (uint32_t j = 0; j < kw; j++) {
                        int32_t ix = (int32_t)(ox * r[13] + j * r[21]) - pl;
                        if (iy >= 0 && iy < (int32_t)h && ix >= 0 && ix < (int32_t)w) {
                            copy_bytes(y, x + (((uint64_t)b * h + (uint32_t)iy) * w +
                                               (uint32_t)ix) * row, row);
                        } else if (eb == 1) {
                            for (uint32_t k = 0; k < row; k++)
                                y[k] = (uint8_t)r[24];
                        } else {
                            for (uint32_t k = 0; k < row; k += 2) {
                                y[k] = (uint8_t)r[24];
                                y[k + 1] = (uint8_t)(r[24] >> 8);
                            }
                        }
                        y += row;
                    }
                }
}

uint32_t lt_f32_div(uint32_t a, uint32_t b)
{
    return f32_div(a, b);
}

/* Main memory is slow for the core (every access a bus transaction), on-chip RAM is not:
 * elementwise kernels run on chunks staged through RAM, copied a word at a time. */
#define STAGE_BYTES 2048u
static uint32_t stage_a[STAGE_BYTES / 4], stage_b[STAGE_BYTES / 4], stage_y[STAGE_BYTES / 4];

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    uint32_t i = 0;
    if ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0)
        for (; i + 4 <= n; i += 4)
            *(uint32_t *)(dst + i) = *(const uint32_t *)(src + i);
    for (; i < n; i++)
        dst[i] = src[i];
}

/* TFLite INT8 ADD as cpu_add_int8 computes it (golden_tflite.add_int8), with each input's
 * rescaling (a function of the int8 value alone) looked up in a 256-entry table built once per
 * layer: the same fixed-point operations, a third of them per element. */
static int32_t add_t1[256], add_t2[256];

static void add_tables(const struct cpu_add_int8 *p)
{
    for (int32_t v = -128; v < 128; v++) {
        int32_t v1 = (int32_t)((uint32_t)(v - p->input1_zero_point) << p->left_shift);
        int32_t v2 = (int32_t)((uint32_t)(v - p->input2_zero_point) << p->left_shift);
        add_t1[v + 128] = fx_rdbpot(fx_srdhm(v1, p->input1_multiplier), -p->input1_shift);
        add_t2[v + 128] = fx_rdbpot(fx_srdhm(v2, p->input2_multiplier), -p->input2_shift);
    }
}

static void add_int8_lut(const struct cpu_add_int8 *p, const int8_t *x1, const int8_t *x2,
                         int8_t *y, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        int32_t out = fx_rdbpot(fx_srdhm(fx_add(add_t1[x1[i] + 128], add_t2[x2[i] + 128]),
                                         p->output_multiplier), -p->output_shift);
        out += p->output_zero_point;
        y[i] = (int8_t)(out < p->lo ? p->lo : out > p->hi ? p->hi : out);
    }
}

/* ADD (INT8 or FP16, eb bytes per element) of count elements, staged chunk by chunk. */
static int staged_add(const uint32_t *r, const uint8_t *a, const uint8_t *b, uint8_t *y,
                      uint32_t count, uint32_t eb)
{
    struct cpu_add_int8 p = {
        (int32_t)r[18], (int32_t)r[19], (int32_t)r[20], (int32_t)r[21], (int32_t)r[22],
        (int32_t)r[23], (int32_t)r[24], (int32_t)r[25], (int32_t)r[26], (int32_t)r[27],
        (int32_t)r[28], (int32_t)r[29]};
    uint32_t chunk = STAGE_BYTES / eb;
    int lut = eb == 1 && count >= 512;
    if (lut) {
        int rc = cpu_add_int8(&p, 0, 0, 0, 0);        /* checks the parameters only */
        if (rc)
            return rc;
        add_tables(&p);
    }
    for (uint32_t first = 0; first < count; first += chunk) {
        uint32_t n = count - first < chunk ? count - first : chunk;
        copy_bytes((uint8_t *)stage_a, a + first * eb, n * eb);
        copy_bytes((uint8_t *)stage_b, b + first * eb, n * eb);
        if (lut) {
            add_int8_lut(&p, (const int8_t *)stage_a, (const int8_t *)stage_b,
                         (int8_t *)stage_y, n);
            copy_bytes(y + first, (const uint8_t *)stage_y, n);
            continue;
        }
        int rc = eb == 2 ? cpu_add_fp16((const f16_t *)stage_a, (const f16_t *)stage_b,
                                        (f16_t *)stage_y, n, (int)r[17], r[15], r[16])
                         : cpu_add_int8(&p, (const int8_t *)stage_a, (const int8_t *)stage_b,
                                        (int8_t *)stage_y, n);
        if (rc)
            return rc;
        copy_bytes(y + first * eb, (const uint8_t *)stage_y, n * eb);
    }
    return 0;
}

static int kernel_status(int rc)
{
    return rc ? LT_E_ARG : LT_OK;
}

/* float32 -> int8 QUANTIZE of r[5] values with scale r[15], zero point r[18] (ONNX: clamp
 * [r[19], r[20]]), staged chunk by chunk; the scale's reciprocal made once. */
static int staged_quantize(const uint32_t *r, const uint32_t *x, int8_t *y, int onnx)
{
    struct cpu_scale_div d;
    cpu_scale_div_init(&d, r[15]);
    int32_t zp = (int32_t)r[18], lo = (int32_t)r[19], hi = (int32_t)r[20];
    uint32_t chunk = STAGE_BYTES / 4;
    int rc = onnx ? cpu_quantize_onnx(0, 0, 0, r[15], zp, lo, hi, &d)      /* arguments */
                  : cpu_quantize_tflite(0, 0, 0, r[15], zp, &d);
    for (uint32_t first = 0; !rc && first < r[5]; first += chunk) {
        uint32_t n = r[5] - first < chunk ? r[5] - first : chunk;
        copy_bytes((uint8_t *)stage_a, (const uint8_t *)(x + first), n * 4);
        rc = onnx ? cpu_quantize_onnx(stage_a, (int8_t *)stage_y, n, r[15], zp, lo, hi, &d)
                  : cpu_quantize_tflite(stage_a, (int8_t *)stage_y, n, r[15], zp, &d);
        copy_bytes((uint8_t *)(y + first), (const uint8_t *)stage_y, n);
    }
    return kernel_status(rc);
}

/* One core layer. */
static int run_core(const struct lt_env *env, const uint32_t *r)
{
    uint64_t in_elems = r[5], out_elems = r[5];
    uint32_t eb = 1;
    switch (r[1]) {
    case LT_OP_COPY: {
        uint8_t *x = at(env, r[2], r[5], 1), *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        if (y + r[5] <= x || x + r[5] <= y)
            copy_bytes(y, x, r[5]);
        else if (y < x)
            for (uint32_t i = 0; i < r[5]; i++)
                y[i] = x[i];
        else if (y > x)
            for (uint32_t i = r[5]; i-- > 0;)
                y[i] = x[i];
        return LT_OK;
    }
    case LT_OP_ADD_FP16:
        eb = 2;
        /* fall through */
    case LT_OP_ADD_INT8: {
        void *a = at(env, r[2], out_elems * eb, eb), *b = at(env, r[3], out_elems * eb, eb);
        void *y = at(env, r[4], out_elems * eb, eb);
        if (!a || !b || !y)
            return LT_E_RANGE;
        return kernel_status(staged_add(r, a, b, y, r[5], eb));
    }
    case LT_OP_MAX_POOL_FP16:
    case LT_OP_AVG_POOL_FP16:
        eb = 2;
        /* fall through */
    case LT_OP_MAX_POOL_INT8:
    case LT_OP_AVG_POOL_INT8: {
        int st = pool_out(r, &in_elems, &out_elems);
        if (st)
            return st;
        void *x = at(env, r[2], in_elems * eb, eb), *y = at(env, r[4], out_elems * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        struct cpu_pool p = {r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], (int)r[14]};
        switch (r[1]) {
        case LT_OP_MAX_POOL_INT8:
            return kernel_status(cpu_max_pool_int8(&p, x, y, (int32_t)r[15], (int32_t)r[16]));
        case LT_OP_AVG_POOL_INT8:
            return kernel_status(cpu_avg_pool_int8(&p, x, y, (int32_t)r[15], (int32_t)r[16]));
        case LT_OP_MAX_POOL_FP16:
            return kernel_status(cpu_max_pool_fp16(&p, x, y, (int)r[17], r[15], r[16]));
        default:
            return kernel_status(cpu_avg_pool_fp16(&p, x, y, (int)r[17], r[15], r[16]));
        }
    }
    case LT_OP_SOFTMAX_INT8: {
        if ((uint64_t)r[6] * r[7] != r[5])
            return LT_E_ARG;
        void *x = at(env, r[2], r[5], 1), *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return kernel_status(cpu_softmax_int8(x, y, r[6], r[7], (int32_t)r[18],
                                              (int32_t)r[19], (int32_t)r[20]));
    }
    case LT_OP_SOFTMAX_FP16: {
        if ((uint64_t)r[6] * r[7] != r[5])
            return LT_E_ARG;
        void *x = at(env, r[2], (uint64_t)r[5] * 2, 2), *y = at(env, r[4], (uint64_t)r[5] * 2, 2);
        if (!x || !y)
            return LT_E_RANGE;
        return kernel_status(cpu_softmax_fp16(x, y, r[6], r[7], r[18]));
    }
    case LT_OP_REQUANTIZE_TFLITE: {
        void *x = at(env, r[2], r[5], 1), *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return kernel_status(cpu_requantize_int8(x, y, r[5], (int32_t)r[18], (int32_t)r[19],
                                                 (int32_t)r[20], (int32_t)r[21]));
    }
    case LT_OP_IM2COL: {
        eb = r[14];
        uint32_t out[6] = {r[6], r[22], r[23], r[10], r[11], r[9]};
        if ((eb != 1 && eb != 2) || r[6] == 0 || r[9] == 0 || r[10] == 0 || r[11] == 0 ||
            product(out, 6) != r[5])
            return LT_E_ARG;
        in_elems = product(r + 6, 4);
        void *x = at(env, r[2], in_elems * eb, eb), *y = at(env, r[4], out_elems * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        im2col(r, x, y);
        return LT_OK;
    }
    case LT_OP_ADD_ONNX: {
        /* QLinearAdd as MLAS's AVX2 kernel computes it (compiler/reference.py), on the raw
         * stored values (int8 + r[18]: 128 for uint8 tensors):
         * y = sat(rne(fma(a, r_a, fma(b, r_b, fixed)))), then the clamp [r[19], r[20]] */
        const int8_t *a = at(env, r[2], r[5], 1), *b = at(env, r[3], r[5], 1);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!a || !b || !y)
            return LT_E_RANGE;
        int32_t off = (int32_t)r[18], lo = (int32_t)r[19], hi = (int32_t)r[20];
        if ((off != 0 && off != 128) || lo < -128 || hi > 127 || lo > hi)
            return LT_E_ARG;
        if (r[21]) {                    /* the compiler's table of every (a, b) pair */
            const int8_t *t = at(env, r[21], 65536, 1);
            if (!t)
                return LT_E_RANGE;
            for (uint32_t i = 0; i < r[5]; i++)
                y[i] = t[((uint32_t)(uint8_t)(a[i] + 128) << 8) | (uint8_t)(b[i] + 128)];
            return LT_OK;
        }
        for (uint32_t i = 0; i < r[5]; i++) {
            f32_t v = f32_fma_i32(a[i] + off, r[15], f32_fma_i32(b[i] + off, r[16], r[17]));
            int32_t q = f32_is_nan(v) ? -128 : f32_rint_clip(v, 1 << 20) - off;
            q = q < -128 ? -128 : q > 127 ? 127 : q;
            y[i] = (int8_t)(q < lo ? lo : q > hi ? hi : q);
        }
        return LT_OK;
    }
    case LT_OP_TRANSPOSE: {
        /* y[o0][o1][o2][o3] = x[i] with i_perm[k] = o_k (shape and perm padded to 4 axes) */
        eb = r[14];
        const uint32_t *sh = &r[6], *pm = &r[10];
        uint32_t seen = 0;
        for (int k = 0; k < 4; k++) {
            if (pm[k] > 3 || (seen & (1u << pm[k])))
                return LT_E_ARG;
            seen |= 1u << pm[k];
        }
        if ((eb != 1 && eb != 2 && eb != 4) || product(sh, 4) != r[5])
            return LT_E_ARG;
        uint8_t *x = at(env, r[2], r[5] * eb, eb), *y = at(env, r[4], r[5] * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        uint64_t stride[4], ostride[4];
        stride[3] = eb;
        for (int k = 3; k > 0; k--)
            stride[k - 1] = stride[k] * sh[k];
        for (int k = 0; k < 4; k++)
            ostride[k] = stride[pm[k]];           /* input step of output axis k */
        uint32_t o0 = sh[pm[0]], o1 = sh[pm[1]], o2 = sh[pm[2]], o3 = sh[pm[3]];
        for (uint32_t a = 0; a < o0; a++)
            for (uint32_t b = 0; b < o1; b++)
                for (uint32_t c = 0; c < o2; c++)
                    for (uint32_t d = 0; d < o3; d++) {
                        const uint8_t *src = x + a * ostride[0] + b * ostride[1] +
                            c * ostride[2] + d * ostride[3];
                        for (uint32_t e = 0; e < eb; e++)
                            *y++ = src[e];
                    }
        return LT_OK;
    }
    case LT_OP_QUANTIZE_TFLITE: {
        const uint32_t *x = at(env, r[2], (uint64_t)r[5] * 4, 4);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return staged_quantize(r, x, y, 0);
    }
    case LT_OP_PAD: {
        /* y = x surrounded by r[10 + k] elements before and r[18 + k] after on axis k, the
         * new elements the constant whose bit pattern is r[15] */
        eb = r[14];
        const uint32_t *sh = &r[6];
        uint32_t os[4];
        for (int k = 0; k < 4; k++) {
            uint64_t v = (uint64_t)sh[k] + r[10 + k] + r[18 + k];
            if (v > 0xFFFFFFFFu)
                return LT_E_ARG;
            os[k] = (uint32_t)v;
        }
        if ((eb != 1 && eb != 2 && eb != 4) || product(os, 4) != r[5])
            return LT_E_ARG;
        uint64_t in_elems4 = product(sh, 4);
        uint8_t *x = at(env, r[2], in_elems4 * eb, eb), *y = at(env, r[4], r[5] * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        for (uint32_t a = 0; a < os[0]; a++)
            for (uint32_t b = 0; b < os[1]; b++)
                for (uint32_t c = 0; c < os[2]; c++)
                    for (uint32_t d = 0; d < os[3]; d++) {
                        uint32_t i[4] = {a - r[10], b - r[11], c - r[12], d - r[13]};
                        int in = i[0] < sh[0] && i[1] < sh[1] && i[2] < sh[2] && i[3] < sh[3];
                        if (in) {
                            const uint8_t *src = x + ((((uint64_t)i[0] * sh[1] + i[1]) * sh[2] +
                                                       i[2]) * sh[3] + i[3]) * eb;
                            for (uint32_t e = 0; e < eb; e++)
                                *y++ = src[e];
                        } else {
                            for (uint32_t e = 0; e < eb; e++)
                                *y++ = (uint8_t)(r[15] >> (8 * e));
                        }
                    }
        return LT_OK;
    }
    case LT_OP_DEPTHWISE_ONNX: {
        /* QLinearConv, group = channels (compiler/reference.py): acc = bias[c] + sum over the
         * in-bounds taps of (x - z_x) * (w - z_w[c]) (int32, wrapping; padded taps add 0),
         * y = clamp(rne(f32(acc) * scale[c]) + z_y, lo, hi) */
        uint32_t n = r[6], h = r[7], w = r[8], c = r[9], kh = r[10], kw = r[11];
        uint32_t sh = r[12], sw = r[13], oh = r[24], ow = r[25], dh = r[21], dw = r[26];
        int32_t pt = (int32_t)r[22], pl = (int32_t)r[23];
        int32_t lo = (int32_t)r[16], hi = (int32_t)r[17], zx = (int32_t)r[18],
                zy = (int32_t)r[19];
        if ((uint64_t)n * oh * ow * c != r[5] || !kh || !kw || !sh || !sw || !dh || !dw ||
            lo < -128 || hi > 127 || lo > hi)
            return LT_E_ARG;
        const int8_t *x = at(env, r[2], (uint64_t)n * h * w * c, 1);
        const int8_t *wt = at(env, r[3], (uint64_t)kh * kw * c, 1);
        const int32_t *bias = r[14] ? at(env, r[14], (uint64_t)c * 4, 4) : 0;
        const f32_t *scale = at(env, r[15], (uint64_t)c * 4, 4);
        const int32_t *zw = at(env, r[20], (uint64_t)c * 4, 4);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!x || !wt || (r[14] && !bias) || !scale || !zw || !y)
            return LT_E_RANGE;
        for (uint32_t b = 0; b < n; b++)
            for (uint32_t oy = 0; oy < oh; oy++)
                for (uint32_t ox = 0; ox < ow; ox++)
                    for (uint32_t ch = 0; ch < c; ch++) {
                        uint32_t acc = bias ? (uint32_t)bias[ch] : 0;
                        for (uint32_t i = 0; i < kh; i++) {
                            int32_t iy = (int32_t)(oy * sh + i * dh) - pt;
                            if (iy < 0 || iy >= (int32_t)h)
                                continue;
                            for (uint32_t j = 0; j < kw; j++) {
                                int32_t ix = (int32_t)(ox * sw + j * dw) - pl;
                                if (ix < 0 || ix >= (int32_t)w)
                                    continue;
                                int32_t xv = x[(((uint64_t)b * h + (uint32_t)iy) * w +
                                                (uint32_t)ix) * c + ch] - zx;
                                int32_t wv = wt[((uint64_t)i * kw + j) * c + ch] - zw[ch];
                                acc += (uint32_t)(xv * wv);
                            }
                        }
                        int32_t v = f32_rint_clip(f32_mul(f32_from_i32((int32_t)acc),
                                                          scale[ch]), 1 << 20) + zy;
                        *y++ = (int8_t)(v < lo ? lo : v > hi ? hi : v);
                    }
        return LT_OK;
    }
    case LT_OP_AVG_POOL_ONNX: {
        /* QLinearAveragePool (compiler/reference.py): every in-bounds tap dequantized,
         * f32(s_x * f32(x - z_x)), summed in float32 in (kh, kw) order from +0, divided by
         * the tap count (all taps with count_include_pad), then
         * sat(rne(f32(f32(avg / s_y) + f32(z_y)))) on the raw values, then lo / hi */
        uint32_t n = r[6], h = r[7], w = r[8], c = r[9], kh = r[10], kw = r[11];
        uint32_t sh = r[12], sw = r[13], oh = r[24], ow = r[25];
        int32_t pt = (int32_t)r[22], pl = (int32_t)r[23];
        int32_t lo = (int32_t)r[16], hi = (int32_t)r[17], zx = (int32_t)r[18],
                zy = (int32_t)r[19], off = (int32_t)r[20];
        if ((uint64_t)n * oh * ow * c != r[5] || !kh || !kw || !sh || !sw || lo < -128 ||
            hi > 127 || lo > hi || (off != 0 && off != 128))
            return LT_E_ARG;
        const int8_t *x = at(env, r[2], (uint64_t)n * h * w * c, 1);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        f32_t fzy = f32_from_i32(zy);
        for (uint32_t b = 0; b < n; b++)
            for (uint32_t oy = 0; oy < oh; oy++)
                for (uint32_t ox = 0; ox < ow; ox++)
                    for (uint32_t ch = 0; ch < c; ch++) {
                        f32_t total = 0;
                        int32_t count = 0;
                        for (uint32_t i = 0; i < kh; i++) {
                            int32_t iy = (int32_t)(oy * sh + i) - pt;
                            for (uint32_t j = 0; j < kw; j++) {
                                int32_t ix = (int32_t)(ox * sw + j) - pl;
                                if (iy < 0 || iy >= (int32_t)h || ix < 0 || ix >= (int32_t)w)
                                    continue;
                                int32_t q = x[(((uint64_t)b * h + (uint32_t)iy) * w +
                                               (uint32_t)ix) * c + ch];
                                total = f32_add(total, f32_mul(r[15], f32_from_i32(q - zx)));
                                count++;
                            }
                        }
                        if (r[14])
                            count = (int32_t)(kh * kw);
                        f32_t avg = lt_f32_div(total, f32_from_i32(count));
                        f32_t v = f32_add(lt_f32_div(avg, r[21]), fzy);
                        int32_t q = f32_rint_clip(v, 1 << 20) - off;
                        q = q < -128 ? -128 : q > 127 ? 127 : q;
                        *y++ = (int8_t)(q < lo ? lo : q > hi ? hi : q);
                    }
        return LT_OK;
    }
    case LT_OP_GLOBAL_AVG_POOL_ONNX: {
        /* QLinearGlobalAveragePool: acc = sum(x) - zx * h * w (int32, wrapping), then
         * clamp(rne(f32(acc) * scale) + zy, lo, hi) */
        uint32_t n = r[6], h = r[7], w = r[8], c = r[9];
        int32_t lo = (int32_t)r[16], hi = (int32_t)r[17], zx = (int32_t)r[18],
                zy = (int32_t)r[19];
        if ((uint64_t)n * c != r[5] || lo < -128 || hi > 127 || lo > hi)
            return LT_E_ARG;
        const int8_t *x = at(env, r[2], (uint64_t)n * h * w * c, 1);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        for (uint32_t b = 0; b < n; b++)
            for (uint32_t ch = 0; ch < c; ch++) {
                uint32_t acc = 0u - (uint32_t)zx * h * w;
                const int8_t *p = x + (uint64_t)b * h * w * c + ch;
                for (uint32_t i = 0; i < h * w; i++)
                    acc += (uint32_t)(int32_t)p[(uint64_t)i * c];
                int32_t v = f32_rint_clip(f32_mul(f32_from_i32((int32_t)acc), r[15]), 1 << 20)
                    + zy;
                y[b * c + ch] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
            }
        return LT_OK;
    }
    case LT_OP_SOFTMAX_ONNX: {
        /* QLinearSoftmax (compiler/reference.py): e = table[index of the raw value, the row
         * maximum at 255], sum in float32 in order, y = rne(f32(e * ys) / sum) + zy */
        uint32_t rows = r[6], d = r[7];
        int32_t zy = (int32_t)r[18], off = (int32_t)r[19];
        if ((uint64_t)rows * d != r[5] || d == 0 || (off != 0 && off != 128))
            return LT_E_ARG;
        const int8_t *x = at(env, r[2], r[5], 1);
        int8_t *y = at(env, r[4], r[5], 1);
        const f32_t *table = at(env, r[20], 256 * 4, 4);
        if (!x || !y || !table)
            return LT_E_RANGE;
        for (uint32_t row = 0; row < rows; row++, x += d, y += d) {
            int32_t top = -128;
            for (uint32_t i = 0; i < d; i++)
                top = x[i] > top ? x[i] : top;
            f32_t total = 0;
            for (uint32_t i = 0; i < d; i++)
                total = f32_add(total, table[(uint8_t)(x[i] + 127 - top + off)]);
            for (uint32_t i = 0; i < d; i++) {
                f32_t e = table[(uint8_t)(x[i] + 127 - top + off)];
                int32_t q = f32_rint_clip(lt_f32_div(f32_mul(e, r[15]), total), 1 << 20) + zy
                    - off;
                y[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
            }
        }
        return LT_OK;
    }
    case LT_OP_QUANTIZE_ONNX: {
        /* clamp(rint(f32(x / scale)) + zp, lo, hi) with [lo, hi] inside [-128, 127] (a Relu /
           Clip onnxruntime computes in float32 before the QuantizeLinear); a NaN quotient
           gives 0 before the clamp (cpu_quantize_onnx) */
        const uint32_t *x = at(env, r[2], (uint64_t)r[5] * 4, 4);
        int8_t *y = at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return staged_quantize(r, x, y, 1);
    }
    case LT_OP_CONV_FLOAT_ONNX:
    case LT_OP_CONV_FAST_ONNX: {
        /* A QDQ Conv onnxruntime runs unfused on x86-64 (compiler/onnx_float.py; kernels in
         * conv_float_onnx.c). FAST: word 31 the NPU's int32 sums, the fast table after the
         * chain table (compiler/onnx_fast.py). */
        struct conv_float_onnx c = {
            .n = r[6], .h = r[7], .w = r[8], .cin = r[9], .kh = r[10], .kw = r[11],
            .sh = r[12], .sw = r[13], .dh = r[20], .dw = r[26], .oh = r[24], .ow = r[25],
            .cout = r[27], .groups = r[28], .nseg = r[30], .pt = (int32_t)r[22],
            .pl = (int32_t)r[23], .lo = (int32_t)r[16], .hi = (int32_t)r[17],
            .zx = (int32_t)r[18], .zy = (int32_t)r[19], .sx = r[15], .sy = r[21]};
        if ((uint64_t)c.n * c.oh * c.ow * c.cout != r[5] || !c.kh || !c.kw || !c.sh || !c.sw ||
            !c.dh || !c.dw || !c.groups || c.cin % c.groups || c.cout % c.groups || !c.nseg ||
            c.lo < -128 || c.hi > 127 || c.lo > c.hi || c.zx < -128 || c.zx > 127)
            return LT_E_ARG;
        uint32_t k = c.cin / c.groups * c.kh * c.kw;
        c.x = at(env, r[2], (uint64_t)c.n * c.h * c.w * c.cin, 1);
        c.wt = at(env, r[3], (uint64_t)c.cout * k * 4, 4);
        c.bias = r[14] ? at(env, r[14], (uint64_t)c.cout * 4, 4) : 0;
        c.seg = at(env, r[29], (uint64_t)c.nseg * 12, 4);
        c.y = at(env, r[4], r[5], 1);
        if (!c.x || !c.wt || (r[14] && !c.bias) || !c.seg || !c.y)
            return LT_E_RANGE;
        for (uint32_t s = 0; s < c.nseg; s++)
            if (!c.seg[3 * s + 2] || c.seg[3 * s] + c.seg[3 * s + 1] > c.oh * c.ow)
                return LT_E_ARG;
        if (r[1] == LT_OP_CONV_FLOAT_ONNX) {
            conv_float_onnx(&c);
            return LT_OK;
        }
        if (c.groups != 1 || c.dh != 1 || c.dw != 1)
            return LT_E_ARG;
        const int32_t *sums = at(env, r[31], (uint64_t)r[5] * 4, 4);
        const uint32_t *table = at(env, r[29] + 12 * c.nseg,
                                   (uint64_t)c.cout * (40 + k), 4);
        if (!sums || !table)
            return LT_E_RANGE;
        conv_float_onnx_fast(&c, sums, table);
        return LT_OK;
    }
    case LT_OP_DEQUANTIZE_ONNX: {
        const int8_t *x = at(env, r[2], r[5], 1);
        uint32_t *y = at(env, r[4], (uint64_t)r[5] * 4, 4);
        if (!x || !y)
            return LT_E_RANGE;
        int32_t zp = (int32_t)r[18];
        if (zp < -128 || zp > 127)
            return LT_E_ARG;
        for (uint32_t i = 0; i < r[5]; i++)
            y[i] = f32_mul(f32_from_i32((int32_t)x[i] - zp), r[15]);
        return LT_OK;
    }
    default:
        return LT_E_OP;
    }
}

/* An LT_KIND_NPU_TILES record: word 1 the tiles T (1..LT_MAX_TILES), words 2 + 2t / 3 + 2t
 * tile t's list address and descriptor count. */
static int run_tiles(const struct lt_env *env, const uint32_t *rec, uint32_t *res)
{
    uint32_t tiles = rec[1], lists[LT_MAX_TILES], counts[LT_MAX_TILES];
    if (!env->npu_tiles || !tiles || tiles > LT_MAX_TILES)
        return LT_E_KIND;
    for (uint32_t t = 0; t < tiles; t++) {
        lists[t] = rec[2 + 2 * t];
        counts[t] = rec[3 + 2 * t];
        if (!at(env, lists[t], 32ull * counts[t], 4))
            return LT_E_RANGE;
    }
    uint32_t tile = 0, index = 0;
    uint32_t err = env->npu_tiles(env->ctx, tiles, lists, counts, &tile, &index);
    if (err) {
        res[2] = err;
        res[3] = index;
        return LT_E_NPU;
    }
    return LT_OK;
}

int lt_walk(const struct lt_env *env, uint32_t table, uint32_t **results)
{
    *results = 0;
    const uint32_t *h = at(env, table, 4u * LT_HEADER_WORDS, 4);
    if (!h)
        return LT_E_NO_TABLE;
    if (h[0] != LT_MAGIC)
        return LT_E_MAGIC;
    if (h[1] != LT_VERSION)
        return LT_E_VERSION;
    uint32_t layers = h[2];
    if (layers > LT_MAX_LAYERS || h[3] != LT_RECORD_WORDS ||
        h[4] != 4u * (LT_HEADER_WORDS + LT_RECORD_WORDS * layers) || !at(env, table, h[4], 4))
        return LT_E_HEADER;
    uint32_t *res = at(env, h[5], 4u * (LT_RESULT_HEAD_WORDS + 2u * layers), 4);
    if (!res)
        return LT_E_HEADER;
    for (uint32_t i = 0; i < LT_RESULT_HEAD_WORDS + 2u * layers; i++)
        res[i] = 0;
    *results = res;
    const uint32_t *rec = h + LT_HEADER_WORDS;
    int status = LT_OK;
    uint32_t i = 0;
    uint64_t t0 = env->now(env->ctx);
    for (; i < layers && status == LT_OK; i++, rec += LT_RECORD_WORDS) {
        uint64_t a = env->now(env->ctx);
        if (rec[0] == LT_KIND_NPU) {
            if (!at(env, rec[2], 32ull * rec[3], 4)) {
                status = LT_E_RANGE;
            } else if (rec[3]) {
                uint32_t index = 0;
                uint32_t err = env->npu_list(env->ctx, rec[2], rec[3], &index);
                if (err) {
                    status = LT_E_NPU;
                    res[2] = err;
                    res[3] = index;
                }
            }
        } else if (rec[0] == LT_KIND_NPU_TILES) {
            status = run_tiles(env, rec, res);
        } else if (rec[0] == LT_KIND_CORE) {
            status = run_core(env, rec);
        } else {
            status = LT_E_KIND;
        }
        put64(res + LT_RESULT_HEAD_WORDS + 2u * i, env->now(env->ctx) - a);
    }
    put64(res + 4, env->now(env->ctx) - t0);
    res[0] = (uint32_t)status;
    res[1] = status ? i - 1 : 0;
    return status;
}
