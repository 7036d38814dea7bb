/* layer_layout.c: the layer-table walker's layout records (layer_walk.h): IM2COL,
 * TRANSPOSE and PAD, bytes moved in the order the compiler's reference operators define. */
#include "layer_walk.h"

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
                            lt_copy_bytes(y, x + (((uint64_t)b * h + (uint32_t)iy) * w +
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

int lt_layout_op(const struct lt_env *env, const uint32_t *r)
{
    uint64_t in_elems, out_elems = r[5];
    uint32_t eb;
    switch (r[1]) {
    case LT_OP_IM2COL: {
        eb = r[14];
        uint32_t out[6] = {r[6], r[22], r[23], r[10], r[11], r[9]};
        if ((eb != 1 && eb != 2) || r[6] == 0 || r[9] == 0 || r[10] == 0 || r[11] == 0 ||
            lt_product(out, 6) != r[5])
            return LT_E_ARG;
        in_elems = lt_product(r + 6, 4);
        void *x = lt_at(env, r[2], in_elems * eb, eb), *y = lt_at(env, r[4], out_elems * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        im2col(r, x, y);
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
        if ((eb != 1 && eb != 2 && eb != 4) || lt_product(sh, 4) != r[5])
            return LT_E_ARG;
        uint8_t *x = lt_at(env, r[2], r[5] * eb, eb), *y = lt_at(env, r[4], r[5] * eb, eb);
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
        if ((eb != 1 && eb != 2 && eb != 4) || lt_product(os, 4) != r[5])
            return LT_E_ARG;
        uint64_t in_elems4 = lt_product(sh, 4);
        uint8_t *x = lt_at(env, r[2], in_elems4 * eb, eb), *y = lt_at(env, r[4], r[5] * eb, eb);
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
    default:
        return LT_E_OP;
    }
}
