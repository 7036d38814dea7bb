/* npu_list: pushes a list of NPU descriptors that the host (dure.compiler.soc) placed in main
 * memory, in order, then waits for the NPU to finish: the NPU layers of a compiled model.
 *
 * The list header lies in the last 64 bytes of main memory (words): 0 magic "LIST", 1 number
 * of descriptors, 2 address of the first descriptor (8 words each); written back: 3 the NPU
 * error code (0: none), 4 the ERROR register's sequence number, 5/6 cycles from the first push
 * to idle (low, high), 7/8 PERF_MACS, 9/10 PERF_BUSY, 11/12 DMA bytes read, 13/14 written.
 * Exits with pass when every descriptor was accepted and executed; failure 1: no header or no
 * NPU; failure 2: the NPU reported an error. */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"

#define LIST_MAGIC 0x5453494Cu   /* "LIST" little-endian */

static void put64(volatile uint32_t *p, uint64_t v)
{
    p[0] = (uint32_t)v;
    p[1] = (uint32_t)(v >> 32);
}

int main(void)
{
    volatile uint32_t *h = (volatile uint32_t *)(uintptr_t)(DURE_MAIN_BASE + DURE_MAIN_SIZE - 64u);
    if (h[0] != LIST_MAGIC || npu_init() != 0)
        return 1;
    const uint32_t *words = (const uint32_t *)(uintptr_t)h[2];
    uint32_t count = h[1];
    npu_perf_clear();
    uint64_t t0 = rdcycle64();
    for (uint32_t i = 0; i < count; i++)
        npu_push(words + 8u * i);
    int err = npu_wait();
    uint64_t t1 = rdcycle64();
    struct npu_perf perf;
    npu_perf_read(&perf);
    uint32_t seq = 0;
    h[3] = (uint32_t)err;
    h[4] = err ? (npu_error(&seq), seq) : 0;
    put64(h + 5, t1 - t0);
    put64(h + 7, perf.macs);
    put64(h + 9, perf.busy);
    put64(h + 11, perf.dma_rd);
    put64(h + 13, perf.dma_wr);
    return err ? 2 : 0;
}
