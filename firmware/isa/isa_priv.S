/* isa_priv: U-mode, PMP and Sdtrig triggers (rtl/core/README.md).
 *   misa.U; MRET to U and ECALL from U (mcause 8, the handler sees MPP = U); in U-mode
 *   M-level CSRs, MRET, WFI with mstatus.TW and the counters without mcounteren are illegal
 *   PMP (granularity 4 bytes): an NA4 read-only word and a NAPOT region (the RAM) for U-mode,
 *   priority of the lowest-numbered entry;
 *   no match denies U (loads, stores: mcause 5 / 7, fetch: 1, mtval = the address) and allows
 *   M; a locked entry binds M-mode too and keeps its settings; pmpaddr keeps all 32 bits
 *   triggers: tselect / tdata1 / tinfo values; execute, load and store address breakpoints
 *   (mcause 3, mtval = the address, the access does not happen) in M-mode with tcontrol.MTE,
 *   and in U-mode
 * The cases need PMP entries and a trigger: without them (DURE_PMP_ENTRIES / DURE_TRIGGERS 0)
 * the corresponding parts are left out. */
#include "isa_test.h"
#include "dure_soc.h"

#define CAUSE_FETCH_ACCESS  1
#define CAUSE_ILLEGAL_INSN  2
#define CAUSE_BREAKPOINT    3
#define CAUSE_LOAD_ACCESS   5
#define CAUSE_STORE_ACCESS  7
#define CAUSE_ECALL_U       8

#define CSR_MCOUNTEREN 0x306
#define CSR_PMPCFG0    0x3a0
#define CSR_PMPCFG1    0x3a1
#define CSR_PMPADDR0   0x3b0
#define CSR_PMPADDR1   0x3b1
#define CSR_PMPADDR2   0x3b2
#define CSR_PMPADDR5   0x3b5
#define CSR_TSELECT    0x7a0
#define CSR_TDATA1     0x7a1
#define CSR_TDATA2     0x7a2
#define CSR_TINFO      0x7a4
#define CSR_TCONTROL   0x7a5

/* MRET into U-mode at the next instruction */
#define ENTER_U \
    li a1, 0x1800; csrc mstatus, a1; la a1, 7760f; csrw mepc, a1; mret; 7760:

/* a U-mode instruction that must be an illegal instruction */
#define TEST_U_ILLEGAL(n, ...) TEST_TRAP(n, CAUSE_ILLEGAL_INSN, 1b, ENTER_U; 1: __VA_ARGS__)
/* U-mode instructions that must not trap: the ECALL after them does (mcause 8) */
#define TEST_U_OK(n, ...) TEST_TRAP(n, CAUSE_ECALL_U, 1b, ENTER_U; __VA_ARGS__; 1: ecall)

TEST_BEGIN

TEST_CASE(2, a4, 1, csrr a4, misa; srli a4, a4, 20; andi a4, a4, 1)

#if DURE_PMP_ENTRIES >= 3
    /* entry 0: locked NA4 over `locked_word`, read only (binds M-mode too); entry 1: NA4
     * over `secret`, read only; entry 2: NAPOT RWX over the RAM (U-mode code, data and
     * stack). The lowest-numbered match decides. */
    la a1, locked_word; srli a1, a1, 2; csrw CSR_PMPADDR0, a1
    la a1, secret; srli a1, a1, 2; csrw CSR_PMPADDR1, a1
    li a1, (DURE_RAM_BASE >> 2) | ((DURE_RAM_SIZE >> 3) - 1); csrw CSR_PMPADDR2, a1
    li a1, 0x1f1191; csrw CSR_PMPCFG0, a1
#elif DURE_PMP_ENTRIES == 0
    /* no PMP: U-mode may access everything */
#else
#error "isa_priv needs 0 or at least 3 PMP entries"
#endif

/* --- U-mode ----------------------------------------------------------------------------- */
TEST_U_OK(10, nop)
TEST_CASE(11, a4, 0, li t0, 0x1800; and a4, s5, t0)          /* the handler saw MPP = U */
TEST_U_ILLEGAL(12, csrr a4, mstatus)
TEST_U_ILLEGAL(13, csrw mscratch, zero)
TEST_U_ILLEGAL(14, mret)
TEST_U_ILLEGAL(15, csrr a4, 0x7a0)                           /* tselect: M-level */
TEST_CASE(16, a4, 0x55, li a4, 0x55; la s7, 2f; ENTER_U; csrr a4, mepc; 2:)   /* rd kept */
TEST_U_ILLEGAL(17, rdcycle a4)                               /* mcounteren = 0 */
TEST_CASE(18, a4, 0, csrwi CSR_MCOUNTEREN, 5; csrr a4, CSR_MCOUNTEREN; addi a4, a4, -5)
TEST_U_OK(19, rdcycle a4; rdinstret a5)
TEST_U_ILLEGAL(20, rdtime a4)                                /* TM not enabled */
TEST_CASE(21, a4, 0, csrw CSR_MCOUNTEREN, zero; li a4, 0)
TEST_CASE(22, a4, 0x200000, li a1, 0x200000; csrs mstatus, a1; csrr a4, mstatus; and a4, a4, a1)
TEST_U_ILLEGAL(23, wfi)                                      /* mstatus.TW */
TEST_CASE(24, a4, 0, li a1, 0x200000; csrc mstatus, a1; li a4, 0)

