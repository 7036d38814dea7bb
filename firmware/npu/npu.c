/* npu.c: NPU device access (registers, queue, fences, errors, counters), descriptor packing and
 * the main-memory buffer allocator. Register and field names come from npu_hw.h only. */
#include "npu.h"

#include "csr.h"
#include "dure_hw.h"
#include "npu_hw.h"

static struct npu_info info;
static uintptr_t alloc_base = DURE_MAIN_BASE, alloc_end = DURE_MAIN_BASE + DURE_MAIN_SIZE;
static uintptr_t alloc_next = DURE_MAIN_BASE;
/* CMD0..7 keep their values after a DOORBELL: npu_push rewrites only the words that differ
 * from the last descriptor (the shadow is valid after the first push following npu_init). */
static uint32_t shadow[8];
static int shadow_valid;

/* --- device ------------------------------------------------------------------------------- */

int npu_init(void)
{
    if (!DURE_NPU_PRESENT)                   /* the region answers bus errors: do not touch it */
        return NPU_E_NO_DEVICE;
    if (NPU_REG(DURE_NPU_ID) != DURE_NPU_ID_MAGIC)
        return NPU_E_NO_DEVICE;
    uint32_t cfg = NPU_REG(DURE_NPU_CONFIG);
    info.rows = NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_ROWS);
    info.cols = NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_COLS);
    info.fp16 = NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_FP16);
    info.spad_rows = 1u << NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_LOG2_SPAD_ROWS);
    info.acc_rows = 1u << NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_LOG2_ACC_ROWS);
    info.lanes = info.rows > info.cols ? info.rows : info.cols;
    if (!info.rows || !info.cols)
        return NPU_E_NO_DEVICE;
    npu_set_window(DURE_MAIN_BASE, DURE_MAIN_SIZE);
    shadow_valid = 0;
    NPU_REG(DURE_NPU_STATUS) = DURE_NPU_STATUS_ERROR | DURE_NPU_STATUS_FENCE_IRQ;
    return 0;
}

const struct npu_info *npu_get_info(void)
{
    return &info;
}

void npu_set_window(uint32_t base, uint32_t size)
{
    NPU_REG(DURE_NPU_DMA_BASE) = base;
    NPU_REG(DURE_NPU_DMA_SIZE) = size;
}

void npu_push(const uint32_t desc[8])
{
    for (int i = 0; i < 8; i++) {
        if (!shadow_valid || shadow[i] != desc[i]) {
            NPU_REG(DURE_NPU_CMD0 + 4u * (uint32_t)i) = desc[i];
            shadow[i] = desc[i];
        }
    }
    shadow_valid = 1;
    NPU_REG(DURE_NPU_DOORBELL) = 1;      /* held off by the bus while the queue is full */
}

int npu_queue_full(void)
{
    return (NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_QUEUE_FULL) != 0;
}

int npu_busy(void)
{
    return (NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_BUSY) != 0;
}

uint32_t npu_error(uint32_t *seq)
{
    if (!(NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_ERROR))
        return 0;
    uint32_t e = NPU_REG(DURE_NPU_ERROR);
    if (seq)
        *seq = NPU_FIELD_GET(e, DURE_NPU_ERROR_SEQ);
    return NPU_FIELD_GET(e, DURE_NPU_ERROR_CODE);
}

void npu_clear_error(void)
{
    NPU_REG(DURE_NPU_STATUS) = DURE_NPU_STATUS_ERROR;
}

uint32_t npu_issued(void)
{
    return NPU_REG(DURE_NPU_ISSUED);
}

uint32_t npu_done(void)
{
    return NPU_REG(DURE_NPU_DONE);
}

int npu_wait(void)
{
    uint32_t d[8];
    npu_cmd_fence(d, 0);
    npu_push(d);
    while (npu_busy())
        ;
    return (int)npu_error(0);
}

int npu_wait_irq(void)
{
    /* The NPU's line is level-sensitive (STATUS.fence_irq & CONTROL.irq_fence). Global
     * interrupts stay off: WFI wakes on a pending interrupt enabled in mie anyway, and no
     * handler runs. */
    uint32_t old = irq_disable();
    NPU_REG(DURE_NPU_STATUS) = DURE_NPU_STATUS_FENCE_IRQ;
    NPU_REG(DURE_NPU_CONTROL) = NPU_REG(DURE_NPU_CONTROL) | DURE_NPU_CONTROL_IRQ_FENCE;
    IRQ_ENABLE = IRQ_ENABLE | DURE_IRQ_ENABLE_NPU;
    irq_source_enable(MIE_MEIE);
    uint32_t d[8];
    npu_cmd_fence(d, 1);
    npu_push(d);
    while (!(NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_FENCE_IRQ))
        wfi();
    NPU_REG(DURE_NPU_STATUS) = DURE_NPU_STATUS_FENCE_IRQ;
    irq_source_disable(MIE_MEIE);
    IRQ_ENABLE = IRQ_ENABLE & ~DURE_IRQ_ENABLE_NPU;
    NPU_REG(DURE_NPU_CONTROL) = NPU_REG(DURE_NPU_CONTROL) & ~DURE_NPU_CONTROL_IRQ_FENCE;
    irq_restore(old);
    return (int)npu_error(0);
}

static uint64_t read64(uint32_t lo_offset)
{
    uint32_t lo = NPU_REG(lo_offset);           /* latches HI */
    uint32_t hi = NPU_REG(lo_offset + 4);
    return (uint64_t)hi << 32 | lo;
}

