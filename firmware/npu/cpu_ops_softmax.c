/* cpu_ops_softmax.c: FP16 SOFTMAX on the core, bit for bit as sim/golden_softmax_fp16.py
 * (its own binary32 exponential, every step one soft-float operation in the golden's order).
 * See npu_cpu_ops.h. */
#include "npu_cpu_ops.h"

#define L2E 0x3FB8AA3Bu       /* f32(log2(e)) */
#define LN2_HI 0x3F317200u    /* ln 2, high part: n * LN2_HI is exact */
#define LN2_LO 0x35BFBE8Eu    /* ln 2 - LN2_HI */
#define F32_M104 0xC2D00000u  /* -104.0 */
#define F32_89 0x42B20000u    /* 89.0 */

/* f32(1 / k!) for k = 0 .. 7 */
static const f32_t coef[8] = {0x3F800000u, 0x3F800000u, 0x3F000000u, 0x3E2AAAABu,
                              0x3D2AAAABu, 0x3C088889u, 0x3AB60B61u, 0x39500D01u};

static f32_t pow2(int32_t k)          /* 2^k for a normal result, -126 <= k <= 127 */
{
    return (f32_t)(k + 127) << 23;
}

f32_t cpu_exp_f32(f32_t d)
{
    if (f32_is_nan(d))
        return F32_CANONICAL_NAN;
    if (f32_lt(d, F32_M104))
        return 0;
    if (f32_lt(F32_89, d))
        return F32_POS_INF;
    int32_t n = f32_rint_clip(f32_mul(d, L2E), 256);
    f32_t nf = f32_from_i32(n);
    f32_t r = f32_add(d, f32_mul(nf, LN2_HI) ^ 0x80000000u);
    r = f32_add(r, f32_mul(nf, LN2_LO) ^ 0x80000000u);
    f32_t p = coef[7];
    for (int k = 6; k >= 0; k--)
        p = f32_add(f32_mul(p, r), coef[k]);
    int32_t n1 = n >= 0 ? n / 2 : -((1 - n) / 2);          /* floor(n / 2) */
    return f32_mul(f32_mul(p, pow2(n1)), pow2(n - n1));
}

static f32_t term(f16_t x, f32_t m, f32_t beta)
{
    return cpu_exp_f32(f32_mul(beta, f32_add(f32_from_f16(x), m ^ 0x80000000u)));
}

/* Rows of up to CACHE values keep their exponentials on the stack; longer rows compute them
 * twice (for the sum, then for the outputs), with the same result. */
#define CACHE 64u

int cpu_softmax_fp16(const f16_t *x, f16_t *y, uint32_t rows, uint32_t depth, f32_t beta)
{
    if (rows == 0 || depth == 0 || f32_is_nan(beta))
        return NPU_E_ARG;
    for (uint32_t row = 0; row < rows; row++, x += depth, y += depth) {
        int nan = 0;
        f32_t m = F32_NEG_INF;
        for (uint32_t i = 0; i < depth; i++) {
            f32_t v = f32_from_f16(x[i]);
            if (f32_is_nan(v))
                nan = 1;
            else if (f32_lt(m, v))
                m = v;
        }
        if (nan) {
            for (uint32_t i = 0; i < depth; i++)
                y[i] = F16_CANONICAL_NAN;
            continue;
        }
        f32_t s = 0, e[CACHE];
        for (uint32_t i = 0; i < depth; i++) {
            f32_t t = term(x[i], m, beta);
            if (i < CACHE)
                e[i] = t;
            s = f32_add(s, t);
        }
        for (uint32_t i = 0; i < depth; i++)
            y[i] = f16_from_f32(f32_div(i < CACHE ? e[i] : term(x[i], m, beta), s));
    }
    return 0;
}
