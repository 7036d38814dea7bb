/* isa_pmp: directed PMP cases on every implemented entry (rtl/core/pmp.py, csr.py).
 *   For each entry i: TOR (the bound below from pmpaddr[i-1], from 0 for entry 0), NA4 and
 *   NAPOT regions in main memory; U-mode loads and stores inside (allowed by R / W) and just
 *   outside (no match: denied, mcause 5 / 7, mtval = the address); a U-mode fetch from a
 *   region without X (mcause 1, mepc = mtval = the target); M-mode is not bound by an
 *   entry without L; entry i as the only entry over the RAM (U-mode code runs through it,
 *   and faults on fetch without X); the lowest-numbered matching entry decides (entry i
 *   denies what entry i + 1 allows). The U-mode code runs through a NAPOT RWX entry over
 *   the RAM (the last entry; entry 0 while entry i is the last one).
 *   pmpcfg WARL: bits 6:5 read 0, W without R is written as W = 0; the CSRs of entries not
 *   implemented read 0 and ignore writes.
 *   Locks (last, they hold until reset): a locked TOR entry binds M-mode, ignores writes to
 *   its configuration and address and to the address of the entry below; an unlocked
 *   lower-numbered entry still decides for M-mode where it matches.
 * Needs at least 3 PMP entries; without (DURE_PMP_ENTRIES < 3) the program only passes. */
#include "isa_test.h"
#include "dure_soc.h"

#define CAUSE_FETCH_ACCESS  1
#define CAUSE_LOAD_ACCESS   5
#define CAUSE_STORE_ACCESS  7
#define CAUSE_ECALL_U       8

#define P_R     0x01
#define P_W     0x02
#define P_X     0x04
#define P_TOR   0x08
#define P_NA4   0x10
#define P_NAPOT 0x18
#define P_L     0x80

#define MAIN      DURE_MAIN_BASE
#define RAM_NAPOT ((DURE_RAM_BASE >> 2) | ((DURE_RAM_SIZE >> 3) - 1))

/* MRET into U-mode at the next instruction (label 7760) */
#define ENTER_U \
    li a1, 0x1800; csrc mstatus, a1; la a1, 7760f; csrw mepc, a1; mret; 7760:
/* U-mode instructions that must not trap: the ECALL after them does (mcause 8) */
#define TEST_U_OK(n, ...) TEST_TRAP(n, CAUSE_ECALL_U, 1b, ENTER_U; __VA_ARGS__; 1: ecall)
/* a U-mode load / store of the word at `addr` that must fault, with mtval = addr */
#define TEST_U_LOAD_DENIED(n, addr) \
    TEST_TRAP(n, CAUSE_LOAD_ACCESS, 1b, li a2, addr; ENTER_U; 1: lw a4, 0(a2)); CHECK(s10, addr)
#define TEST_U_STORE_DENIED(n, addr) \
    TEST_TRAP(n, CAUSE_STORE_ACCESS, 1b, li a2, addr; ENTER_U; 1: sw a2, 0(a2)); CHECK(s10, addr)
/* a U-mode jump to `addr` that must fault on fetch: mepc = mtval = addr */
#define TEST_U_FETCH_DENIED(n, addr) \
    li TESTNUM, n; la s7, 7776f; li a2, addr; ENTER_U; jr a2; j fail; \
    7776: CHECK(s8, CAUSE_FETCH_ACCESS); CHECK(s9, addr); CHECK(s10, addr)

TEST_BEGIN

#if DURE_PMP_ENTRIES >= 3

/* every entry off (no entry is locked before the last part) */
.macro PMP_CLEAR
    csrw 0x3a0, zero; csrw 0x3a1, zero; csrw 0x3a2, zero; csrw 0x3a3, zero
.endm
/* entry e: pmpaddr = addr, configuration byte cfg (the other bytes of its pmpcfg kept) */
.macro PMP_SET e, addr, cfg
    li a1, \addr; csrw (0x3b0 + (\e)), a1
    li a1, ((\cfg) << (8 * ((\e) % 4))); csrs (0x3a0 + (\e) / 4), a1
