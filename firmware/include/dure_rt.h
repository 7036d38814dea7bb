/* dure_rt.h: the Dure firmware runtime (bare metal, machine mode, no libc).
 *
 * Exit convention: main's return value (or exit's argument) n is reported through the test-exit
 * register: n == 0 writes 1 (pass), any other n writes (n << 1) | 1 (failure n).
 */
#ifndef DURE_RT_H
#define DURE_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "csr.h"
#include "dure_asm.h"
#include "dure_hw.h"

/* --- program end ------------------------------------------------------------------------ */
/* Waits until the UART has sent everything, writes the test-exit register, never returns. */
__attribute__((noreturn)) void exit(int n);

/* --- console (UART) ---------------------------------------------------------------------- */
int putchar(int c);             /* blocks while the TX FIFO is full; returns c */
int puts(const char *s);        /* s and a newline; returns 0 */
void putstr(const char *s);     /* s without a newline */
int getchar(void);              /* blocks until a byte arrives; returns it (0..255) */
int getchar_nonblock(void);     /* a received byte, or -1 when the RX FIFO is empty */
void uart_flush(void);          /* waits until the TX FIFO is empty */

/* Compact printf: %d %i %u %x %X %c %s %p %%, flags '-' and '0', a field width (digits or *),
 * 'l' (ignored: long is 32 bits) and 'll' for 64-bit %lld %llu %llx. Returns characters
 * written. snprintf/vsnprintf format into a buffer (always NUL-terminated if size > 0) and
 * return the length the full output would have. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* 64-by-32 unsigned division without libgcc / compiler-rt; *rem may be NULL. */
uint64_t udiv64_32(uint64_t n, uint32_t d, uint32_t *rem);

/* --- memory and strings (the compiler may call the mem* ones itself) ------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* --- traps and interrupts ---------------------------------------------------------------- */
/* What crt0's trap entry saves; a handler may change any field, the entry restores them all and
 * returns (mret) to mepc. regs[0] is always 0, regs[2] is sp before the trap. */
struct dure_trap_frame {
    uint32_t regs[32];
    uint32_t mcause;
    uint32_t mepc;
    uint32_t mtval;
    uint32_t pad;
};
_Static_assert(sizeof(struct dure_trap_frame) == FRAME_SIZE, "trap frame layout");

/* A handler returns nonzero when it handled the trap (execution resumes at frame->mepc: add 4
 * to skip a faulting instruction). Zero sends the trap to the default handler, which prints
 * "TRAP mcause=... mepc=... mtval=..." and exits with failure DURE_FAIL_TRAP + cause (or
 * DURE_FAIL_IRQ + cause for an interrupt). Returns the previous handler. */
typedef int (*dure_trap_handler_t)(struct dure_trap_frame *frame);
dure_trap_handler_t dure_set_trap_handler(dure_trap_handler_t handler);

/* --- timer (CLINT) and GPIO ------------------------------------------------------------- */
uint64_t clint_mtime(void);
void clint_set_mtimecmp(uint64_t value);    /* glitch-free 64-bit update */
void clint_set_msip(int pending);
void gpio_write(uint32_t value);
uint32_t gpio_read(void);

/* --- benchmarks ---------------------------------------------------------------------------- */
/* bench_start() samples cycle and instret; bench_stop(name) samples again and prints one line
 * "BENCH <name> cycles=<N> instret=<M> cpi=<C.CCC>" (CPI in fixed point, 3 decimals). */
struct bench_sample {
    uint64_t cycles;
    uint64_t instret;
};
struct bench_sample bench_start(void);
struct bench_sample bench_stop(const char *name, struct bench_sample start);

#endif
