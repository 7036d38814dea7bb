/* isa_trap: synchronous exceptions. For each: mcause, mepc (the faulting instruction, or the
 * target for fetch faults), mtval where the project fixes it, that the faulting instruction
 * has no effect (rd and memory unchanged), that mstatus in the handler has MIE = 0 and
 * MPP = M, and that MRET resumes where the handler pointed mepc.
 *   illegal instruction (2): mtval = the instruction bits; also unimplemented CSRs and writes
 *     to read-only CSRs (including CSRRS/CSRRC with rs1 != x0 holding 0)
 *   breakpoint (3), ecall from M (11)
 *   loads and stores at any address do not trap (misaligned ones are done in hardware); a
 *   misaligned access whose second part faults traps with mtval = that part's first byte
 *   misaligned jump / taken branch target (0): mepc = the jump, mtval = the target
 *   load / store access fault (5 / 7) from unmapped addresses and unlisted peripheral offsets:
 *     mtval = the address
 *   fetch access fault (1) from unmapped space and from a peripheral region:
 *     mepc = mtval = the target */
#include "isa_test.h"
#include "dure_soc.h"

#define UNMAPPED 0x20000000

/* mtval must equal the instruction word at label `at` */
#define CHECK_MTVAL_INSN(at) la t5, at; lw t5, 0(t5); CHECK_REG(s10, t5)
/* an illegal instruction word */
#define TEST_ILLEGAL(n, bits) \
    TEST_TRAP(n, CAUSE_ILLEGAL_INSN, 1b, 1: .word bits); CHECK_MTVAL_INSN(1b)
/* an instruction that must be illegal (written in assembly) */
#define TEST_ILLEGAL_INSN(n, ...) \
    TEST_TRAP(n, CAUSE_ILLEGAL_INSN, 1b, 1: __VA_ARGS__); CHECK_MTVAL_INSN(1b)

#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL_INSN      2
#define CAUSE_BREAKPOINT        3
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_M           11

TEST_BEGIN

/* --- illegal instructions ------------------------------------------------------------- */
TEST_ILLEGAL(2, 0x00000000)         /* all zeros */
TEST_ILLEGAL(3, 0xffffffff)         /* all ones */
TEST_ILLEGAL(4, 0x0000007b)         /* custom-3 opcode */
TEST_ILLEGAL(5, 0x40001033)         /* SLL with funct7 0100000 */
TEST_ILLEGAL(6, 0x04000033)         /* OP with funct7 0000010 */
TEST_ILLEGAL(7, 0x40001013)         /* SLLI with imm[11:5] = 0100000 */
TEST_ILLEGAL(8, 0x42005013)         /* SRAI with shamt[5] set (RV64 only) */
TEST_ILLEGAL(9, 0x00003003)         /* LD (RV64) */
TEST_ILLEGAL(10, 0x00006003)        /* LWU (RV64) */
TEST_ILLEGAL(11, 0x00003023)        /* SD (RV64) */
TEST_ILLEGAL(12, 0x00002063)        /* BRANCH funct3 010 */
TEST_ILLEGAL(13, 0x00001067)        /* JALR funct3 001 */
TEST_ILLEGAL(14, 0x00002007)        /* FLW: no F extension */
TEST_ILLEGAL(15, 0x0000202f)        /* AMO: no A extension */
TEST_ILLEGAL(16, 0x10200073)        /* SRET: no S mode */
TEST_ILLEGAL(17, 0x00004073)        /* SYSTEM funct3 100 */
TEST_ILLEGAL(18, 0x0000003b)        /* OP-32 (RV64) */
/* an illegal instruction does not write rd */
TEST_CASE(19, a4, 0x1234, li a4, 0x1234; la s7, 2f; 1: .word 0x0000003b | (14 << 7); 2:)

