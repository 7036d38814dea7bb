/* layer_onnx.c: the layer-table walker's core records in onnxruntime's arithmetic
 * (layer_walk.h; compiler/reference.py defines each): QLinearAdd, depthwise QLinearConv,
 * QDQ convolutions onnxruntime runs unfused (kernels in conv_float_onnx.c), QLinearAveragePool,
 * QLinearGlobalAveragePool, QLinearSoftmax and DequantizeLinear. */
#include "conv_float_onnx.h"
#include "layer_walk.h"
#include "npu_cpu_ops.h"

int lt_onnx_op(const struct lt_env *env, const uint32_t *r)
{
    switch (r[1]) {
    case LT_OP_ADD_ONNX: {
        /* QLinearAdd as MLAS's AVX2 kernel computes it (compiler/reference.py), on the raw
         * stored values (int8 + r[18]: 128 for uint8 tensors):
         * y = sat(rne(fma(a, r_a, fma(b, r_b, fixed)))), then the clamp [r[19], r[20]] */
        const int8_t *a = lt_at(env, r[2], r[5], 1), *b = lt_at(env, r[3], r[5], 1);
        int8_t *y = lt_at(env, r[4], r[5], 1);
        if (!a || !b || !y)
            return LT_E_RANGE;
        int32_t off = (int32_t)r[18], lo = (int32_t)r[19], hi = (int32_t)r[20];
        if ((off != 0 && off != 128) || lo < -128 || hi > 127 || lo > hi)
            return LT_E_ARG;
        if (r[21]) {                    /* the compiler's table of every (a, b) pair */
            const int8_t *t = lt_at(env, r[21], 65536, 1);
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
        const int8_t *x = lt_at(env, r[2], (uint64_t)n * h * w * c, 1);
        const int8_t *wt = lt_at(env, r[3], (uint64_t)kh * kw * c, 1);
        const int32_t *bias = r[14] ? lt_at(env, r[14], (uint64_t)c * 4, 4) : 0;
        const f32_t *scale = lt_at(env, r[15], (uint64_t)c * 4, 4);
        const int32_t *zw = lt_at(env, r[20], (uint64_t)c * 4, 4);
        int8_t *y = lt_at(env, r[4], r[5], 1);
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
        const int8_t *x = lt_at(env, r[2], (uint64_t)n * h * w * c, 1);
        int8_t *y = lt_at(env, r[4], r[5], 1);
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
        const int8_t *x = lt_at(env, r[2], (uint64_t)n * h * w * c, 1);
        int8_t *y = lt_at(env, r[4], r[5], 1);
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
        const int8_t *x = lt_at(env, r[2], r[5], 1);
        int8_t *y = lt_at(env, r[4], r[5], 1);
        const f32_t *table = lt_at(env, r[20], 256 * 4, 4);
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
        c.x = lt_at(env, r[2], (uint64_t)c.n * c.h * c.w * c.cin, 1);
        c.wt = lt_at(env, r[3], (uint64_t)c.cout * k * 4, 4);
        c.bias = r[14] ? lt_at(env, r[14], (uint64_t)c.cout * 4, 4) : 0;
        c.seg = lt_at(env, r[29], (uint64_t)c.nseg * 12, 4);
        c.y = lt_at(env, r[4], r[5], 1);
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
        const int32_t *sums = lt_at(env, r[31], (uint64_t)r[5] * 4, 4);
        const uint32_t *table = lt_at(env, r[29] + 12 * c.nseg,
                                      (uint64_t)c.cout * (40 + k), 4);
        if (!sums || !table)
            return LT_E_RANGE;
        conv_float_onnx_fast(&c, sums, table);
        return LT_OK;
    }
    case LT_OP_DEQUANTIZE_ONNX: {
        const int8_t *x = lt_at(env, r[2], r[5], 1);
        uint32_t *y = lt_at(env, r[4], (uint64_t)r[5] * 4, 4);
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
