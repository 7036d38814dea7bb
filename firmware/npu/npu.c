/* npu.c: NPU device access (registers, queue, fences, errors, counters), descriptor packing and
 * the main-memory buffer allocator. Register and field names come from npu_hw.h only. */
#include "npu.h"

#include "csr.h"
#include "dure_hw.h"
#include "npu_hw.h"

/* The selected tile's bit in the irq block (npu_tile_select; tile 0's is DURE_IRQ_ENABLE_NPU). */
#if NPU_MULTI_TILE
#define NPU_IRQ_BIT (1u << DURE_NPU_TILE_IRQ(npu_tile_current()))
#else
#define NPU_IRQ_BIT DURE_IRQ_ENABLE_NPU
#endif

static struct npu_info info;
static uintptr_t alloc_base = DURE_MAIN_BASE, alloc_end = DURE_MAIN_BASE + DURE_MAIN_SIZE;
static uintptr_t alloc_next = DURE_MAIN_BASE;

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
    info.gather = NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_GATHER);
    info.row_hazard = DURE_NPU_HAS_ROW_HAZARD;    /* timing only: not in the CONFIG word */
    info.spad_rows = 1u << NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_LOG2_SPAD_ROWS);
    info.acc_rows = 1u << NPU_FIELD_GET(cfg, DURE_NPU_CONFIG_LOG2_ACC_ROWS);
    info.lanes = info.rows > info.cols ? info.rows : info.cols;
    if (!info.rows || !info.cols)
        return NPU_E_NO_DEVICE;
    npu_set_window(DURE_MAIN_BASE, DURE_MAIN_SIZE);
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

uint32_t npu_error_index(void)
{
    return NPU_REG(DURE_NPU_ERROR_INDEX);
}

uint32_t npu_run_list(const uint32_t *list, unsigned count)
{
    uint32_t d[8];
    npu_cmd_list(d, (uint32_t)(uintptr_t)list, count);
    uint32_t seq = NPU_REG(DURE_NPU_ISSUED);
    npu_push(d);
    return seq;
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
    IRQ_ENABLE = IRQ_ENABLE | NPU_IRQ_BIT;
    irq_source_enable(MIE_MEIE);
    uint32_t d[8];
    npu_cmd_fence(d, 1);
    npu_push(d);
    while (!(NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_FENCE_IRQ))
        wfi();
    NPU_REG(DURE_NPU_STATUS) = DURE_NPU_STATUS_FENCE_IRQ;
    irq_source_disable(MIE_MEIE);
    IRQ_ENABLE = IRQ_ENABLE & ~NPU_IRQ_BIT;
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
    p->fill = read64(DURE_NPU_PERF_FILL_LO);
    p->gaps = read64(DURE_NPU_PERF_GAPS_LO);
    p->drain = read64(DURE_NPU_PERF_DRAIN_LO);
}

void npu_perf_clear(void)
{
    NPU_REG(DURE_NPU_CONTROL) = NPU_REG(DURE_NPU_CONTROL) | DURE_NPU_CONTROL_PERF_CLEAR;
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

size_t npu_alloc_free(size_t align)
{
    if (align < 4)
        align = 4;
    uintptr_t at = (alloc_next + align - 1) & ~(uintptr_t)(align - 1);
    return at < alloc_next || at >= alloc_end ? 0 : alloc_end - at;
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
