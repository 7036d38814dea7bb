/* user_npu: entering the U-mode task and the trap entry while it runs.
 *
 * enter_user(fn, sp): mscratch = the M-mode stack top (the current sp), mtvec = user_trap_entry,
 * MPP = U, mepc = fn, sp = the task's stack; MRET. Never returns (the task ends through
 * SYS_EXIT, whose service exits the program).
 *
 * user_trap_entry: every trap while the task runs comes from U-mode. Swap sp with mscratch
 * (the M stack), save the task's registers in a struct dure_trap_frame, call
 * kernel_trap(frame), restore (the service may change a0 and mepc), swap back, MRET. */
#include "dure_asm.h"

    .section .text.user_entry, "ax"
    .globl enter_user
    .type enter_user, @function
enter_user:
    csrw    mscratch, sp
    la      t0, user_trap_entry
    csrw    mtvec, t0
    li      t0, 0x1800
    csrc    mstatus, t0            /* MPP = U */
    csrw    mepc, a0
    mv      sp, a1
    mret
    .size enter_user, . - enter_user

    .balign 4
    .globl user_trap_entry
    .type user_trap_entry, @function
user_trap_entry:
    csrrw   sp, mscratch, sp       /* sp = M stack, mscratch = the task's sp */
    addi    sp, sp, -FRAME_SIZE
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sw      x\r, \r*4(sp)
    .endr
    csrr    t0, mscratch
    sw      t0, 2*4(sp)
    sw      zero, 0(sp)
    csrr    t0, mcause
    sw      t0, FRAME_MCAUSE(sp)
    csrr    t0, mepc
    sw      t0, FRAME_MEPC(sp)
    csrr    t0, mtval
    sw      t0, FRAME_MTVAL(sp)
    mv      a0, sp
    call    kernel_trap
    lw      t0, FRAME_MEPC(sp)
    csrw    mepc, t0
    lw      t0, 2*4(sp)
    csrw    mscratch, t0           /* the task's sp, swapped in below */
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    lw      x\r, \r*4(sp)
    .endr
    addi    sp, sp, FRAME_SIZE
    csrrw   sp, mscratch, sp       /* sp = the task's, mscratch = the M stack top again */
    mret
    .size user_trap_entry, . - user_trap_entry
