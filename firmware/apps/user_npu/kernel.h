/* user_npu: the interface between the U-mode task and the M-mode services (ECALL).
 *   a7 = service number, a0.. = arguments, a0 = result. */
#ifndef USER_NPU_KERNEL_H
#define USER_NPU_KERNEL_H

#include <stdint.h>

#define SYS_EXIT  1   /* a0 = exit code: the task ends */
#define SYS_PUTS  2   /* a0 = NUL-terminated string (in the task's memory) */
#define SYS_GEMM  3   /* a0 = struct user_gemm *: INT8 GEMM with int32 output on the NPU */

/* An INT8 GEMM out[m][n] = sum_k a[m][k] * b[k][n] (int32, dense rows), every buffer in the
 * task's window of main memory (the NPU DMA window the kernel sets). */
struct user_gemm {
    uint32_t m, k, n;
    const int8_t *a;
    const int8_t *b;
    int32_t *out;
};

/* Results of the service (negative: the NPU library's NPU_E_* codes). */
#define SYS_E_FAULT (-100)   /* a buffer outside the task's window */

/* The task's memory: a window of main memory (data, stack, NPU buffers). */
#define USER_WINDOW_OFFSET 0x10000u      /* from DURE_MAIN_BASE */
#define USER_WINDOW_SIZE   0x10000u      /* 64 KiB, naturally aligned (one NAPOT entry) */

static inline long user_syscall(long n, long a0)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a7 __asm__("a7") = n;
    __asm__ volatile ("ecall" : "+r"(r_a0) : "r"(r_a7) : "memory");
    return r_a0;
}

void user_task(void);

#endif
