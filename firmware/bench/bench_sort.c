/* bench_sort: quicksort (median of three, insertion sort below 16 elements) of 2048 signed
 * pseudo-random words, then insertion sort of 256 more. Checked: both outputs are ordered, are
 * permutations of their inputs (sum and xor of squares kept), and the quicksorted array has
 * the order statistics and checksum a host computation gives. */
#include "bench_util.h"
#include "dure_rt.h"

#define N_QUICK 2048
#define N_INSERT 256
/* From the host (Python, same generator and seed) */
#define EXPECT_MIN       0x80284392u
#define EXPECT_MEDIAN    0x00f4c362u
#define EXPECT_MAX       0x7f52e00cu
#define EXPECT_POSHASH   0x920c5047u

static int32_t a[N_QUICK];
static int32_t b[N_INSERT];

static void insertion_sort(int32_t *v, int n)
{
    for (int i = 1; i < n; i++) {
        int32_t x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void swap(int32_t *x, int32_t *y)
{
    int32_t t = *x;
    *x = *y;
    *y = t;
}

static void quick_sort(int32_t *v, int lo, int hi)   /* sorts v[lo..hi] inclusive */
{
    while (hi - lo >= 16) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            swap(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swap(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swap(&v[hi], &v[mid]);
        int32_t pivot = v[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                swap(&v[i], &v[j]);
                i++;
                j--;
            }
        }
        /* recurse into the smaller part, loop on the larger (bounded stack) */
        if (j - lo < hi - i) {
            quick_sort(v, lo, j);
            lo = i;
        } else {
            quick_sort(v, i, hi);
            hi = j;
        }
    }
    insertion_sort(v + lo, hi - lo + 1);
}

struct digest {
    uint32_t sum;
    uint32_t sq;
};

static struct digest digest(const int32_t *v, int n)
{
    struct digest d = {0, 0};
    for (int i = 0; i < n; i++) {
        d.sum += (uint32_t)v[i];
        d.sq ^= (uint32_t)v[i] * (uint32_t)v[i];
    }
    return d;
}

static int ordered(const int32_t *v, int n)
{
    for (int i = 1; i < n; i++)
        if (v[i - 1] > v[i])
            return 0;
    return 1;
}

int main(void)
{
    uint32_t seed = 0x2545F491u;
    for (int i = 0; i < N_QUICK; i++)
        a[i] = (int32_t)xorshift32(&seed);
    for (int i = 0; i < N_INSERT; i++)
        b[i] = (int32_t)xorshift32(&seed);
    struct digest da = digest(a, N_QUICK), db = digest(b, N_INSERT);

    struct bench_sample t = bench_start();
    quick_sort(a, 0, N_QUICK - 1);
    insertion_sort(b, N_INSERT);
    bench_stop("sort", t);

    BENCH_CHECK(2, "quicksort order", ordered(a, N_QUICK), 1);
    BENCH_CHECK(3, "insertion order", ordered(b, N_INSERT), 1);
    struct digest da2 = digest(a, N_QUICK), db2 = digest(b, N_INSERT);
    BENCH_CHECK(4, "quicksort sum", da2.sum, da.sum);
    BENCH_CHECK(5, "quicksort squares", da2.sq, da.sq);
    BENCH_CHECK(6, "insertion sum", db2.sum, db.sum);
    BENCH_CHECK(7, "insertion squares", db2.sq, db.sq);
    BENCH_CHECK(8, "minimum", a[0], EXPECT_MIN);
    BENCH_CHECK(9, "median", a[N_QUICK / 2], EXPECT_MEDIAN);
    BENCH_CHECK(10, "maximum", a[N_QUICK - 1], EXPECT_MAX);
    uint32_t h = 0;
    for (int i = 0; i < N_QUICK; i++)
        h = h * 31u + (uint32_t)a[i];
    BENCH_CHECK(11, "position hash", h, EXPECT_POSHASH);
    return 0;
}
