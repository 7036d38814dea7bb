/* npu_layer: NHWC layers lowered on the core. Python (sim/npu_layer_job.py) places a table of
 * layers and their operands in main memory; per layer this program builds the descriptor list
 * and the parameter bytes with the C operators of npu_ops.h (npu_op_conv2d, npu_op_depthwise,
 * npu_op_avgpool, npu_op_maxpool, npu_op_add_int8) and runs it, and writes the results and the
 * NPU's performance counters back into the table. Per layer, first the parameter bytes (re-laid weights, folded bias,
 * requantization rows: offline work, timed apart as params) and the list's size; then,
 * timed with rdcycle as the layer's cycles, the list is built with streaming on (each finished
 * part runs as a LIST while the core builds the next) and the program waits for the NPU.
 * Prints
 *   NPULAYER layer=I err=E count=N cycles=C build=B params=P
 * per layer (build: the cycles until the last part was handed on); exits with pass when every layer ran without error, failure 1 without a table or
 * an NPU, failure 2 + i when layer i failed. */
#include "csr.h"
#include "dure_rt.h"
#include "npu_layer.h"
#include "npu_ops.h"

/* The list and the parameter bytes go to on-chip RAM when they fit (the core writes and reads
 * it in a cycle, main memory in ~10), else to the table's main-memory buffers; the NPU's DMA
 * window spans main memory and RAM so that it reads either. */
#define RAM_LIST 1536u                  /* descriptors */
#define RAM_PARAM (80u * 1024u)         /* bytes */
static uint32_t ram_list[8 * RAM_LIST] __attribute__((aligned(16)));
static uint32_t ram_param[RAM_PARAM / 4] __attribute__((aligned(16)));

/* The layer's list into list (NULL: only its size) with the parameter bytes at param, written
 * there when write_param is set. */
static int build(volatile struct npu_layer_rec *r, uint32_t *list, uint32_t cap, void *param,
                 uint32_t param_cap, int write_param)
{
    struct npu_op_mem mem = {r->x, r->out, (uint32_t)(uintptr_t)param,
                             write_param ? param : 0, param_cap};
    struct npu_op_post post = {(int32_t)r->output_zero_point, (int32_t)r->lo, (int32_t)r->hi,
                               (int)r->clamp, r->flo, r->fhi};
    if (r->op == NPU_LAYER_OP_AVGPOOL) {
        struct npu_op_pool op = {(int)r->prec, r->batch, r->h, r->w, r->cin, r->kh, r->kw,
                                 r->stride_h, r->stride_w, (int)r->padding, post, mem};
        return npu_op_avgpool(&op, list, cap);
    }
    if (r->op == NPU_LAYER_OP_MAXPOOL) {
        struct npu_op_pool op = {(int)r->prec, r->batch, r->h, r->w, r->cin, r->kh, r->kw,
                                 r->stride_h, r->stride_w, (int)r->padding, post, mem};
        return npu_op_maxpool(&op, list, cap);
    }
    if (r->op == NPU_LAYER_OP_ADD) {
        /* INT8 ADD: weights is the second input; multiplier / shift: input 1, 2, output */
        const int32_t *m = (const int32_t *)(uintptr_t)r->multiplier;
        const int32_t *sh = (const int32_t *)(uintptr_t)r->shift;
        if (r->prec != NPU_INT8 || !m || !sh)
            return NPU_E_ARG;
        struct npu_op_add_int8 op = {r->batch * r->h * r->w * r->cin, r->x, r->weights,
                                     (int32_t)r->input_zero_point,
                                     (int32_t)r->input2_zero_point, 20, m[0], sh[0], m[1],
                                     sh[1], m[2], sh[2], post, mem};
        return npu_op_add_int8(&op, list, cap);
    }
    struct npu_op_conv op;
    op.prec = (int)r->prec;
    op.n = r->batch;
    op.h = r->h;
    op.w = r->w;
    op.cin = r->cin;
    op.cout = r->cout;
    op.kh = r->kh;
    op.kw = r->kw;
    op.stride_h = r->stride_h;
    op.stride_w = r->stride_w;
    op.dilation_h = op.dilation_w = op.depth_multiplier = 1;
    op.padding = (int)r->padding;
    op.weights = (const void *)(uintptr_t)r->weights;
    op.bias = (const void *)(uintptr_t)r->bias;
    op.input_zero_point = (int32_t)r->input_zero_point;
    op.multiplier = (const int32_t *)(uintptr_t)r->multiplier;
    op.shift = (const int32_t *)(uintptr_t)r->shift;
    op.scale = (const f32_t *)(uintptr_t)r->scale;
    op.post = post;
    op.mem = mem;
    if (r->op == NPU_LAYER_OP_DEPTHWISE)
        return npu_op_depthwise(&op, list, cap);
    if (r->op == NPU_LAYER_OP_CONV)
        return npu_op_conv2d(&op, list, cap);
    return NPU_E_ARG;
}