/* --- CSRs: unimplemented, and writes to read-only ones -------------------------------- */
TEST_ILLEGAL_INSN(30, csrr a4, 0x180)               /* satp: no S mode */
TEST_ILLEGAL_INSN(31, csrr a4, 0x100)               /* sstatus */
TEST_ILLEGAL_INSN(32, csrr a4, 0x7c0)               /* custom, unimplemented */
TEST_ILLEGAL_INSN(33, csrw mhartid, a1)
TEST_ILLEGAL_INSN(34, csrw mvendorid, zero)
TEST_ILLEGAL_INSN(35, csrw cycle, a1)               /* user counters are read-only */
TEST_ILLEGAL_INSN(36, csrw instret, a1)
TEST_ILLEGAL_INSN(37, csrwi time, 0)
TEST_ILLEGAL_INSN(38, li a1, 0; 1: csrrs a4, mimpid, a1)   /* rs1 != x0: a write, even of 0 */
TEST_ILLEGAL_INSN(39, csrrc a4, marchid, a1)
TEST_ILLEGAL_INSN(40, csrrsi a4, mhartid, 1)
/* the failed CSR instruction did not write rd */
TEST_CASE(41, a4, 0x55, li a4, 0x55; la s7, 2f; 1: csrw cycle, a4; 2:)
/* reading read-only CSRs (rs1 = x0 / uimm = 0) is legal and does not trap */
TEST_CASE(42, s6, 0, li s6, 0; csrr a4, mhartid; csrrs a4, mvendorid, x0; csrrsi a4, marchid, 0; csrrci a4, mimpid, 0; rdcycle a4; rdinstret a4; rdtime a4)
TEST_CASE(43, a4, 0, csrr a4, mhartid)

/* --- breakpoint and environment call -------------------------------------------------- */
TEST_TRAP(50, CAUSE_BREAKPOINT, 1b, 1: ebreak)
TEST_TRAP(51, CAUSE_ECALL_M, 1b, 1: ecall)
/* mstatus seen by the handler: MIE = 0, MPP = M (3) */
TEST_CASE(52, a4, 0x1800, csrci mstatus, 8; la s7, 2f; ecall; 2: li t0, 0x1808; and a4, s5, t0)
/* with MIE set before: the handler sees MIE = 0, MPIE = 1; MRET restores MIE = 1 */
TEST_CASE(53, a4, 0x1880, csrw mie, zero; csrsi mstatus, 8; la s7, 2f; ecall; 2: li t0, 0x1888; and a4, s5, t0)
TEST_CASE(54, a4, 8, csrr a4, mstatus; andi a4, a4, 8; csrci mstatus, 8)
/* the trap count: exactly one trap per faulting instruction */
TEST_CASE(55, s6, 2, li s6, 0; la s7, 1f; ebreak; 1: la s7, 2f; ecall; 2:)

/* --- misaligned loads and stores: done in hardware, no trap --------------------------- */
#define TEST_MIS_LOAD(n, inst, off, result) \
    TEST_CASE(n, a4, result, la a1, data_mis; inst a4, off(a1))
TEST_MIS_LOAD(60, lw, 1, 0x55443322)
TEST_MIS_LOAD(61, lw, 2, 0x66554433)
TEST_MIS_LOAD(62, lw, 3, 0x77665544)
TEST_MIS_LOAD(63, lw, 5, 0x99887766)
TEST_MIS_LOAD(64, lh, 1, 0x3322)
TEST_MIS_LOAD(65, lh, 3, 0x5544)
TEST_MIS_LOAD(66, lh, 7, 0xffff9988)
TEST_MIS_LOAD(67, lhu, 7, 0x9988)
TEST_MIS_LOAD(68, lhu, 5, 0x7766)
TEST_MIS_LOAD(69, lb, 7, 0xffffff88)
/* stores: a word across words, a half across words, a half inside a word */
TEST_CASE(70, a4, 0xb2c3d400, la a1, scratch_mis; li a2, 0xa1b2c3d4; sw a2, 1(a1); lw a4, 0(a1))
TEST_CASE(71, a4, 0x000000a1, lw a4, 4(a1))
TEST_CASE(72, a4, 0xa1b2c3d4, lw a4, 1(a1))
TEST_CASE(73, a4, 0x340000a1, li a2, 0x1234; sh a2, 7(a1); lw a4, 4(a1))
TEST_CASE(74, a4, 0x00000012, lw a4, 8(a1))
TEST_CASE(75, a4, 0xb2567800, li a2, 0x5678; sh a2, 1(a1); lw a4, 0(a1))
/* none of the above trapped */
TEST_CASE(77, s6, 0, li s6, 0; la a1, data_mis; lw a4, 3(a1); sh a4, 3(a1); lhu a4, 1(a1))
/* a load crossing from the end of on-chip RAM: the second part faults, mtval = its first
 * byte, rd unchanged; a store whose first part faults: mtval = its address */
#define TEST_MIS_FAULT(n, cause, addr, tval, ...) \
    TEST_TRAP(n, cause, 1b, li a1, addr; li a4, 0x66; 1: __VA_ARGS__); \
    li t5, tval; CHECK_REG(s10, t5); CHECK(a4, 0x66)
TEST_MIS_FAULT(78, CAUSE_LOAD_ACCESS, DURE_RAM_BASE + DURE_RAM_SIZE - 2,
               DURE_RAM_BASE + DURE_RAM_SIZE, lw a4, 0(a1))
