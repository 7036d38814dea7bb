/* npu_model_run: runs a whole compiled model (dure.compiler.soc) in one firmware run: walks the
 * layer table (format: compiler/layer_table.py; walker: layer_table.c), NPU layers as LIST
 * doorbells, core layers with the C kernels of firmware/npu/cpu_ops_*.c, per-layer cycles to
 * the results area.
 *
 * The boot block is the last BOOT_BYTES (256) bytes of main memory (words): 0 the layer
 * table's address, 3 non-zero when the host placed NPU records' lists in on-chip RAM (in the
 * part this firmware leaves free, [__heap_start, __stack_top - __stack_size): the SoC's LIST
 * fetcher has a path of its own there, dure.compiler.soc): tile 0's DMA window then spans
 * main memory and RAM for the walk (set before it, outside every layer's timing); written
 * back: 1 the status (lt_status; also the exit code, 0 = pass), 2 the
 * failing layer, 4 + t (t < 8, multi-tile SoCs) tile t's DMA grant-wait cycles over the whole
 * walk (the counters of the tile fabric, DURE_TILES_BASE). Tile statistics (core cycles, summed
 * over the walk's LT_KIND_NPU_TILES layers; dure.compiler.soc.tile_stats reads them):
 * 16 the NPU_TILES layers run, 17 their launch cycles (layer start to the last tile's FENCE
 * pushed), 18 their cycles (layer start to every tile seen idle), 19 their load imbalance
 * (each layer's cycles minus the mean of its tiles' done cycles), 24 + t tile t's done cycles
 * (layer start to tile t first seen idle), 32 + t tile t's NPU busy cycles over the whole walk
 * (its performance counter, low 32 bits; every tile, also on a one-tile SoC).
 * The results area (its address in the table) also gets the NPU's performance counters (summed
 * over the tiles). On a multi-tile SoC, LT_KIND_NPU_TILES records run one list per tile
 * (run_tiles: every list rung, then every tile waited for). */
#include "csr.h"
#include "dure_rt.h"
#include "layer_table.h"
#include "npu.h"

#define MAX_COUNT 65535u         /* LIST count is 16 bits */
#define BOOT_BYTES 256u          /* dure.compiler.soc.BOOT_BYTES */
#define STAT_LAYERS 16u          /* word offsets of the tile statistics in the boot block */
#define STAT_LAUNCH 17u
#define STAT_CYCLES 18u
#define STAT_IMBALANCE 19u
#define STAT_DONE 24u
#define STAT_BUSY 32u
#define STAT_TILES 8u

extern char __heap_start[], __stack_top[], __stack_size[];   /* sections.ld */

static volatile uint32_t *boot_block(void)
{
    return (volatile uint32_t *)(uintptr_t)(DURE_MAIN_BASE + DURE_MAIN_SIZE - BOOT_BYTES);
}

static uint32_t run_list(void *ctx, uint32_t list, uint32_t count, uint32_t *index)
{
    (void)ctx;
    const uint32_t *words = (const uint32_t *)(uintptr_t)list;
    uint32_t seq[64], lists = 0;
    for (uint32_t first = 0; first < count; first += MAX_COUNT) {
        uint32_t n = count - first < MAX_COUNT ? count - first : MAX_COUNT;
        uint32_t s = npu_run_list(words + 8u * first, n);
        if (lists < 64u)
            seq[lists++] = s;
    }
    int err = npu_wait();
    if (err) {
        uint32_t at_seq = 0, where = 0;
        npu_error(&at_seq);
        uint32_t i = npu_error_index();
        for (uint32_t k = 0; k < lists; k++)
            if (at_seq >= seq[k])
                where = k * MAX_COUNT + (i == ~0u ? 0 : i);
        *index = where;
    }
    return (uint32_t)err;
}

/* LT_KIND_NPU_TILES: every tile's list rung first (the tiles fetch and run them in parallel),
 * then a FENCE per tile, then polling until all are idle. */
