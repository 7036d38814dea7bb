/* csr.h: CSR numbers, bit fields and access macros (RV32 Zicsr; M- and U-mode, PMP,
 * Sdtrig triggers as in rtl/core/README.md). */
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
#define MSTATUS_MPP_U   (0u << 11)
#define MSTATUS_MPP_M   (3u << 11)
#define MSTATUS_TW      (1u << 21)

/* CSRs by number (the assembler may not know every name) */
#define CSR_MCOUNTEREN  0x306
#define CSR_PMPCFG0     0x3a0      /* pmpcfg0..3: 0x3a0 + n */
#define CSR_PMPADDR0    0x3b0      /* pmpaddr0..15: 0x3b0 + n */
#define CSR_TSELECT     0x7a0
#define CSR_TDATA1      0x7a1
#define CSR_TDATA2      0x7a2
#define CSR_TINFO       0x7a4
#define CSR_TCONTROL    0x7a5

/* mcounteren: U-mode may read cycle / time / instret */
#define MCOUNTEREN_CY   (1u << 0)
#define MCOUNTEREN_TM   (1u << 1)
#define MCOUNTEREN_IR   (1u << 2)

/* PMP configuration byte (granularity 4 bytes) */
#define PMP_R           0x01u
#define PMP_W           0x02u
#define PMP_X           0x04u
#define PMP_OFF         0x00u
#define PMP_TOR         0x08u
#define PMP_NA4         0x10u
#define PMP_NAPOT       0x18u
#define PMP_L           0x80u
/* pmpaddr of a NAPOT region: base aligned to size, size a power of two >= 8 bytes */
#define PMP_NAPOT_ADDR(base, size)  (((uint32_t)(base) >> 2) | (((uint32_t)(size) >> 3) - 1u))

/* tdata1 as mcontrol (type 2), action 0 (breakpoint exception), match 0 (equal) */
#define MCONTROL_TYPE2  (2u << 28)
#define MCONTROL_M      (1u << 6)
#define MCONTROL_U      (1u << 3)
#define MCONTROL_EXECUTE (1u << 2)
#define MCONTROL_STORE  (1u << 1)
#define MCONTROL_LOAD   (1u << 0)
#define TCONTROL_MTE    (1u << 3)

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
#define CAUSE_ECALL_U           8
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
