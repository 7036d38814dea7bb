/* isa_csr: Zicsr instructions and the machine-mode CSRs.
 *   CSRRW/CSRRS/CSRRC and the immediate forms on mscratch: old value in rd, set/clear
 *   semantics, rd = x0 still writes, rs1 = rd swaps, uimm up to 31
 *   mtvec, mepc (bits 1:0 read as 0), mtval read/write; mcause holds a legal value
 *   misa (0, or MXL = 32 with I and M and no A/C/D/F), mhartid = 0
 *   mstatus: MIE / MPIE writable, MPP holds M or U (0b01 / 0b10 read U), TW writable;
 *   mie: exactly MSIE / MTIE / MEIE writable
 *   minstret: exact counting, writable (the next instruction reads the written value),
 *   carries into minstreth; mcycle: counting, writable, carries into mcycleh;
 *   cycle / instret / time: read-only views of mcycle / minstret / the CLINT mtime */
#include "isa_test.h"
#include "dure_soc.h"

TEST_BEGIN

/* --- mscratch and the six CSR instructions -------------------------------------------- */
TEST_CASE(2, a4, 0xffffffff, li a1, -1; csrw mscratch, a1; csrr a4, mscratch)
TEST_CASE(3, a4, 0, csrw mscratch, zero; csrr a4, mscratch)
TEST_CASE(4, a4, 0x12345678, li a1, 0x12345678; csrw mscratch, a1; li a2, 0x5a5a5a5a; csrrw a4, mscratch, a2)
TEST_CASE(5, a4, 0x5a5a5a5a, csrr a4, mscratch)
TEST_CASE(6, a4, 0x5a5a5a5a, li a1, 0x0000ffff; csrrs a4, mscratch, a1)
TEST_CASE(7, a4, 0x5a5affff, csrr a4, mscratch)
TEST_CASE(8, a4, 0x5a5affff, li a1, 0xff0000ff; csrrc a4, mscratch, a1)
TEST_CASE(9, a4, 0x005aff00, csrr a4, mscratch)
TEST_CASE(10, a4, 0x005aff00, csrrwi a4, mscratch, 31)
TEST_CASE(11, a4, 31, csrrsi a4, mscratch, 0; csrr a4, mscratch)
TEST_CASE(12, a4, 0x3f, csrsi mscratch, 0x10; li a1, 0x20; csrs mscratch, a1; csrr a4, mscratch)
TEST_CASE(13, a4, 0x2a, csrci mscratch, 0x15; csrr a4, mscratch)
TEST_CASE(14, a4, 0x00000020, csrrci a4, mscratch, 0x0a; csrr a4, mscratch)
/* rd = x0 still writes; rd == rs1 swaps */
TEST_CASE(15, a4, 0x777, li a1, 0x777; csrrw x0, mscratch, a1; csrr a4, mscratch)
TEST_CASE(16, a1, 0x777, li a1, 0x888; csrrw a1, mscratch, a1)
TEST_CASE(17, a4, 0x888, csrr a4, mscratch)
/* CSR value used right after the read, and a write read right after */
TEST_CASE(18, a4, 0x889, csrr a1, mscratch; addi a4, a1, 1)
TEST_CASE(19, a4, 0xabc, li a1, 0xabc; csrw mscratch, a1; csrr a4, mscratch)
/* the same CSR by number */
TEST_CASE(20, a4, 0xabc, csrr a4, 0x340)

/* --- trap CSRs ------------------------------------------------------------------------ */
TEST_CASE(30, a4, 0, la a1, isa_trap_handler; csrw mtvec, a1; csrr a4, mtvec; sub a4, a4, a1)
TEST_CASE(31, a4, 0x80001230, li a1, 0x80001230; csrw mepc, a1; csrr a4, mepc)
TEST_CASE(32, a4, 0x80001230, li a1, 0x80001233; csrw mepc, a1; csrr a4, mepc)
TEST_CASE(33, a4, 0xdeadbeef, li a1, 0xdeadbeef; csrw mtval, a1; csrr a4, mtval)
TEST_CASE(34, a4, 11, li a1, 11; csrw mcause, a1; csrr a4, mcause)
TEST_CASE(35, a4, 0x80000007, li a1, 0x80000007; csrw mcause, a1; csrr a4, mcause)

/* --- identification ------------------------------------------------------------------- */
TEST_CASE(40, a4, 0, csrr a4, mhartid)
/* misa: 0, or MXL = 1 with I and M and none of A, C, D, F */
TEST_CASE(41, a4, 0x40001100, csrr a1, misa; li a4, 0x40001100; beqz a1, 1f; li t0, 0xc000112d; and a4, a1, t0; 1:)