static uint32_t run_tiles(void *ctx, uint32_t tiles, const uint32_t *lists,
                          const uint32_t *counts, uint32_t *tile, uint32_t *index)
{
    (void)ctx;
    if (tiles > npu_tile_count())
        return NPU_E_ARG;
    volatile uint32_t *stat = boot_block();
    uint32_t d[8], pending = 0, start = rdcycle(), done_sum = 0;
    for (uint32_t t = 0; t < tiles; t++) {
        npu_tile_select(t);
        const uint32_t *words = (const uint32_t *)(uintptr_t)lists[t];
        for (uint32_t first = 0; first < counts[t]; first += MAX_COUNT) {
            uint32_t n = counts[t] - first < MAX_COUNT ? counts[t] - first : MAX_COUNT;
            npu_run_list(words + 8u * first, n);
        }
    }
    npu_cmd_fence(d, 0);
    for (uint32_t t = 0; t < tiles; t++) {
        npu_tile_select(t);
        npu_push(d);
        pending |= 1u << t;
    }
    stat[STAT_LAUNCH] += rdcycle() - start;
    while (pending)
        for (uint32_t t = 0; t < tiles; t++)
            if (pending & (1u << t)) {
                npu_tile_select(t);
                if (!npu_busy()) {
                    uint32_t done = rdcycle() - start;
                    pending &= ~(1u << t);
                    done_sum += done;
                    if (t < STAT_TILES)
                        stat[STAT_DONE + t] += done;
                }
            }
    uint32_t cycles = rdcycle() - start;
    stat[STAT_CYCLES] += cycles;
    stat[STAT_IMBALANCE] += cycles - done_sum / tiles;
    stat[STAT_LAYERS] += 1u;
    uint32_t err = 0;
    for (uint32_t t = 0; t < tiles && !err; t++) {
        npu_tile_select(t);
        err = npu_error(0);
        if (err) {
            uint32_t i = npu_error_index();
            *tile = t;
            *index = i == ~0u ? 0 : i;
        }
    }
    npu_tile_select(0);
    return err;
}

static uint64_t now(void *ctx)
{
    (void)ctx;
    return rdcycle64();
}

static void put64(uint32_t *p, uint64_t v)
{
    p[0] = (uint32_t)v;
    p[1] = (uint32_t)(v >> 32);
}

int main(void)
{
    volatile uint32_t *boot = boot_block();
    int status;
    uint32_t *res = 0;
    if (npu_tiles_init() != 0) {
        status = LT_E_NO_NPU;
    } else {
        struct lt_env env = {(uint8_t *)(uintptr_t)DURE_MAIN_BASE, DURE_MAIN_BASE,
                             DURE_MAIN_SIZE - BOOT_BYTES, run_list, now, 0,
                             npu_tile_count() > 1 ? run_tiles : 0, 0, 0, 0};
        int ram_lists = boot[3] != 0;
        if (ram_lists) {
            env.list_base = (uint32_t)(uintptr_t)__heap_start;
            env.list_size = (uint32_t)(uintptr_t)(__stack_top - __stack_size) - env.list_base;
            npu_set_window(DURE_MAIN_BASE, DURE_RAM_BASE + DURE_RAM_SIZE - DURE_MAIN_BASE);
        }
        for (unsigned t = 0; t < npu_tile_count(); t++) {
            npu_tile_select(t);
            npu_perf_clear();
        }
        npu_tile_select(0);
        for (unsigned w = STAT_LAYERS; w < STAT_BUSY + STAT_TILES; w++)
            boot[w] = 0;
#ifdef DURE_TILES_BASE
        DURE_TILES_REG(DURE_TILES_CONTROL) = DURE_TILES_CONTROL_CLEAR;
#endif
        status = lt_walk(&env, boot[0], &res);
        if (ram_lists)
            npu_set_window(DURE_MAIN_BASE, DURE_MAIN_SIZE);
#ifdef DURE_TILES_BASE
        for (unsigned t = 0; t < npu_tile_count() && t < 8u; t++)
            boot[4 + t] = DURE_TILES_REG(DURE_TILES_WAIT0 + 4u * t);
#endif
        if (res) {
            /* summed over the tiles (busy: the sum of every tile's busy cycles) */
            uint64_t macs = 0, busy = 0, rd = 0, wr = 0;
            for (unsigned t = 0; t < npu_tile_count(); t++) {
                struct npu_perf perf;
                npu_tile_select(t);
                npu_perf_read(&perf);
                if (t < STAT_TILES)
                    boot[STAT_BUSY + t] = (uint32_t)perf.busy;
                macs += perf.macs;
                busy += perf.busy;
                rd += perf.dma_rd;
                wr += perf.dma_wr;
            }
            npu_tile_select(0);
            put64(res + 6, macs);
            put64(res + 8, busy);
            put64(res + 10, rd);
            put64(res + 12, wr);
        }
    }
    boot[1] = (uint32_t)status;
    boot[2] = res ? res[1] : 0;
    return status;
}