.endm
/* only entry ram_entry on: NAPOT RWX over the RAM (U-mode code) */
.macro PMP_RAM_ONLY
    PMP_CLEAR
    PMP_SET ram_entry, RAM_NAPOT, P_NAPOT | P_R | P_W | P_X
.endm

.macro PMP_ENTRY_CASES i
    .if \i == DURE_PMP_ENTRIES - 1
    .set ram_entry, 0
    .else
    .set ram_entry, DURE_PMP_ENTRIES - 1
    .endif
    /* TOR, read only: [MAIN + 0x80, MAIN + 0x100) ([0, MAIN + 0x100) for entry 0) */
    PMP_RAM_ONLY
    .if \i > 0
    li a1, (MAIN + 0x80) >> 2; csrw (0x3b0 + \i - 1), a1
    .endif
    PMP_SET \i, (MAIN + 0x100) >> 2, P_TOR | P_R
    TEST_U_OK(100 + 20 * \i, li a2, MAIN + 0x80; lw a4, 0(a2); lw a4, 0x7c(a2))
    TEST_U_STORE_DENIED(101 + 20 * \i, MAIN + 0x80)
    TEST_U_LOAD_DENIED(102 + 20 * \i, MAIN + 0x100)
    .if \i > 0
    TEST_U_LOAD_DENIED(103 + 20 * \i, MAIN + 0x7c)
    .else
    TEST_U_OK(103, li a2, MAIN + 0x7c; lw a4, 0(a2))
    .endif
    TEST_U_FETCH_DENIED(104 + 20 * \i, MAIN + 0x80)
    /* M-mode: an entry without L does not apply */
    TEST_CASE(105 + 20 * \i, a4, 0x600d + \i, li a2, MAIN + 0x80; li a1, 0x600d + \i; sw a1, 0(a2); lw a4, 0(a2))
    /* NA4, read-write: the word at MAIN + 0x40 only */
    PMP_RAM_ONLY
    PMP_SET \i, (MAIN + 0x40) >> 2, P_NA4 | P_R | P_W
    TEST_U_OK(106 + 20 * \i, li a2, MAIN + 0x40; li a4, 0x5a0 + \i; sw a4, 0(a2); li a4, 0; lw a4, 0(a2))
    TEST_CASE(107 + 20 * \i, a4, 0x5a0 + \i, nop)
    TEST_U_LOAD_DENIED(108 + 20 * \i, MAIN + 0x44)
    TEST_U_STORE_DENIED(109 + 20 * \i, MAIN + 0x3c)
    /* NAPOT, read only, 64 bytes at MAIN + 0x200 */
    PMP_RAM_ONLY
    PMP_SET \i, ((MAIN + 0x200) >> 2) | 7, P_NAPOT | P_R
    TEST_U_OK(110 + 20 * \i, li a2, MAIN + 0x200; lw a4, 0(a2); lw a4, 0x3c(a2))
    TEST_U_STORE_DENIED(111 + 20 * \i, MAIN + 0x23c)
    TEST_U_LOAD_DENIED(112 + 20 * \i, MAIN + 0x240)
    TEST_U_LOAD_DENIED(113 + 20 * \i, MAIN + 0x1fc)
    /* entry i alone over the RAM: U-mode code runs through it, and faults without X */
    PMP_CLEAR
    PMP_SET \i, RAM_NAPOT, P_NAPOT | P_R | P_W | P_X
    TEST_U_OK(114 + 20 * \i, nop)
    PMP_CLEAR
    PMP_SET \i, RAM_NAPOT, P_NAPOT | P_R | P_W
    TEST_TRAP(115 + 20 * \i, CAUSE_FETCH_ACCESS, 7760b, ENTER_U; nop)
    /* priority: entry i (NA4, read only) before entry i + 1 (NAPOT read-write over 64 bytes) */
    .if \i < DURE_PMP_ENTRIES - 2
    PMP_RAM_ONLY
    PMP_SET \i, (MAIN + 0x40) >> 2, P_NA4 | P_R
    PMP_SET (\i+1), ((MAIN + 0x40) >> 2) | 7, P_NAPOT | P_R | P_W
    TEST_U_STORE_DENIED(116 + 20 * \i, MAIN + 0x40)
    TEST_U_OK(117 + 20 * \i, li a2, MAIN + 0x44; sw a2, 0(a2); lw a4, 0(a2))
    TEST_CASE(118 + 20 * \i, a4, MAIN + 0x44, nop)
    .endif
