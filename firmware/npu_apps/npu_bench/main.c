/* npu_bench: large GEMMs on the NPU (INT8 and FP16), timed with rdcycle and the NPU's own
 * performance counters; prints one line per GEMM:
 *   BENCH npu_gemm_<prec>_<M>x<K>x<N> cycles=C macs=M macs_per_cycle=X.XXX busy=B dma_rd=R ...
 * One to three output rows are recomputed on the CPU reference path (the whole matrix would
 * take the soft-float path far too long) and must agree bit for bit. */
#include "bench_util.h"
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"

static uint32_t seed = 99u;

static int bench(int prec, uint32_t m, uint32_t k, uint32_t n, int check_rows)
{
    void *mark = npu_alloc_mark();
    uint32_t eb = prec == NPU_FP16 ? 2 : 1;
    int out_type = prec == NPU_FP16 ? NPU_OUT_FP16 : NPU_OUT_INT8;
    uint8_t *a = npu_alloc(m * k * eb, 16), *b = npu_alloc(k * n * eb, 16);
    uint8_t *out = npu_alloc(m * n * eb, 16), *ref = npu_alloc(m * n * eb, 16);
    f32_t *scale = npu_alloc(4 * n, 16);
    if (!a || !b || !out || !ref || !scale)
        return 1;
    /* random words (main memory is slow for byte stores); fp16 operands kept finite and
     * moderate by clearing exponent bits (0xBBFF per half) */
    uint32_t keep = prec == NPU_FP16 ? 0xBBFFBBFFu : 0xFFFFFFFFu;
    for (uint32_t i = 0; i < m * k * eb / 4; i++)
        ((uint32_t *)a)[i] = xorshift32(&seed) & keep;
    for (uint32_t i = 0; i < k * n * eb / 4; i++)
        ((uint32_t *)b)[i] = xorshift32(&seed) & keep;
    for (uint32_t j = 0; j < n; j++)
        scale[j] = prec == NPU_FP16 ? 0x3F800000u : 0x3A800000u;   /* 1.0 / 2^-10 */
    struct npu_gemm g;
    npu_gemm_init(&g, prec, m, k, n, a, b, out, out_type);
    g.scale = scale;
    struct npu_perf p;
    npu_perf_clear();
    uint32_t t0 = rdcycle();
    int err = npu_gemm(&g);
    uint32_t cycles = rdcycle() - t0;
    npu_perf_read(&p);
    if (err) {
        printf("npu_gemm error %d\n", err);
        return 2;
    }
    uint32_t macs = m * k * n;
    uint32_t milli = (uint32_t)udiv64_32((uint64_t)macs * 1000, cycles, 0);
    printf("BENCH npu_gemm_%s_%ux%ux%u cycles=%u macs=%u macs_per_cycle=%u.%03u busy=%u "
           "compute=%u dma_rd=%u dma_wr=%u stall_dep=%u stall_mem=%u stall_out=%u\n",
           prec == NPU_FP16 ? "fp16" : "int8", m, k, n, cycles, macs, milli / 1000,
           milli % 1000, (uint32_t)p.busy, (uint32_t)p.compute, (uint32_t)p.dma_rd,
           (uint32_t)p.dma_wr, (uint32_t)p.stall_dep, (uint32_t)p.stall_mem,
           (uint32_t)p.stall_out);
    /* recompute rows 0, m/2 and m-1 on the CPU */
    uint32_t rows[3] = {0, m / 2, m - 1};
    for (int r = 0; r < check_rows; r++) {
        struct npu_gemm row = g;
        row.m = 1;
        row.a = a + rows[r] * g.a_stride;
        row.out = ref + rows[r] * g.out_stride;
        npu_gemm_cpu(&row);
        const uint8_t *x = out + rows[r] * g.out_stride, *y = ref + rows[r] * g.out_stride;
        for (uint32_t j = 0; j < n * eb; j++) {
            if (x[j] != y[j]) {
                printf("row %u byte %u: npu %02x cpu %02x\n", rows[r], j, x[j], y[j]);
                return 3;
            }
        }
    }
    npu_alloc_release(mark);
    return 0;
}

int main(void)
{
    if (npu_init())
        return 1;
    int err;
    if ((err = bench(NPU_INT8, 256, 64, 64, 2)))
        return 10 + err;
    if ((err = bench(NPU_INT8, 64, 256, 32, 1)))
        return 20 + err;
    if (npu_get_info()->fp16 && (err = bench(NPU_FP16, 128, 64, 32, 1)))
        return 30 + err;
    return 0;
}
