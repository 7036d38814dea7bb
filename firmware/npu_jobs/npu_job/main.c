/* npu_job: runs the job table that the host (dure.sim.npu_job) placed in main memory.
 *
 * The table format is generated from sim/npu_job.py into npu_job.h. For each layer: run it on
 * the NPU with npu_gemm (timed with rdcycle, NPU performance counters cleared before and read
 * after), optionally run it again on the CPU reference path into cpu_out and compare byte for
 * byte; write the results into the layer record and print one NPUJOB line. Exits with pass when
 * every layer succeeded (and agreed, when checked); failure 1: no job table or no NPU;
 * failure 2 + i: layer i failed (the layers before it are complete). */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"
#include "npu_job.h"

static uint32_t out_bytes(uint32_t out_type)
{
    return out_type == NPU_OUT_INT8 ? 1 : out_type == NPU_OUT_FP16 ? 2 : 4;
}

static void to_gemm(const volatile struct npu_job_layer *l, struct npu_gemm *g, void *out)
{
    npu_gemm_init(g, (int)l->prec, l->m, l->k, l->n, (const void *)(uintptr_t)l->a,
                  (const void *)(uintptr_t)l->b, out, (int)l->out_type);
    g->a_stride = l->a_stride;
    g->b_stride = l->b_stride;
    g->out_stride = l->out_stride;
    g->bias = (const void *)(uintptr_t)l->bias;
    g->scale = (const f32_t *)(uintptr_t)l->scale;
    g->zero_point = (int32_t)l->zero_point;
    g->clamp = (int)l->clamp;
    g->lo = l->lo;
    g->hi = l->hi;
}

static int run_layer(uint32_t index, volatile struct npu_job_layer *l)
{
    struct npu_gemm g;
    to_gemm(l, &g, (void *)(uintptr_t)l->out);
    struct npu_perf p;
    npu_perf_clear();
    uint32_t t0 = rdcycle();
    int err = npu_gemm(&g);
    uint32_t cycles = rdcycle() - t0;
    npu_perf_read(&p);
    l->error = (uint32_t)err;
    l->cycles = cycles;
    const uint64_t counters[8] = {p.busy, p.macs, p.compute, p.dma_rd, p.dma_wr, p.stall_dep,
                                  p.stall_mem, p.stall_out};
    volatile uint32_t *perf = &l->perf_busy_lo;
    for (int i = 0; i < 8; i++) {
        perf[2 * i] = (uint32_t)counters[i];
        perf[2 * i + 1] = (uint32_t)(counters[i] >> 32);
    }
    uint32_t check = 0, cpu_cycles = 0;
    if (!err && (l->flags & NPU_JOB_FLAG_CPU_CHECK) && l->cpu_out) {
        struct npu_gemm c;
        to_gemm(l, &c, (void *)(uintptr_t)l->cpu_out);
        t0 = rdcycle();
        err = npu_gemm_cpu(&c);
        cpu_cycles = rdcycle() - t0;
        check = 1;
        uint32_t row = l->n * out_bytes(l->out_type);
        for (uint32_t i = 0; i < l->m && !err && check == 1; i++) {
            const uint8_t *x = (const uint8_t *)(uintptr_t)(l->out + i * l->out_stride);
            const uint8_t *y = (const uint8_t *)(uintptr_t)(l->cpu_out + i * l->out_stride);
            for (uint32_t j = 0; j < row; j++) {
                if (x[j] != y[j]) {
                    printf("NPUJOB-MISMATCH layer=%u row=%u byte=%u npu=%02x cpu=%02x\n",
                           index, i, j, x[j], y[j]);
                    check = 2;
                    break;
                }
            }
        }
        l->error = (uint32_t)err;
    }
    l->check = check;
    l->cpu_cycles = cpu_cycles;
    l->status = 1;
    printf("NPUJOB layer=%u err=%d cycles=%u macs=%u busy=%u compute=%u dma_rd=%u dma_wr=%u "
           "stall_dep=%u stall_mem=%u stall_out=%u check=%u cpu_cycles=%u\n",
           index, err, cycles, (uint32_t)p.macs, (uint32_t)p.busy, (uint32_t)p.compute,
           (uint32_t)p.dma_rd, (uint32_t)p.dma_wr, (uint32_t)p.stall_dep,
           (uint32_t)p.stall_mem, (uint32_t)p.stall_out, check, cpu_cycles);
    return err || check == 2;
}

int main(void)
{
    volatile struct npu_job_header *h = (volatile struct npu_job_header *)NPU_JOB_TABLE_ADDR;
    volatile struct npu_job_layer *layers = (volatile struct npu_job_layer *)(h + 1);
    if (h->magic != NPU_JOB_MAGIC || h->version != NPU_JOB_VERSION) {
        printf("NPUJOB-ERROR no job table at %p (magic %08x version %u)\n", (void *)h,
               (unsigned)h->magic, (unsigned)h->version);
        return 1;
    }
    int err = npu_init();
    if (err) {
        printf("NPUJOB-ERROR npu_init %d\n", err);
        return 1;
    }
    /* Tables, operands and outputs all live in main memory; the driver's allocator is not used
     * (the job's buffers start right after the table). */
    uint32_t n = h->n_layers;
    for (uint32_t i = 0; i < n; i++) {
        if (run_layer(i, &layers[i]))
            return (int)(2 + i);
        h->done = i + 1;
    }
    return 0;
}
