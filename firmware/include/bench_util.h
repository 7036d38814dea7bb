/* bench_util.h: small helpers shared by the CPU benchmarks (header-only). */
#ifndef DURE_BENCH_UTIL_H
#define DURE_BENCH_UTIL_H

#include <stdint.h>

/* xorshift32 (Marsaglia): the benchmarks' deterministic input generator. */
static inline uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Report a wrong result: prints expected and actual, returns the failure number. */
#define BENCH_CHECK(n, what, got, want) do { \
    if ((uint32_t)(got) != (uint32_t)(want)) { \
        printf("BENCH-FAIL %s: got %08x want %08x\n", (what), (unsigned)(got), \
               (unsigned)(want)); \
        return (n); \
    } \
} while (0)

#endif
