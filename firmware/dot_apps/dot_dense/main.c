/* dot_dense: one TFLite INT8 FULLY_CONNECTED layer twice, on the dot-product unit and on the
 * core alone, each timed with mcycle / minstret. The layer is given by a parameter block at
 * the start of main memory (written by the loader; tests/firmware/test_dot_dense.py); the
 * results go back into the block and the two outputs where it says. Exit: pass, or fail 1 /
 * fail 2 when the unit's / the core's function refused the arguments.
 *
 * Parameter block (32-bit words at DURE_MAIN_BASE; offsets are bytes from DURE_MAIN_BASE):
 *   0 magic "DOTD" (0x44544F44)   1 batch   2 in   3 out   4 input_zp   5 output_zp   6 lo   7 hi
 *   8 x   9 w   10 bias (0: none)   11 mult   12 shift   13 y of the unit   14 y of the core
 * written by the program:
 *   16 cycles of the unit's layer   17 cycles of the core's   18, 19 their instructions
 *   20 status of the unit's function   21 of the core's (0 or -1) */
#include "csr.h"
#include "dot_dense.h"
#include "dure_rt.h"

#define MAGIC 0x44544F44u

static void *at(uint32_t offset) { return (void *)(DURE_MAIN_BASE + offset); }

int main(void)
{
    volatile uint32_t *blk = (volatile uint32_t *)DURE_MAIN_BASE;
    if (blk[0] != MAGIC) {
        puts("dot_dense: no parameter block in main memory");
        return 3;
    }
    struct dot_dense p = {
        .batch = blk[1], .in = blk[2], .out = blk[3],
        .input_zp = (int32_t)blk[4], .output_zp = (int32_t)blk[5],
        .lo = (int32_t)blk[6], .hi = (int32_t)blk[7],
        .x = at(blk[8]), .w = at(blk[9]), .bias = blk[10] ? at(blk[10]) : 0,
        .mult = at(blk[11]), .shift = at(blk[12]),
    };
    uint32_t c0 = rdcycle(), i0 = rdinstret();
    int dot_status = dot_dense_int8(&p, at(blk[13]));
    uint32_t c1 = rdcycle(), i1 = rdinstret();
    int cpu_status = cpu_dense_int8(&p, at(blk[14]));
    uint32_t c2 = rdcycle(), i2 = rdinstret();
    blk[16] = c1 - c0;
    blk[17] = c2 - c1;
    blk[18] = i1 - i0;
    blk[19] = i2 - i1;
    blk[20] = (uint32_t)dot_status;
    blk[21] = (uint32_t)cpu_status;
    printf("dense %u -> %u, batch %u: dot unit %u cycles, core alone %u cycles\n",
           (unsigned)p.in, (unsigned)p.out, (unsigned)p.batch,
           (unsigned)(c1 - c0), (unsigned)(c2 - c1));
    if (dot_status)
        return 1;
    if (cpu_status)
        return 2;
    return 0;
}
