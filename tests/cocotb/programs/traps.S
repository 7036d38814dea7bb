# Directed test: synchronous exceptions and bus errors must trap to mtvec (never hang) with the
# right mcause and mepc, and a trapping load must not write its destination register.
# Exit: 1 = pass, (n << 1) | 1 = check n failed.
#
# Registers: s1 = check number, s2 = expected mepc, s3 = expected mcause, s4 = traps taken,
# s5 = resume address (0: resume at mepc + 4), s6 = trap count expected after the check.

.option norvc
.option norelax

.equ EXIT, 0x10002000
.equ UNMAPPED, 0x20000000
.equ UART_HOLE, 0x10000100     # inside the UART region, no register there
.equ GPIO, 0x10001000          # a peripheral region: not executable

# EXPECT n, cause: the next instruction (label 9) must trap with `cause`.
.macro EXPECT n, cause
    li s1, \n
    li s3, \cause
    la s2, 9f
    addi s6, s4, 1
.endm

# TAKEN: exactly one trap happened since EXPECT.
.macro TAKEN
    bne s4, s6, fail
.endm

.section .text
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s4, 0
    li s5, 0

    EXPECT 1, 5                 # load from an unmapped address: load access fault
    li a0, UNMAPPED
    li a1, 0x1234
9:  lw a1, 0(a0)
    TAKEN
    li t0, 0x1234               # the faulting load did not write a1
    li s1, 2
    bne a1, t0, fail

    EXPECT 3, 7                 # store to an unmapped address: store access fault
    li a0, UNMAPPED + 0x40
9:  sw a1, 0(a0)
    TAKEN

    EXPECT 4, 5                 # byte load from a hole inside a peripheral region
    li a0, UART_HOLE
9:  lbu a1, 3(a0)
    TAKEN

    EXPECT 5, 7                 # halfword store to a hole inside a peripheral region
9:  sh a1, 2(a0)
    TAKEN

    EXPECT 6, 1                 # jump to an unmapped address: instruction access fault
    li a0, UNMAPPED
    mv s2, a0                   # mepc is the target
    la s5, 1f
9:  jalr ra, 0(a0)
1:  TAKEN

    EXPECT 7, 1                 # jump into a peripheral region: not executable
    li a0, GPIO
    mv s2, a0
    la s5, 1f
9:  jalr ra, 0(a0)
1:  TAKEN

    EXPECT 8, 11                # ecall from M-mode
9:  ecall
    TAKEN

    EXPECT 9, 3                 # ebreak
9:  ebreak
    TAKEN

    EXPECT 10, 2                # illegal instruction (all zeros)
9:  .word 0x00000000
    TAKEN

    EXPECT 11, 2                # illegal instruction (all ones)
9:  .word 0xffffffff
    TAKEN

    li s1, 12                   # the program still computes after all that
    li t0, 6
    li t1, 7
    mul t2, t0, t1
    li t0, 42
    bne t2, t0, fail
    li s1, 13
    li t0, 10
    bne s4, t0, fail

    li t0, EXIT
    li t1, 1
    sw t1, 0(t0)
1:  j 1b

handler:
    csrr t0, mcause
    bne t0, s3, fail
    csrr t0, mepc
    bne t0, s2, fail
    addi s4, s4, 1
    beqz s5, 1f
    csrw mepc, s5
    li s5, 0
    mret
1:  addi t0, t0, 4
    csrw mepc, t0
    mret

fail:
    slli a0, s1, 1
    ori a0, a0, 1
    li t0, EXIT
    sw a0, 0(t0)
1:  j 1b
