/* npu_selftest: random-shape GEMMs in both precisions and every output type, FC and conv2d
 * layers (im2col, 1x1 direct and strided), run on the NPU and on the CPU reference path; the
 * outputs must agree bit for bit. Also: a refused descriptor reports its error code and
 * sequence number and leaves the NPU usable; the interrupt-driven wait. */
#include "bench_util.h"
#include "dure_rt.h"
#include "npu.h"

static uint32_t seed = 0x1234567u;

static uint32_t rnd(uint32_t n)
{
    return xorshift32(&seed) % n;
}

/* fp16 values in a moderate range (|x| in ~[2^-6, 2^3]), both signs, some zeros. */
static f16_t rnd_f16(void)
{
    uint32_t r = xorshift32(&seed);
    if ((r & 31) == 0)
        return (f16_t)((r >> 5 & 1) << 15);
    uint32_t exp = 9 + (r >> 6) % 10;
    return (f16_t)(((r >> 5 & 1) << 15) | (exp << 10) | ((r >> 16) & 0x3FF));
}

static void fill(void *p, uint32_t count, int prec)
{
    if (prec == NPU_FP16) {
        f16_t *h = p;
        for (uint32_t i = 0; i < count; i++)
            h[i] = rnd_f16();
    } else {
        int8_t *b = p;
        for (uint32_t i = 0; i < count; i++)
            b[i] = (int8_t)xorshift32(&seed);
    }
}

static int compare(const char *what, const void *x, const void *y, uint32_t bytes)
{
    const uint8_t *a = x, *b = y;
    for (uint32_t i = 0; i < bytes; i++) {
        if (a[i] != b[i]) {
            printf("MISMATCH %s at byte %u: npu %02x cpu %02x\n", what, i, a[i], b[i]);
            return 1;
        }
    }
    return 0;
}

static uint32_t out_bytes(int out)
{
    return out == NPU_OUT_INT8 ? 1 : out == NPU_OUT_FP16 ? 2 : 4;
}

/* One random GEMM; returns 0 when the NPU and the CPU agree. */
static int gemm_case(int prec, int out_type, uint32_t m, uint32_t k, uint32_t n, int with_bias)
{
    void *mark = npu_alloc_mark();
    uint32_t eb = prec == NPU_FP16 ? 2 : 1, ob = out_bytes(out_type);
    uint32_t pad = rnd(3) * eb;                           /* odd row strides */
    uint32_t a_stride = k * eb + pad, b_stride = n * eb + pad;
    uint32_t out_stride = (n * ob + 3 + ob - 1) / ob * ob;
    uint8_t *a = npu_alloc(m * a_stride, 4), *b = npu_alloc(k * b_stride, 4);
    uint32_t *bias = npu_alloc(4 * n, 4);
    f32_t *scale = npu_alloc(4 * n, 4);
    uint8_t *out_npu = npu_alloc(m * out_stride, 4), *out_cpu = npu_alloc(m * out_stride, 4);
    if (!a || !b || !bias || !scale || !out_npu || !out_cpu)
        return 2;
    fill(a, m * a_stride / eb, prec);
    fill(b, k * b_stride / eb, prec);
    for (uint32_t j = 0; j < n; j++) {
        bias[j] = prec == NPU_FP16 ? f32_from_f16(rnd_f16()) : (rnd(20001) - 10000);
        /* scale in [2^-12, 2^-5) for int8 (keeps outputs in range), ~[0.5, 2) for fp16 */
        uint32_t e = prec == NPU_FP16 ? 126 + rnd(2) : 115 + rnd(7);
        scale[j] = e << 23 | (xorshift32(&seed) & 0x7FFFFF);
    }
    for (uint32_t i = 0; i < m * out_stride; i++)
        out_npu[i] = out_cpu[i] = 0xA5;
    struct npu_gemm g;
    npu_gemm_init(&g, prec, m, k, n, a, b, out_npu, out_type);
    g.a_stride = a_stride;
    g.b_stride = b_stride;
    g.out_stride = out_stride;
    g.bias = with_bias ? bias : 0;
    if (out_type == NPU_OUT_INT8 || (prec == NPU_INT8 && out_type == NPU_OUT_FP16) ||
        (prec == NPU_FP16 && rnd(2)))
        g.scale = scale;
    if (out_type == NPU_OUT_INT8) {
        g.zero_point = (int32_t)rnd(21) - 10;
        g.lo = (uint32_t)(g.zero_point - 1);
        g.hi = 100;
    } else if (prec == NPU_FP16 && rnd(2)) {
        g.clamp = 1;
        g.lo = 0xBF800000u;                              /* -1.0 */
        g.hi = 0x40C00000u;                              /* 6.0 */
    }
    int err = npu_gemm(&g);
    if (err) {
        printf("npu_gemm error %d (prec %d out %d %ux%ux%u)\n", err, prec, out_type, m, k, n);
        return 3;
    }
    g.out = out_cpu;
    if (npu_gemm_cpu(&g))
        return 4;
    char what[64];
    snprintf(what, sizeof what, "gemm p%d o%d %ux%ux%u b%d", prec, out_type, m, k, n,
             with_bias);
    int bad = compare(what, out_npu, out_cpu, m * out_stride);
    npu_alloc_release(mark);
    return bad;
}

