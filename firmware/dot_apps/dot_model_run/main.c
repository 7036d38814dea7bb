/* dot_model_run: runs a whole compiled model on a SoC without an NPU but with the INT8
 * dot-product unit (the iCEBreaker; compiler target: compiler/dot_target.py) in one firmware
 * run. It walks the layer table with npu_model_run's walker (walker.c; format:
 * compiler/layer_table.py) and adds the one record that walker has no kernel for:
 * LT_OP_DENSE_DOT_INT8, a TFLite FULLY_CONNECTED (or a CONV_2D over its patch matrix) through
 * dot_stream_dense_int8 (one stream of the unit per output; K a multiple of 4) or, when the
 * record says so, cpu_dense_int8 on the core alone (dot_dense.h); and
 * LT_OP_DEPTHWISE_DOT_INT8, a DEPTHWISE_CONV_2D (depthwise.c).
 *
 * Memory contract as npu_model_run's (dure.compiler.soc): the boot block is the last BOOT_BYTES
 * (256) bytes of main memory, word 0 the table's address; written back: 1 the status (also the
 * exit code, 0 = pass), 2 the failing layer. The results area gets no NPU counters (words 6..13
 * stay 0). An NPU record fails the walk with LT_E_NPU (error code NO_NPU_CODE). */
#include "csr.h"
#include "dot_dense.h"
#include "dure_rt.h"
#include "../../npu_jobs/npu_model_run/layer_table.h"
#include "../../npu_jobs/npu_model_run/layer_walk.h"
#include "dot_model_run.h"

#define BOOT_BYTES 256u          /* dure.compiler.soc.BOOT_BYTES */
#define NO_NPU_CODE 0xFFu        /* the "NPU error" of an NPU record on this SoC */

static uint32_t no_npu(void *ctx, uint32_t list, uint32_t count, uint32_t *index)
{
    (void)ctx;
    (void)list;
    (void)count;
    *index = 0;
    return NO_NPU_CODE;
}

static uint64_t now(void *ctx)
{
    (void)ctx;
    return rdcycle64();
}

/* The walker's core_op hook: LT_OP_DENSE_DOT_INT8 here (record words:
 * compiler/layer_table.py), LT_OP_DEPTHWISE_DOT_INT8 in depthwise.c. */
static int dense_dot(const struct lt_env *env, const uint32_t *r)
{
    uint32_t batch = r[6], in = r[7], out = r[8], stream = r[13];
    if (r[1] == LT_OP_DEPTHWISE_DOT_INT8)
        return dot_depthwise(env, r);
    if (r[1] != LT_OP_DENSE_DOT_INT8)
        return LT_E_OP;
    if (!batch || !in || !out || (uint64_t)batch * out != r[5] || r[12] > 2u || stream > 1u ||
        (stream && in % 4u))
        return LT_E_ARG;
    uint32_t align = stream ? 4u : 1u;
    const int8_t *x = lt_at(env, r[2], (uint64_t)batch * in, align);
    const int8_t *w = lt_at(env, r[3], (uint64_t)out * in, align);
    int8_t *y = lt_at(env, r[4], r[5], 1);
    const int32_t *bias = lt_at(env, r[9], 4ull * out, 4);
    const int32_t *mult = lt_at(env, r[10], 4ull * out, 4);
    const int32_t *shift = lt_at(env, r[11], 4ull * out, 4);
    if (!x || !w || !y || !bias || !mult || !shift)
        return LT_E_RANGE;
    /* the compiler folded the input zero point into the bias: input_zp 0, no `ones` */
    struct dot_dense p = {
        .batch = batch, .in = in, .out = out, .input_zp = 0, .output_zp = (int32_t)r[14],
        .lo = (int32_t)r[15], .hi = (int32_t)r[16], .x = x, .w = w, .bias = bias,
        .mult = mult, .shift = shift, .ones = 0, .double_rounding = (int32_t)r[12],
    };
    return lt_kernel_status(stream ? dot_stream_dense_int8(&p, y) : cpu_dense_int8(&p, y));
}

int main(void)
{
    volatile uint32_t *boot =
        (volatile uint32_t *)(uintptr_t)(DURE_MAIN_BASE + DURE_MAIN_SIZE - BOOT_BYTES);
    struct lt_env env = {(uint8_t *)(uintptr_t)DURE_MAIN_BASE, DURE_MAIN_BASE,
                         DURE_MAIN_SIZE - BOOT_BYTES, no_npu, now, 0, 0, dense_dot, 0, 0};
    uint32_t *res = 0;
    int status = lt_walk(&env, boot[0], &res);
    boot[1] = (uint32_t)status;
    boot[2] = res ? res[1] : 0;
    return status;
}
