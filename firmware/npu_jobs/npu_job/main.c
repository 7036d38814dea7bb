/* npu_job: runs the job table that the host (dure.sim.npu_job) placed in main memory.
 *
 * The table format is generated from sim/npu_job.py into npu_job.h. For each layer: run it on
 * the NPU with npu_gemm (GEMM layers), npu_conv2d (convolution layers, whose im2col buffer
 * the driver allocates in the table's scratch range), by pushing a prepared descriptor list
 * (commands layers: the lowered operators of sim/conv_plan.py and its siblings) or by handing
 * such a list in main memory to the NPU as LISTs (list layers), timed with rdcycle, NPU performance
 * counters cleared before and read after; optionally run it again on the CPU reference path
 * (npu_gemm_cpu / npu_conv2d_cpu) into cpu_out and compare byte for byte; write the results
 * into the layer record and print one NPUJOB line. Exits with pass when
 * every layer succeeded (and agreed, when checked); failure 1: no job table or no NPU;
 * failure 2 + i: layer i failed (the layers before it are complete). */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"
#include "npu_job.h"
#include "npu_ops.h"

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

/* A convolution layer as the driver's struct: the table's clamp is NPU_ACT_CLAMP with lo / hi
 * (INT8 output: always, as for a GEMM; float output: when clamp is set). */
static void to_conv(const volatile struct npu_job_layer *l, struct npu_conv2d *c, void *out)
{
    c->prec = (int)l->prec;
    c->n = l->batch;
    c->h = l->h;
    c->w = l->w;
    c->cin = l->cin;
    c->cout = l->cout;
    c->kh = l->kh;
    c->kw = l->kw;
    c->stride = l->stride;
    c->pad = l->pad;
    c->x = (const void *)(uintptr_t)l->a;
    c->weights = (const void *)(uintptr_t)l->b;
    c->bias = (const void *)(uintptr_t)l->bias;
    c->scale = (const f32_t *)(uintptr_t)l->scale;
    c->zero_point = (int32_t)l->zero_point;
    c->pad_value = (int8_t)l->pad_value;
    c->act = (l->prec == NPU_INT8 || l->clamp) ? NPU_ACT_CLAMP : NPU_ACT_NONE;
    c->lo = l->lo;
    c->hi = l->hi;
    c->y = out;
}

/* A prepared descriptor list: m descriptors at a, pushed in order, then a FENCE. */
static int run_commands(const volatile struct npu_job_layer *l)
{
    const uint32_t *d = (const uint32_t *)(uintptr_t)l->a;
    volatile uint32_t *cmd = &NPU_REG(DURE_NPU_CMD0);
    for (uint32_t i = l->m; i; i--, d += 8) {
        /* all loads first, then the stores: the loads overlap instead of each waiting */
        uint32_t w0 = d[0], w1 = d[1], w2 = d[2], w3 = d[3];
        uint32_t w4 = d[4], w5 = d[5], w6 = d[6], w7 = d[7];
        cmd[0] = w0;
        cmd[1] = w1;
        cmd[2] = w2;
        cmd[3] = w3;
        cmd[4] = w4;
        cmd[5] = w5;
        cmd[6] = w6;
        cmd[7] = w7;
        NPU_REG(DURE_NPU_DOORBELL) = 1;
    }
    return npu_wait();
}

/* The layer on the NPU (cpu = 0) or on the CPU reference path (cpu = 1), output at out. */
static int run_kind(const volatile struct npu_job_layer *l, void *out, int cpu)
{
    if (l->kind == NPU_JOB_KIND_COMMANDS)
        return cpu ? NPU_E_ARG : run_commands(l);
    if (l->kind == NPU_JOB_KIND_LIST)   /* m descriptors at a, fetched by the NPU; then FENCE */
        return cpu || !l->m ? NPU_E_ARG : npu_op_run((const uint32_t *)(uintptr_t)l->a, l->m);
    if (l->kind == NPU_JOB_KIND_GEMM) {
        struct npu_gemm g;
        to_gemm(l, &g, out);
        return cpu ? npu_gemm_cpu(&g) : npu_gemm(&g);
    }
    if (l->kind == NPU_JOB_KIND_CONV2D) {
        /* npu_conv2d has int8 output for INT8 and fp16 for FP16; the table must agree */
        if (l->out_type != (l->prec == NPU_INT8 ? NPU_OUT_INT8 : NPU_OUT_FP16))
            return NPU_E_ARG;
        struct npu_conv2d c;
        to_conv(l, &c, out);
        return cpu ? npu_conv2d_cpu(&c) : npu_conv2d(&c);
    }
    return NPU_E_ARG;
}

