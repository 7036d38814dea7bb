/* npu_tiles: GEMMs split across NPU tiles (npu_gemm_split / npu_split_run), driven by a table
 * the host places in main memory (dure.sim.tile_job, which also checks the outputs against the
 * golden model and reads the counters back). Built with the headers of a multi-tile variant; it
 * uses tiles 0..K-1 of the table's K, so it also runs on an SoC with fewer tiles than the
 * header's (K = 1 on the single-NPU SoC: the same LIST-based run on one tile).
 *
 * Table at TABLE (words): magic, K, cases, irq_check, then per case CASE_WORDS words
 *   prec, out_type, m, k, n, dim, a, b, out, bias, scale, zero_point, lo, hi, clamp, 0
 * and, after the cases, RESULT_WORDS words of results per case, written by this program:
 *   err, record_cycles, launch_cycles, run_cycles, tiles_used, descriptors (all tiles),
 *   done[8], wait[8] (tile DMA grant-wait cycles), busy[8] (NPU busy cycles, low word).
 * Main memory below TABLE is the allocator's (the LISTs). Prints "npu_tiles pass" at the end;
 * passes when every case ran without an error (the host compares the outputs). */
#include "csr.h"
#include "dure_rt.h"
#include "dure_hw.h"
#include "npu.h"

#define TABLE ((volatile uint32_t *)(uintptr_t)(DURE_MAIN_BASE + DURE_MAIN_SIZE / 2))
#define MAGIC 0x454C4954u               /* "TILE" */
#define HEAD_WORDS 4u
#define CASE_WORDS 16u
#define RESULT_WORDS 32u

#ifdef DURE_TILES_BASE
#define TILE_WAIT(t) DURE_TILES_REG(DURE_TILES_WAIT0 + 4u * (t))
#endif

static void run_case(unsigned tiles, volatile uint32_t *c, volatile uint32_t *r)
{
    struct npu_gemm g;
    npu_gemm_init(&g, (int)c[0], c[2], c[3], c[4], (const void *)(uintptr_t)c[6],
                  (const void *)(uintptr_t)c[7], (void *)(uintptr_t)c[8], (int)c[1]);
    g.bias = (const void *)(uintptr_t)c[9];
    g.scale = (const f32_t *)(uintptr_t)c[10];
    g.zero_point = (int32_t)c[11];
    g.lo = c[12];
    g.hi = c[13];
    g.clamp = (int)c[14];
    for (unsigned i = 0; i < RESULT_WORDS; i++)
        r[i] = 0;
    void *mark = npu_alloc_mark();
    struct npu_split s;
    uint32_t t0 = rdcycle();
    int err = npu_gemm_split(&g, tiles, (int)c[5], &s);
    r[1] = rdcycle() - t0;
    if (!err) {
        for (unsigned t = 0; t < s.tiles; t++) {
            npu_tile_select(t);
            npu_perf_clear();
        }
#ifdef DURE_TILES_BASE
        if (tiles > 1)
            DURE_TILES_REG(DURE_TILES_CONTROL) = DURE_TILES_CONTROL_CLEAR;
#endif
        err = npu_split_run(&s);
        r[2] = s.launch;
        uint32_t total = 0, last = 0;
        for (unsigned t = 0; t < s.tiles; t++) {
            struct npu_perf p;
            npu_tile_select(t);
            npu_perf_read(&p);
            r[6 + t] = s.done[t];
            r[22 + t] = (uint32_t)p.busy;
            total += s.count[t];
            last = s.done[t] > last ? s.done[t] : last;
#ifdef DURE_TILES_BASE
            if (tiles > 1)
                r[14 + t] = TILE_WAIT(t);
#endif
        }
        npu_tile_select(0);
        r[3] = last;
        r[4] = s.tiles;
        r[5] = total;
    }
    r[0] = (uint32_t)err;
    npu_alloc_release(mark);
}

int main(void)
{
    volatile uint32_t *table = TABLE;
    if (table[0] != MAGIC) {
        printf("npu_tiles: no table\n");
        return 1;
    }
    unsigned tiles = table[1], cases = table[2];
    if (!tiles || tiles > npu_tile_count())
        return 2;
    for (unsigned t = 0; t < tiles; t++) {
        npu_tile_select(t);
        if (npu_init())
            return 3;
    }
    npu_tile_select(0);
    npu_alloc_init(DURE_MAIN_BASE, DURE_MAIN_SIZE / 2);
    int failures = 0;
    volatile uint32_t *results = table + HEAD_WORDS + CASE_WORDS * cases;
    for (unsigned i = 0; i < cases; i++) {
        volatile uint32_t *r = results + RESULT_WORDS * i;
        run_case(tiles, table + HEAD_WORDS + CASE_WORDS * i, r);
        printf("case %u: err=%d tiles=%u record=%u run=%u\n", i, (int)r[0], (unsigned)r[4],
               (unsigned)r[1], (unsigned)r[3]);
        failures += r[0] != 0;
    }
    if (table[3]) {                     /* each tile's own interrupt line wakes the core */
        for (unsigned t = 0; t < tiles; t++) {
            npu_tile_select(t);
            if (npu_wait_irq())
                failures++;
        }
        npu_tile_select(0);
        printf("irq ok\n");
    }
    if (failures)
        return 4;
    printf("npu_tiles pass\n");
    return 0;
}
