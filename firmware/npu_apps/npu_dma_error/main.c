/* npu_dma_error: DMA bus errors while the core hammers main memory. The DMA window is opened on
 * twice the size of main memory, so a command may address the bytes just past its end, which
 * the SoC's DMA decoder answers with a bus error (the window check lets them through). Two
 * cases: a LOAD into ACC and a STORE from ACC, each of ROWS rows of which the first half lies in
 * main memory and the second half past its end. While each command runs, the core writes and
 * reads back a pattern over a buffer in main memory, word by word, and counts the words it
 * checked while the NPU was busy. Per case:
 *   - ERROR = BUS_ERROR with the command's sequence number (and only after that command);
 *   - every word the core read back was the one it wrote, and the whole buffer is still its
 *     pattern once the NPU is idle; the core checked words while the NPU was busy (the traffic
 *     overlapped the failing transfer);
 *   - a sentinel block at the start of main memory (where an address past the end would land
 *     if the decoder dropped high bits) is unchanged;
 *   - after clearing the error, a LOAD / STORE round trip through the NPU copies exactly.
 * Prints "dma-error: N cases pass overlap=W" (W: the fewest words checked during a transfer). */
#include "dure_rt.h"
#include "npu.h"

#define HAMMER_WORDS 512
#define SENTINEL_WORDS 1024
#define ROWS 256u

static volatile uint32_t *hammer_buf;
static volatile uint32_t *sentinel;

static uint32_t pattern(uint32_t salt, uint32_t pass, uint32_t i)
{
    return (salt * 2654435761u) ^ (i * 40503u) ^ (pass << 20) ^ 0x5A5A0000u;
}

/* Fill the hammer buffer with the pattern of pass -1 (before the command starts). */
static void hammer_fill(uint32_t salt)
{
    for (uint32_t i = 0; i < HAMMER_WORDS; i++)
        hammer_buf[i] = pattern(salt, ~0u, i);
}

/* Write and read back the hammer buffer, pass after pass, until the NPU is idle (at least two
 * passes): each word is written, then another word (written earlier in this pass or in the
 * previous one) and the word itself are read back. Returns 0 and the number of words checked
 * while the NPU was busy, or 1 on a word that did not read back. */
static int hammer(uint32_t salt, uint32_t *busy_words, uint32_t *last_pass)
{
    uint32_t pass = 0;
    *busy_words = 0;
    for (;;) {
        for (uint32_t i = 0; i < HAMMER_WORDS; i++) {
            uint32_t v = pattern(salt, pass, i);
            hammer_buf[i] = v;
            if (hammer_buf[(i * 7u) % HAMMER_WORDS] !=
                pattern(salt, pass - ((i * 7u) % HAMMER_WORDS > i), (i * 7u) % HAMMER_WORDS))
                return 1;
            if (hammer_buf[i] != v)
                return 1;
            if (npu_busy())
                (*busy_words)++;
        }
        *last_pass = pass;
        if (pass >= 1 && !npu_busy())
            return 0;
        pass++;
    }
}

/* A 4-row int32 copy main -> ACC -> main; 0 when the copy is exact. */
static int round_trip(uint32_t salt, uint32_t lanes)
{
    void *mark = npu_alloc_mark();
    int32_t *src = npu_alloc(16 * lanes, 16), *dst = npu_alloc(16 * lanes, 16);
    int bad = 0;
    if (!src || !dst)
        return 1;
    for (uint32_t i = 0; i < 4 * lanes; i++) {
        src[i] = (int32_t)(salt * 2654435761u + i * 40503u);
        dst[i] = 0;
    }
    uint32_t d[8];
    npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 0, (uint32_t)src, 4 * lanes, 4,
                 lanes, 0);
    npu_push(d);
    npu_cmd_store(d, DURE_NPU_OUT_INT32, 0, 0, 0, 0, (uint32_t)dst, 4 * lanes, 4, lanes, 0, 0, 0,
                  0);
    npu_push(d);
    if (npu_wait() != 0)
        bad = 2;
    for (uint32_t i = 0; i < 4 * lanes && !bad; i++)
        if (dst[i] != src[i])
            bad = 3;
    npu_alloc_release(mark);
    return bad;
}

int main(void)
{
    if (npu_init())
        return 1;
    const struct npu_info *info = npu_get_info();
    const uint32_t lanes = info->lanes, row_bytes = 4 * lanes;
    if (info->acc_rows < ROWS)
        return 2;
    sentinel = npu_alloc(4 * SENTINEL_WORDS, 16);
    hammer_buf = npu_alloc(4 * HAMMER_WORDS, 16);
    if ((uint32_t)sentinel != DURE_MAIN_BASE || !hammer_buf)
        return 3;                               /* the sentinel must be the aliased block */
    for (uint32_t i = 0; i < SENTINEL_WORDS; i++)
        sentinel[i] = ~pattern(99, 0, i);
    if (round_trip(0, lanes))
        return 4;

    /* Open the window beyond main memory: the second half of each command's rows is past it. */
    npu_set_window(DURE_MAIN_BASE, 2 * DURE_MAIN_SIZE);
    const uint32_t start = DURE_MAIN_BASE + DURE_MAIN_SIZE - (ROWS / 2) * row_bytes;
    uint32_t fewest = ~0u;
    const int cases = 2;
    for (int c = 0; c < cases; c++) {
        uint32_t d[8];
        if (c == 0)
            npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 0, start, row_bytes, ROWS,
                         lanes, 0);
        else
            npu_cmd_store(d, DURE_NPU_OUT_INT32, 0, 0, 0, 0, start, row_bytes, ROWS, lanes, 0,
                          0, 0, 0);
        uint32_t seq = npu_issued(), busy_words = 0, last_pass = 0;
        if (npu_error(0))
            return 10 + c;                      /* no error before the command */
        hammer_fill(c + 1);
        npu_push(d);
        if (hammer(c + 1, &busy_words, &last_pass)) {
            printf("case %d: the core read back a word it did not write\n", c);
            return 20 + c;
        }
        for (uint32_t i = 0; i < HAMMER_WORDS; i++)
            if (hammer_buf[i] != pattern(c + 1, last_pass, i)) {
                printf("case %d: hammer word %u changed after the transfer\n", c, (unsigned)i);
                return 30 + c;
            }
        if (busy_words == 0) {
            printf("case %d: the NPU finished before the core's first access\n", c);
            return 40 + c;
        }
        if (busy_words < fewest)
            fewest = busy_words;
        uint32_t got_seq = 0, code = npu_error(&got_seq);
        if (code != DURE_NPU_ERR_BUS_ERROR || got_seq != (seq & (DURE_NPU_ERROR_SEQ >> 8))) {
            printf("case %d: ERROR code %u seq %u, want %u seq %u\n", c, (unsigned)code,
                   (unsigned)got_seq, (unsigned)DURE_NPU_ERR_BUS_ERROR, (unsigned)seq);
            return 50 + c;
        }
        npu_clear_error();
        if (npu_error(0))
            return 60 + c;
        for (uint32_t i = 0; i < SENTINEL_WORDS; i++)
            if (sentinel[i] != ~pattern(99, 0, i)) {
                printf("case %d: main memory word %u was overwritten\n", c, (unsigned)i);
                return 70 + c;
            }
        int bad = round_trip(c + 1, lanes);
        if (bad) {
            printf("case %d: the round trip after the bus error failed (%d)\n", c, bad);
            return 80 + c;
        }
    }
    printf("dma-error: %d cases pass overlap=%u\n", cases, (unsigned)fewest);
    return 0;
}