static int layers(void)
{
    void *mark = npu_alloc_mark();
    /* FC, int8 with ReLU, batch 3 */
    struct npu_fc fc = {.prec = NPU_INT8, .batch = 3, .in = 37, .out = 19, .zero_point = -5,
                        .act = NPU_ACT_RELU};
    int8_t *x = npu_alloc(3 * 37, 4), *w = npu_alloc(37 * 19, 4);
    int32_t *bias = npu_alloc(4 * 19, 4);
    f32_t *scale = npu_alloc(4 * 32, 4);
    int8_t *y1 = npu_alloc(3 * 19, 4), *y2 = npu_alloc(3 * 19, 4);
    fill(x, 3 * 37, NPU_INT8);
    fill(w, 37 * 19, NPU_INT8);
    for (int j = 0; j < 32; j++) {
        scale[j] = (118u + rnd(3)) << 23 | rnd(1u << 23);
        if (j < 19)
            bias[j] = (int32_t)rnd(4001) - 2000;
    }
    fc.x = x; fc.w = w; fc.bias = bias; fc.scale = scale; fc.y = y1;
    if (npu_fc(&fc))
        return 10;
    fc.y = y2;
    npu_fc_cpu(&fc);
    if (compare("fc int8", y1, y2, 3 * 19))
        return 11;
    /* FC, fp16 with clamp */
    struct npu_fc fh = {.prec = NPU_FP16, .batch = 2, .in = 21, .out = 11, .act = NPU_ACT_CLAMP,
                        .lo = 0xC0000000u, .hi = 0x40000000u};
    f16_t *xh = npu_alloc(2 * 21 * 2, 4), *wh = npu_alloc(21 * 11 * 2, 4);
    f16_t *yh1 = npu_alloc(2 * 11 * 2, 4), *yh2 = npu_alloc(2 * 11 * 2, 4);
    fill(xh, 2 * 21, NPU_FP16);
    fill(wh, 21 * 11, NPU_FP16);
    fh.x = xh; fh.w = wh; fh.bias = 0; fh.scale = 0; fh.y = yh1;
    if (npu_fc(&fh))
        return 12;
    fh.y = yh2;
    npu_fc_cpu(&fh);
    if (compare("fc fp16", yh1, yh2, 2 * 11 * 2))
        return 13;
    /* conv2d: 3x3 stride 2 pad 1 (im2col), 1x1 stride 1 and stride 2 (direct), both precisions */
    static const uint32_t shapes[][6] = {   /* h, w, cin, cout, k, stride (pad = k / 2) */
        {7, 6, 3, 10, 3, 2}, {5, 5, 4, 9, 1, 1}, {6, 7, 5, 6, 1, 2}, {4, 5, 2, 3, 3, 1},
    };
    for (uint32_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int prec = NPU_INT8; prec <= NPU_FP16; prec++) {
            const uint32_t *sh = shapes[s];
            struct npu_conv2d c = {.prec = prec, .n = 2, .h = sh[0], .w = sh[1], .cin = sh[2],
                                   .cout = sh[3], .kh = sh[4], .kw = sh[4], .stride = sh[5],
                                   .pad = sh[4] / 2, .zero_point = 3, .pad_value = -2,
                                   .act = NPU_ACT_NONE, .scale = scale, .bias = 0};
            uint32_t eb = prec == NPU_FP16 ? 2 : 1;
            uint32_t in = c.n * c.h * c.w * c.cin, wt = c.kh * c.kw * c.cin * c.cout;
            uint32_t out = c.n * npu_conv2d_out_h(&c) * npu_conv2d_out_w(&c) * c.cout;
            void *cx = npu_alloc(in * eb, 4), *cw = npu_alloc(wt * eb, 4);
            void *o1 = npu_alloc(out * eb, 4), *o2 = npu_alloc(out * eb, 4);
            if (!cx || !cw || !o1 || !o2)
                return 14;
            fill(cx, in, prec);
            fill(cw, wt, prec);
            if (prec == NPU_FP16)
                c.scale = 0;
            c.x = cx; c.weights = cw; c.y = o1;
            int err = npu_conv2d(&c);
            if (err) {
                printf("conv error %d\n", err);
                return 15;
            }
            c.y = o2;
            npu_conv2d_cpu(&c);
            if (compare("conv", o1, o2, out * eb)) {
                printf("conv shape %u prec %d\n", s, prec);
                return 16;
            }
        }
    }
    npu_alloc_release(mark);
    return 0;
}

