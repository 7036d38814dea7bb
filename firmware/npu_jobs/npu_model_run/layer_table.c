/* layer_table.c: walks a compiled model's layer table (layer_table.h): NPU records as LIST
 * doorbells, tile records on every tile, core records through the C kernels (here, and in
 * layer_stage.c, layer_layout.c, layer_onnx.c). */
#include "layer_table.h"

#include "fixedpoint.h"
#include "layer_walk.h"
#include "npu_cpu_ops.h"

/* Host view of `bytes` bytes at bus address `addr`, or NULL when they leave main memory or
 * `addr` is not a multiple of `align`. */
void *lt_at(const struct lt_env *env, uint32_t addr, uint64_t bytes, uint32_t align)
{
    if (addr < env->base || addr % align)
        return 0;
    uint64_t off = addr - env->base;
    if (off > env->size || bytes > env->size - off)
        return 0;
    return env->mem + off;
}

/* Whether a list of `bytes` bytes at bus address `addr` lies in main memory or in the
 * environment's list region, word-aligned. */
static int lt_list_ok(const struct lt_env *env, uint32_t addr, uint64_t bytes)
{
    if (lt_at(env, addr, bytes, 4))
        return 1;
    if (addr % 4 || addr < env->list_base)
        return 0;
    uint64_t off = addr - env->list_base;
    return off <= env->list_size && bytes <= env->list_size - off;
}

/* The product of n 32-bit factors, or UINT64_MAX once a partial product passes 2^32 (no
 * operand of main memory is that large; keeps the 64-bit arithmetic from wrapping). */
uint64_t lt_product(const uint32_t *f, int n)
{
    uint64_t p = 1;
    for (int i = 0; i < n; i++) {
        p *= f[i];
        if (p > 0xFFFFFFFFull)
            return UINT64_MAX;
    }
    return p;
}

static void put64(uint32_t *p, uint64_t v)
{
    p[0] = (uint32_t)v;
    p[1] = (uint32_t)(v >> 32);
}

static int pool_out(const uint32_t *r, uint64_t *in_elems, uint64_t *out_elems)
{
    uint32_t oh, ow, pt, pl;
    if (cpu_conv_axis(r[7], r[10], r[12], (int)r[14], &oh, &pt) ||
        cpu_conv_axis(r[8], r[11], r[13], (int)r[14], &ow, &pl))
        return LT_E_ARG;
    uint32_t out[4] = {r[6], oh, ow, r[9]};
    *in_elems = lt_product(r + 6, 4);
    *out_elems = lt_product(out, 4);
    return *out_elems == r[5] ? LT_OK : LT_E_ARG;
}

uint32_t lt_f32_div(uint32_t a, uint32_t b)
{
    return f32_div(a, b);
}

