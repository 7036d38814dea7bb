/* dot_dense: one TFLite INT8 FULLY_CONNECTED layer twice: with the dot-product unit streaming x
 * and w from main memory, and on the core alone; each timed with mcycle / minstret. The layer is given by a parameter block at the
 * start of main memory (written by the loader; tests/firmware/test_dot_dense.py); the results
 * go back into the block and the outputs where it says. Exit: pass, or fail 1 / 2 when the
 * stream / core function refused the arguments.
 *
 * Parameter block (32-bit words at DURE_MAIN_BASE; offsets are bytes from DURE_MAIN_BASE):
 *   0 magic "DOTD" (0x44544F44)   1 batch   2 in   3 out   4 input_zp   5 output_zp   6 lo   7 hi
 *   8 x   9 w   10 bias (0: none)   11 mult   12 shift   13 scratch (in bytes, for the stream)
 *   14, 15 y of the stream and core runs
 * written by the program:
 *   16, 17 cycles of the two runs   18, 19 their instructions   20, 21 their functions' status
 *   (0 or -1) */
#include "csr.h"
#include "dot_dense.h"
#include "dure_rt.h"

#define MAGIC 0x44544F44u
#define RUNS 2

static void *at(uint32_t offset) { return (void *)(DURE_MAIN_BASE + offset); }

static const char *const names[RUNS] = {"dot unit", "core alone"};

int main(void)
{
    volatile uint32_t *blk = (volatile uint32_t *)DURE_MAIN_BASE;
    if (blk[0] != MAGIC) {
        puts("dot_dense: no parameter block in main memory");
        return 4;
    }
    struct dot_dense p = {
        .batch = blk[1], .in = blk[2], .out = blk[3],
        .input_zp = (int32_t)blk[4], .output_zp = (int32_t)blk[5],
        .lo = (int32_t)blk[6], .hi = (int32_t)blk[7],
        .x = at(blk[8]), .w = at(blk[9]), .bias = blk[10] ? at(blk[10]) : 0,
        .mult = at(blk[11]), .shift = at(blk[12]), .ones = at(blk[13]),
    };
    int failed = 0;
    for (int r = 0; r < RUNS; r++) {
        int8_t *y = at(blk[14 + r]);
        uint32_t c0 = rdcycle(), i0 = rdinstret();
        int status = r == 0 ? dot_stream_dense_int8(&p, y) : cpu_dense_int8(&p, y);
        uint32_t c1 = rdcycle(), i1 = rdinstret();
        blk[16 + r] = c1 - c0;
        blk[18 + r] = i1 - i0;
        blk[20 + r] = (uint32_t)status;
        printf("dense %u -> %u, batch %u, %s: %u cycles\n", (unsigned)p.in, (unsigned)p.out,
               (unsigned)p.batch, names[r], (unsigned)(c1 - c0));
        if (status && !failed)
            failed = r + 1;
    }
    return failed;
}
