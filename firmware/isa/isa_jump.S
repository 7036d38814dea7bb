/* isa_jump: JAL and JALR. Link value = address of the jump + 4 (also when read right away),
 * forward and backward targets, rd = x0 (no link), JALR with positive/negative offsets, bit 0
 * of the target cleared (from rs1 and from the offset), rd == rs1 (the old rs1 is the base),
 * skipped instructions are not executed, and nested calls through ra. */
#include "isa_test.h"

TEST_BEGIN

/* JAL forward: link = pc + 4 */
TEST_CASE(2, a4, 0, 1: jal a4, 2f; j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
/* JAL backward */
TEST_CASE(3, a4, 0, j 3f; 2: j 4f; 3: 1: jal a4, 2b; j fail; 4: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
/* JAL with rd = x0 writes nothing */
TEST_CASE(4, a4, 0, j 2f; j fail; 2: mv a4, x0)
/* skipped instructions do not execute */
TEST_CASE(5, a4, 1, li a4, 1; jal a1, 2f; addi a4, a4, 1; addi a4, a4, 1; 2:)
/* link used by the very next instruction */
TEST_CASE(6, a4, 0, 1: jal a1, 2f; 2: addi a4, a1, 0; la t5, 2b; sub a4, a4, t5)

/* JALR: target = rs1 + imm, link = pc + 4 */
TEST_CASE(10, a4, 0, la a1, 2f; 1: jalr a4, 0(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
TEST_CASE(11, a4, 0, la a1, 2f; addi a1, a1, -12; 1: jalr a4, 12(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
TEST_CASE(12, a4, 0, la a1, 2f; addi a1, a1, 16; 1: jalr a4, -16(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
/* bit 0 of the target is cleared: odd rs1, odd offset */
TEST_CASE(13, a4, 0, la a1, 2f; addi a1, a1, 1; 1: jalr a4, 0(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
TEST_CASE(14, a4, 0, la a1, 2f; 1: jalr a4, 1(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
TEST_CASE(15, a4, 0, la a1, 2f; addi a1, a1, 2; 1: jalr a4, -1(a1); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
/* rd == rs1: the jump uses the old value, then rd gets the link */
TEST_CASE(16, a4, 0, la a4, 2f; 1: jalr a4, 0(a4); j fail; 2: la t5, 1b; addi t5, t5, 4; sub a4, a4, t5)
/* rd = x0 (indirect jump without link) */
TEST_CASE(17, a4, 0, la a1, 2f; jalr x0, 0(a1); j fail; 2: mv a4, x0)
/* rs1 produced by the previous instruction (forwarding into the target) */
TEST_CASE(18, a4, 7, li a4, 0; la a1, 2f; addi a1, a1, -4; addi a1, a1, 4; jalr x0, 0(a1); j fail; 2: li a4, 7)
/* JALR target loaded from memory just before (load-use into the jump) */
TEST_CASE(19, a4, 9, li a4, 0; la t1, jump_table; lw a1, 0(t1); jalr x0, 0(a1); j fail; jump_target: li a4, 9)

/* calls and returns through ra, two levels, with the stack */
TEST_CASE(30, a0, 42, li a0, 5; call outer)
TEST_CASE(31, a4, 1, li a4, 0; li a1, 3; 1: call leaf_inc; addi a1, a1, -1; bnez a1, 1b; addi a4, a4, -2)

TEST_END

/* outer(a0) = leaf(a0 * 2) + 30 */
outer:
    addi sp, sp, -16
    sw ra, 12(sp)
    slli a0, a0, 1
    call leaf
    addi a0, a0, 30
    lw ra, 12(sp)
    addi sp, sp, 16
    ret
/* leaf(a0) = a0 + 2 */
leaf:
    addi a0, a0, 2
    ret
/* a4 += 1 */
leaf_inc:
    addi a4, a4, 1
    ret

    .data
    .balign 4
jump_table: .word jump_target
