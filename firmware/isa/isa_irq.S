/* isa_irq: machine interrupts from the CLINT (timer through mtimecmp, software through msip)
 * and the external-interrupt controller (the UART's tx_empty level).
 *   mip mirrors the sources; mie and mstatus.MIE each mask; mcause has bit 31 set;
 *   mepc is the next unexecuted instruction; the handler sees MIE = 0, MPIE = 1;
 *   priority MEI > MSI > MTI; WFI waits (MIE = 0: resumes without a trap once an enabled
 *   source is pending; MIE = 1: traps with mepc = WFI + 4); an interrupt in the middle of
 *   loads, stores, multiplies and divides leaves the computation exact.
 * The handler (isa_test.h) clears mie on every interrupt, so each enable yields one trap. */
#include "isa_test.h"
#include "dure_soc.h"

#define MTIME       (DURE_CLINT_BASE + DURE_CLINT_MTIME)
#define MTIMEH      (DURE_CLINT_BASE + DURE_CLINT_MTIMEH)
#define MTIMECMP    (DURE_CLINT_BASE + DURE_CLINT_MTIMECMP)
#define MTIMECMPH   (DURE_CLINT_BASE + DURE_CLINT_MTIMECMPH)
#define MSIP        (DURE_CLINT_BASE + DURE_CLINT_MSIP)
#define UART_IRQ_EN (DURE_UART_BASE + DURE_UART_IRQ_ENABLE)
#define IRQ_EN      (DURE_IRQ_BASE + DURE_IRQ_ENABLE)

#define IRQ_CAUSE(n) (0x80000000 | (n))

/* mtimecmp = all ones (never) */
#define TIMER_OFF \
    li t0, MTIMECMP; li t1, -1; sw t1, 0(t0); sw t1, 4(t0)
/* mtimecmp = 0 (pending at once) */
#define TIMER_NOW \
    li t0, MTIMECMP; li t1, -1; sw t1, 0(t0); sw zero, 4(t0); sw zero, 0(t0)
/* mtimecmp = mtime + delta (delta < 2048); leaves the compare value in t2 (low word) */
#define TIMER_IN(delta) \
    li t0, MTIME; lw t1, 0(t0); lw t3, 4(t0); addi t2, t1, delta; bgeu t2, t1, 7776f; \
    addi t3, t3, 1; 7776: \
    li t0, MTIMECMP; li t1, -1; sw t1, 0(t0); sw t3, 4(t0); sw t2, 0(t0)
/* reg is inside [lo, hi] (labels or addresses) */
#define CHECK_RANGE(reg, lo, hi) \
    la t4, lo; la t5, hi; bltu reg, t4, 7777f; bltu t5, reg, 7777f; j 9999f; 7777: j fail; 9999:

TEST_BEGIN
    csrw mie, zero
    csrci mstatus, 8

/* --- nothing pending at reset --------------------------------------------------------- */
TEST_CASE(2, a4, 0, TIMER_OFF; nop; nop; csrr a4, mip; andi a4, a4, 0x88)

/* --- timer pending, masked ---------------------------------------------------------- */
/* by mie (mstatus.MIE = 1) */
TEST_CASE(3, s6, 0, li s6, 0; TIMER_NOW; csrsi mstatus, 8; .rept 8; nop; .endr; csrci mstatus, 8)
TEST_CASE(4, a4, 0x80, csrr a4, mip; andi a4, a4, 0x80)
/* by mstatus.MIE (mie.MTIE = 1) */
TEST_CASE(5, s6, 0, li t0, 0x80; csrw mie, t0; .rept 8; nop; .endr)
/* unmasked: taken at once, mcause = 0x80000007, mepc = the next instruction */
TEST_CASE(6, s6, 1, li s8, 0; csrsi mstatus, 8; 1: .rept 8; nop; .endr; 2:)
CHECK(s8, IRQ_CAUSE(7))
CHECK_RANGE(s9, 1b, 2b)
/* the handler saw MIE = 0, MPIE = 1; MRET set MIE again; the handler cleared mie */
TEST_CASE(7, a4, 0x1880, li t0, 0x1888; and a4, s5, t0)
TEST_CASE(8, a4, 0x8, csrr a4, mstatus; andi a4, a4, 8)
TEST_CASE(9, a4, 0, csrr a4, mie)
/* turning the timer off clears mip.MTIP */
TEST_CASE(10, a4, 0, csrci mstatus, 8; TIMER_OFF; nop; nop; csrr a4, mip; andi a4, a4, 0x80)

/* --- timer in the future -------------------------------------------------------------- */
TEST_CASE(11, s6, 1, li s6, 0; TIMER_IN(200); li t0, 0x80; csrw mie, t0; csrsi mstatus, 8; li a1, 100000; 1: bnez s6, 2f; addi a1, a1, -1; bnez a1, 1b; 2: csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(7))
/* it did not fire early: mtime has reached the compare value */
TEST_CASE(12, a4, 0, li t0, MTIME; lw a1, 0(t0); sub a1, a1, t2; srli a4, a1, 31)
TIMER_OFF

