/* npu_program: runs the NPU layers of a compiled model (dure.compiler.soc): the descriptors the
 * host placed in main memory go to the NPU as LIST doorbells (one per 65535 entries, the
 * largest count), so the NPU fetches them itself; then waits for it to finish.
 *
 * The list header lies in the last 64 bytes of main memory (words): 0 magic "LIST", 1 number
 * of descriptors, 2 address of the first descriptor (8 words each, 4-byte aligned, inside the
 * DMA window); written back: 3 the NPU error code (0: none), 4 the index of the failing
 * descriptor in the whole list, 5/6 cycles from the first doorbell to idle (low, high), 7/8
 * PERF_MACS, 9/10 PERF_BUSY, 11/12 DMA bytes read, 13/14 written.
 * Exits with pass when every descriptor was accepted and executed; failure 1: no header or no
 * NPU; failure 2: the NPU reported an error. */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"

#define LIST_MAGIC 0x5453494Cu   /* "LIST" little-endian */
#define MAX_COUNT 65535u         /* LIST count is 16 bits */
#define MAX_LISTS 64u

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
    if (count > MAX_COUNT * MAX_LISTS)
        return 1;
    uint32_t list_seq[MAX_LISTS];
    uint32_t lists = 0;
    npu_perf_clear();
    uint64_t t0 = rdcycle64();
    for (uint32_t first = 0; first < count; first += MAX_COUNT) {
        uint32_t n = count - first < MAX_COUNT ? count - first : MAX_COUNT;
        list_seq[lists++] = npu_run_list(words + 8u * first, n);
    }
    int err = npu_wait();
    uint64_t t1 = rdcycle64();
    struct npu_perf perf;
    npu_perf_read(&perf);
    uint32_t where = 0;
    if (err) {
        uint32_t seq = 0;
        npu_error(&seq);
        uint32_t index = npu_error_index();
        for (uint32_t i = 0; i < lists; i++)     /* the list whose numbers hold seq */
            if (seq >= list_seq[i])
                where = i * MAX_COUNT + (index == ~0u ? 0 : index);
    }
    h[3] = (uint32_t)err;
    h[4] = where;
    put64(h + 5, t1 - t0);
    put64(h + 7, perf.macs);
    put64(h + 9, perf.busy);
    put64(h + 11, perf.dma_rd);
    put64(h + 13, perf.dma_wr);
    return err ? 2 : 0;
}
