# Directed test: machine software, timer and external (UART receive) interrupts, masking by
# mstatus.MIE and mie, WFI wake-up, mcause / mepc and MRET. The testbench offers the byte 'Z' to
# the UART receiver from the start; the handler echoes every received byte on the UART.
# Exit: 1 = pass, (n << 1) | 1 = check n failed.
#
# Registers: s1 = check number, s3 = expected mcause, s4 = interrupts taken.

.option norvc
.option norelax

.equ EXIT, 0x10002000
.equ MSIP, 0x02000000
.equ MTIMECMP, 0x02004000
.equ MTIME, 0x0200bff8
.equ UART, 0x10000000          # +0 data (bit 31: rx empty), +8 irq_enable (bit 0: rx valid)
.equ IRQ, 0x10003000           # +4 enable (bit 0: UART)
.equ TIMEOUT, 20000

.section .text
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s4, 0
    li t0, -1                   # no timer interrupt yet: mtimecmp = max
    li t1, MTIMECMP
    sw t0, 4(t1)
    sw t0, 0(t1)

    # 1: a pending software interrupt is not taken while mstatus.MIE = 0
    li s1, 1
    li t0, 8                    # mie.MSIE
    csrw mie, t0
    li t1, MSIP
    li t0, 1
    sw t0, 0(t1)
    li t0, 100
1:  addi t0, t0, -1
    bnez t0, 1b
    bnez s4, fail
    li s1, 2                    # ... and mip.MSIP shows it
    csrr t0, mip
    andi t0, t0, 8
    beqz t0, fail

    # 3: enabling MIE takes it (mcause 0x80000003)
    li s1, 3
    li s3, 0x80000003
    csrsi mstatus, 8
    li t0, TIMEOUT
1:  bnez s4, 2f
    addi t0, t0, -1
    bnez t0, 1b
    j fail
2:  li s1, 4                    # handler returned with MIE restored
    csrr t0, mstatus
    andi t0, t0, 8
    beqz t0, fail

    # 5: timer interrupt (mcause 0x80000007), waited for with WFI
    li s1, 5
    li s3, 0x80000007
    li s4, 0
    csrw mie, zero
    li t1, MTIME
    lw t0, 0(t1)
    addi t0, t0, 300            # cannot wrap in this short test
    li t1, MTIMECMP
    sw zero, 4(t1)
    sw t0, 0(t1)
    li t0, 0x80                 # mie.MTIE
    csrw mie, t0
    li t0, TIMEOUT
1:  wfi
    bnez s4, 2f
    addi t0, t0, -1
    bnez t0, 1b
    j fail

    # 6: external interrupt from the UART receiver (mcause 0x8000000b)
2:  li s1, 6
    li s3, 0x8000000b
    li s4, 0
    li s7, 0                    # last byte received
    li t1, UART
    li t0, 1
    sw t0, 8(t1)                # UART irq_enable.rx_valid
    li t1, IRQ
    sw t0, 4(t1)                # irq enable.uart
    li t0, 0x800                # mie.MEIE
    csrw mie, t0
    li t0, TIMEOUT
1:  bnez s4, 2f
    addi t0, t0, -1
    bnez t0, 1b
    j fail
2:  li s1, 7
    li t0, 'Z'
    bne s7, t0, fail

    li t0, EXIT
    li t1, 1
    sw t1, 0(t0)
1:  j 1b

handler:
    csrr t1, mcause
    bne t1, s3, fail
    csrr t0, mstatus            # MIE is cleared in the handler, MPIE holds the old MIE
    andi t2, t0, 8
    bnez t2, fail
    andi t2, t0, 0x80
    beqz t2, fail
    addi s4, s4, 1
    li t2, 0x80000003
    bne t1, t2, 1f
    li t0, MSIP                 # software: clear msip
    sw zero, 0(t0)
    mret
1:  li t2, 0x80000007
    bne t1, t2, 2f
    li t0, MTIMECMP             # timer: mtimecmp = max
    li t2, -1
    sw t2, 0(t0)
    sw t2, 4(t0)
    mret
2:  li t0, UART                 # external: drain the receiver, echo every byte
3:  lw t2, 0(t0)
    bltz t2, 4f                 # bit 31: receiver empty
    andi s7, t2, 0xff
    sw s7, 0(t0)
    j 3b
4:  mret

fail:
    slli a0, s1, 1
    ori a0, a0, 1
    li t0, EXIT
    sw a0, 0(t0)
1:  j 1b