static int run_core(const struct lt_env *env, const uint32_t *r)
{
    uint64_t in_elems = r[5], out_elems = r[5];
    uint32_t eb = 1;
    switch (r[1]) {
    case LT_OP_COPY: {
        uint8_t *x = lt_at(env, r[2], r[5], 1), *y = lt_at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        if (y + r[5] <= x || x + r[5] <= y)
            lt_copy_bytes(y, x, r[5]);
        else if (y < x)
            for (uint32_t i = 0; i < r[5]; i++)
                y[i] = x[i];
        else if (y > x)
            for (uint32_t i = r[5]; i-- > 0;)
                y[i] = x[i];
        return LT_OK;
    }
    case LT_OP_ADD_FP16:
        eb = 2;
        /* fall through */
    case LT_OP_ADD_INT8: {
        void *a = lt_at(env, r[2], out_elems * eb, eb), *b = lt_at(env, r[3], out_elems * eb, eb);
        void *y = lt_at(env, r[4], out_elems * eb, eb);
        if (!a || !b || !y)
            return LT_E_RANGE;
        return lt_kernel_status(lt_staged_add(r, a, b, y, r[5], eb));
    }
    case LT_OP_MAX_POOL_FP16:
    case LT_OP_AVG_POOL_FP16:
        eb = 2;
        /* fall through */
    case LT_OP_MAX_POOL_INT8:
    case LT_OP_AVG_POOL_INT8: {
        int st = pool_out(r, &in_elems, &out_elems);
        if (st)
            return st;
        void *x = lt_at(env, r[2], in_elems * eb, eb), *y = lt_at(env, r[4], out_elems * eb, eb);
        if (!x || !y)
            return LT_E_RANGE;
        struct cpu_pool p = {r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], (int)r[14]};
        switch (r[1]) {
        case LT_OP_MAX_POOL_INT8:
            return lt_kernel_status(cpu_max_pool_int8(&p, x, y, (int32_t)r[15], (int32_t)r[16]));
        case LT_OP_AVG_POOL_INT8:
            return lt_kernel_status(cpu_avg_pool_int8(&p, x, y, (int32_t)r[15], (int32_t)r[16]));
        case LT_OP_MAX_POOL_FP16:
            return lt_kernel_status(cpu_max_pool_fp16(&p, x, y, (int)r[17], r[15], r[16]));
        default:
            return lt_kernel_status(cpu_avg_pool_fp16(&p, x, y, (int)r[17], r[15], r[16]));
        }
    }
    case LT_OP_SOFTMAX_INT8: {
        if ((uint64_t)r[6] * r[7] != r[5])
            return LT_E_ARG;
        void *x = lt_at(env, r[2], r[5], 1), *y = lt_at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return lt_kernel_status(cpu_softmax_int8(x, y, r[6], r[7], (int32_t)r[18],
                                                 (int32_t)r[19], (int32_t)r[20]));
    }
    case LT_OP_SOFTMAX_FP16: {
        if ((uint64_t)r[6] * r[7] != r[5])
            return LT_E_ARG;
        void *x = lt_at(env, r[2], (uint64_t)r[5] * 2, 2);
        void *y = lt_at(env, r[4], (uint64_t)r[5] * 2, 2);
        if (!x || !y)
            return LT_E_RANGE;
        return lt_kernel_status(cpu_softmax_fp16(x, y, r[6], r[7], r[18]));
    }
    case LT_OP_REQUANTIZE_TFLITE: {
        void *x = lt_at(env, r[2], r[5], 1), *y = lt_at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return lt_kernel_status(cpu_requantize_int8(x, y, r[5], (int32_t)r[18], (int32_t)r[19],
                                                    (int32_t)r[20], (int32_t)r[21]));
    }
    case LT_OP_FC_RESCALE_TFLITE: {
        /* FULLY_CONNECTED's exact fallback: LiteRT's double rescale of the NPU's int32 sums */
        if ((uint64_t)r[6] * r[7] != r[5])
            return LT_E_ARG;
        const int32_t *acc = lt_at(env, r[2], (uint64_t)r[5] * 4, 4);
        const uint32_t *scales = lt_at(env, r[3], (uint64_t)r[7] * 8, 4);
        int8_t *y = lt_at(env, r[4], r[5], 1);
        if (!acc || !scales || !y)
            return LT_E_RANGE;
        return lt_kernel_status(cpu_fc_rescale_tflite(acc, y, r[6], r[7], scales,
                                                      (int32_t)r[18], (int32_t)r[15],
                                                      (int32_t)r[16]));
    }
    case LT_OP_QUANTIZE_TFLITE: {
        const uint32_t *x = lt_at(env, r[2], (uint64_t)r[5] * 4, 4);
        int8_t *y = lt_at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return lt_staged_quantize(r, x, y, 0);
    }
    case LT_OP_QUANTIZE_ONNX: {
        /* clamp(rint(f32(x / scale)) + zp, lo, hi) with [lo, hi] inside [-128, 127] (a Relu /
           Clip onnxruntime computes in float32 before the QuantizeLinear); a NaN quotient
           gives 0 before the clamp (cpu_quantize_onnx) */
        const uint32_t *x = lt_at(env, r[2], (uint64_t)r[5] * 4, 4);
        int8_t *y = lt_at(env, r[4], r[5], 1);
        if (!x || !y)
            return LT_E_RANGE;
        return lt_staged_quantize(r, x, y, 1);
    }
    case LT_OP_IM2COL:
    case LT_OP_TRANSPOSE:
    case LT_OP_PAD:
        return lt_layout_op(env, r);
    case LT_OP_ADD_ONNX:
    case LT_OP_DEPTHWISE_ONNX:
    case LT_OP_AVG_POOL_ONNX:
    case LT_OP_GLOBAL_AVG_POOL_ONNX:
    case LT_OP_SOFTMAX_ONNX:
    case LT_OP_CONV_FLOAT_ONNX:
    case LT_OP_CONV_FAST_ONNX:
    case LT_OP_DEQUANTIZE_ONNX:
        return lt_onnx_op(env, r);
    default:
        return env->core_op ? env->core_op(env, r) : LT_E_OP;
    }
}

