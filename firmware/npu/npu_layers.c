/* npu_layers.c: fully connected and 2-D convolution layers on npu_gemm, and their CPU
 * references. A convolution is a GEMM of the im2col matrix (one row per output pixel, columns
 * in (ky, kx, ci) order) with the HWIO weights seen as a (kh*kw*cin) x cout matrix; a 1x1
 * kernel without padding reads the input directly (strided DMA), any other shape goes through
 * an im2col buffer the CPU fills in main memory. */
#include "npu.h"

#include "dure_rt.h"

#define F32_ZERO 0u

static uint32_t esize(int prec)
{
    return prec == NPU_FP16 ? 2 : 1;
}

/* The output / clamp parameters shared by FC and conv: fills g's output fields. */
static void layer_output(struct npu_gemm *g, int prec, const void *bias, const f32_t *scale,
                         int32_t zero_point, int act, uint32_t lo, uint32_t hi)
{
    g->bias = bias;
    g->scale = scale;
    if (prec == NPU_INT8) {
        g->out_type = NPU_OUT_INT8;
        g->zero_point = zero_point;
        g->lo = act == NPU_ACT_RELU ? (uint32_t)zero_point : act == NPU_ACT_CLAMP ? lo
                                                                                : (uint32_t)-128;
        g->hi = act == NPU_ACT_CLAMP ? hi : 127;
        g->clamp = 0;
    } else {
        g->out_type = NPU_OUT_FP16;
        g->clamp = act != NPU_ACT_NONE;
        g->lo = act == NPU_ACT_RELU ? F32_ZERO : lo;
        g->hi = act == NPU_ACT_RELU ? F32_POS_INF : hi;
    }
}

static void fc_gemm(const struct npu_fc *fc, struct npu_gemm *g)
{
    npu_gemm_init(g, fc->prec, fc->batch, fc->in, fc->out, fc->x, fc->w, fc->y,
                  fc->prec == NPU_INT8 ? NPU_OUT_INT8 : NPU_OUT_FP16);
    layer_output(g, fc->prec, fc->bias, fc->scale, fc->zero_point, fc->act, fc->lo, fc->hi);
}

int npu_fc(const struct npu_fc *fc)
{
    struct npu_gemm g;
    fc_gemm(fc, &g);
    return npu_gemm(&g);
}

int npu_fc_cpu(const struct npu_fc *fc)
{
    struct npu_gemm g;
    fc_gemm(fc, &g);
    return npu_gemm_cpu(&g);
}

uint32_t npu_conv2d_out_h(const struct npu_conv2d *c)
{
    return (c->h + 2 * c->pad - c->kh) / c->stride + 1;
}

uint32_t npu_conv2d_out_w(const struct npu_conv2d *c)
{
    return (c->w + 2 * c->pad - c->kw) / c->stride + 1;
}

static int conv_check(const struct npu_conv2d *c)
{
    if (!c->n || !c->h || !c->w || !c->cin || !c->cout || !c->kh || !c->kw || !c->stride ||
        c->kh > c->h + 2 * c->pad || c->kw > c->w + 2 * c->pad)
        return NPU_E_ARG;
    return 0;
}

/* Output-side GEMM setup for m output pixels starting at pixel index p0. */
static void conv_gemm(const struct npu_conv2d *c, struct npu_gemm *g, const void *a,
                      uint32_t a_stride, uint32_t m, uint32_t p0)
{
    uint32_t k = c->kh * c->kw * c->cin;
    npu_gemm_init(g, c->prec, m, k, c->cout, a, c->weights, 0, NPU_OUT_INT8);
    layer_output(g, c->prec, c->bias, c->scale, c->zero_point, c->act, c->lo, c->hi);
    g->a_stride = a_stride;
    g->out_stride = c->cout * (c->prec == NPU_FP16 ? 2 : 1);
    g->out = (uint8_t *)c->y + (size_t)p0 * g->out_stride;
}

/* One im2col row: the (ky, kx, ci) patch of output pixel (b, oy, ox). Per kernel row, the taps
 * inside the image are one contiguous run of the NHWC input (one memcpy); the taps in the
 * padding on either side are filled with the pad value. */
