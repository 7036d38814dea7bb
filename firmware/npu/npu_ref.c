/* npu_ref.c: the CPU reference path of the NPU numerics (dure.sim.golden, bit for bit).
 *
 * INT8: int32 accumulation wrapping modulo 2^32 (done in uint32_t), bias as the start value;
 * requantization clamp(rne(f32(acc) * scale) + zp, lo, hi) with the f32 steps in soft-float.
 * FP16: exact products, binary32 RNE accumulation sequentially over k from the bias (or +0),
 * canonical NaN; output with optional scale and IEEE-comparison clamp, then RNE to fp16.
 * Non-finite scales follow the hardware's post-processing (NaN products requantize to 0). */
#include "npu.h"

int8_t npu_ref_requantize(int32_t acc, f32_t scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    int32_t y = f32_rint_clip(f32_mul(f32_from_i32(acc), scale), 1024) + zero_point;
    if (y < lo)
        y = lo;
    if (y > hi)
        y = hi;
    return (int8_t)y;
}

static f32_t clamp_f32(f32_t y, f32_t lo, f32_t hi)
{
    if (f32_lt(y, lo))
        y = lo;
    if (f32_lt(hi, y))
        y = hi;
    return y;
}

f16_t npu_ref_fp16_post(f32_t acc, const f32_t *scale, int clamp, f32_t lo, f32_t hi)
{
    f32_t y = scale ? f32_mul(acc, *scale) : acc;
    if (clamp)
        y = clamp_f32(y, lo, hi);
    return f16_from_f32(y);
}

static uint32_t out_size(int out)
{
    return out == NPU_OUT_INT8 ? 1 : out == NPU_OUT_FP16 ? 2 : 4;
}

/* Post-process one accumulator (int32 or fp32 bits) of column j and write it to *dst. */
static void post(const struct npu_gemm *g, uint32_t acc, uint32_t j, uint8_t *dst)
{
    const f32_t *scale = g->scale ? &g->scale[j] : 0;
    uint32_t word;
    if (g->prec == NPU_INT8) {
        if (g->out_type == NPU_OUT_INT8) {
            word = (uint8_t)npu_ref_requantize((int32_t)acc, *scale, g->zero_point,
                                               (int32_t)g->lo, (int32_t)g->hi);
        } else if (g->out_type == NPU_OUT_INT32) {
            word = acc;
        } else {
            word = npu_ref_fp16_post(f32_from_i32((int32_t)acc), scale, g->clamp, g->lo, g->hi);
        }
    } else if (g->out_type == NPU_OUT_FP16) {
        word = npu_ref_fp16_post(acc, scale, g->clamp, g->lo, g->hi);
    } else {
        word = acc;
        if (scale)
            word = f32_mul(word, *scale);
        if (g->clamp)
            word = clamp_f32(word, g->lo, g->hi);
        if (f32_is_nan(word))
            word = F32_CANONICAL_NAN;
    }
    uint32_t size = out_size(g->out_type);
    for (uint32_t i = 0; i < size; i++)
        dst[i] = (uint8_t)(word >> (8 * i));
}

int npu_gemm_cpu(const struct npu_gemm *g)
{
    if (!g->m || !g->k || !g->n)
        return NPU_E_ARG;
    if ((g->prec == NPU_INT8 && g->out_type != NPU_OUT_INT32 && !g->scale) ||
        (g->prec == NPU_INT8 && g->out_type == NPU_OUT_FP32) ||
        (g->prec == NPU_FP16 && g->out_type != NPU_OUT_FP16 && g->out_type != NPU_OUT_FP32))
        return NPU_E_ARG;
    const uint8_t *a = g->a, *b = g->b;
    const uint32_t *bias = g->bias;
    uint32_t ob = out_size(g->out_type);
    for (uint32_t i = 0; i < g->m; i++) {
        for (uint32_t j = 0; j < g->n; j++) {
            uint32_t acc = bias ? bias[j] : 0;
            if (g->prec == NPU_INT8) {
                const int8_t *ar = (const int8_t *)(a + i * g->a_stride);
                for (uint32_t k = 0; k < g->k; k++) {
                    int8_t bk = *(const int8_t *)(b + k * g->b_stride + j);
                    acc += (uint32_t)((int32_t)ar[k] * bk);
                }
            } else {
                const f16_t *ar = (const f16_t *)(a + i * g->a_stride);
                for (uint32_t k = 0; k < g->k; k++) {
                    f16_t bk = *(const f16_t *)(b + k * g->b_stride + 2 * j);
                    acc = f32_add(acc, f32_mul(f32_from_f16(ar[k]), f32_from_f16(bk)));
                }
            }
            post(g, acc, j, (uint8_t *)g->out + i * g->out_stride + j * ob);
        }
    }
    return 0;
}
