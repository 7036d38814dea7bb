/* isa_branch: BEQ BNE BLT BGE BLTU BGEU, each taken and not taken, forward and backward, on
 * equal values, signed/unsigned edges (0, -1, INT_MIN, INT_MAX) where signed and unsigned
 * comparisons disagree; same-register operands; branches that must not write any register;
 * a dense loop and consecutive branches (for branch prediction / flush). */
#include "isa_test.h"

TEST_BEGIN

/* beq */
TEST_BR_TAKEN(2, beq, 0x00000000, 0x00000000)
TEST_BR_TAKEN(3, beq, 0x00000001, 0x00000001)
TEST_BR_NOT_TAKEN(4, beq, 0x00000000, 0x00000001)
TEST_BR_NOT_TAKEN(5, beq, 0x00000001, 0x00000000)
TEST_BR_TAKEN(6, beq, 0xffffffff, 0xffffffff)
TEST_BR_NOT_TAKEN(7, beq, 0xffffffff, 0x00000000)
TEST_BR_NOT_TAKEN(8, beq, 0x00000000, 0xffffffff)
TEST_BR_NOT_TAKEN(9, beq, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(10, beq, 0x7fffffff, 0x80000000)
TEST_BR_TAKEN(11, beq, 0x80000000, 0x80000000)
TEST_BR_NOT_TAKEN(12, beq, 0xffffffff, 0x00000001)
TEST_BR_NOT_TAKEN(13, beq, 0x00000001, 0xffffffff)
TEST_BR_NOT_TAKEN(14, beq, 0x80000000, 0x00000000)
TEST_BR_NOT_TAKEN(15, beq, 0x00000000, 0x80000000)
TEST_BR_NOT_TAKEN(16, beq, 0xfffffffe, 0xffffffff)
TEST_BR_NOT_TAKEN(17, beq, 0xffffffff, 0xfffffffe)
/* bne */
TEST_BR_NOT_TAKEN(18, bne, 0x00000000, 0x00000000)
TEST_BR_NOT_TAKEN(19, bne, 0x00000001, 0x00000001)
TEST_BR_TAKEN(20, bne, 0x00000000, 0x00000001)
TEST_BR_TAKEN(21, bne, 0x00000001, 0x00000000)
TEST_BR_NOT_TAKEN(22, bne, 0xffffffff, 0xffffffff)
TEST_BR_TAKEN(23, bne, 0xffffffff, 0x00000000)
TEST_BR_TAKEN(24, bne, 0x00000000, 0xffffffff)
TEST_BR_TAKEN(25, bne, 0x80000000, 0x7fffffff)
TEST_BR_TAKEN(26, bne, 0x7fffffff, 0x80000000)
TEST_BR_NOT_TAKEN(27, bne, 0x80000000, 0x80000000)
TEST_BR_TAKEN(28, bne, 0xffffffff, 0x00000001)
TEST_BR_TAKEN(29, bne, 0x00000001, 0xffffffff)
TEST_BR_TAKEN(30, bne, 0x80000000, 0x00000000)
TEST_BR_TAKEN(31, bne, 0x00000000, 0x80000000)
TEST_BR_TAKEN(32, bne, 0xfffffffe, 0xffffffff)
TEST_BR_TAKEN(33, bne, 0xffffffff, 0xfffffffe)
/* blt */
TEST_BR_NOT_TAKEN(34, blt, 0x00000000, 0x00000000)
TEST_BR_NOT_TAKEN(35, blt, 0x00000001, 0x00000001)
TEST_BR_TAKEN(36, blt, 0x00000000, 0x00000001)
TEST_BR_NOT_TAKEN(37, blt, 0x00000001, 0x00000000)
TEST_BR_NOT_TAKEN(38, blt, 0xffffffff, 0xffffffff)
TEST_BR_TAKEN(39, blt, 0xffffffff, 0x00000000)
TEST_BR_NOT_TAKEN(40, blt, 0x00000000, 0xffffffff)
TEST_BR_TAKEN(41, blt, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(42, blt, 0x7fffffff, 0x80000000)
TEST_BR_NOT_TAKEN(43, blt, 0x80000000, 0x80000000)
TEST_BR_TAKEN(44, blt, 0xffffffff, 0x00000001)
TEST_BR_NOT_TAKEN(45, blt, 0x00000001, 0xffffffff)
TEST_BR_TAKEN(46, blt, 0x80000000, 0x00000000)
TEST_BR_NOT_TAKEN(47, blt, 0x00000000, 0x80000000)
TEST_BR_TAKEN(48, blt, 0xfffffffe, 0xffffffff)
TEST_BR_NOT_TAKEN(49, blt, 0xffffffff, 0xfffffffe)
/* bge */
TEST_BR_TAKEN(50, bge, 0x00000000, 0x00000000)
TEST_BR_TAKEN(51, bge, 0x00000001, 0x00000001)
TEST_BR_NOT_TAKEN(52, bge, 0x00000000, 0x00000001)
TEST_BR_TAKEN(53, bge, 0x00000001, 0x00000000)
TEST_BR_TAKEN(54, bge, 0xffffffff, 0xffffffff)
TEST_BR_NOT_TAKEN(55, bge, 0xffffffff, 0x00000000)
TEST_BR_TAKEN(56, bge, 0x00000000, 0xffffffff)
TEST_BR_NOT_TAKEN(57, bge, 0x80000000, 0x7fffffff)
TEST_BR_TAKEN(58, bge, 0x7fffffff, 0x80000000)
TEST_BR_TAKEN(59, bge, 0x80000000, 0x80000000)
TEST_BR_NOT_TAKEN(60, bge, 0xffffffff, 0x00000001)
TEST_BR_TAKEN(61, bge, 0x00000001, 0xffffffff)
TEST_BR_NOT_TAKEN(62, bge, 0x80000000, 0x00000000)
TEST_BR_TAKEN(63, bge, 0x00000000, 0x80000000)
TEST_BR_NOT_TAKEN(64, bge, 0xfffffffe, 0xffffffff)
TEST_BR_TAKEN(65, bge, 0xffffffff, 0xfffffffe)
/* bltu */
TEST_BR_NOT_TAKEN(66, bltu, 0x00000000, 0x00000000)
TEST_BR_NOT_TAKEN(67, bltu, 0x00000001, 0x00000001)
TEST_BR_TAKEN(68, bltu, 0x00000000, 0x00000001)
TEST_BR_NOT_TAKEN(69, bltu, 0x00000001, 0x00000000)
TEST_BR_NOT_TAKEN(70, bltu, 0xffffffff, 0xffffffff)
TEST_BR_NOT_TAKEN(71, bltu, 0xffffffff, 0x00000000)
TEST_BR_TAKEN(72, bltu, 0x00000000, 0xffffffff)
TEST_BR_NOT_TAKEN(73, bltu, 0x80000000, 0x7fffffff)
TEST_BR_TAKEN(74, bltu, 0x7fffffff, 0x80000000)
TEST_BR_NOT_TAKEN(75, bltu, 0x80000000, 0x80000000)
TEST_BR_NOT_TAKEN(76, bltu, 0xffffffff, 0x00000001)
TEST_BR_TAKEN(77, bltu, 0x00000001, 0xffffffff)
TEST_BR_NOT_TAKEN(78, bltu, 0x80000000, 0x00000000)
TEST_BR_TAKEN(79, bltu, 0x00000000, 0x80000000)
TEST_BR_TAKEN(80, bltu, 0xfffffffe, 0xffffffff)
TEST_BR_NOT_TAKEN(81, bltu, 0xffffffff, 0xfffffffe)
/* bgeu */
TEST_BR_TAKEN(82, bgeu, 0x00000000, 0x00000000)
TEST_BR_TAKEN(83, bgeu, 0x00000001, 0x00000001)
TEST_BR_NOT_TAKEN(84, bgeu, 0x00000000, 0x00000001)
TEST_BR_TAKEN(85, bgeu, 0x00000001, 0x00000000)
TEST_BR_TAKEN(86, bgeu, 0xffffffff, 0xffffffff)
TEST_BR_TAKEN(87, bgeu, 0xffffffff, 0x00000000)
TEST_BR_NOT_TAKEN(88, bgeu, 0x00000000, 0xffffffff)
TEST_BR_TAKEN(89, bgeu, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(90, bgeu, 0x7fffffff, 0x80000000)
TEST_BR_TAKEN(91, bgeu, 0x80000000, 0x80000000)
TEST_BR_TAKEN(92, bgeu, 0xffffffff, 0x00000001)
TEST_BR_NOT_TAKEN(93, bgeu, 0x00000001, 0xffffffff)
TEST_BR_TAKEN(94, bgeu, 0x80000000, 0x00000000)
TEST_BR_NOT_TAKEN(95, bgeu, 0x00000000, 0x80000000)
TEST_BR_NOT_TAKEN(96, bgeu, 0xfffffffe, 0xffffffff)
TEST_BR_TAKEN(97, bgeu, 0xffffffff, 0xfffffffe)

/* same register on both sides */
TEST_CASE(500, a4, 1, li a4, 0; li a1, 5; beq a1, a1, 1f; j fail; 1: li a4, 1)
TEST_CASE(501, a4, 1, li a4, 0; li a1, 5; bge a1, a1, 1f; j fail; 1: bgeu a1, a1, 2f; j fail; 2: li a4, 1)
TEST_CASE(502, a4, 1, li a1, 5; blt a1, a1, fail_near_502; bltu a1, a1, fail_near_502; bne a1, a1, fail_near_502; li a4, 1; j 1f; fail_near_502: j fail; 1:)
/* x0 as operand */
TEST_CASE(503, a4, 1, li a4, 0; beq x0, x0, 1f; j fail; 1: bltu x0, x0, fail_near_503; li a4, 1; j 2f; fail_near_503: j fail; 2:)
/* instructions after a taken branch are not executed */
TEST_CASE(504, a4, 3, li a4, 3; li a1, 1; bnez a1, 1f; addi a4, a4, 1; addi a4, a4, 1; addi a4, a4, 1; 1:)
/* a counted loop: sum 1..100 with a backward BNE */
TEST_CASE(505, a4, 5050, li a4, 0; li a1, 100; 1: add a4, a4, a1; addi a1, a1, -1; bnez a1, 1b)
/* nested loops, 10 x 20, with BLTU / BGE exits */
TEST_CASE(506, a4, 200, li a4, 0; li a1, 0; 1: li a2, 0; 2: addi a4, a4, 1; addi a2, a2, 1; li t0, 20; bltu a2, t0, 2b; addi a1, a1, 1; li t0, 10; bge a1, t0, 3f; j 1b; 3:)
/* alternating taken / not-taken pattern (trains and then breaks a predictor) */
TEST_CASE(507, a4, 50, li a4, 0; li a1, 100; 1: andi t0, a1, 1; beqz t0, 2f; addi a4, a4, 1; 2: addi a1, a1, -1; bnez a1, 1b)
/* branch on a value produced by the previous instruction (load and ALU forwarding) */
TEST_CASE(508, a4, 1, li a4, 0; la t1, branch_word; lw a1, 0(t1); bnez a1, 1f; j fail; 1: addi a2, a1, -7; beqz a2, 2f; j fail; 2: li a4, 1)

TEST_END

    .data
    .balign 4
branch_word: .word 7