#if DURE_PMP_ENTRIES >= 3
/* --- PMP -------------------------------------------------------------------------------- */
TEST_U_OK(30, la a2, secret; lw a4, 0(a2))
TEST_CASE(31, a4, 0x5ec2e7, nop)
TEST_TRAP(32, CAUSE_STORE_ACCESS, 1b, la a2, secret; ENTER_U; 1: sw zero, 0(a2))
TEST_CASE(33, s10, 0, la a2, secret; sub s10, s10, a2)       /* mtval = the address */
TEST_CASE(34, a4, 0x5ec2e7, la a2, secret; lw a4, 0(a2))     /* unchanged */
TEST_TRAP(35, CAUSE_LOAD_ACCESS, 1b, li a2, DURE_GPIO_BASE; ENTER_U; 1: lw a4, 0(a2))
TEST_CASE(36, s10, DURE_GPIO_BASE, nop)
TEST_TRAP(37, CAUSE_STORE_ACCESS, 1b, li a2, DURE_TEST_EXIT_BASE; ENTER_U; 1: sw zero, 0(a2))
    /* a U-mode fetch outside every entry: mepc = mtval = the target */
    li TESTNUM, 38; la s7, 3f; li a2, DURE_MAIN_BASE; ENTER_U; jr a2; j fail
3:  CHECK(s8, CAUSE_FETCH_ACCESS); CHECK(s9, DURE_MAIN_BASE)
TEST_CASE(39, s10, DURE_MAIN_BASE, nop)
/* M-mode: entries without L do not apply */
TEST_CASE(40, a4, 0x77, la a2, secret; li a1, 0x77; sw a1, 0(a2); lw a4, 0(a2))
/* a locked entry binds M-mode and keeps its settings */
TEST_TRAP(41, CAUSE_STORE_ACCESS, 1b, la a2, locked_word; 1: sw zero, 0(a2))
TEST_CASE(42, a4, 0x10c4ed, la a2, locked_word; lw a4, 0(a2))
TEST_CASE(43, a4, 0x91, csrw CSR_PMPCFG0, zero; csrr a4, CSR_PMPCFG0)   /* byte 0 kept */
TEST_CASE(44, a4, 0, csrw CSR_PMPADDR0, zero; la a2, locked_word; srli a2, a2, 2; csrr a4, CSR_PMPADDR0; sub a4, a4, a2)
TEST_CASE(45, a4, 0, csrw CSR_PMPADDR1, zero; csrr a4, CSR_PMPADDR1)   /* not locked */
/* pmpaddr: granularity 4 bytes, all 32 bits kept */
TEST_CASE(46, a4, 0xffffffff, li a1, -1; csrw CSR_PMPADDR5, a1; csrr a4, CSR_PMPADDR5)
    /* U-mode code from here on needs the RAM again */
    li a1, 0x1f0000; csrs CSR_PMPCFG0, a1
#endif

#if DURE_TRIGGERS >= 1
/* --- triggers --------------------------------------------------------------------------- */
TEST_CASE(50, a4, 0, csrw CSR_TSELECT, zero; csrr a4, CSR_TSELECT)
TEST_CASE(51, a4, 2, csrr a4, CSR_TDATA1; srli a4, a4, 28)
TEST_CASE(52, a4, 0x44, csrr a4, CSR_TINFO; andi a4, a4, 0xff)   /* types 2 and 6 (and 15) */
/* execute breakpoint in M-mode: only with tcontrol.MTE */
TEST_CASE(53, a4, 1, li a4, 0; la a1, 1f; csrw CSR_TDATA2, a1; li a1, 0x20000044; csrw CSR_TDATA1, a1; csrr a2, CSR_TDATA1; bne a1, a2, fail; 1: addi a4, a4, 1)
TEST_TRAP(54, CAUSE_BREAKPOINT, 1b, csrsi CSR_TCONTROL, 8; la a1, 1f; csrw CSR_TDATA2, a1; 1: addi a4, a4, 1)
TEST_CASE(55, s10, 0, la a1, 1b; sub s10, s10, a1)           /* mtval = the address */
TEST_CASE(56, a4, 0x88, csrr a4, CSR_TCONTROL)              /* MRET restored MTE */
/* load breakpoint: the load does not happen */
TEST_TRAP(57, CAUSE_BREAKPOINT, 1b, li a4, 0x33; la a2, watched; csrw CSR_TDATA2, a2; li a1, 0x20000041; csrw CSR_TDATA1, a1; sw a1, 0(a2); 1: lw a4, 0(a2))
TEST_CASE(58, a4, 0x33, nop)
TEST_CASE(59, s10, 0, la a2, watched; sub s10, s10, a2)
/* store breakpoint: memory unchanged */
TEST_TRAP(60, CAUSE_BREAKPOINT, 1b, la a2, watched; li a1, 0x20000042; csrw CSR_TDATA1, a1; 1: sw zero, 0(a2))
TEST_CASE(61, a4, 0x20000041, la a2, watched; lw a4, 0(a2))
/* U-mode: the U bit */
TEST_TRAP(62, CAUSE_BREAKPOINT, 1b, la a2, watched; li a1, 0x20000009; csrw CSR_TDATA1, a1; ENTER_U; 1: lw a4, 0(a2))
TEST_CASE(63, a4, 0, csrw CSR_TDATA1, zero; csrw CSR_TCONTROL, zero; li a4, 0)
TEST_CASE(64, a4, 15, csrr a4, CSR_TDATA1; srli a4, a4, 28)   /* tdata1 = 0: disabled, type 15 */
#endif

TEST_END

    .data
    .balign 8
secret:      .word 0x5ec2e7
             .word 0
locked_word: .word 0x10c4ed
             .word 0
watched:     .word 0
