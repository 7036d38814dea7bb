/* user_npu: the U-mode task. It runs from the program image in RAM (read / execute only for
 * U-mode) with its stack and buffers in its window of main memory (read / write), asks the
 * kernel for an INT8 GEMM on the NPU (SYS_GEMM), checks it against its own computation, and
 * then tries to move the NPU's DMA window by writing the register itself: PMP lets U-mode
 * read the NPU registers but not write them, so the store faults and the kernel skips it. */
#include "dure_soc.h"
#include "dure_npu.h"
#include "kernel.h"

#define M 6
#define K 20
#define N 5

static void put(const char *s)
{
    user_syscall(SYS_PUTS, (long)s);
}

void user_task(void)
{
    uintptr_t win = DURE_MAIN_BASE + USER_WINDOW_OFFSET;
    int8_t *a = (int8_t *)win;
    int8_t *b = a + M * K;
    int32_t *out = (int32_t *)(win + 0x400);
    uint32_t x = 12345;
    for (int i = 0; i < M * K + K * N; i++) {          /* operands, in the window */
        x = x * 1103515245u + 12345u;
        a[i] = (int8_t)(x >> 16);
    }
    struct user_gemm *g = (struct user_gemm *)(win + 0x800);
    g->m = M; g->k = K; g->n = N; g->a = a; g->b = b; g->out = out;
    put("user: GEMM through the kernel");
    long err = user_syscall(SYS_GEMM, (long)g);
    int bad = 0;
    if (err == 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                int32_t acc = 0;
                for (int k = 0; k < K; k++)
                    acc += a[i * K + k] * b[k * N + j];
                bad += out[i * N + j] != acc;
            }
        put(bad ? "user: GEMM result WRONG" : "user: GEMM result matches");
    } else {
        put("user: no GEMM (no NPU)");
    }
    /* Reading an NPU register is allowed; writing the DMA window is not. */
    volatile uint32_t *npu = (volatile uint32_t *)DURE_NPU_BASE;
    if (err == 0 && npu[DURE_NPU_ID / 4] != DURE_NPU_ID_MAGIC)
        bad++;
    put("user: moving the DMA window");
    npu[DURE_NPU_DMA_BASE / 4] = DURE_RAM_BASE;        /* faults: the kernel skips it */
    npu[DURE_NPU_DMA_SIZE / 4] = 0xFFFFFFF0u;          /* faults too */
    put("user: done");
    user_syscall(SYS_EXIT, bad);
}
