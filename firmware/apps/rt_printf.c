/* rt_printf: self-check of the runtime's printf family. Every case formats with snprintf and
 * compares with the expected text (failure n = case number); the same cases are printed on the
 * UART as "<text>|" lines so a host test can compare them with its own formatting too. */
#include "dure_rt.h"

static int case_no;

static int check(const char *got, const char *want)
{
    case_no++;
    printf("%s|\n", got);
    if (strcmp(got, want) != 0) {
        printf("MISMATCH case %d: got \"%s\" want \"%s\"\n", case_no, got, want);
        return case_no + 1;
    }
    return 0;
}

#define CASE(want, ...) do { \
    char buf_[64]; \
    snprintf(buf_, sizeof buf_, __VA_ARGS__); \
    int r_ = check(buf_, want); \
    if (r_) return r_; \
} while (0)

int main(void)
{
    CASE("0", "%d", 0);
    CASE("-1", "%d", -1);
    CASE("2147483647", "%d", 2147483647);
    CASE("-2147483648", "%d", (int)0x80000000u);
    CASE("4294967295", "%u", 0xffffffffu);
    CASE("deadbeef", "%x", 0xdeadbeefu);
    CASE("DEADBEEF", "%X", 0xdeadbeefu);
    CASE("0000002a", "%08x", 42u);
    CASE("      42", "%8d", 42);
    CASE("42      |", "%-8d|", 42);
    CASE("-0000042", "%08d", -42);
    CASE("     -42", "%8d", -42);
    CASE("x", "%c", 'x');
    CASE("  ab", "%4s", "ab");
    CASE("ab  |", "%-4s|", "ab");
    CASE("100%", "%d%%", 100);
    CASE("(null)", "%s", (const char *)0);
    CASE("18446744073709551615", "%llu", 0xffffffffffffffffull);
    CASE("-9223372036854775808", "%lld", (long long)0x8000000000000000ull);
    CASE("123456789abcdef0", "%llx", 0x123456789abcdef0ull);
    CASE("0x80000000", "%p", (void *)0x80000000u);
    CASE("   7", "%*d", 4, 7);
    CASE("a=1 b=ff c=str", "a=%d b=%x c=%s", 1, 255u, "str");
    CASE("12345", "%3d", 12345);
    /* truncation: the return value is the full length, the buffer stays terminated */
    char small[5];
    int n = snprintf(small, sizeof small, "%s", "truncated");
    if (n != 9 || strcmp(small, "trun") != 0)
        return 100;
    /* udiv64_32 */
    uint32_t rem;
    uint64_t q = udiv64_32(0xffffffffffffffffull, 10u, &rem);
    if (q != 0x1999999999999999ull || rem != 5)
        return 101;
    puts("rt_printf: all cases match");
    return 0;
}
