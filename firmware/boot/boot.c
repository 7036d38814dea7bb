/* boot.c: the Dure UART boot loader (boot ROM).
 *
 * Speaks the boot-link protocol described in fpga/protocol.py (frame layout, commands, error
 * codes); every number comes from the generated boot_protocol.h and dure_soc.h, so this file
 * holds no address or constant of its own.
 *
 * On entry it first reports a pending program exit (the exit mailbox in the last ROM words,
 * written by the board's hardware after the program wrote the test-exit register), then serves
 * commands forever: PING, WRITE, READ, CRC, GO. Received frames are checked (length, CRC-32,
 * UART overrun / framing errors, a byte timeout in the middle of a frame) before anything is
 * written to memory.
 */
#include <stdint.h>

#include "boot_protocol.h"
#include "dure_soc.h"

#define MMIO32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define UART_DATA    MMIO32(DURE_UART_BASE + DURE_UART_DATA)
#define UART_STATUS  MMIO32(DURE_UART_BASE + DURE_UART_STATUS)
#define MTIME        MMIO32(DURE_CLINT_BASE + DURE_CLINT_MTIME)
#define LINE_ERRORS  (DURE_UART_STATUS_RX_OVERRUN | DURE_UART_STATUS_RX_FRAME_ERROR)

#define RAM_END  (DURE_RAM_BASE + DURE_RAM_SIZE)
#define MAIN_END (DURE_MAIN_BASE + DURE_MAIN_SIZE)
#define ROM_END  (DURE_ROM_BASE + DURE_ROM_SIZE)

/* Receive buffer: header, payload, CRC. */
static uint8_t frame[BOOT_HEADER_SIZE + BOOT_MAX_PAYLOAD + BOOT_TRAILER_SIZE];

/* Result of receive(): a frame, nothing (timeout before a start of frame), or a NAK reason. */
#define RX_FRAME 0
#define RX_NONE  (-1)

__attribute__((noinline)) static uint32_t crc_byte(uint32_t crc, uint8_t byte)
{
    crc ^= byte;
    for (int i = 0; i < 8; i++)
        crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    return crc;
}

