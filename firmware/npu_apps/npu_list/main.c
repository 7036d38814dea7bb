/* npu_list: a small INT8 GEMM layer (16x8x8, int32 out) issued two ways, descriptor by
 * descriptor through CMD0..7 + DOORBELL and as one LIST doorbell over the same descriptors in
 * main memory; both outputs must equal the CPU's integer sums. Then a list with malformed
 * entries: ERROR names the first refused entry's sequence number, ERROR_INDEX its index, the
 * valid entries still run, and DONE catches up with ISSUED. Prints
 *   LIST push_cycles=P list_cycles=L entries=E
 * (cycles from the first issue to the end of a FENCE wait, measured with rdcycle). */
#include "bench_util.h"
#include "csr.h"
#include "dure_rt.h"
#include "npu.h"

#define M 16
#define K 8
#define N 8
#define T 4                     /* tile edge: npu-small's 4x4 array (checked below) */
#define MAX_ENTRIES 32

static uint32_t seed = 7u;

static uint32_t build(uint32_t *list, const int8_t *a, const int8_t *b, int32_t *out)
{
    uint32_t n = 0;
    for (uint32_t nt = 0; nt < N / T; nt++) {
        for (uint32_t kt = 0; kt < K / T; kt++) {
            npu_cmd_load(&list[8 * n++], DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0,
                         (uint32_t)(uintptr_t)(a + kt * T), K, M, T, 0);
            npu_cmd_load(&list[8 * n++], DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0,
                         (uint32_t)(uintptr_t)(b + kt * T * N + nt * T), N, T, T, 32);
            npu_cmd_compute(&list[8 * n++], NPU_INT8, kt > 0, 0, 32, 0, M, T, T);
        }
        npu_cmd_store(&list[8 * n++], NPU_OUT_INT32, NPU_INT8, 0, 0, 0,
                      (uint32_t)(uintptr_t)(out + nt * T), 4 * N, M, T, 0, 0, 0, 0);
    }
    return n;
}

static int check(const int32_t *out, const int8_t *a, const int8_t *b)
{
    for (uint32_t i = 0; i < M; i++)
        for (uint32_t j = 0; j < N; j++) {
            int32_t s = 0;
            for (uint32_t k = 0; k < K; k++)
                s += (int32_t)a[i * K + k] * (int32_t)b[k * N + j];
            if (out[i * N + j] != s) {
                printf("out[%u][%u] = %d, want %d\n", i, j, (int)out[i * N + j], (int)s);
                return 1;
            }
        }
    return 0;
}

int main(void)
{
    if (npu_init())
        return 1;
    const struct npu_info *info = npu_get_info();
    if (info->rows < T || info->cols < T)
        return 2;
    int8_t *a = npu_alloc(M * K, 16), *b = npu_alloc(K * N, 16);
    int32_t *out1 = npu_alloc(4 * M * N, 16), *out2 = npu_alloc(4 * M * N, 16);
    uint32_t *list1 = npu_alloc(32 * MAX_ENTRIES, 16), *list2 = npu_alloc(32 * MAX_ENTRIES, 16);
    uint32_t *bad = npu_alloc(32 * 4, 16);
    if (!a || !b || !out1 || !out2 || !list1 || !list2 || !bad)
        return 3;
    for (uint32_t i = 0; i < M * K / 4; i++)
        ((uint32_t *)a)[i] = xorshift32(&seed);
    for (uint32_t i = 0; i < K * N / 4; i++)
        ((uint32_t *)b)[i] = xorshift32(&seed);
    uint32_t n = build(list1, a, b, out1);
    build(list2, a, b, out2);

    /* 1. pushed one by one */
    uint32_t t0 = rdcycle();
    for (uint32_t i = 0; i < n; i++)
        npu_push(&list1[8 * i]);
    int err = npu_wait();
    uint32_t push_cycles = rdcycle() - t0;
    if (err || check(out1, a, b))
        return 10 + err;

    /* 2. one LIST */
    uint32_t issued = npu_issued();
    t0 = rdcycle();
    uint32_t s = npu_run_list(list2, n);
    err = npu_wait();
    uint32_t list_cycles = rdcycle() - t0;
    if (err || check(out2, a, b))
        return 20 + err;
    if (s != issued || npu_issued() != issued + n + 2 || npu_done() != npu_issued())
        return 30;
    printf("LIST push_cycles=%u list_cycles=%u entries=%u\n", push_cycles, list_cycles, n);

    /* 3. malformed entries: rows 0 (index 1), a nested LIST (index 2); 0 and 3 run */
    for (uint32_t i = 0; i < 8 * M; i++)
        out2[i] = -1;
    npu_cmd_store(&bad[0], NPU_OUT_INT32, NPU_INT8, 0, 0, 0, (uint32_t)(uintptr_t)out2, 4 * N,
                  M, T, 0, 0, 0, 0);
    npu_cmd_load(&bad[8], DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0, (uint32_t)(uintptr_t)a,
                 K, 0, T, 0);
    npu_cmd_list(&bad[16], (uint32_t)(uintptr_t)list2, 1);
    npu_cmd_store(&bad[24], NPU_OUT_INT32, NPU_INT8, 0, 0, 0, (uint32_t)(uintptr_t)(out2 + T),
                  4 * N, M, T, 0, 0, 0, 0);
    npu_clear_error();
    s = npu_run_list(bad, 4);
    npu_wait();
    uint32_t seq = 0, code = npu_error(&seq), index = npu_error_index();
    if (code != DURE_NPU_ERR_ZERO_DIM || seq != s + 2 || index != 1) {
        printf("error %u seq %u (list %u) index %u\n", code, seq, s, index);
        return 40;
    }
    /* Both STOREs wrote ACC columns 0..T-1, which hold the last N tile of the product. */
    for (uint32_t i = 0; i < M; i++)
        for (uint32_t j = 0; j < T; j++)
            if (out2[i * N + j] != out1[i * N + T + j] ||
                out2[i * N + T + j] != out1[i * N + T + j])
                return 41;
    if (npu_done() != npu_issued())
        return 42;
    npu_clear_error();
    printf("npu_list pass\n");
    return 0;
}
