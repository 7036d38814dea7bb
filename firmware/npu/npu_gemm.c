/* npu_gemm.c: tiled GEMM on the NPU for any M x K x N.
 *
 * The plan, its search and the command order are those of sim/npu_model_gemm.py (same integer
 * formulas, same search order), whose streams the tests check against dure.sim.golden through
 * the golden command model, and which tests/firmware checks equal to what this file pushes:
 *
 *   for each M block of mblk rows:
 *     for each group of gn N tiles (C columns each):          ACC half by group parity
 *       scale / bias LOADs of the group's tiles
 *       for each chunk of q K tiles (R rows each):             SPAD buffers by chunk parity
 *         q A LOADs (mblk x R), gn W LOADs (a q*R x C strip per N tile)
 *         for each K tile t: for each N tile j: for each sub-block of mc rows: COMPUTE
 *       gn STOREs
 *
 * Consecutive COMPUTEs write different ACC rows, so the array never waits for its own previous
 * result; COMPUTEs are mc (up to 64) rows; one W LOAD serves q K tiles. npu_gemm_plan searches
 * mc, the sub-blocks per M block and gn for the lowest estimated time (descriptor pushes,
 * main-memory bytes, array cycles). */
#include "npu.h"

#include "npu_hw.h"

static uint32_t cdiv(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t elem_size(int prec)
{
    return prec == NPU_FP16 ? 2 : 1;
}

static uint32_t out_size(int out)
{
    return out == NPU_OUT_INT8 ? 1 : out == NPU_OUT_FP16 ? 2 : 4;
}

void npu_gemm_init(struct npu_gemm *g, int prec, uint32_t m, uint32_t k, uint32_t n,
                   const void *a, const void *b, void *out, int out_type)
{
    g->m = m;
    g->k = k;
    g->n = n;
    g->prec = prec;
    g->a = a;
    g->a_stride = k * elem_size(prec);
    g->b = b;
    g->b_stride = n * elem_size(prec);
    g->out = out;
    g->out_stride = n * out_size(out_type);
    g->out_type = out_type;
    g->bias = 0;
    g->scale = 0;
    g->zero_point = 0;
    g->clamp = 0;
    g->lo = out_type == NPU_OUT_INT8 ? (uint32_t)-128 : 0;
    g->hi = out_type == NPU_OUT_INT8 ? 127 : 0;
}

/* Cost model constants (sim/npu_model_gemm.py CMD_CYCLES, BYTES_PER_CYCLE, LATENCY, MC_MAX). */
#define CMD_CYCLES 40u
#define BYTES_PER_CYCLE 4u
#define LATENCY 64u
#define MC_MAX 64u

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

struct cost {
    uint64_t max, sum;
};

/* plan_cost() of sim/npu_model_gemm.py. */
static struct cost plan_cost(const struct npu_gemm *g, uint32_t r, uint32_t c, uint32_t mc,
                             uint32_t mblk, uint32_t gn, uint32_t q, uint32_t eb, uint32_t extra)
{
    uint64_t kt = cdiv(g->k, r), nt = cdiv(g->n, c);
    uint64_t gm = cdiv(min_u32(g->m, mblk), mc);
    if (gn > nt)
        gn = (uint32_t)nt;
    uint64_t blocks = cdiv(g->m, mblk), groups = cdiv((uint32_t)nt, gn), chunks = cdiv(kt, q);
    uint64_t commands = blocks * (groups * kt + chunks * nt + kt * gm * nt + nt * extra);
    uint64_t push = CMD_CYCLES * commands;
    uint64_t memory = eb * ((uint64_t)g->m * g->k * groups + (uint64_t)g->k * g->n * blocks)
                      / BYTES_PER_CYCLE;
    uint64_t per_row = max_u64(mc, 8u * r);
    uint64_t step_full = max_u64(gm * gn * per_row, mc + LATENCY);
    uint64_t rem = nt % gn;
    uint64_t step_rem = rem ? max_u64(gm * rem * per_row, mc + LATENCY) : 0;
    uint64_t compute = blocks * kt * ((nt / gn) * step_full + step_rem);
    struct cost cost = {max_u64(max_u64(push, memory), compute), push + memory + compute};
    return cost;
}

int npu_gemm_plan(const struct npu_gemm *g, struct npu_gemm_plan *p)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols, s = hw->spad_rows, ac = hw->acc_rows;
    if (!g->m || !g->k || !g->n || !r)
        return NPU_E_ARG;
    uint32_t eb = elem_size(g->prec);
    uint32_t extra = 1 + (g->scale != 0) + (g->bias != 0);
    uint32_t kt = cdiv(g->k, r), nt = cdiv(g->n, c);
    int found = 0;
    struct cost best = {0, 0};
    for (uint32_t mc = min_u32(g->m, MC_MAX); mc >= 1; mc /= 2) {
        for (uint32_t gm = 1;; gm *= 2) {
            uint32_t mblk = mc * gm;
            for (uint32_t gn = 1; gn <= nt; gn++) {
                uint32_t acc_need = 2 * gn * mblk + (g->scale ? 2 * gn : 0);
                uint32_t q = min_u32(kt, s / (2 * (mblk + gn * r)));
                if (acc_need > ac || q < 1 || mblk > 0xFFFF)
                    break;
                struct cost cost = plan_cost(g, r, c, mc, mblk, gn, q, eb, extra);
                if (!found || cost.max < best.max ||
                    (cost.max == best.max && cost.sum < best.sum)) {
                    found = 1;
                    best = cost;
                    p->mc = mc;
                    p->mblk = mblk;
                    p->gn = gn;
                    p->q = q;
                }
            }
            if (mblk >= g->m)
                break;
        }
    }
    if (!found)
        return NPU_E_ARG;                /* SPAD / ACC too small for any blocking */
    p->kt = kt;
    p->nt = nt;
    p->w_base = 2 * p->q * p->mblk;
    p->scale_row = ac - 2 * p->gn;
    return 0;
}