static void patch(const struct npu_conv2d *c, uint32_t b, uint32_t oy, uint32_t ox,
                  uint8_t *dst)
{
    uint32_t eb = esize(c->prec), tap = c->cin * eb, row = c->kw * tap;
    int pad_byte = c->prec == NPU_FP16 ? 0 : (uint8_t)c->pad_value;
    const uint8_t *x = c->x;
    int32_t ix0 = (int32_t)(ox * c->stride) - (int32_t)c->pad;   /* input column of kx = 0 */
    uint32_t lo = ix0 < 0 ? (uint32_t)-ix0 : 0;                   /* first tap inside */
    int32_t end = (int32_t)c->w - ix0;                            /* taps before the right edge */
    uint32_t hi = end <= 0 ? 0 : end < (int32_t)c->kw ? (uint32_t)end : c->kw;
    for (uint32_t ky = 0; ky < c->kh; ky++) {
        int32_t iy = (int32_t)(oy * c->stride + ky) - (int32_t)c->pad;
        uint8_t *to = dst + ky * row;
        if (iy < 0 || iy >= (int32_t)c->h || lo >= hi) {
            memset(to, pad_byte, row);
            continue;
        }
        size_t at = (((size_t)b * c->h + (uint32_t)iy) * c->w + (uint32_t)(ix0 + (int32_t)lo)) *
                    c->cin;
        if (lo)
            memset(to, pad_byte, lo * tap);
        memcpy(to + lo * tap, x + at * eb, (hi - lo) * tap);
        if (hi < c->kw)
            memset(to + hi * tap, pad_byte, (c->kw - hi) * tap);
    }
}

int npu_conv2d(const struct npu_conv2d *c)
{
    int err = conv_check(c);
    if (err)
        return err;
    uint32_t oh = npu_conv2d_out_h(c), ow = npu_conv2d_out_w(c), eb = esize(c->prec);
    struct npu_gemm g;
    if (c->kh == 1 && c->kw == 1 && c->pad == 0) {
        if (c->stride == 1) {                       /* the input is the A matrix */
            conv_gemm(c, &g, c->x, c->cin * eb, c->n * oh * ow, 0);
            return npu_gemm(&g);
        }
        for (uint32_t b = 0; b < c->n; b++) {       /* one GEMM per output row, strided A */
            for (uint32_t oy = 0; oy < oh; oy++) {
                const uint8_t *a = (const uint8_t *)c->x +
                                   ((size_t)(b * c->h + oy * c->stride) * c->w) * c->cin * eb;
                conv_gemm(c, &g, a, c->stride * c->cin * eb, ow, (b * oh + oy) * ow);
                if ((err = npu_gemm_submit(&g)))
                    return err;
            }
        }
        return npu_wait();
    }
    uint32_t k = c->kh * c->kw * c->cin, pixels = c->n * oh * ow;
    void *mark = npu_alloc_mark();
    uint8_t *cols = npu_alloc((size_t)pixels * k * eb, 4);
    if (!cols)
        return NPU_E_NO_MEMORY;
    for (uint32_t b = 0, p = 0; b < c->n; b++)
        for (uint32_t oy = 0; oy < oh; oy++)
            for (uint32_t ox = 0; ox < ow; ox++, p++)
                patch(c, b, oy, ox, cols + (size_t)p * k * eb);
    conv_gemm(c, &g, cols, k * eb, pixels, 0);
    err = npu_gemm(&g);
    npu_alloc_release(mark);
    return err;
}

int npu_conv2d_cpu(const struct npu_conv2d *c)
{
    int err = conv_check(c);
    if (err)
        return err;
    uint32_t oh = npu_conv2d_out_h(c), ow = npu_conv2d_out_w(c), eb = esize(c->prec);
    uint32_t k = c->kh * c->kw * c->cin;
    uint8_t buf[k * eb];                            /* one patch on the stack */
    struct npu_gemm g;
    for (uint32_t b = 0, p = 0; b < c->n; b++) {
        for (uint32_t oy = 0; oy < oh; oy++) {
            for (uint32_t ox = 0; ox < ow; ox++, p++) {
                patch(c, b, oy, ox, buf);
                conv_gemm(c, &g, buf, k * eb, 1, p);
                if ((err = npu_gemm_cpu(&g)))
                    return err;
            }
        }
    }
    return 0;
}