/* --- software interrupt --------------------------------------------------------------- */
TEST_CASE(20, a4, 0x8, li t0, MSIP; li t1, 1; sw t1, 0(t0); nop; nop; csrr a4, mip; andi a4, a4, 0x8)
TEST_CASE(21, s6, 0, li s6, 0; csrsi mstatus, 8; .rept 4; nop; .endr; csrci mstatus, 8)
TEST_CASE(22, s6, 1, li t0, 0x8; csrw mie, t0; csrsi mstatus, 8; .rept 4; nop; .endr; csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(3))
TEST_CASE(23, a4, 0, li t0, MSIP; sw zero, 0(t0); nop; nop; csrr a4, mip; andi a4, a4, 0x8)
TEST_CASE(24, a4, 0, li t0, MSIP; li t1, 0xfffffffe; sw t1, 0(t0); lw a4, 0(t0))

/* --- priority: MSI before MTI ---------------------------------------------------------- */
TEST_CASE(30, s6, 1, li s6, 0; li t0, MSIP; li t1, 1; sw t1, 0(t0); TIMER_NOW; nop; nop; li t0, 0x88; csrw mie, t0; csrsi mstatus, 8; .rept 4; nop; .endr; csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(3))
/* and the timer is still pending, taken next */
TEST_CASE(31, s6, 2, li t0, MSIP; sw zero, 0(t0); li t0, 0x80; csrw mie, t0; csrsi mstatus, 8; .rept 4; nop; .endr; csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(7))
TIMER_OFF

/* --- external interrupt: the UART's TX FIFO is empty ----------------------------------- */
TEST_CASE(40, a4, 0, li t0, UART_IRQ_EN; li t1, 2; sw t1, 0(t0); nop; nop; csrr a4, mip; li t0, 0x800; and a4, a4, t0)
TEST_CASE(41, a4, 0x800, li t0, IRQ_EN; li t1, 1; sw t1, 0(t0); nop; nop; csrr a4, mip; li t0, 0x800; and a4, a4, t0)
/* MEI before MSI */
TEST_CASE(42, s6, 1, li s6, 0; li t0, MSIP; li t1, 1; sw t1, 0(t0); nop; nop; li t0, 0x888; csrw mie, t0; csrsi mstatus, 8; .rept 4; nop; .endr; csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(11))
TEST_CASE(43, a4, 0, li t0, MSIP; sw zero, 0(t0); li t0, IRQ_EN; sw zero, 0(t0); li t0, UART_IRQ_EN; sw zero, 0(t0); nop; nop; csrr a4, mip; andi a4, a4, 0x88; li t0, 0x800; csrr t1, mip; and t1, t1, t0; or a4, a4, t1)

/* --- WFI ----------------------------------------------------------------------------------- */
/* MIE = 0: WFI returns once the enabled timer is pending, without a trap, not before */
TEST_CASE(50, s6, 0, li s6, 0; csrci mstatus, 8; li t0, 0x80; csrw mie, t0; TIMER_IN(300); wfi)
TEST_CASE(51, a4, 0, li t0, MTIME; lw a1, 0(t0); sub a1, a1, t2; srli a4, a1, 31)
TEST_CASE(52, a4, 0x80, csrr a4, mip; andi a4, a4, 0x80)
/* MIE = 1: the interrupt is taken with mepc = WFI + 4 */
TEST_CASE(53, s6, 1, li s6, 0; TIMER_IN(300); li t0, 0x80; csrw mie, t0; csrsi mstatus, 8; 1: wfi; csrci mstatus, 8)
CHECK(s8, IRQ_CAUSE(7))
la t5, 1b + 4
CHECK_REG(s9, t5)
TIMER_OFF

/* --- an interrupt in the middle of work ------------------------------------------------ */
/* sum over i = 1..200 of (i * 3 + (1000 / i)), with a store and a load per step, while the
 * timer fires after about 100 cycles */
TEST_CASE(60, a4, 66086, li s6, 0; TIMER_IN(100); li t0, 0x80; csrw mie, t0; csrsi mstatus, 8; la t1, scratch; li a4, 0; li a1, 1; li a3, 1000; 1: li t0, 3; mul a2, a1, t0; divu t0, a3, a1; add a2, a2, t0; sw a2, 0(t1); lw a2, 0(t1); add a4, a4, a2; addi a1, a1, 1; li t0, 201; bne a1, t0, 1b; csrci mstatus, 8)
TEST_CASE(61, s6, 1, nop)
CHECK(s8, IRQ_CAUSE(7))
TIMER_OFF

TEST_END

    .bss
    .balign 4
scratch: .space 4
