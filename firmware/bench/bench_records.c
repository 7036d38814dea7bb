/* bench_records: a small integer/string workload in the spirit of classic synthetic CPU
 * benchmarks (own code): records with names built by number-to-text conversion, a switch over
 * record kinds, string length / compare / copy / reverse, FNV-1a hashing and calls through a
 * function-pointer table. Checked against the same computation done on the host. */
#include "bench_util.h"
#include "dure_rt.h"

#define RECORDS 64
#define ROUNDS 24
#define EXPECT_VALUES 0x383ACA17u
#define EXPECT_LESS   0x000001C6u
#define EXPECT_HASH   0xC7683D28u

struct record {
    char name[24];
    uint32_t id;
    uint32_t value;
    uint32_t kind;
};

static struct record recs[RECORDS];

static char *utoa_dec(char *out, uint32_t v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        *out++ = tmp[--n];
    *out = '\0';
    return out;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 0x811C9DC5u;
    while (*s) {
        h ^= (uint8_t)*s++;
        h *= 0x01000193u;
    }
    return h;
}

static void reverse(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}

static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }
static uint32_t op_mix(uint32_t a, uint32_t b) { return (a << 3) - b; }
static uint32_t (*const ops[3])(uint32_t, uint32_t) = {op_add, op_xor, op_mix};

struct result {
    uint32_t values;
    uint32_t less;
    uint32_t hash;
};

static struct result workload(void)
{
    struct result res = {0, 0, 0x811C9DC5u};
    char buf[24];
    for (uint32_t r = 0; r < ROUNDS; r++) {
        for (uint32_t i = 0; i < RECORDS; i++) {
            struct record *rec = &recs[i];
            memcpy(rec->name, "node-", 5);
            utoa_dec(rec->name + 5, (i * 7919u) % 10007u + r);
            rec->id = i ^ r;
            rec->kind = (i + r) % 4u;
            switch (rec->kind) {
            case 0:
                rec->value += (uint32_t)strlen(rec->name);
                break;
            case 1:
                rec->value ^= fnv1a(rec->name);
                break;
            case 2:
                rec->value -= (uint32_t)(uint8_t)rec->name[5];
                break;
            default:
                rec->value = rec->value * 3u + 1u;
                break;
            }
            rec->value = ops[rec->id % 3u](rec->value, rec->id);
        }
        for (uint32_t i = 1; i < RECORDS; i++)
            if (strcmp(recs[i - 1].name, recs[i].name) < 0)
                res.less++;
        memcpy(buf, recs[r % RECORDS].name, sizeof buf);
        reverse(buf);
        res.hash = (res.hash ^ fnv1a(buf)) * 0x01000193u;
    }
    for (uint32_t i = 0; i < RECORDS; i++)
        res.values += recs[i].value * (i + 1u);
    return res;
}

int main(void)
{
    struct bench_sample t = bench_start();
    struct result res = workload();
    bench_stop("records", t);
    BENCH_CHECK(2, "records values", res.values, EXPECT_VALUES);
    BENCH_CHECK(3, "records compares", res.less, EXPECT_LESS);
    BENCH_CHECK(4, "records hash", res.hash, EXPECT_HASH);
    return 0;
}
