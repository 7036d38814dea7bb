/* bench_matmul: C = A x B for 24 x 24 int32 matrices with small signed entries (-128..127),
 * i-k-j loop order, then a weighted checksum of C compared with a host computation, and one
 * row recomputed with the j-k (dot product) order. */
#include "bench_util.h"
#include "dure_rt.h"

#define N 24
#define EXPECT_CHECKSUM 0x154F4B7Du     /* sum of C[i][j] * (i * N + j + 1), mod 2^32 */

static int32_t A[N][N], B[N][N], C[N][N];

static void matmul(void)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            C[i][j] = 0;
        for (int k = 0; k < N; k++) {
            int32_t aik = A[i][k];
            for (int j = 0; j < N; j++)
                C[i][j] += aik * B[k][j];
        }
    }
}

int main(void)
{
    uint32_t seed = 12345u;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            A[i][j] = (int32_t)(int8_t)xorshift32(&seed);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            B[i][j] = (int32_t)(int8_t)xorshift32(&seed);

    struct bench_sample t = bench_start();
    matmul();
    bench_stop("matmul", t);

    uint32_t sum = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            sum += (uint32_t)C[i][j] * (uint32_t)(i * N + j + 1);
    BENCH_CHECK(2, "matmul checksum", sum, EXPECT_CHECKSUM);
    for (int j = 0; j < N; j++) {
        int32_t dot = 0;
        for (int k = 0; k < N; k++)
            dot += A[N - 1][k] * B[k][j];
        BENCH_CHECK(3, "matmul last row", C[N - 1][j], dot);
    }
    return 0;
}