int main(void)
{
    volatile struct npu_layer_header *h =
        (volatile struct npu_layer_header *)(uintptr_t)NPU_LAYER_TABLE_ADDR;
    if (h->magic != NPU_LAYER_MAGIC || npu_init())
        return 1;
    npu_set_window(DURE_MAIN_BASE, DURE_RAM_BASE + DURE_RAM_SIZE - DURE_MAIN_BASE);
    volatile struct npu_layer_rec *recs = (volatile struct npu_layer_rec *)(h + 1);
    for (uint32_t i = 0; i < h->n_layers; i++) {
        volatile struct npu_layer_rec *r = &recs[i];
        /* the parameter bytes (offline work: timed apart) and the list's size */
        npu_op_stream_lists(0);
        uint32_t t0 = rdcycle();
        void *param = ram_param;
        uint32_t param_cap = RAM_PARAM;
        int need = build(r, 0, 0, param, param_cap, 1);
        if (need == NPU_E_NO_MEMORY) {
            param = (void *)(uintptr_t)r->param;
            param_cap = r->param_cap;
            need = build(r, 0, 0, param, param_cap, 1);
        }
        uint32_t *list = ram_list;
        uint32_t cap = RAM_LIST;
        if (need > 0 && (uint32_t)need > RAM_LIST) {
            list = (uint32_t *)(uintptr_t)r->list;
            cap = r->list_cap;
        }
        /* the layer: the list built part by part, each part running as a LIST while the
         * next is built, then the final wait */
        struct npu_perf p;
        npu_perf_clear();
        npu_op_stream_lists(1);
        uint32_t t1 = rdcycle();
        int count = need < 0 ? need : build(r, list, cap, param, param_cap, 0);
        uint32_t t2 = rdcycle();
        int err = count < 0 ? count : npu_wait();
        uint32_t t3 = rdcycle();
        npu_op_stream_lists(0);
        npu_perf_read(&p);
        r->status = 1;
        r->error = (uint32_t)err;
        r->count = count < 0 ? 0 : (uint32_t)count;
        r->cycles = t3 - t1;
        r->build_cycles = t2 - t1;
        r->param_cycles = t1 - t0;
        const uint64_t v[11] = {p.busy, p.macs, p.compute, p.dma_rd, p.dma_wr, p.stall_dep,
                                p.stall_mem, p.stall_out, p.fill, p.gaps, p.drain};
        volatile uint32_t *perf = &r->perf_busy_lo;
        for (int k = 0; k < 11; k++) {
            perf[2 * k] = (uint32_t)v[k];
            perf[2 * k + 1] = (uint32_t)(v[k] >> 32);
        }
        printf("NPULAYER layer=%u err=%d count=%d cycles=%u build=%u params=%u\n", i, err,
               count < 0 ? 0 : count, t3 - t1, t2 - t1, t1 - t0);
        h->done = i + 1;
        if (err)
            return 2 + (int)i;
    }
    return 0;
}