.endm

    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .if \i < DURE_PMP_ENTRIES
    PMP_ENTRY_CASES \i
    .endif
    .endr

/* --- pmpcfg WARL ------------------------------------------------------------------------ */
    PMP_CLEAR
/* byte 0: bits 6:5 set and W without R -> 0; byte 1: NAPOT RW kept; byte 2: X W -> X */
TEST_CASE(30, a4, 0x00041b00, li a1, 0x00061b62; csrw 0x3a0, a1; csrr a4, 0x3a0)
TEST_CASE(31, a4, 0x00001b00, li a1, 0x60; csrw 0x3a0, a1; li a1, 0x1b00; csrs 0x3a0, a1; csrr a4, 0x3a0)
    PMP_CLEAR
#if DURE_PMP_ENTRIES < 16
/* the CSRs of entries not implemented read 0 */
TEST_CASE(32, a4, 0, li a1, -1; csrw (0x3b0 + DURE_PMP_ENTRIES), a1; csrr a4, (0x3b0 + DURE_PMP_ENTRIES))
#endif
TEST_CASE(33, a4, 0, li a1, -1; csrw 0x3c0, a1; csrr a4, 0x3c0)   /* pmpaddr16 */
TEST_CASE(34, a4, 0, li a1, -1; csrw 0x3a4, a1; csrr a4, 0x3a4)   /* pmpcfg4 */

/* --- locks (until reset) ---------------------------------------------------------------- */
/* entry 1: locked TOR, read only, [MAIN + 0x300, MAIN + 0x340) */
    li a1, (MAIN + 0x300) >> 2; csrw 0x3b0, a1
    li a1, (MAIN + 0x340) >> 2; csrw 0x3b1, a1
    li a1, (P_L | P_TOR | P_R) << 8; csrw 0x3a0, a1
TEST_TRAP(40, CAUSE_STORE_ACCESS, 1b, li a2, MAIN + 0x300; 1: sw zero, 0(a2))   /* binds M */
TEST_CASE(41, s10, MAIN + 0x300, nop)
TEST_CASE(42, a4, 0, li a2, MAIN + 0x33c; lw a4, 0(a2); li a4, 0)             /* R allowed */
TEST_TRAP(43, CAUSE_STORE_ACCESS, 1b, li a2, MAIN + 0x33c; 1: sw zero, 0(a2))
TEST_CASE(44, a4, 0, li a2, MAIN + 0x340; sw zero, 0(a2); li a4, 0)            /* above */
/* its configuration byte and address are kept, and so is pmpaddr0 (its TOR bound) */
TEST_CASE(45, a4, 0x8900, csrw 0x3a0, zero; csrr a4, 0x3a0)
TEST_CASE(46, a4, (MAIN + 0x340) >> 2, csrw 0x3b1, zero; csrr a4, 0x3b1)
TEST_CASE(47, a4, (MAIN + 0x300) >> 2, csrw 0x3b0, zero; csrr a4, 0x3b0)
/* entry 0 (unlocked, NA4 RW over MAIN + 0x300) decides first: M-mode may store there */
TEST_CASE(48, a4, 0x8913, li a1, P_NA4 | P_R | P_W; csrw 0x3a0, a1; csrr a4, 0x3a0)
TEST_CASE(49, a4, 0x1234, li a2, MAIN + 0x300; li a1, 0x1234; sw a1, 0(a2); lw a4, 0(a2))
TEST_TRAP(50, CAUSE_STORE_ACCESS, 1b, li a2, MAIN + 0x304; 1: sw zero, 0(a2))

#endif

TEST_END
