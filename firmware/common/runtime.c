/* runtime.c: console over the UART, exit through the test-exit register, trap dispatch,
 * CLINT and GPIO helpers, benchmark counters. */
#include "dure_rt.h"

/* --- console ------------------------------------------------------------------------------ */
int putchar(int c)
{
    while (!UART_TX_READY())
        ;
    UART_TX_WRITE((uint8_t)c);
    return c;
}

void putstr(const char *s)
{
    while (*s)
        putchar(*s++);
}

int puts(const char *s)
{
    putstr(s);
    putchar('\n');
    return 0;
}

int getchar_nonblock(void)
{
    uint32_t v = UART_DATA;        /* pops a byte if there is one */
    if (v & DURE_UART_DATA_RX_EMPTY)
        return -1;
    return (int)(v & 0xffu);
}

int getchar(void)
{
    int c;
    while ((c = getchar_nonblock()) < 0)
        ;
    return c;
}

void uart_flush(void)
{
    while (!UART_TX_IDLE())
        ;
}

/* --- exit ---------------------------------------------------------------------------------- */
void exit(int n)
{
    uart_flush();
    TEST_EXIT_WRITE(n == 0 ? 1u : (((uint32_t)n << 1) | 1u));
    for (;;)
        __asm__ volatile ("wfi");
}

/* --- traps --------------------------------------------------------------------------------- */
static dure_trap_handler_t trap_handler;

dure_trap_handler_t dure_set_trap_handler(dure_trap_handler_t handler)
{
    dure_trap_handler_t old = trap_handler;
    trap_handler = handler;
    return old;
}

void dure_trap_dispatch(struct dure_trap_frame *frame);

void dure_trap_dispatch(struct dure_trap_frame *frame)
{
    if (trap_handler && trap_handler(frame))
        return;
    uint32_t cause = frame->mcause;
    printf("\nTRAP mcause=%08x mepc=%08x mtval=%08x\n", cause, frame->mepc, frame->mtval);
    if (cause & MCAUSE_INTERRUPT)
        exit(DURE_FAIL_IRQ + (int)(cause & 0xff));
    exit(DURE_FAIL_TRAP + (int)(cause & 0xff));
}

/* --- CLINT and GPIO ------------------------------------------------------------------------ */
uint64_t clint_mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = CLINT_MTIME_HI;
        lo = CLINT_MTIME_LO;
    } while (hi != CLINT_MTIME_HI);
    return ((uint64_t)hi << 32) | lo;
}

void clint_set_mtimecmp(uint64_t value)
{
    /* never let the compare value pass through something smaller than both old and new */
    CLINT_MTIMECMP_LO = 0xffffffffu;
    CLINT_MTIMECMP_HI = (uint32_t)(value >> 32);
    CLINT_MTIMECMP_LO = (uint32_t)value;
}

void clint_set_msip(int pending)
{
    CLINT_MSIP = pending ? 1u : 0u;
}

void gpio_write(uint32_t value)
{
    GPIO_OUT = value;
}

uint32_t gpio_read(void)
{
    return GPIO_IN;
}

/* --- benchmarks ---------------------------------------------------------------------------- */
struct bench_sample bench_start(void)
{
    struct bench_sample s;
    s.instret = rdinstret64();
    s.cycles = rdcycle64();
    return s;
}

struct bench_sample bench_stop(const char *name, struct bench_sample start)
{
    struct bench_sample end, d;
    end.cycles = rdcycle64();
    end.instret = rdinstret64();
    d.cycles = end.cycles - start.cycles;
    d.instret = end.instret - start.instret;
    uint64_t c = d.cycles, i = d.instret;
    while (i >> 32 || c >> 54) {    /* keep the divisor 32-bit and c * 1000 in 64 bits */
        c >>= 1;
        i >>= 1;
    }
    uint32_t frac = 0;
    uint64_t milli = i ? udiv64_32(c * 1000u, (uint32_t)i, NULL) : 0;
    uint64_t whole = udiv64_32(milli, 1000u, &frac);
    printf("BENCH %s cycles=%llu instret=%llu cpi=%llu.%03u\n", name,
           (unsigned long long)d.cycles, (unsigned long long)d.instret,
           (unsigned long long)whole, (unsigned)frac);
    return d;
}
