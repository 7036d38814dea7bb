/* dot_unit.h: driver of the INT8 dot-product unit (rtl/soc/dot_unit.py), the iCEBreaker's INT8
 * accelerator (SoCConfig.dot_unit; the variant's dure_soc.h then defines DURE_DOT_BASE).
 *
 * The unit holds four int8 operands `a` and an int32 accumulator; each write of four int8
 * operands `b` adds sum_i a[i] * b[i] to the accumulator (exact products, int32 wrapping sum).
 * Or the unit reads the operand words from main memory itself (dot_stream: about 2 cycles per
 * 4 MACs instead of the core's ~28). Accesses take effect in program order (writes wait for a
 * running stream), so only a stream's end needs polling. */
#ifndef DURE_DOT_UNIT_H
#define DURE_DOT_UNIT_H

#include <stdint.h>

#include "dure_soc.h"

#ifndef DURE_DOT_BASE
#error "this variant has no dot-product unit (SoCConfig.dot_unit)"
#endif

#define DOT_REG(off) (*(volatile uint32_t *)(DURE_DOT_BASE + (off)))

/* Four int8 lanes per 32-bit word, lane i in bits 8i..8i+7 (little-endian bytes). */
static inline void dot_set_acc(int32_t value) { DOT_REG(DURE_DOT_ACC) = (uint32_t)value; }
static inline void dot_set_a(uint32_t lanes) { DOT_REG(DURE_DOT_A) = lanes; }
static inline void dot_mac4(uint32_t lanes) { DOT_REG(DURE_DOT_B) = lanes; }
static inline int32_t dot_get_acc(void) { return (int32_t)DOT_REG(DURE_DOT_ACC); }

/* init + sum_k a[k] * b[k] for k < n (int32, wrapping); n a multiple of 4, a and b word
 * aligned. */
static inline int32_t dot_product_int8(const int8_t *a, const int8_t *b, uint32_t n,
                                       int32_t init)
{
    const uint32_t *aw = (const uint32_t *)a;
    const uint32_t *bw = (const uint32_t *)b;
    dot_set_acc(init);
    for (uint32_t i = 0; i < n / 4; i++) {
        dot_set_a(aw[i]);
        dot_mac4(bw[i]);
    }
    return dot_get_acc();
}

/* Streams `words` (1..65535) word pairs from main memory: returns init + sum over i < words of
 * dot(x word i, w word i). x and w word aligned, inside main memory. */
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
