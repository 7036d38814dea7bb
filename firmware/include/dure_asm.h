/* dure_asm.h: constants shared by assembly (crt0.S) and C (dure_rt.h). */
#ifndef DURE_ASM_H
#define DURE_ASM_H

/* struct dure_trap_frame layout: x0..x31, then mcause, mepc, mtval; 16-byte aligned size. */
#define FRAME_MCAUSE    (32 * 4)
#define FRAME_MEPC      (33 * 4)
#define FRAME_MTVAL     (34 * 4)
#define FRAME_SIZE      (36 * 4)

/* Failure number exit() reports when a trap reaches the default handler:
 * DURE_FAIL_TRAP + mcause for exceptions, DURE_FAIL_IRQ + cause for unexpected interrupts. */
#define DURE_FAIL_TRAP  1000
#define DURE_FAIL_IRQ   1100

#endif
