/* bitlen.h: the bit length of a 32- or 64-bit value, integer-only (no libcalls, no clz on RV32IM).
 * One definition for the firmware's exact-arithmetic kernels (softfloat.c, cpu_ops_int8.c,
 * cpu_ops_softmax.c, cpu_rescale_double.c). Compiles for the host as well as for the Dure core. */
#ifndef DURE_BITLEN_H
#define DURE_BITLEN_H

#include <stdint.h>

/* Bits needed to write x: 0 for 0, else 1 + the index of the highest set bit (Python's
 * int.bit_length()). A binary search over 16 / 8 / 4 / 2 / 1 bits. */
static inline int bitlen32(uint32_t x)
{
    int n = 0;
    if (x >> 16) { n += 16; x >>= 16; }
    if (x >> 8) { n += 8; x >>= 8; }
    if (x >> 4) { n += 4; x >>= 4; }
    if (x >> 2) { n += 2; x >>= 2; }
    if (x >> 1) { n += 1; x >>= 1; }
    return n + (int)x;
}

/* The same for 64 bits: one search, over the high word when it is non-zero (one copy of the
 * search's branches: the core's predictor learns them once, measured cheaper on the models'
 * soft-float layers than a search per half). */
static inline int bitlen64(uint64_t x)
{
    uint32_t y = (uint32_t)(x >> 32);
    int n = 32;
    if (!y) {
        n = 0;
        y = (uint32_t)x;
    }
    return n + bitlen32(y);
}

#endif
