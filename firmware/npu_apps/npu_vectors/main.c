/* npu_vectors: GEMM and conv2d cases whose inputs and golden outputs were computed in Python
 * (dure.sim.golden, dure.sim.verif.npu_vectors -> npu_test_data.h). Each case runs on the
 * NPU and on the CPU reference path; both outputs must equal the golden bytes. Failure 10 * i
 * + 1 (NPU) or + 2 (CPU) names the case. Prints one line per case with the NPU's cycles, MACs
 * per cycle and counters. With NPU_VECTORS_NO_CPU defined (npu_vectors_npu) the CPU path is
 * skipped, for short runs on the simulated SoC; the end waits for a FENCE by interrupt. */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"
#include "npu_test_data.h"

static uint32_t esize(uint32_t prec)
{
    return prec == NPU_FP16 ? 2 : 1;
}

static void *copy_main(const void *src, uint32_t bytes)
{
    if (!src)
        return 0;
    void *dst = npu_alloc(bytes, 4);
    if (dst)
        memcpy(dst, src, bytes);
    return dst;
}

static int same(const char *what, int i, const uint8_t *got, const uint8_t *want, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) {
        if (got[j] != want[j]) {
            printf("case %d %s: byte %u got %02x want %02x\n", i, what, j, got[j], want[j]);
            return 0;
        }
    }
    return 1;
}

static int run_case(int i, const struct npu_vec_case *c)
{
    void *mark = npu_alloc_mark();
    const uint32_t *cv = c->conv;
    int is_conv = cv[0] != 0;
    uint32_t eb = esize(c->prec);
    uint32_t a_rows = is_conv ? cv[0] * cv[1] * cv[2] : c->m;
    uint32_t a_cols = is_conv ? cv[3] : c->k;
    void *a = copy_main(c->a, a_rows * a_cols * eb);
    void *b = copy_main(c->b, c->k * c->n * eb);
    void *bias = copy_main(c->bias, 4 * c->n);
    f32_t *scale = copy_main(c->scale, 4 * c->n);
    uint8_t *out = npu_alloc(c->expect_bytes, 4);
    if (!a || !b || !out)
        return 10 * i + 3;
    struct npu_conv2d conv = {0};
    struct npu_gemm g;
    if (is_conv) {
        conv = (struct npu_conv2d){.prec = (int)c->prec, .n = cv[0], .h = cv[1], .w = cv[2],
                                   .cin = cv[3], .cout = cv[4], .kh = cv[5], .kw = cv[5],
                                   .stride = cv[6], .pad = cv[7], .pad_value = (int8_t)cv[8],
                                   .x = a, .weights = b, .bias = bias, .scale = scale,
                                   .zero_point = c->zp, .act = NPU_ACT_CLAMP, .lo = c->lo,
                                   .hi = c->hi, .y = out};
    } else {
        npu_gemm_init(&g, (int)c->prec, c->m, c->k, c->n, a, b, out, (int)c->out);
        g.bias = bias;
        g.scale = scale;
        g.zero_point = c->zp;
        g.clamp = (int)c->clamp;
        g.lo = c->lo;
        g.hi = c->hi;
    }
    memset(out, 0x5A, c->expect_bytes);
    struct npu_perf perf;
    npu_perf_clear();
    uint32_t t0 = rdcycle();
    int err = is_conv ? npu_conv2d(&conv) : npu_gemm(&g);
    uint32_t cycles = rdcycle() - t0;
    npu_perf_read(&perf);
    if (err) {
        printf("case %d: NPU error %d\n", i, err);
        return 10 * i + 1;
    }
    if (!same("npu", i, out, c->expect, c->expect_bytes))
        return 10 * i + 1;
    uint32_t macs = c->m * c->k * c->n;
    uint32_t milli = (uint32_t)udiv64_32((uint64_t)macs * 1000, cycles ? cycles : 1, 0);
    printf("NPU case %d %s p%u %ux%ux%u cycles=%u macs=%u macs_per_cycle=%u.%03u "
           "npu_busy=%u dma_rd=%u dma_wr=%u\n", i, is_conv ? "conv" : "gemm", c->prec, c->m,
           c->k, c->n, cycles, macs, milli / 1000, milli % 1000, (uint32_t)perf.busy,
           (uint32_t)perf.dma_rd, (uint32_t)perf.dma_wr);
#ifndef NPU_VECTORS_NO_CPU
    memset(out, 0x5A, c->expect_bytes);
    err = is_conv ? npu_conv2d_cpu(&conv) : npu_gemm_cpu(&g);
    if (err || !same("cpu", i, out, c->expect, c->expect_bytes))
        return 10 * i + 2;
#endif
    npu_alloc_release(mark);
    return 0;
}

int main(void)
{
    if (npu_init()) {
        puts("no NPU");
        return 1;
    }
    for (int i = 0; i < NPU_VEC_COUNT; i++) {
        int err = run_case(i, &npu_vec_cases[i]);
        if (err)
            return err;
    }
    if (npu_wait_irq())
        return 1000;
#ifdef NPU_VECTORS_NO_CPU
    printf("npu_vectors: %d cases pass on the NPU\n", NPU_VEC_COUNT);
#else
    printf("npu_vectors: %d cases pass on the NPU and the CPU path\n", NPU_VEC_COUNT);
#endif
    return 0;
}