/* --- mstatus and mie ------------------------------------------------------------------ */
TEST_CASE(50, a4, 0x0000, csrw mstatus, zero; csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0)
TEST_CASE(51, a4, 0x1880, csrw mie, zero; li a1, 0x1880; csrw mstatus, a1; csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0)
TEST_CASE(52, a4, 0x1888, csrsi mstatus, 8; csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0)
TEST_CASE(53, a4, 0x0000, csrw mstatus, zero; csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0)
TEST_CASE(54, a4, 0x888, li a1, -1; csrw mie, a1; csrr a4, mie; csrw mie, zero)
TEST_CASE(55, a4, 0, csrr a4, mie)
/* MRET to M: MIE = MPIE, MPIE = 1, MPP = U (interrupt sources are all off in mie) */
TEST_CASE(56, a4, 0x0088, li a1, 0x1880; csrw mstatus, a1; la a1, 1f; csrw mepc, a1; mret; j fail; 1: csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0)
TEST_CASE(57, a4, 0x0080, li a1, 0x1800; csrw mstatus, a1; la a1, 1f; csrw mepc, a1; mret; j fail; 1: csrr a4, mstatus; li t0, 0x1888; and a4, a4, t0; csrw mstatus, zero)
/* MPP is WARL: M or U; 0b01 and 0b10 read as U */
TEST_CASE(58, a4, 0x0000, li a1, 0x0800; csrw mstatus, a1; csrr a4, mstatus; li t0, 0x1800; and a4, a4, t0)
TEST_CASE(59, a4, 0x0000, li a1, 0x1000; csrw mstatus, a1; csrr a4, mstatus; li t0, 0x1800; and a4, a4, t0; csrw mstatus, zero)

/* --- minstret ------------------------------------------------------------------------- */
TEST_CASE(60, a4, 1, csrr a1, minstret; csrr a2, minstret; sub a4, a2, a1)
TEST_CASE(61, a4, 6, csrr a1, minstret; nop; nop; nop; nop; nop; csrr a2, minstret; sub a4, a2, a1)
TEST_CASE(62, a4, 1, rdinstret a1; rdinstret a2; sub a4, a2, a1)
TEST_CASE(63, a4, 1, csrr a1, minstret; rdinstret a2; sub a4, a2, a1)
/* a taken branch and a load count once each */
TEST_CASE(64, a4, 4, la t1, data_word; csrr a1, minstret; beqz x0, 1f; nop; 1: lw t0, 0(t1); nop; csrr a2, minstret; sub a4, a2, a1)
/* a loop of 10 x 2 instructions */
TEST_CASE(65, a4, 21, li t0, 10; csrr a1, minstret; 1: addi t0, t0, -1; bnez t0, 1b; csrr a2, minstret; sub a4, a2, a1)
/* a trapping instruction does not retire; the handler's 13 instructions do */
TEST_CASE(66, a4, 0, la s7, 2f; csrr a1, minstret; ecall; 2: csrr a2, minstret; sub a4, a2, a1; addi a4, a4, -14)
/* writes: the next instruction reads the written value */
TEST_CASE(67, a4, 1000, li a1, 1000; csrw minstret, a1; csrr a4, minstret)
TEST_CASE(68, a4, 1003, li a1, 1000; csrw minstret, a1; nop; nop; csrr a4, minstret; addi a4, a4, 1)
/* the low half carries into minstreth */
TEST_CASE(69, a4, 6, li a1, -8; csrw minstret, a1; li a2, 5; csrw minstreth, a2; .rept 12; nop; .endr; csrr a4, minstreth)
TEST_CASE(70, a4, 1, csrr a1, minstret; sltiu a4, a1, 32)
TEST_CASE(71, a4, 6, rdinstreth a4)

/* --- mcycle ---------------------------------------------------------------------------- */
TEST_CASE(80, a4, 1, csrr a1, mcycle; nop; nop; csrr a2, mcycle; sub a2, a2, a1; sltiu a4, a2, 3; xori a4, a4, 1)
TEST_CASE(81, a4, 1, li a1, 0x1000; csrw mcycle, a1; csrr a2, mcycle; sub a2, a2, a1; sltiu a4, a2, 64)
TEST_CASE(82, a4, 1, rdcycle a1; csrr a2, mcycle; sub a2, a2, a1; sltiu a4, a2, 64)
TEST_CASE(83, a4, 10, li a1, 0xffffff00; csrw mcycle, a1; li a2, 9; csrw mcycleh, a2; .rept 300; nop; .endr; csrr a4, mcycleh)
TEST_CASE(84, a4, 10, rdcycleh a4)

/* --- time: the CLINT mtime, read through the CSR --------------------------------------- */
TEST_CASE(90, a4, 1, li t1, DURE_CLINT_BASE + DURE_CLINT_MTIME; lw a1, 0(t1); rdtime a2; lw a3, 0(t1); sub t2, a2, a1; sub t3, a3, a2; or t4, t2, t3; srli a4, t4, 31; xori a4, a4, 1)
/* time advances */
TEST_CASE(91, a4, 1, rdtime a1; .rept 50; nop; .endr; rdtime a2; sltu a4, a1, a2)
TEST_CASE(92, a4, 0, li t1, DURE_CLINT_BASE + DURE_CLINT_MTIMEH; lw a1, 0(t1); rdtimeh a2; sub a4, a2, a1)

TEST_END

    .data
    .balign 4
data_word: .word 5