void npu_perf_read(struct npu_perf *p)
{
    p->busy = read64(DURE_NPU_PERF_BUSY_LO);
    p->macs = read64(DURE_NPU_PERF_MACS_LO);
    p->compute = read64(DURE_NPU_PERF_COMPUTE_LO);
    p->dma_rd = read64(DURE_NPU_PERF_DMA_RD_LO);
    p->dma_wr = read64(DURE_NPU_PERF_DMA_WR_LO);
    p->stall_dep = read64(DURE_NPU_PERF_STALL_DEP_LO);
    p->stall_mem = read64(DURE_NPU_PERF_STALL_MEM_LO);
    p->stall_out = read64(DURE_NPU_PERF_STALL_OUT_LO);
}

void npu_perf_clear(void)
{
    NPU_REG(DURE_NPU_CONTROL) = NPU_REG(DURE_NPU_CONTROL) | DURE_NPU_CONTROL_PERF_CLEAR;
}

/* --- descriptors -------------------------------------------------------------------------- */

static void clear(uint32_t d[8])
{
    for (int i = 0; i < 8; i++)
        d[i] = 0;
}

void npu_cmd_load(uint32_t d[8], int target, int elem, int broadcast, uint32_t dram_addr,
                  uint32_t stride, uint32_t rows, uint32_t cols, uint32_t local_addr)
{
    clear(d);
    d[0] = DURE_NPU_OP_LOAD;
    NPU_DESC_SET(d, LOAD, TARGET, target);
    NPU_DESC_SET(d, LOAD, ELEM, elem);
    NPU_DESC_SET(d, LOAD, BROADCAST, broadcast);
    NPU_DESC_SET(d, LOAD, DRAM_ADDR, dram_addr);
    NPU_DESC_SET(d, LOAD, DRAM_STRIDE, stride);
    NPU_DESC_SET(d, LOAD, ROWS, rows);
    NPU_DESC_SET(d, LOAD, COLS, cols);
    NPU_DESC_SET(d, LOAD, LOCAL_ADDR, local_addr);
}

void npu_cmd_compute(uint32_t d[8], int prec, int accumulate, uint32_t a_addr,
                     uint32_t w_addr, uint32_t acc_addr, uint32_t m, uint32_t k, uint32_t n)
{
    clear(d);
    d[0] = DURE_NPU_OP_COMPUTE;
    NPU_DESC_SET(d, COMPUTE, PRECISION, prec);
    NPU_DESC_SET(d, COMPUTE, ACCUMULATE, accumulate);
    NPU_DESC_SET(d, COMPUTE, A_ADDR, a_addr);
    NPU_DESC_SET(d, COMPUTE, W_ADDR, w_addr);
    NPU_DESC_SET(d, COMPUTE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, COMPUTE, M, m);
    NPU_DESC_SET(d, COMPUTE, K, k);
    NPU_DESC_SET(d, COMPUTE, N, n);
}

void npu_cmd_store(uint32_t d[8], int out, int acc_type, int scale, int clamp,
                   int32_t zero_point, uint32_t dram_addr, uint32_t stride, uint32_t rows,
                   uint32_t cols, uint32_t acc_addr, uint32_t scale_addr, uint32_t lo,
                   uint32_t hi)
{
    clear(d);
    d[0] = DURE_NPU_OP_STORE;
    NPU_DESC_SET(d, STORE, OUT, out);
    NPU_DESC_SET(d, STORE, ACC_TYPE, acc_type);
    NPU_DESC_SET(d, STORE, SCALE, scale);
    NPU_DESC_SET(d, STORE, CLAMP, clamp);
    NPU_DESC_SET(d, STORE, ZERO_POINT, (uint32_t)zero_point);
    NPU_DESC_SET(d, STORE, DRAM_ADDR, dram_addr);
    NPU_DESC_SET(d, STORE, DRAM_STRIDE, stride);
    NPU_DESC_SET(d, STORE, ROWS, rows);
    NPU_DESC_SET(d, STORE, COLS, cols);
    NPU_DESC_SET(d, STORE, ACC_ADDR, acc_addr);
    NPU_DESC_SET(d, STORE, SCALE_ADDR, scale_addr);
    NPU_DESC_SET(d, STORE, LO, lo);
    NPU_DESC_SET(d, STORE, HI, hi);
}

void npu_cmd_fence(uint32_t d[8], int irq)
{
    clear(d);
    d[0] = DURE_NPU_OP_FENCE;
    NPU_DESC_SET(d, FENCE, IRQ, irq);
}

/* --- main-memory buffers ------------------------------------------------------------------ */

void npu_alloc_init(uintptr_t base, size_t size)
{
    alloc_base = alloc_next = base;
    alloc_end = base + size;
}

void npu_alloc_reset(void)
{
    alloc_next = alloc_base;
}

void *npu_alloc(size_t bytes, size_t align)
{
    if (align < 4)
        align = 4;
    uintptr_t at = (alloc_next + align - 1) & ~(uintptr_t)(align - 1);
    if (at < alloc_next || at > alloc_end || bytes > alloc_end - at)
        return 0;
    alloc_next = at + bytes;
    return (void *)at;
}

void *npu_alloc_mark(void)
{
    return (void *)alloc_next;
}

void npu_alloc_release(void *mark)
{
    uintptr_t at = (uintptr_t)mark;
    if (at >= alloc_base && at <= alloc_next)
        alloc_next = at;
}