/* An LT_KIND_NPU_TILES record: word 1 the tiles T (1..LT_MAX_TILES), words 2 + 2t / 3 + 2t
 * tile t's list address and descriptor count. */
static int run_tiles(const struct lt_env *env, const uint32_t *rec, uint32_t *res)
{
    uint32_t tiles = rec[1], lists[LT_MAX_TILES], counts[LT_MAX_TILES];
    if (!env->npu_tiles || !tiles || tiles > LT_MAX_TILES)
        return LT_E_KIND;
    for (uint32_t t = 0; t < tiles; t++) {
        lists[t] = rec[2 + 2 * t];
        counts[t] = rec[3 + 2 * t];
        if (!lt_list_ok(env, lists[t], 32ull * counts[t]))
            return LT_E_RANGE;
    }
    uint32_t tile = 0, index = 0;
    uint32_t err = env->npu_tiles(env->ctx, tiles, lists, counts, &tile, &index);
    if (err) {
        res[2] = err;
        res[3] = index;
        return LT_E_NPU;
    }
    return LT_OK;
}

int lt_walk(const struct lt_env *env, uint32_t table, uint32_t **results)
{
    *results = 0;
    const uint32_t *h = lt_at(env, table, 4u * LT_HEADER_WORDS, 4);
    if (!h)
        return LT_E_NO_TABLE;
    if (h[0] != LT_MAGIC)
        return LT_E_MAGIC;
    if (h[1] != LT_VERSION)
        return LT_E_VERSION;
    uint32_t layers = h[2];
    if (layers > LT_MAX_LAYERS || h[3] != LT_RECORD_WORDS ||
        h[4] != 4u * (LT_HEADER_WORDS + LT_RECORD_WORDS * layers) || !lt_at(env, table, h[4], 4))
        return LT_E_HEADER;
    uint32_t *res = lt_at(env, h[5], 4u * (LT_RESULT_HEAD_WORDS + 2u * layers), 4);
    if (!res)
        return LT_E_HEADER;
    for (uint32_t i = 0; i < LT_RESULT_HEAD_WORDS + 2u * layers; i++)
        res[i] = 0;
    *results = res;
    const uint32_t *rec = h + LT_HEADER_WORDS;
    int status = LT_OK;
    uint32_t i = 0;
    uint64_t t0 = env->now(env->ctx);
    for (; i < layers && status == LT_OK; i++, rec += LT_RECORD_WORDS) {
        uint64_t a = env->now(env->ctx);
        if (rec[0] == LT_KIND_NPU) {
            if (!lt_list_ok(env, rec[2], 32ull * rec[3])) {
                status = LT_E_RANGE;
            } else if (rec[3]) {
                uint32_t index = 0;
                uint32_t err = env->npu_list(env->ctx, rec[2], rec[3], &index);
                if (err) {
                    status = LT_E_NPU;
                    res[2] = err;
                    res[3] = index;
                }
            }
        } else if (rec[0] == LT_KIND_NPU_TILES) {
            status = run_tiles(env, rec, res);
        } else if (rec[0] == LT_KIND_CORE) {
            status = run_core(env, rec);
        } else {
            status = LT_E_KIND;
        }
        put64(res + LT_RESULT_HEAD_WORDS + 2u * i, env->now(env->ctx) - a);
    }
    put64(res + 4, env->now(env->ctx) - t0);
    res[0] = (uint32_t)status;
    res[1] = status ? i - 1 : 0;
    return status;
}
