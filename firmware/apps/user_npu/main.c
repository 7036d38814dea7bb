/* user_npu: a U-mode task drives the NPU through M-mode services but cannot move the NPU's
 * DMA window.
 *
 * The kernel (M-mode, this file) sets up PMP for the task:
 *   entry 0: NAPOT over the NPU registers, R        (U may read status, not write anything)
 *   entry 1: NAPOT over the task's window of main memory, R W (data, stack, NPU buffers)
 *   entry 2: NAPOT over the on-chip RAM, R X        (the program image: code and constants)
 * No other access is allowed in U-mode (no matching entry). M-mode is unrestricted (no L).
 * Services (kernel.h): SYS_PUTS, SYS_GEMM (checks that every buffer lies in the window, sets
 * the NPU's DMA window to the task's window, runs the GEMM with the driver library, waits),
 * SYS_EXIT. A store access fault on the NPU's DMA_BASE / DMA_SIZE registers is counted and
 * skipped; any other trap ends the program with a failure.
 *
 * Output (checked by tests/firmware/test_user_npu.py):
 *   "kernel: blocked store to <addr>" per refused write, then
 *   "kernel: task exit 0, 2 blocked writes, window <base> <size>" and exit 0 when the task's
 *   GEMM matched (or there is no NPU), both writes faulted and the window is unchanged. */
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"
#include "kernel.h"

#define WINDOW (DURE_MAIN_BASE + USER_WINDOW_OFFSET)

void enter_user(void (*fn)(void), uint32_t sp);
int kernel_trap(struct dure_trap_frame *f);

static int have_npu;
static volatile int probe_fault;
static int blocked;

static int probe_handler(struct dure_trap_frame *f)
{
    if (f->mcause == CAUSE_LOAD_ACCESS && f->mtval == DURE_NPU_BASE + DURE_NPU_ID) {
        probe_fault = 1;
        f->mepc += 4;
        return 1;
    }
    return 0;
}

static int in_window(uint32_t addr, uint32_t bytes)
{
    return addr >= WINDOW && bytes <= USER_WINDOW_SIZE && addr - WINDOW <= USER_WINDOW_SIZE - bytes;
}

static long sys_gemm(uint32_t arg)
{
    if (!in_window(arg, sizeof(struct user_gemm)))
        return SYS_E_FAULT;
    const struct user_gemm *u = (const struct user_gemm *)arg;
    uint32_t m = u->m, k = u->k, n = u->n;
    if (m == 0 || k == 0 || n == 0 || m > 64 || k > 64 || n > 64)
        return NPU_E_ARG;
    if (!in_window((uint32_t)u->a, m * k) || !in_window((uint32_t)u->b, k * n) ||
        !in_window((uint32_t)u->out, 4 * m * n))
        return SYS_E_FAULT;
    if (!have_npu)
        return NPU_E_NO_DEVICE;
    struct npu_gemm g;
    npu_gemm_init(&g, NPU_INT8, m, k, n, u->a, u->b, u->out, NPU_OUT_INT32);
    npu_set_window(WINDOW, USER_WINDOW_SIZE);
    return npu_gemm(&g);
}

static void finish(uint32_t code)
{
    uint32_t base = 0, size = 0;
    if (have_npu) {
        base = NPU_REG(DURE_NPU_DMA_BASE);
        size = NPU_REG(DURE_NPU_DMA_SIZE);
    }
    printf("kernel: task exit %u, %d blocked writes, window %08x %08x\n", code, blocked,
           base, size);
    int ok = code == 0 && blocked == 2 &&
             (!have_npu || (base == WINDOW && size == USER_WINDOW_SIZE));
    exit(ok ? 0 : 1);
}

int kernel_trap(struct dure_trap_frame *f)
{
    uint32_t *a0 = &f->regs[10];
    if (f->mcause == CAUSE_ECALL_U) {
        f->mepc += 4;
        switch (f->regs[17]) {
        case SYS_EXIT:
            finish(*a0);
            break;
        case SYS_PUTS: {
            const char *s = (const char *)*a0;
            if (!in_window(*a0, 1) && !(*a0 >= DURE_RAM_BASE && *a0 < DURE_RAM_BASE + DURE_RAM_SIZE)) {
                *a0 = (uint32_t)SYS_E_FAULT;
                break;
            }
            puts(s);
            *a0 = 0;
            break;
        }
        case SYS_GEMM:
            *a0 = (uint32_t)sys_gemm(*a0);
            break;
        default:
            *a0 = (uint32_t)-1;
        }
        return 1;
    }
    if (f->mcause == CAUSE_STORE_ACCESS && (f->mtval == DURE_NPU_BASE + DURE_NPU_DMA_BASE ||
                                            f->mtval == DURE_NPU_BASE + DURE_NPU_DMA_SIZE)) {
        printf("kernel: blocked store to %08x\n", f->mtval);
        blocked++;
        f->mepc += 4;
        return 1;
    }
    printf("kernel: task trap mcause=%u mepc=%08x mtval=%08x\n", f->mcause, f->mepc, f->mtval);
    exit(2);
    return 0;
}

int main(void)
{
    /* Is there an NPU? (On a variant without one its region answers bus errors.) */
    dure_trap_handler_t old = dure_set_trap_handler(probe_handler);
    uint32_t id;
    __asm__ volatile ("li %0, 0\n\tlw %0, 0(%1)" : "=&r"(id)
                      : "r"(DURE_NPU_BASE + DURE_NPU_ID) : "memory");
    dure_set_trap_handler(old);
    have_npu = !probe_fault && id == DURE_NPU_ID_MAGIC && npu_init() == 0;
    printf("kernel: %s\n", have_npu ? "NPU present" : "no NPU");

    write_csr(CSR_PMPADDR0 + 0, PMP_NAPOT_ADDR(DURE_NPU_BASE, DURE_NPU_SIZE));
    write_csr(CSR_PMPADDR0 + 1, PMP_NAPOT_ADDR(WINDOW, USER_WINDOW_SIZE));
    write_csr(CSR_PMPADDR0 + 2, PMP_NAPOT_ADDR(DURE_RAM_BASE, DURE_RAM_SIZE));
    write_csr(CSR_PMPCFG0, (PMP_NAPOT | PMP_R) | (PMP_NAPOT | PMP_R | PMP_W) << 8 |
                           (PMP_NAPOT | PMP_R | PMP_X) << 16);
    puts("kernel: entering the task in U-mode");
    uart_flush();
    enter_user(user_task, WINDOW + USER_WINDOW_SIZE);
    return 3;   /* not reached */
}
