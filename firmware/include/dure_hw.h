/* dure_hw.h: the runtime's view of the SoC peripherals, built only from the generated
 * dure_soc.h (DURE_* names from dure/config.py and rtl/soc/registers.py). When a register is
 * renamed there, this is the one file to adapt; no address is written here by hand. */
#ifndef DURE_HW_H
#define DURE_HW_H

#include "dure_soc.h"

#define DURE_MMIO32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* test exit */
#define TEST_EXIT_WRITE(v)  (DURE_MMIO32(DURE_TEST_EXIT_BASE + DURE_TEST_EXIT_EXIT) = (v))

/* UART: DATA pops one received byte (bit 31 set: nothing was there); STATUS has the FIFO flags. */
#if !defined(DURE_UART_DATA_RX_EMPTY) || !defined(DURE_UART_STATUS_TX_FULL)
#error "dure_soc.h lacks the UART bit fields (DURE_UART_STATUS_TX_FULL ...): regenerate it"
#endif
#define UART_DATA           DURE_MMIO32(DURE_UART_BASE + DURE_UART_DATA)
#define UART_STATUS         DURE_MMIO32(DURE_UART_BASE + DURE_UART_STATUS)
#define UART_IRQ_ENABLE     DURE_MMIO32(DURE_UART_BASE + DURE_UART_IRQ_ENABLE)
#define UART_TX_READY()     ((UART_STATUS & DURE_UART_STATUS_TX_FULL) == 0)
#define UART_TX_IDLE()      ((UART_STATUS & DURE_UART_STATUS_TX_IDLE) != 0)
#define UART_TX_WRITE(c)    (UART_DATA = (c))

/* External-interrupt controller */
#define IRQ_PENDING         DURE_MMIO32(DURE_IRQ_BASE + DURE_IRQ_PENDING)
#define IRQ_ENABLE          DURE_MMIO32(DURE_IRQ_BASE + DURE_IRQ_ENABLE)

/* CLINT */
#define CLINT_MSIP          DURE_MMIO32(DURE_CLINT_BASE + DURE_CLINT_MSIP)
#define CLINT_MTIMECMP_LO   DURE_MMIO32(DURE_CLINT_BASE + DURE_CLINT_MTIMECMP)
#define CLINT_MTIMECMP_HI   DURE_MMIO32(DURE_CLINT_BASE + DURE_CLINT_MTIMECMPH)
#define CLINT_MTIME_LO      DURE_MMIO32(DURE_CLINT_BASE + DURE_CLINT_MTIME)
#define CLINT_MTIME_HI      DURE_MMIO32(DURE_CLINT_BASE + DURE_CLINT_MTIMEH)

/* GPIO */
#define GPIO_OUT            DURE_MMIO32(DURE_GPIO_BASE + DURE_GPIO_OUT)
#define GPIO_IN             DURE_MMIO32(DURE_GPIO_BASE + DURE_GPIO_IN)

#endif
