/* depthwise.c: LT_OP_DEPTHWISE_DOT_INT8, a TFLite INT8 DEPTHWISE_CONV_2D (depth multiplier 1)
 * on the dot-product unit (compiler/dot_depthwise.py; record words: compiler/layer_table.py).
 * Per output pixel the core gathers every channel's window taps into a word-aligned row of the
 * scratch buffer (KK4 bytes per channel, (kh, kw) order, padded taps = the input zero point),
 * then streams each row against the channel's packed filter row (zero past the KK taps) with
 * the folded bias as the accumulator's start; requantization with gemmlowp's double rounding
 * (fx_mbqm), the output zero point and the clamp. Record word 28 = 0: the core sums the rows
 * itself (the same bits). */
#include "../../npu_jobs/npu_model_run/layer_walk.h"
#include "dot_model_run.h"
#include "dot_unit.h"
#include "fixedpoint.h"

int dot_depthwise(const struct lt_env *env, const uint32_t *r)
{
    uint32_t n = r[6], h = r[7], w = r[8], c = r[9], kh = r[10], kw = r[11], sh = r[12];
    uint32_t sw = r[13], dh = r[20], dw = r[21], oh = r[22], ow = r[23], kk4 = r[29];
    int32_t pt = (int32_t)r[18], pl = (int32_t)r[19], zx = (int32_t)r[24], zy = (int32_t)r[25];
    int32_t lo = (int32_t)r[26], hi = (int32_t)r[27];
    uint32_t unit = r[28];
    /* every tap is bounds-checked when gathered: any geometry reads only the input; the
     * window is at most 255 x 255 taps, so kh * kw cannot wrap */
    if (!n || !h || !w || !c || !kh || !kw || kh > 255u || kw > 255u || !sh || !sw || !dh ||
        !dw || !oh || !ow ||
        kk4 % 4u || kk4 < kh * kw || kk4 - kh * kw >= 4u || unit > 1u ||
        (uint64_t)n * oh * ow * c != r[5] || zx < -128 || zx > 127 || zy < -128 || zy > 127 ||
        lo < -128 || hi > 127 || lo > hi)
        return LT_E_ARG;
    const int8_t *x = lt_at(env, r[2], (uint64_t)n * h * w * c, 1);
    const int8_t *wt = lt_at(env, r[3], (uint64_t)c * kk4, 4);
    int8_t *y = lt_at(env, r[4], r[5], 1);
    const int32_t *bias = lt_at(env, r[14], 4ull * c, 4);
    const int32_t *mult = lt_at(env, r[15], 4ull * c, 4);
    const int32_t *shift = lt_at(env, r[16], 4ull * c, 4);
    int8_t *rows = lt_at(env, r[17], (uint64_t)c * kk4, 4);
    if (!x || !wt || !y || !bias || !mult || !shift || !rows)
        return LT_E_RANGE;
    for (uint32_t ch = 0; ch < c; ch++)
        if (shift[ch] < -31 || shift[ch] > 30)
            return LT_E_ARG;
    for (uint32_t i = 0; i < c * kk4; i++)      /* the tail past KK: multiplied by zero */
        rows[i] = 0;
    for (uint32_t b = 0; b < n; b++)
        for (uint32_t oy = 0; oy < oh; oy++)
            for (uint32_t ox = 0; ox < ow; ox++) {
                uint32_t t = 0;
                for (uint32_t ky = 0; ky < kh; ky++) {
                    int32_t iy = (int32_t)(oy * sh + ky * dh) - pt;
                    for (uint32_t kx = 0; kx < kw; kx++, t++) {
                        int32_t ix = (int32_t)(ox * sw + kx * dw) - pl;
                        int8_t *dst = rows + t;
                        if (iy < 0 || iy >= (int32_t)h || ix < 0 || ix >= (int32_t)w) {
                            for (uint32_t ch = 0; ch < c; ch++, dst += kk4)
                                *dst = (int8_t)zx;
                        } else {
                            const int8_t *px = x + ((b * h + (uint32_t)iy) * w +
                                                    (uint32_t)ix) * c;
                            for (uint32_t ch = 0; ch < c; ch++, dst += kk4)
                                *dst = px[ch];
                        }
                    }
                }
                int8_t *out = y + ((b * oh + oy) * ow + ox) * c;
                for (uint32_t ch = 0; ch < c; ch++) {
                    const int8_t *row = rows + ch * kk4, *wr = wt + ch * kk4;
                    uint32_t acc = (uint32_t)bias[ch];
                    if (unit)
                        acc = (uint32_t)dot_stream(row, wr, kk4 / 4u, bias[ch]);
                    else
                        for (uint32_t k = 0; k < kk4; k++)
                            acc += (uint32_t)(row[k] * wr[k]);
                    int32_t v = fx_mbqm((int32_t)acc, mult[ch], shift[ch]) + zy;
                    out[ch] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
                }
            }
    return LT_OK;
}
