/* crt0.S: reset entry and the default trap entry of every Dure firmware program.
 *
 * _start: sets gp and sp, points mtvec at dure_trap_entry (direct mode), copies .data from its
 * load address when that differs from its run address, clears .bss, calls main(0, 0) and hands
 * main's return value to exit() (0 = pass, n = failure n).
 *
 * dure_trap_entry: saves all 31 registers and mcause/mepc/mtval into a struct dure_trap_frame
 * on the stack, calls dure_trap_dispatch(frame) (runtime/trap.c) and resumes at frame->mepc
 * with every register restored from the frame (so a C handler may change them).
 */
#include "dure_asm.h"

    .section .text.init, "ax"
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      t0, dure_trap_entry
    csrw    mtvec, t0

    /* .data: copy only when linked to load somewhere else than it runs */
    la      a0, __data_load
    la      a1, __data_start
    la      a2, __data_end
    beq     a0, a1, 2f
1:  bgeu    a1, a2, 2f
    lw      t0, 0(a0)
    sw      t0, 0(a1)
    addi    a0, a0, 4
    addi    a1, a1, 4
    j       1b
2:
    /* .bss */
    la      a0, __bss_start
    la      a1, __bss_end
3:  bgeu    a0, a1, 4f
    sw      zero, 0(a0)
    addi    a0, a0, 4
    j       3b
4:
    li      a0, 0
    li      a1, 0
    call    main
    call    exit            /* never returns */
5:  j       5b
    .size _start, . - _start

/* Trap entry. mtvec needs 4-byte alignment (direct mode). */
    .section .text.trap, "ax"
    .balign 4
    .globl dure_trap_entry
    .type dure_trap_entry, @function
dure_trap_entry:
    addi    sp, sp, -FRAME_SIZE
    sw      x1,  1*4(sp)
    /* x2 (sp) is stored below, as its value before the trap */
    sw      x3,  3*4(sp)
    sw      x4,  4*4(sp)
    sw      x5,  5*4(sp)
    sw      x6,  6*4(sp)
    sw      x7,  7*4(sp)
    sw      x8,  8*4(sp)
    sw      x9,  9*4(sp)
    sw      x10, 10*4(sp)
    sw      x11, 11*4(sp)
    sw      x12, 12*4(sp)
    sw      x13, 13*4(sp)
    sw      x14, 14*4(sp)
    sw      x15, 15*4(sp)
    sw      x16, 16*4(sp)
    sw      x17, 17*4(sp)
    sw      x18, 18*4(sp)
    sw      x19, 19*4(sp)
    sw      x20, 20*4(sp)
    sw      x21, 21*4(sp)
    sw      x22, 22*4(sp)
    sw      x23, 23*4(sp)
    sw      x24, 24*4(sp)
    sw      x25, 25*4(sp)
    sw      x26, 26*4(sp)
    sw      x27, 27*4(sp)
    sw      x28, 28*4(sp)
    sw      x29, 29*4(sp)
    sw      x30, 30*4(sp)
    sw      x31, 31*4(sp)
    addi    t0, sp, FRAME_SIZE
    sw      t0,  2*4(sp)
    sw      zero, 0(sp)
    csrr    t0, mcause
    sw      t0, FRAME_MCAUSE(sp)
    csrr    t0, mepc
    sw      t0, FRAME_MEPC(sp)
    csrr    t0, mtval
    sw      t0, FRAME_MTVAL(sp)

    mv      a0, sp
    call    dure_trap_dispatch

    lw      t0, FRAME_MEPC(sp)
    csrw    mepc, t0
    lw      x1,  1*4(sp)
    lw      x3,  3*4(sp)
    lw      x4,  4*4(sp)
    lw      x5,  5*4(sp)
    lw      x6,  6*4(sp)
    lw      x7,  7*4(sp)
    lw      x8,  8*4(sp)
    lw      x9,  9*4(sp)
    lw      x10, 10*4(sp)
    lw      x11, 11*4(sp)
    lw      x12, 12*4(sp)
    lw      x13, 13*4(sp)
    lw      x14, 14*4(sp)
    lw      x15, 15*4(sp)
    lw      x16, 16*4(sp)
    lw      x17, 17*4(sp)
    lw      x18, 18*4(sp)
    lw      x19, 19*4(sp)
    lw      x20, 20*4(sp)
    lw      x21, 21*4(sp)
    lw      x22, 22*4(sp)
    lw      x23, 23*4(sp)
    lw      x24, 24*4(sp)
    lw      x25, 25*4(sp)
    lw      x26, 26*4(sp)
    lw      x27, 27*4(sp)
    lw      x28, 28*4(sp)
    lw      x29, 29*4(sp)
    lw      x30, 30*4(sp)
    lw      x31, 31*4(sp)
    lw      sp,  2*4(sp)
    mret
    .size dure_trap_entry, . - dure_trap_entry
