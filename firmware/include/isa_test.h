/* isa_test.h: a small framework for self-checking assembly tests (include from a .S file).
 *
 *   #include "isa_test.h"
 *   TEST_BEGIN
 *   TEST_RR(2, add, 3, 1, 2)       ... every case has its own number n >= 2
 *   TEST_END
 *
 * TEST_BEGIN defines main (called by crt0) and installs isa_trap_handler as mtvec. A case that
 * fails jumps to `fail`, which returns TESTNUM from main: crt0 then exits with failure n, i.e.
 * writes (n << 1) | 1 to the test-exit register. Passing all cases returns 0 (pass).
 *
 * Register use: TESTNUM (s11) holds the current case number; t6 holds the expected value in
 * checks; s5..s10 belong to the trap handler (see below); sp must stay valid (crt0's stack).
 * Cases use a0..a7 and t0..t5 freely.
 *
 * Trap handler (isa_trap_handler, installed by TEST_BEGIN):
 *   s8 = mcause, s9 = mepc, s10 = mtval, s5 = mstatus as seen in the handler, s6 += 1.
 *   Exception: resumes at the address in s7, in M-mode (MPP is set to M; s5 keeps the mstatus
 *   the handler saw), and clears s7; it uses t6 (a check's scratch register); an exception
 *   while s7 == 0 is unexpected and goes to crt0's default handler (prints the trap, exits
 *   1000 + mcause).
 *   Interrupt: clears mie (masks every source, so a level-sensitive source cannot re-enter) and
 *   resumes at mepc. s7 is left alone.
 * Labels 7771..7779 and 9999 are reserved for the macros.
 */
#ifndef DURE_ISA_TEST_H
#define DURE_ISA_TEST_H

#include "dure_asm.h"

#define TESTNUM s11

#define TEST_BEGIN \
    .text; \
    .globl main; \
    .type main, @function; \
main: \
    la t0, isa_trap_handler; \
    csrw mtvec, t0; \
    li s6, 0; \
    li s7, 0; \
    li TESTNUM, 0;

#define TEST_END \
    li a0, 0; \
    j isa_return; \
fail: \
    mv a0, TESTNUM; \
    bnez a0, isa_return; \
    li a0, 1;    /* a failure before the first case still fails */ \
isa_return: \
    la t0, dure_trap_entry; \
    csrw mtvec, t0; \
    tail exit; \
    .size main, . - main; \
    .balign 4; \
isa_trap_handler: \
    csrr s8, mcause; \
    csrr s9, mepc; \
    csrr s10, mtval; \
    csrr s5, mstatus; \
    addi s6, s6, 1; \
    bltz s8, 7779f; \
    beqz s7, 7778f; \
    csrw mepc, s7; \
    li s7, 0; \
    li t6, 0x1800; \
    csrs mstatus, t6; \
    mret; \
7779: \
    csrw mie, zero; \
    mret; \
7778: \
    j dure_trap_entry;

/* Compare `reg` with the 32-bit constant `expected`; jump to fail on mismatch. */
#define CHECK(reg, expected) \
    li t6, expected; beq reg, t6, 9999f; j fail; 9999:

/* Compare two registers. */
#define CHECK_REG(reg, other) \
    beq reg, other, 9999f; j fail; 9999:

/* Case n: run the instructions, then compare `reg` with `expected`. */
#define TEST_CASE(n, reg, expected, ...) \
    li TESTNUM, n; __VA_ARGS__; CHECK(reg, expected)

/* Register-register and register-immediate operations, a4 = a1 op a2 / a1 op imm. */
#define TEST_RR(n, inst, result, v1, v2) \
    TEST_CASE(n, a4, result, li a1, v1; li a2, v2; inst a4, a1, a2)
#define TEST_RI(n, inst, result, v1, imm) \
    TEST_CASE(n, a4, result, li a1, v1; inst a4, a1, imm)
/* Destination equal to a source. */
#define TEST_RR_SRC1_DEST(n, inst, result, v1, v2) \
    TEST_CASE(n, a1, result, li a1, v1; li a2, v2; inst a1, a1, a2)
#define TEST_RR_SRC2_DEST(n, inst, result, v1, v2) \
    TEST_CASE(n, a2, result, li a1, v1; li a2, v2; inst a2, a1, a2)
#define TEST_RR_SRC12_DEST(n, inst, result, v1) \
    TEST_CASE(n, a1, result, li a1, v1; inst a1, a1, a1)
#define TEST_RI_SRC1_DEST(n, inst, result, v1, imm) \
    TEST_CASE(n, a1, result, li a1, v1; inst a1, a1, imm)
/* Writes to x0 are discarded. */
#define TEST_RR_ZERODEST(n, inst, v1, v2) \
    TEST_CASE(n, x0, 0, li a1, v1; li a2, v2; inst x0, a1, a2)
/* Operand forwarding: `nops` instructions between producing the sources and the use, and
 * between the result and its consumer (for pipelines with bypass paths). */
#define TEST_RR_BYPASS(n, nops, inst, result, v1, v2) \
    TEST_CASE(n, a5, result, li a1, v1; .rept nops; nop; .endr; li a2, v2; \
              .rept nops; nop; .endr; inst a4, a1, a2; .rept nops; nop; .endr; addi a5, a4, 0)
#define TEST_RI_BYPASS(n, nops, inst, result, v1, imm) \
    TEST_CASE(n, a5, result, li a1, v1; .rept nops; nop; .endr; inst a4, a1, imm; \
              .rept nops; nop; .endr; addi a5, a4, 0)

/* Branches: taken forward, taken backward, not taken. */
#define TEST_BR_TAKEN(n, inst, v1, v2) \
    li TESTNUM, n; li a1, v1; li a2, v2; \
    inst a1, a2, 7771f; j fail; 7771: \
    j 7773f; 7772: j 7774f; 7773: inst a1, a2, 7772b; j fail; 7774:
#define TEST_BR_NOT_TAKEN(n, inst, v1, v2) \
    li TESTNUM, n; li a1, v1; li a2, v2; \
    inst a1, a2, 7771f; j 7772f; 7771: j fail; 7772: \
    j 7774f; 7773: j fail; 7774: inst a1, a2, 7773b

/* Expect the instructions to trap with `cause` at the address of label `at` (the faulting
 * instruction): checks mcause (s8) and mepc (s9); execution resumes after the case. */
#define TEST_TRAP(n, cause, at, ...) \
    li TESTNUM, n; la s7, 7775f; li s8, -1; li s9, -1; li s10, -1; \
    __VA_ARGS__; j fail; \
    .balign 4; 7775: \
    CHECK(s8, cause); la t5, at; CHECK_REG(s9, t5)

#endif
