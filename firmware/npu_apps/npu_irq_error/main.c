/* npu_irq_error: the NPU error interrupt through the core's trap path. CONTROL.irq_error, the
 * NPU line of the interrupt controller, mie.MEIE and mstatus.MIE are enabled; malformed
 * descriptors (bad opcode, an undefined encoding, a zero dimension, a DMA footprint outside
 * the window) are submitted one at a time. Each must raise exactly one machine external
 * interrupt whose handler finds the NPU line pending, reads ERROR (code and the command's
 * sequence number), clears STATUS.error and returns; after each, a valid LOAD / STORE round
 * trip through the NPU must copy its data exactly (the NPU goes on with the next command).
 * Prints "irq-error: N cases pass". */
#include "dure_rt.h"
#include "npu.h"

#define MCAUSE_MEI 0x8000000Bu
#define WAIT_LOOPS 200000

static volatile uint32_t irq_count, irq_code, irq_seq, irq_pending, irq_other;

static int handler(struct dure_trap_frame *frame)
{
    if (frame->mcause != MCAUSE_MEI) {
        irq_other = frame->mcause;
        return 0;                              /* the default handler reports it and fails */
    }
    irq_pending = IRQ_PENDING;
    uint32_t seq = 0;
    irq_code = npu_error(&seq);
    irq_seq = seq;
    npu_clear_error();
    /* The line is level-sensitive: make sure it has dropped before returning. */
    for (int n = 0; n < 100 && (IRQ_PENDING & DURE_IRQ_PENDING_NPU); n++)
        ;
    irq_count++;
    return 1;                                  /* resume at mepc: the interrupted instruction */
}

/* A 4 x 4 int32 copy main -> ACC -> main; 0 when the copy is exact. */
static int round_trip(uint32_t salt)
{
    int32_t *src = npu_alloc(64, 16), *dst = npu_alloc(64, 16);
    if (!src || !dst)
        return 1;
    for (int i = 0; i < 16; i++) {
        src[i] = (int32_t)(salt * 2654435761u + (uint32_t)i * 40503u);
        dst[i] = 0;
    }
    uint32_t d[8];
    npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 0, (uint32_t)src, 16, 4, 4, 0);
    npu_push(d);
    npu_cmd_store(d, DURE_NPU_OUT_INT32, 0, 0, 0, 0, (uint32_t)dst, 16, 4, 4, 0, 0, 0, 0);
    npu_push(d);
    if (npu_wait() != 0)
        return 2;
    for (int i = 0; i < 16; i++)
        if (dst[i] != src[i])
            return 3;
    return 0;
}

int main(void)
{
    if (npu_init())
        return 1;
    if (round_trip(0))
        return 2;
    dure_set_trap_handler(handler);
    NPU_REG(DURE_NPU_CONTROL) = NPU_REG(DURE_NPU_CONTROL) | DURE_NPU_CONTROL_IRQ_ERROR;
    IRQ_ENABLE = IRQ_ENABLE | DURE_IRQ_ENABLE_NPU;
    irq_source_enable(MIE_MEIE);
    irq_enable();

    const uint32_t outside = DURE_MAIN_BASE + DURE_MAIN_SIZE;     /* just past the window */
    const uint32_t codes[] = {DURE_NPU_ERR_BAD_OPCODE, DURE_NPU_ERR_RESERVED,
                              DURE_NPU_ERR_ZERO_DIM, DURE_NPU_ERR_DMA_WINDOW};
    const int cases = (int)(sizeof codes / sizeof codes[0]);
    for (int c = 0; c < cases; c++) {
        uint32_t d[8];
        switch (c) {
        case 0: npu_desc_clear(d); d[0] = 9; break;                         /* no such opcode */
        case 1: npu_cmd_load(d, DURE_NPU_TARGET_SPAD, 3, 0, DURE_MAIN_BASE, 16, 1, 4, 0); break;
        case 2: npu_cmd_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0, DURE_MAIN_BASE, 16,
                             0, 4, 0); break;
        default: npu_cmd_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0, outside - 16, 16,
                              2, 4, 0); break;
        }
        uint32_t before = irq_count, seq = npu_issued();
        npu_push(d);
        for (int n = 0; n < WAIT_LOOPS && irq_count == before; n++)
            ;
        if (irq_count != before + 1) {
            printf("case %d: %u interrupts, not 1\n", c, (unsigned)(irq_count - before));
            return 10 + c;
        }
        if (!(irq_pending & DURE_IRQ_PENDING_NPU) || irq_code != codes[c] ||
            irq_seq != (seq & (DURE_NPU_ERROR_SEQ >> 8))) {
            printf("case %d: pending 0x%x code %u (want %u) seq %u (want %u)\n", c,
                   (unsigned)irq_pending, (unsigned)irq_code, (unsigned)codes[c],
                   (unsigned)irq_seq, (unsigned)seq);
            return 20 + c;
        }
        if (NPU_REG(DURE_NPU_STATUS) & DURE_NPU_STATUS_ERROR)
            return 30 + c;                     /* the handler cleared it */
        int bad = round_trip(c + 1);
        if (bad) {
            printf("case %d: the round trip after the error failed (%d)\n", c, bad);
            return 40 + c;
        }
        if (irq_count != before + 1)
            return 50 + c;                     /* no interrupt from the valid commands */
    }
    irq_disable();
    printf("irq-error: %d cases pass\n", cases);
    return 0;
}
