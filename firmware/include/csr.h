/* csr.h: machine-mode CSR numbers, bit fields and access macros (RV32 Zicsr). */
#ifndef DURE_CSR_H
#define DURE_CSR_H

#include <stdint.h>

/* CSR access. `csr` is a CSR name the assembler knows (mstatus, mie, mcycle, ...) or a number. */
#define DURE_STR_(x) #x
#define DURE_STR(x) DURE_STR_(x)

#define read_csr(csr) ({ uint32_t v_; \
    __asm__ volatile ("csrr %0, " DURE_STR(csr) : "=r"(v_) :: "memory"); v_; })
#define write_csr(csr, val) ({ \
    __asm__ volatile ("csrw " DURE_STR(csr) ", %0" :: "rK"((uint32_t)(val)) : "memory"); })
#define swap_csr(csr, val) ({ uint32_t v_; \
    __asm__ volatile ("csrrw %0, " DURE_STR(csr) ", %1" : "=r"(v_) : "rK"((uint32_t)(val)) \
                      : "memory"); v_; })
#define set_csr(csr, bits) ({ uint32_t v_; \
    __asm__ volatile ("csrrs %0, " DURE_STR(csr) ", %1" : "=r"(v_) : "rK"((uint32_t)(bits)) \
                      : "memory"); v_; })
#define clear_csr(csr, bits) ({ uint32_t v_; \
    __asm__ volatile ("csrrc %0, " DURE_STR(csr) ", %1" : "=r"(v_) : "rK"((uint32_t)(bits)) \
                      : "memory"); v_; })

/* mstatus */
#define MSTATUS_MIE     (1u << 3)
#define MSTATUS_MPIE    (1u << 7)
#define MSTATUS_MPP     (3u << 11)

/* mie / mip */
#define MIP_MSIP        (1u << 3)
#define MIP_MTIP        (1u << 7)
#define MIP_MEIP        (1u << 11)
#define MIE_MSIE        MIP_MSIP
#define MIE_MTIE        MIP_MTIP
#define MIE_MEIE        MIP_MEIP

/* mcause */
#define MCAUSE_INTERRUPT        (1u << 31)
#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL_INSN      2
#define CAUSE_BREAKPOINT        3
#define CAUSE_MISALIGNED_LOAD   4
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_MISALIGNED_STORE  6
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_M           11
#define IRQ_M_SOFT              3
#define IRQ_M_TIMER             7
#define IRQ_M_EXT               11

/* Counters. rdcycle64/rdinstret64 read the 64-bit value consistently (high, low, high again). */
static inline uint32_t rdcycle(void)
{
    uint32_t v;
    __asm__ volatile ("rdcycle %0" : "=r"(v));
    return v;
}

static inline uint32_t rdinstret(void)
{
    uint32_t v;
    __asm__ volatile ("rdinstret %0" : "=r"(v));
    return v;
}

static inline uint32_t rdtime(void)
{
    uint32_t v;
    __asm__ volatile ("rdtime %0" : "=r"(v));
    return v;
}

static inline uint64_t rdcycle64(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile ("rdcycleh %0\n\trdcycle %1\n\trdcycleh %2"
                          : "=r"(hi), "=r"(lo), "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdinstret64(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile ("rdinstreth %0\n\trdinstret %1\n\trdinstreth %2"
                          : "=r"(hi), "=r"(lo), "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

/* Interrupt enables. irq_disable returns the previous mstatus for irq_restore. */
static inline void irq_enable(void) { set_csr(mstatus, MSTATUS_MIE); }
static inline uint32_t irq_disable(void) { return clear_csr(mstatus, MSTATUS_MIE); }
static inline void irq_restore(uint32_t mstatus_old)
{
    if (mstatus_old & MSTATUS_MIE)
        set_csr(mstatus, MSTATUS_MIE);
}
static inline void irq_source_enable(uint32_t mie_bits) { set_csr(mie, mie_bits); }
static inline void irq_source_disable(uint32_t mie_bits) { clear_csr(mie, mie_bits); }
static inline void wfi(void) { __asm__ volatile ("wfi" ::: "memory"); }

#endif
