/* bench_crc32: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of an 8 KiB pseudo-random
 * buffer with a 256-entry table built at run time. The table-driven result is checked against
 * a bitwise CRC of the same buffer and against the value zlib.crc32 gives for it. */
#include "bench_util.h"
#include "dure_rt.h"

#define LEN 8192
#define CRC_EXPECTED 0xFBDCF897u   /* zlib.crc32 of the buffer (xorshift32 seed 1, LE words) */

static uint32_t table[256];
static uint8_t buffer[LEN];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc_table(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t crc_bitwise(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

int main(void)
{
    uint32_t seed = 1;
    for (uint32_t i = 0; i < LEN; i += 4) {
        uint32_t w = xorshift32(&seed);
        buffer[i] = (uint8_t)w;
        buffer[i + 1] = (uint8_t)(w >> 8);
        buffer[i + 2] = (uint8_t)(w >> 16);
        buffer[i + 3] = (uint8_t)(w >> 24);
    }
    struct bench_sample t = bench_start();
    make_table();
    uint32_t crc = crc_table(buffer, LEN);
    bench_stop("crc32", t);
    BENCH_CHECK(2, "crc32 table vs zlib", crc, CRC_EXPECTED);
    BENCH_CHECK(3, "crc32 bitwise", crc_bitwise(buffer, LEN), crc);
    /* the standard check value: CRC-32 of "123456789" */
    BENCH_CHECK(4, "crc32 check value", crc_table((const uint8_t *)"123456789", 9), 0xCBF43926u);
    return 0;
}
