/* isa_c_trap: traps and interrupts handled in C through crt0's trap entry and
 * dure_set_trap_handler: an ECALL "system call" that edits registers in the trap frame,
 * skipping illegal instructions via mepc, live C values surviving a trap, a periodic machine
 * timer interrupt re-armed from the handler, and a software interrupt through the CLINT. */
#include "dure_rt.h"

static volatile uint32_t ticks, soft_hits, illegal_hits, last_mtval;
static uint64_t next_deadline;

#define TIMER_PERIOD 500u

static int handler(struct dure_trap_frame *f)
{
    switch (f->mcause) {
    case CAUSE_ECALL_M:                     /* a0 = a0 * 2 + a1, a7 = 0x5a */
        f->regs[10] = f->regs[10] * 2u + f->regs[11];
        f->regs[17] = 0x5a;
        f->mepc += 4;
        return 1;
    case CAUSE_ILLEGAL_INSN:
        illegal_hits++;
        last_mtval = f->mtval;
        f->mepc += 4;
        return 1;
    case MCAUSE_INTERRUPT | IRQ_M_TIMER:
        ticks++;
        next_deadline += TIMER_PERIOD;
        clint_set_mtimecmp(ticks >= 5 ? ~0ull : next_deadline);
        return 1;
    case MCAUSE_INTERRUPT | IRQ_M_SOFT:
        soft_hits++;
        clint_set_msip(0);
        return 1;
    default:
        return 0;
    }
}

static uint32_t syscall2(uint32_t a, uint32_t b, uint32_t *a7_out)
{
    register uint32_t a0 __asm__("a0") = a;
    register uint32_t a1 __asm__("a1") = b;
    register uint32_t a7 __asm__("a7") = 0;
    __asm__ volatile ("ecall" : "+r"(a0), "+r"(a7) : "r"(a1) : "memory");
    *a7_out = a7;
    return a0;
}

int main(void)
{
    dure_set_trap_handler(handler);

    /* ECALL with arguments and results in registers */
    uint32_t a7;
    if (syscall2(20, 3, &a7) != 43 || a7 != 0x5a)
        return 2;

    /* live values across traps */
    volatile uint32_t sink = 0;
    uint32_t acc = 1;
    for (uint32_t i = 1; i <= 10; i++) {
        acc = acc * 3u + i;
        sink += syscall2(i, acc, &a7);
    }
    if (acc != 103330u || sink != 155076u)
        return 3;

    /* illegal instructions are skipped, mtval = the instruction bits */
    __asm__ volatile (".word 0xffffffff" ::: "memory");
    __asm__ volatile (".word 0x0000007b" ::: "memory");
    if (illegal_hits != 2 || last_mtval != 0x0000007bu)
        return 4;

    /* five timer interrupts, TIMER_PERIOD cycles apart */
    uint64_t start = clint_mtime();
    next_deadline = start + TIMER_PERIOD;
    clint_set_mtimecmp(next_deadline);
    irq_source_enable(MIE_MTIE);
    irq_enable();
    for (uint32_t spin = 0; ticks < 5 && spin < 1000000u; spin++)
        ;
    irq_disable();
    irq_source_disable(MIE_MTIE);
    if (ticks != 5)
        return 5;
    if (clint_mtime() - start < 5u * TIMER_PERIOD)
        return 6;

    /* a software interrupt, taken as soon as it is enabled */
    irq_source_enable(MIE_MSIE);
    clint_set_msip(1);
    irq_enable();
    for (uint32_t spin = 0; soft_hits == 0 && spin < 1000u; spin++)
        ;
    irq_disable();
    irq_source_disable(MIE_MSIE);
    if (soft_hits != 1)
        return 7;

    dure_set_trap_handler(0);
    puts("isa_c_trap: ok");
    return 0;
}