TEST_MIS_FAULT(79, CAUSE_STORE_ACCESS, UNMAPPED - 1, UNMAPPED - 1, sw a4, 0(a1))

/* --- misaligned jump and branch targets ------------------------------------------------ */
TEST_TRAP(80, CAUSE_MISALIGNED_FETCH, 1b, li a4, 0x99; la a1, 3f; 1: jalr a4, 2(a1); 3: nop)
la t5, 3b + 2; CHECK_REG(s10, t5); CHECK(a4, 0x99)      /* mtval = target; rd not written */
TEST_TRAP(81, CAUSE_MISALIGNED_FETCH, 1b, li a4, 0x99; 1: jal a4, 3f + 2; nop; 3: nop)
la t5, 3b + 2; CHECK_REG(s10, t5); CHECK(a4, 0x99)
TEST_TRAP(82, CAUSE_MISALIGNED_FETCH, 1b, 1: beq x0, x0, 3f + 2; nop; 3: nop)
la t5, 3b + 2; CHECK_REG(s10, t5)
TEST_TRAP(83, CAUSE_MISALIGNED_FETCH, 1b, li a1, 1; 1: blt x0, a1, 3f - 6; nop; 3: nop)
la t5, 3b - 6; CHECK_REG(s10, t5)
/* a not-taken branch to a misaligned target does not trap */
TEST_CASE(84, s6, 0, li s6, 0; bne x0, x0, 3f + 2; nop; 3: nop)
/* JALR to an odd address + 1 is aligned after clearing bit 0: no trap */
TEST_CASE(85, s6, 0, li s6, 0; la a1, 3f; addi a1, a1, 1; jalr x0, 0(a1); j fail; 3: nop)

/* --- access faults ----------------------------------------------------------------------- */
#define TEST_ACCESS(n, cause, addr, ...) \
    TEST_TRAP(n, cause, 1b, li a1, addr; li a4, 0x66; 1: __VA_ARGS__); \
    li t5, addr; CHECK_REG(s10, t5); CHECK(a4, 0x66)
TEST_ACCESS(90, CAUSE_LOAD_ACCESS, UNMAPPED, lw a4, 0(a1))
TEST_ACCESS(91, CAUSE_LOAD_ACCESS, UNMAPPED + 0x100, lbu a4, 0(a1))
TEST_ACCESS(92, CAUSE_STORE_ACCESS, UNMAPPED, sw a4, 0(a1))
TEST_ACCESS(93, CAUSE_STORE_ACCESS, UNMAPPED + 0x102, sh a4, 0(a1))
/* just past the end of on-chip RAM */
TEST_ACCESS(94, CAUSE_LOAD_ACCESS, DURE_RAM_BASE + DURE_RAM_SIZE, lw a4, 0(a1))
/* an offset inside a peripheral region that is not a register */
TEST_ACCESS(95, CAUSE_LOAD_ACCESS, DURE_UART_BASE + 0x100, lw a4, 0(a1))
TEST_ACCESS(96, CAUSE_STORE_ACCESS, DURE_GPIO_BASE + 0x80, sw a4, 0(a1))

/* instruction fetch from unmapped space and from a peripheral (not executable) */
#define TEST_FETCH(n, addr) \
    li TESTNUM, n; la s7, 7f; li s8, -1; li s9, -1; li s10, -1; li a4, 0x44; \
    li a1, addr; jalr a4, 0(a1); j fail; 7: \
    CHECK(s8, CAUSE_FETCH_ACCESS); li t5, addr; CHECK_REG(s9, t5); CHECK_REG(s10, t5)
TEST_FETCH(100, UNMAPPED)
TEST_FETCH(101, DURE_UART_BASE)
TEST_FETCH(102, DURE_CLINT_BASE)
TEST_FETCH(103, DURE_TEST_EXIT_BASE)
/* JALR into a fetch fault still writes its link register (the JALR itself retired) */
TEST_CASE(104, a4, 0, la s7, 7f; li a1, UNMAPPED; 1: jalr a4, 0(a1); 7: la t5, 1b + 4; sub a4, a4, t5)

/* --- the handler may resume anywhere: MRET to a computed mepc ------------------------- */
TEST_CASE(110, a4, 5, li a4, 0; la s7, 2f; ecall; li a4, 1; j fail; 2: li a4, 5)

TEST_END

    .data
    .balign 4
data_mis: .word 0x44332211, 0x88776655, 0xccbbaa99
scratch_mis: .word 0, 0, 0
