/* dot_unit.h: driver of the INT8 dot-product unit (rtl/soc/dot_unit.py), the iCEBreaker's INT8
 * accelerator (SoCConfig.dot_unit; the variant's dure_soc.h then defines DURE_DOT_BASE).
 *
 * The core points the unit at two int8 vectors in main memory; the unit reads them itself (two
 * words, 4 MACs, per 2 cycles) and adds their dot product to its int32 accumulator (exact
 * products, wrapping sum). Writes to the unit wait for a running stream, so accesses take
 * effect in program order and only the stream's end needs polling. */
#ifndef DURE_DOT_UNIT_H
#define DURE_DOT_UNIT_H

#include <stdint.h>

#include "dure_soc.h"

#ifndef DURE_DOT_BASE
#error "this variant has no dot-product unit (SoCConfig.dot_unit)"
#endif

#define DOT_REG(off) (*(volatile uint32_t *)(DURE_DOT_BASE + (off)))
/* The longest stream: `count` has as many bits as main memory's word addresses. */
#define DOT_MAX_WORDS (DURE_MAIN_SIZE / 4u - 1u)

static inline void dot_set_acc(int32_t value) { DOT_REG(DURE_DOT_ACC) = (uint32_t)value; }
static inline int32_t dot_get_acc(void) { return (int32_t)DOT_REG(DURE_DOT_ACC); }

/* Streams `words` (1..DOT_MAX_WORDS) word pairs from main memory: returns
 * init + sum_{k < 4 * words} x[k] * w[k] (int32, wrapping); x and w word aligned in main
 * memory (int8 lane j of a word is its byte j). */
static inline int32_t dot_stream(const void *x, const void *w, uint32_t words, int32_t init)
{
    dot_set_acc(init);
    DOT_REG(DURE_DOT_XADDR) = (uint32_t)x - DURE_MAIN_BASE;
    DOT_REG(DURE_DOT_WADDR) = (uint32_t)w - DURE_MAIN_BASE;
    DOT_REG(DURE_DOT_COUNT) = words;
    while (DOT_REG(DURE_DOT_COUNT))
        ;
    return dot_get_acc();
}

/* Whether [p, p + n) lies in main memory (where the unit's streams read). */
static inline int dot_in_main(const void *p, uint32_t n)
{
    uint32_t a = (uint32_t)p;
    return a >= DURE_MAIN_BASE && a - DURE_MAIN_BASE <= DURE_MAIN_SIZE &&
           n <= DURE_MAIN_SIZE - (a - DURE_MAIN_BASE);
}

#endif /* DURE_DOT_UNIT_H */