static int check(const struct npu_gemm *g)
{
    const struct npu_info *hw = npu_get_info();
    if (g->prec == NPU_FP16 && !hw->fp16)
        return NPU_E_UNSUPPORTED;
    if (g->prec == NPU_INT8) {
        if (g->out_type == NPU_OUT_FP32)
            return NPU_E_ARG;
        if ((g->out_type == NPU_OUT_INT32) == (g->scale != 0))
            return NPU_E_ARG;            /* INT32 forbids a scale; INT8 / FP16 need one */
    } else if (g->out_type != NPU_OUT_FP16 && g->out_type != NPU_OUT_FP32) {
        return NPU_E_ARG;
    }
    return 0;
}

int npu_gemm_submit(const struct npu_gemm *g)
{
    int err = check(g);
    if (err)
        return err;
    struct npu_gemm_plan p;
    if ((err = npu_gemm_plan(g, &p)))
        return err;
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols;
    uint32_t eb = elem_size(g->prec), ob = out_size(g->out_type);
    int elem = g->prec == NPU_FP16 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    int int8_out = g->out_type == NPU_OUT_INT8;
    int clamp = int8_out ? 0 : g->clamp;
    uint32_t lo = int8_out || clamp ? g->lo : 0, hi = int8_out || clamp ? g->hi : 0;
    int32_t zp = int8_out ? g->zero_point : 0;
    uint32_t a = (uint32_t)(uintptr_t)g->a, b = (uint32_t)(uintptr_t)g->b;
    uint32_t out = (uint32_t)(uintptr_t)g->out;
    uint32_t bias = (uint32_t)(uintptr_t)g->bias, scale = (uint32_t)(uintptr_t)g->scale;
    uint32_t d[8];
    uint32_t group = 0, chunk = 0, strip = p.q * r;
    for (uint32_t m0 = 0; m0 < g->m; m0 += p.mblk) {
        uint32_t mm = min_u32(p.mblk, g->m - m0);
        for (uint32_t g0 = 0; g0 < g->n; g0 += p.gn * c) {
            uint32_t g_end = min_u32(g->n, g0 + p.gn * c);
            uint32_t acc_half = (group % 2) * p.gn * p.mblk;
            uint32_t scale_rows = p.scale_row + (group % 2) * p.gn;
            group++;
            for (uint32_t n0 = g0, j = 0; n0 < g_end; n0 += c, j++) {
                uint32_t nn = min_u32(c, g->n - n0);
                if (scale) {
                    npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, scale + 4 * n0,
                                 0, 1, nn, scale_rows + j);
                    npu_push(d);
                }
                if (bias) {
                    npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, bias + 4 * n0,
                                 0, mm, nn, acc_half + j * p.mblk);
                    npu_push(d);
                }
            }
            for (uint32_t k0c = 0; k0c < g->k; k0c += strip) {
                uint32_t kc = min_u32(strip, g->k - k0c);
                uint32_t a_buf = (chunk % 2) * p.q * p.mblk;
                uint32_t w_buf = p.w_base + (chunk % 2) * p.gn * strip;
                chunk++;
                for (uint32_t k0 = k0c, t = 0; k0 < k0c + kc; k0 += r, t++) {
                    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, elem, 0,
                                 a + m0 * g->a_stride + k0 * eb, g->a_stride, mm,
                                 min_u32(r, g->k - k0), a_buf + t * p.mblk);
                    npu_push(d);
                }
                for (uint32_t n0 = g0, j = 0; n0 < g_end; n0 += c, j++) {
                    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, elem, 0,
                                 b + k0c * g->b_stride + n0 * eb, g->b_stride, kc,
                                 min_u32(c, g->n - n0), w_buf + j * strip);
                    npu_push(d);
                }
                for (uint32_t k0 = k0c, t = 0; k0 < k0c + kc; k0 += r, t++) {
                    uint32_t kk = min_u32(r, g->k - k0);
                    int acc = k0 > 0 || bias;
                    for (uint32_t n0 = g0, j = 0; n0 < g_end; n0 += c, j++) {
                        uint32_t nn = min_u32(c, g->n - n0);
                        for (uint32_t r0 = 0; r0 < mm; r0 += p.mc) {
                            npu_cmd_compute(d, g->prec, acc, a_buf + t * p.mblk + r0,
                                            w_buf + j * strip + t * r,
                                            acc_half + j * p.mblk + r0,
                                            min_u32(p.mc, mm - r0), kk, nn);
                            npu_push(d);
                        }
                    }
                }
            }
            for (uint32_t n0 = g0, j = 0; n0 < g_end; n0 += c, j++) {
                uint32_t nn = min_u32(c, g->n - n0);
                npu_cmd_store(d, g->out_type, g->prec, scale != 0, clamp, zp,
                              out + m0 * g->out_stride + n0 * ob, g->out_stride, mm, nn,
                              acc_half + j * p.mblk, scale ? scale_rows + j : 0, lo, hi);
                npu_push(d);
            }
        }
    }
    return 0;
}

int npu_gemm(const struct npu_gemm *g)
{
    int err = npu_gemm_submit(g);
    return err ? err : npu_wait();
}