static int errors(void)
{
    uint32_t d[8];
    uint32_t before = npu_issued();
    npu_cmd_compute(d, NPU_INT8, 0, 0, 0, 0, 1, npu_get_info()->rows + 1, 1);   /* k too big */
    npu_push(d);
    int err = npu_wait();
    uint32_t seq = 0;
    uint32_t code = npu_error(&seq);
    if (err != DURE_NPU_ERR_DIM_TOO_LARGE || code != DURE_NPU_ERR_DIM_TOO_LARGE ||
        seq != (before & 0xFFFFFF)) {
        printf("error report: %d %u seq %u (issued before %u)\n", err, code, seq, before);
        return 20;
    }
    npu_clear_error();
    if (npu_error(0) || npu_wait())
        return 21;
    return 0;
}

int main(void)
{
    int err = npu_init();
    if (err) {
        printf("npu_init: %d\n", err);
        return 1;
    }
    const struct npu_info *hw = npu_get_info();
    printf("NPU %ux%u fp16=%u gather=%u spad=%u acc=%u\n", hw->rows, hw->cols, hw->fp16,
           hw->gather, hw->spad_rows, hw->acc_rows);
    static const int outs[2][3] = {{NPU_OUT_INT8, NPU_OUT_INT32, NPU_OUT_FP16},
                                   {NPU_OUT_FP16, NPU_OUT_FP32, NPU_OUT_FP16}};
    int cases = 0;
    for (int round = 0; round < 6; round++) {
        for (int prec = NPU_INT8; prec <= NPU_FP16; prec++) {
            uint32_t m = 1 + rnd(prec == NPU_FP16 ? 12 : 20);
            uint32_t k = 1 + rnd(prec == NPU_FP16 ? 20 : 40);
            uint32_t n = 1 + rnd(prec == NPU_FP16 ? 18 : 30);
            int out = outs[prec][round % 3];
            if ((err = gemm_case(prec, out, m, k, n, round & 1)))
                return 100 + err;
            cases++;
        }
    }
    printf("gemm: %d random cases agree\n", cases);
    if ((err = layers()))
        return err;
    printf("layers: fc and conv2d agree\n");
    if ((err = errors()))
        return err;
    if ((err = npu_wait_irq()))
        return 30;
    printf("npu_selftest: pass\n");
    return 0;
}