__attribute__((noinline)) static uint32_t get32(const uint8_t *p)
{
    return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

__attribute__((noinline)) static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

__attribute__((noinline)) static void tx(uint8_t byte)
{
    while (UART_STATUS & DURE_UART_STATUS_TX_FULL)
        ;
    UART_DATA = byte;
}

/* One byte, or -1 when `timeout` cycles pass first (timeout 0: wait forever). */
__attribute__((noinline)) static int rx(uint32_t timeout)
{
    uint32_t start = MTIME;
    for (;;) {
        uint32_t v = UART_DATA;
        if (!(v & DURE_UART_DATA_RX_EMPTY))
            return (int)(v & 0xffu);
        if (timeout && MTIME - start >= timeout)
            return -1;
    }
}

/* Send one frame; the payload is read byte by byte from `payload` (any readable memory). */
static void send(uint32_t type, uint32_t seq, const volatile uint8_t *payload, uint32_t length)
{
    uint8_t head[4] = {(uint8_t)type, (uint8_t)seq, (uint8_t)length, (uint8_t)(length >> 8)};
    uint32_t crc = 0xffffffffu;
    tx(BOOT_SOF0);
    tx(BOOT_SOF1);
    for (int i = 0; i < 4; i++) {
        tx(head[i]);
        crc = crc_byte(crc, head[i]);
    }
    for (uint32_t i = 0; i < length; i++) {
        uint8_t b = payload[i];
        tx(b);
        crc = crc_byte(crc, b);
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        tx((uint8_t)(crc >> (8 * i)));
}

static void send_code(uint32_t type, uint32_t seq, uint32_t code)
{
    uint8_t b = (uint8_t)code;
    send(type, seq, &b, 1);
}

/* Receive one frame into `frame`; RX_FRAME, RX_NONE (no start of frame within `timeout`
 * cycles; 0 = wait forever) or a NAK reason (BOOT_E_*). */
static int receive(uint32_t timeout)
{
    int c;
    UART_STATUS = LINE_ERRORS;      /* write 1 to clear the sticky line errors */
hunt:
    do {
        c = rx(timeout);
        if (c < 0)
            return RX_NONE;
    } while (c != BOOT_SOF0);
    c = rx(BOOT_BYTE_TIMEOUT_CYCLES);
    while (c == BOOT_SOF0)
        c = rx(BOOT_BYTE_TIMEOUT_CYCLES);
    if (c != BOOT_SOF1)
        goto hunt;
    uint32_t crc = 0xffffffffu;
    uint32_t total = BOOT_HEADER_SIZE + BOOT_TRAILER_SIZE;
    for (uint32_t i = 2; i < total; i++) {
        c = rx(BOOT_BYTE_TIMEOUT_CYCLES);
        if (c < 0)
            return BOOT_E_TIMEOUT;
        frame[i] = (uint8_t)c;
        if (i == BOOT_HEADER_SIZE - 1) {
            uint32_t length = frame[4] | (frame[5] << 8);
            if (length > BOOT_MAX_PAYLOAD)
                return BOOT_E_TOO_LONG;
            total += length;
        }
        if (i < total - BOOT_TRAILER_SIZE)
            crc = crc_byte(crc, (uint8_t)c);
    }
    if (UART_STATUS & LINE_ERRORS)
        return BOOT_E_LINE;
    if (~crc != get32(&frame[total - BOOT_TRAILER_SIZE]))
        return BOOT_E_BAD_CRC;
    return RX_FRAME;
}

/* [addr, addr + n) inside [base, end)? (No overflow for any 32-bit inputs.) */
static int inside(uint32_t addr, uint32_t n, uint32_t base, uint32_t end)
{
    return addr >= base && addr <= end && n <= end - addr;
}

static int writable(uint32_t addr, uint32_t n)
{
    return inside(addr, n, DURE_RAM_BASE, BOOT_RESERVED_BASE) ||
           inside(addr, n, DURE_MAIN_BASE, MAIN_END);
}

static int readable(uint32_t addr, uint32_t n)
{
    return inside(addr, n, DURE_RAM_BASE, RAM_END) || inside(addr, n, DURE_MAIN_BASE, MAIN_END) ||
           inside(addr, n, DURE_ROM_BASE, ROM_END);
}

/* PING reply (INFO_FORMAT in fpga/protocol.py): little-endian words laid out as the payload. */
static const uint32_t info[7] = {
    BOOT_VERSION | (BOOT_MAX_PAYLOAD << 16), DURE_CLK_FREQ, DURE_RAM_BASE, DURE_RAM_SIZE,
    DURE_MAIN_BASE, DURE_MAIN_SIZE, BOOT_RESERVED_BASE,
};

static void command(void)
{
    uint32_t type = frame[2], seq = frame[3];
    uint32_t length = frame[4] | (frame[5] << 8);
    const uint8_t *p = &frame[BOOT_HEADER_SIZE];
    uint8_t reply[4];

    switch (type) {
    case BOOT_T_PING:
        send(BOOT_T_ACK, seq, (const uint8_t *)info, sizeof(info));
        return;
    case BOOT_T_WRITE: {
        if (length < 4)
            break;
        uint32_t addr = get32(p), n = length - 4;
        if (!writable(addr, n)) {
            send_code(BOOT_T_ERR, seq, BOOT_E_BAD_ADDRESS);
            return;
        }
        volatile uint8_t *dst = (volatile uint8_t *)(uintptr_t)addr;
        for (uint32_t i = 0; i < n; i++)
            dst[i] = p[4 + i];
        send(BOOT_T_ACK, seq, 0, 0);
        return;
    }
    case BOOT_T_READ: {
        if (length != 6)
            break;
        uint32_t addr = get32(p), n = p[4] | (p[5] << 8);
        if (n > BOOT_MAX_PAYLOAD || !readable(addr, n)) {
            send_code(BOOT_T_ERR, seq, BOOT_E_BAD_ADDRESS);
            return;
        }
        send(BOOT_T_ACK, seq, (const volatile uint8_t *)(uintptr_t)addr, n);
        return;
    }
    case BOOT_T_CRC: {
        if (length != 8)
            break;
        uint32_t addr = get32(p), n = get32(p + 4);
        if (!readable(addr, n)) {
            send_code(BOOT_T_ERR, seq, BOOT_E_BAD_ADDRESS);
            return;
        }
        const volatile uint8_t *src = (const volatile uint8_t *)(uintptr_t)addr;
        uint32_t crc = 0xffffffffu;
        for (uint32_t i = 0; i < n; i++)
            crc = crc_byte(crc, src[i]);
        put32(reply, ~crc);
        send(BOOT_T_ACK, seq, reply, 4);
        return;
    }
    case BOOT_T_GO: {
        if (length != 4)
            break;
        uint32_t entry = get32(p);
        if ((entry & 3u) || !(inside(entry, 4, DURE_RAM_BASE, BOOT_RESERVED_BASE) ||
                              inside(entry, 4, DURE_MAIN_BASE, MAIN_END))) {
            send_code(BOOT_T_ERR, seq, BOOT_E_BAD_ADDRESS);
            return;
        }
        send(BOOT_T_ACK, seq, 0, 0);
        while (!(UART_STATUS & DURE_UART_STATUS_TX_IDLE))
            ;
        ((void (*)(void))(uintptr_t)entry)();
        for (;;)
            ;
    }
    case BOOT_T_ACK:
        return;                     /* a late acknowledgement of EXIT: nothing to do */
    default:
        send_code(BOOT_T_ERR, seq, BOOT_E_BAD_TYPE);
        return;
    }
    send_code(BOOT_T_ERR, seq, BOOT_E_BAD_LENGTH);
}

/* Report a program's exit until the host acknowledges it; returns with `frame` holding a command
 * to run (1) when the host sent one instead, else 0. */
static int report_exit(void)
{
    if (MMIO32(BOOT_MAILBOX_MAGIC_ADDR) != BOOT_MAILBOX_MAGIC)
        return 0;
    uint8_t code[4];
    put32(code, MMIO32(BOOT_MAILBOX_CODE_ADDR));
    for (uint32_t i = 0; i < BOOT_EXIT_RETRIES; i++) {
        send(BOOT_T_EXIT, 0, code, 4);
        int r = receive(BOOT_EXIT_RETRY_CYCLES);
        if (r == RX_FRAME)
            return !(frame[2] == BOOT_T_ACK && frame[3] == 0);
    }
    return 0;
}

void boot_main(void);

void boot_main(void)
{
    if (report_exit())
        command();
    for (;;) {
        int r = receive(0);
        if (r == RX_FRAME)
            command();
        else if (r != RX_NONE)
            send_code(BOOT_T_NAK, 0, (uint32_t)r);
    }
}
