/* isa_mem: LB LH LW LBU LHU SB SH SW. Every load at every byte (half, word) offset of a pattern
 * whose bytes and halves have both sign bits, so sign and zero extension show; positive,
 * negative and extreme (+2047 / -2048) offsets; byte and half stores at every offset into a
 * zero word and into a full word (neighbouring bytes must survive); stores read back by every
 * load kind; store-to-load and load-to-use back to back; loads into x0 and with rd == rs1. */
#include "isa_test.h"

TEST_BEGIN

TEST_CASE(2, a4, 0x00000001, la a1, mem_src; lb a4, 0(a1))
TEST_CASE(3, a4, 0x00000001, la a1, mem_src; lbu a4, 0(a1))
TEST_CASE(4, a4, 0x0000007f, la a1, mem_src; lb a4, 1(a1))
TEST_CASE(5, a4, 0x0000007f, la a1, mem_src; lbu a4, 1(a1))
TEST_CASE(6, a4, 0xffffffff, la a1, mem_src; lb a4, 2(a1))
TEST_CASE(7, a4, 0x000000ff, la a1, mem_src; lbu a4, 2(a1))
TEST_CASE(8, a4, 0xffffff80, la a1, mem_src; lb a4, 3(a1))
TEST_CASE(9, a4, 0x00000080, la a1, mem_src; lbu a4, 3(a1))
TEST_CASE(10, a4, 0x00000001, la a1, mem_src; lb a4, 4(a1))
TEST_CASE(11, a4, 0x00000001, la a1, mem_src; lbu a4, 4(a1))
TEST_CASE(12, a4, 0xffffff80, la a1, mem_src; lb a4, 5(a1))
TEST_CASE(13, a4, 0x00000080, la a1, mem_src; lbu a4, 5(a1))
TEST_CASE(14, a4, 0xfffffffe, la a1, mem_src; lb a4, 6(a1))
TEST_CASE(15, a4, 0x000000fe, la a1, mem_src; lbu a4, 6(a1))
TEST_CASE(16, a4, 0x0000007f, la a1, mem_src; lb a4, 7(a1))
TEST_CASE(17, a4, 0x0000007f, la a1, mem_src; lbu a4, 7(a1))
TEST_CASE(18, a4, 0x00000000, la a1, mem_src; lb a4, 8(a1))
TEST_CASE(19, a4, 0x00000000, la a1, mem_src; lbu a4, 8(a1))
TEST_CASE(20, a4, 0x00000000, la a1, mem_src; lb a4, 9(a1))
TEST_CASE(21, a4, 0x00000000, la a1, mem_src; lbu a4, 9(a1))
TEST_CASE(22, a4, 0x00000000, la a1, mem_src; lb a4, 10(a1))
TEST_CASE(23, a4, 0x00000000, la a1, mem_src; lbu a4, 10(a1))
TEST_CASE(24, a4, 0x00000000, la a1, mem_src; lb a4, 11(a1))
TEST_CASE(25, a4, 0x00000000, la a1, mem_src; lbu a4, 11(a1))
TEST_CASE(26, a4, 0xffffffff, la a1, mem_src; lb a4, 12(a1))
TEST_CASE(27, a4, 0x000000ff, la a1, mem_src; lbu a4, 12(a1))
TEST_CASE(28, a4, 0xffffffff, la a1, mem_src; lb a4, 13(a1))
TEST_CASE(29, a4, 0x000000ff, la a1, mem_src; lbu a4, 13(a1))
TEST_CASE(30, a4, 0xffffffff, la a1, mem_src; lb a4, 14(a1))
TEST_CASE(31, a4, 0x000000ff, la a1, mem_src; lbu a4, 14(a1))
TEST_CASE(32, a4, 0xffffffff, la a1, mem_src; lb a4, 15(a1))
TEST_CASE(33, a4, 0x000000ff, la a1, mem_src; lbu a4, 15(a1))
TEST_CASE(34, a4, 0x00007f01, la a1, mem_src; lh a4, 0(a1))
TEST_CASE(35, a4, 0x00007f01, la a1, mem_src; lhu a4, 0(a1))
TEST_CASE(36, a4, 0xffff80ff, la a1, mem_src; lh a4, 2(a1))
TEST_CASE(37, a4, 0x000080ff, la a1, mem_src; lhu a4, 2(a1))
TEST_CASE(38, a4, 0xffff8001, la a1, mem_src; lh a4, 4(a1))
TEST_CASE(39, a4, 0x00008001, la a1, mem_src; lhu a4, 4(a1))
TEST_CASE(40, a4, 0x00007ffe, la a1, mem_src; lh a4, 6(a1))
TEST_CASE(41, a4, 0x00007ffe, la a1, mem_src; lhu a4, 6(a1))
TEST_CASE(42, a4, 0x00000000, la a1, mem_src; lh a4, 8(a1))
TEST_CASE(43, a4, 0x00000000, la a1, mem_src; lhu a4, 8(a1))
TEST_CASE(44, a4, 0x00000000, la a1, mem_src; lh a4, 10(a1))
TEST_CASE(45, a4, 0x00000000, la a1, mem_src; lhu a4, 10(a1))
TEST_CASE(46, a4, 0xffffffff, la a1, mem_src; lh a4, 12(a1))
TEST_CASE(47, a4, 0x0000ffff, la a1, mem_src; lhu a4, 12(a1))
TEST_CASE(48, a4, 0xffffffff, la a1, mem_src; lh a4, 14(a1))
TEST_CASE(49, a4, 0x0000ffff, la a1, mem_src; lhu a4, 14(a1))
TEST_CASE(50, a4, 0x80ff7f01, la a1, mem_src; lw a4, 0(a1))
TEST_CASE(51, a4, 0x7ffe8001, la a1, mem_src; lw a4, 4(a1))
TEST_CASE(52, a4, 0x00000000, la a1, mem_src; lw a4, 8(a1))
TEST_CASE(53, a4, 0xffffffff, la a1, mem_src; lw a4, 12(a1))
TEST_CASE(54, a4, 0xffffffff, la a1, mem_src + 16; lb a4, -1(a1))
TEST_CASE(55, a4, 0xffffffff, la a1, mem_src + 16; lb a4, -2(a1))
TEST_CASE(56, a4, 0xffffffff, la a1, mem_src + 16; lb a4, -3(a1))
TEST_CASE(57, a4, 0xffffffff, la a1, mem_src + 16; lb a4, -4(a1))
TEST_CASE(58, a4, 0x00000000, la a1, mem_src + 16; lb a4, -5(a1))
TEST_CASE(59, a4, 0x00000000, la a1, mem_src + 16; lb a4, -8(a1))
TEST_CASE(60, a4, 0x7ffe8001, la a1, mem_src + 4 - 2047; lw a4, 2047(a1))
TEST_CASE(61, a4, 0x80ff7f01, la a1, mem_src + 2048; lw a4, -2048(a1))
TEST_CASE(200, a4, 0x000000a5, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 0(a1); lw a4, 0(a1))
TEST_CASE(201, a4, 0x0000a500, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 1(a1); lw a4, 0(a1))
TEST_CASE(202, a4, 0x00a50000, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 2(a1); lw a4, 0(a1))
TEST_CASE(203, a4, 0xa5000000, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 3(a1); lw a4, 0(a1))
TEST_CASE(204, a4, 0x0000beef, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0xdeadbeef; sh a3, 0(a1); lw a4, 0(a1))
TEST_CASE(205, a4, 0xbeef0000, la a1, mem_dst; li a2, 0x00000000; sw a2, 0(a1); li a3, 0xdeadbeef; sh a3, 2(a1); lw a4, 0(a1))
TEST_CASE(206, a4, 0x112233a5, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 0(a1); lw a4, 0(a1))
TEST_CASE(207, a4, 0x1122a544, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 1(a1); lw a4, 0(a1))
TEST_CASE(208, a4, 0x11a53344, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 2(a1); lw a4, 0(a1))
TEST_CASE(209, a4, 0xa5223344, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0x5a5a5aa5; sb a3, 3(a1); lw a4, 0(a1))
TEST_CASE(210, a4, 0x1122beef, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0xdeadbeef; sh a3, 0(a1); lw a4, 0(a1))
TEST_CASE(211, a4, 0xbeef3344, la a1, mem_dst; li a2, 0x11223344; sw a2, 0(a1); li a3, 0xdeadbeef; sh a3, 2(a1); lw a4, 0(a1))
TEST_CASE(212, a4, 0xffffffb0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lb a4, 0(a1))
TEST_CASE(213, a4, 0x000000b0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lbu a4, 0(a1))
TEST_CASE(214, a4, 0xffffffa0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lb a4, 1(a1))
TEST_CASE(215, a4, 0x000000a0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lbu a4, 1(a1))
TEST_CASE(216, a4, 0xffffff90, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lb a4, 2(a1))
TEST_CASE(217, a4, 0x00000090, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lbu a4, 2(a1))
TEST_CASE(218, a4, 0xffffff80, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lb a4, 3(a1))
TEST_CASE(219, a4, 0x00000080, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lbu a4, 3(a1))
TEST_CASE(220, a4, 0xffffa0b0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lh a4, 0(a1))
TEST_CASE(221, a4, 0x0000a0b0, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lhu a4, 0(a1))
TEST_CASE(222, a4, 0xffff8090, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lh a4, 2(a1))
TEST_CASE(223, a4, 0x00008090, la a1, mem_dst; li a2, 0x8090a0b0; sw a2, 0(a1); lhu a4, 2(a1))
TEST_CASE(224, a4, 0x000000c3, la a1, mem_dst + 8; sw x0, -8(a1); li a2, 0xc3; sb a2, -8(a1); lw a4, -8(a1))
TEST_CASE(225, a4, 0x12345678, la a1, mem_dst + 2048; li a2, 0x12345678; sw a2, -2044(a1); la a3, mem_dst + 4; lw a4, 0(a3))