/* Output rows and their bytes: the GEMM's M x N, or the convolution's batch*oh*ow x cout. */
static void out_shape(const volatile struct npu_job_layer *l, uint32_t *rows, uint32_t *bytes)
{
    if (l->kind == NPU_JOB_KIND_CONV2D) {
        struct npu_conv2d c;
        to_conv(l, &c, 0);
        *rows = c.n * npu_conv2d_out_h(&c) * npu_conv2d_out_w(&c);
        *bytes = c.cout * out_bytes(l->out_type);
    } else {
        *rows = l->m;
        *bytes = l->n * out_bytes(l->out_type);
    }
}

static int run_layer(uint32_t index, volatile struct npu_job_layer *l)
{
    struct npu_perf p;
    /* A LIST's list in on-chip RAM (dure.sim.npu_job places it there when the SoC's fetcher
     * has a path of its own and it fits): the DMA window spans main memory and RAM while it
     * runs (set outside the timed range), main memory alone otherwise. */
    int ram_list = l->kind == NPU_JOB_KIND_LIST && l->a >= DURE_RAM_BASE;
    if (ram_list)
        npu_set_window(DURE_MAIN_BASE, DURE_RAM_BASE + DURE_RAM_SIZE - DURE_MAIN_BASE);
    npu_perf_clear();
    uint32_t t0 = rdcycle();
    int err = run_kind(l, (void *)(uintptr_t)l->out, 0);
    uint32_t cycles = rdcycle() - t0;
    if (ram_list)
        npu_set_window(DURE_MAIN_BASE, DURE_MAIN_SIZE);
    npu_perf_read(&p);
    l->error = (uint32_t)err;
    l->cycles = cycles;
    const uint64_t counters[11] = {p.busy, p.macs, p.compute, p.dma_rd, p.dma_wr, p.stall_dep,
                                   p.stall_mem, p.stall_out, p.fill, p.gaps, p.drain};
    volatile uint32_t *perf = &l->perf_busy_lo;
    for (int i = 0; i < 11; i++) {
        perf[2 * i] = (uint32_t)counters[i];
        perf[2 * i + 1] = (uint32_t)(counters[i] >> 32);
    }
    uint32_t check = 0, cpu_cycles = 0;
    if (!err && (l->flags & NPU_JOB_FLAG_CPU_CHECK) && l->cpu_out) {
        t0 = rdcycle();
        err = run_kind(l, (void *)(uintptr_t)l->cpu_out, 1);
        cpu_cycles = rdcycle() - t0;
        check = 1;
        uint32_t rows, row;
        out_shape(l, &rows, &row);
        uint32_t stride = l->kind == NPU_JOB_KIND_CONV2D ? row : l->out_stride;  /* conv: dense */
        for (uint32_t i = 0; i < rows && !err && check == 1; i++) {
            const uint8_t *x = (const uint8_t *)(uintptr_t)(l->out + i * stride);
            const uint8_t *y = (const uint8_t *)(uintptr_t)(l->cpu_out + i * stride);
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
    /* Tables, operands and outputs all live in main memory (the job's buffers start right after
     * the table); the driver's allocator (im2col buffers) gets the range after them. */
    npu_alloc_init(h->scratch, h->scratch_size);
    uint32_t n = h->n_layers;
    for (uint32_t i = 0; i < n; i++) {
        if (run_layer(i, &layers[i]))
            return (int)(2 + i);
        h->done = i + 1;
    }
    return 0;
}
