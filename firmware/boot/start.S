/* start.S: reset entry of the Dure UART boot loader (runs from the boot ROM at the reset vector).
 *
 * Sets the stack to the top of the RAM the boot loader reserves for itself (boot.ld), clears
 * its .bss, points mtvec at _start (a trap restarts the loader) and calls boot_main().
 */
    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    la      sp, __stack_top
    la      t0, _start
    csrw    mtvec, t0
    la      a0, __bss_start
    la      a1, __bss_end
1:  bgeu    a0, a1, 2f
    sw      zero, 0(a0)
    addi    a0, a0, 4
    j       1b
2:  call    boot_main
3:  j       3b
    .size _start, . - _start