/* load-use: the loaded value feeds the next instruction */
TEST_CASE(400, a4, 0x01fefe02, la a1, mem_src; lw a2, 0(a1); add a4, a2, a2)
TEST_CASE(401, a4, 0x00000002, la a1, mem_src; lb a2, 0(a1); add a4, a2, a2)
/* load address produced by a load (pointer chasing) */
TEST_CASE(402, a4, 0x7ffe8001, la a1, mem_ptr; lw a2, 0(a1); lw a4, 4(a2))
/* rd == rs1 */
TEST_CASE(403, a1, 0x80ff7f01, la a1, mem_src; lw a1, 0(a1))
/* a load into x0 is discarded */
TEST_CASE(404, a4, 0, la a1, mem_src; lw x0, 0(a1); mv a4, x0)
/* store data produced by the previous instruction, then loaded right away */
TEST_CASE(405, a4, 0x00000055, la a1, mem_dst; li a2, 0x50; addi a2, a2, 5; sw a2, 0(a1); lw a4, 0(a1))
/* store address produced by the previous instruction */
TEST_CASE(406, a4, 0x00000066, la a1, mem_dst; addi a1, a1, 4; li a2, 0x66; sw a2, 0(a1); la a3, mem_dst; lw a4, 4(a3))
/* several stores then loads in a row */
TEST_CASE(407, a4, 0x0d0c0b0a, la a1, mem_dst; li a2, 0x0a; sb a2, 0(a1); li a2, 0x0b; sb a2, 1(a1); li a2, 0xff0c; sh a2, 2(a1); li a2, 0x0d; sb a2, 3(a1); lw a4, 0(a1))
/* copy a 16-word block with a loop, then checksum it */
TEST_CASE(408, a4, 0x21de, la a1, copy_src; la a2, copy_dst; li a3, 16; 1: lw t0, 0(a1); sw t0, 0(a2); addi a1, a1, 4; addi a2, a2, 4; addi a3, a3, -1; bnez a3, 1b; la a1, copy_dst; li a3, 16; li a4, 0; 2: lw t0, 0(a1); add a4, a4, t0; addi a1, a1, 4; addi a3, a3, -1; bnez a3, 2b)

/* --- misaligned loads and stores (done in hardware, no trap) -------------------------- */
TEST_CASE(410, a4, 0x0180ff7f, la a1, mem_src; lw a4, 1(a1))
TEST_CASE(411, a4, 0xfe800180, la a1, mem_src; lw a4, 3(a1))
TEST_CASE(412, a4, 0xffff0000, la a1, mem_src; lw a4, 10(a1))
TEST_CASE(413, a4, 0x00000180, la a1, mem_src; lh a4, 3(a1))
TEST_CASE(414, a4, 0xffffff7f, la a1, mem_src; lh a4, 1(a1))
TEST_CASE(415, a4, 0x0000ff7f, la a1, mem_src; lhu a4, 1(a1))
TEST_CASE(416, a4, 0xffffff00, la a1, mem_src; lh a4, 11(a1))
TEST_CASE(417, a4, 0x0000ff00, la a1, mem_src; lhu a4, 11(a1))
TEST_CASE(418, a4, 0x22334400, la a1, mem_dst; li a2, 0x11223344; sw a2, 9(a1); lw a4, 8(a1))
TEST_CASE(419, a4, 0x00000011, lw a4, 12(a1))
TEST_CASE(420, a4, 0x11223344, lw a4, 9(a1))
TEST_CASE(421, a4, 0xcd334400, li a2, 0xabcd; sh a2, 11(a1); lw a4, 8(a1))
TEST_CASE(422, a4, 0x000000ab, lw a4, 12(a1))
/* a misaligned load used right away, and a misaligned store right after a load */
TEST_CASE(423, a4, 0x0180ff80, la a1, mem_src; lw a4, 1(a1); addi a4, a4, 1)
TEST_CASE(424, a4, 0x0180ff7f, la a1, mem_src; la a3, mem_dst; lw a2, 1(a1); sw a2, 5(a3); lw a4, 5(a3))

TEST_END

    .data
    .balign 4
mem_src:
    .word 0x80ff7f01, 0x7ffe8001, 0x00000000, 0xffffffff
mem_ptr:
    .word mem_src
copy_src:
    .word 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 6088
    .bss
    .balign 4
mem_dst:
    .space 16
copy_dst:
    .space 64
