/* npu_gemm.c: tiled GEMM on the NPU for any M x K x N.
 *
 * The plan and the command order are those of sim/npu_model_gemm.py (same integer formulas),
 * whose streams the tests check against dure.sim.golden through the golden command model:
 *   - N in tiles of C columns, K in tiles of R rows (partial edge tiles through the commands'
 *     cols / k / n), M in blocks of mb rows (one COMPUTE covers a whole block);
 *   - ACC: two regions of mb rows for alternate output tiles (the STORE of one tile overlaps the
 *     COMPUTEs of the next) and two alternating scale rows at the top;
 *   - SPAD: two W slots of R rows at the top for alternate K tiles (the LOAD of the next weight
 *     tile overlaps this COMPUTE); the rest holds two A halves;
 *   - A-resident mode keeps an M block's whole A (kt tiles) in one half while all N tiles are
 *     computed (A read once); streaming mode reloads A tiles per (N, K) tile; the plan picks
 *     the one with the lower estimated cost (descriptors pushed x ~100 cycles + bytes read / 4);
 *   - a bias is a broadcast LOAD into the ACC region; every K tile then accumulates. */
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

/* Estimated core cycles per pushed descriptor (sim/npu_model_gemm.py CMD_CYCLES). */
#define CMD_CYCLES 100u

static uint64_t plan_cost(uint64_t commands, uint64_t elements, uint32_t eb)
{
    return CMD_CYCLES * commands + elements * eb / 4;
}

int npu_gemm_plan(const struct npu_gemm *g, struct npu_gemm_plan *p)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols;
    if (!g->m || !g->k || !g->n || !r)
        return NPU_E_ARG;
    uint32_t eb = elem_size(g->prec);
    p->kt = cdiv(g->k, r);
    p->nt = cdiv(g->n, c);
    p->a_half = (hw->spad_rows - 2 * r) / 2;
    p->w_slot = hw->spad_rows - 2 * r;
    p->scale_row = hw->acc_rows - 2;
    uint32_t mb_acc = min_u32((hw->acc_rows - 2) / 2, 0xFFFF);
    uint32_t extra = 1 + (g->scale != 0) + (g->bias != 0);
    /* 64-bit so that large layers do not wrap */
    uint64_t mk = (uint64_t)g->m * g->k, kn = (uint64_t)g->k * g->n;
    uint32_t mb_s = min_u32(min_u32(g->m, mb_acc), p->a_half);
    uint64_t blocks = cdiv(g->m, mb_s);
    uint64_t cost_s = plan_cost(blocks * p->nt * (3 * p->kt + extra), mk * p->nt + kn * blocks,
                                eb);
    uint32_t mb_r = min_u32(min_u32(g->m, mb_acc), p->a_half / p->kt);
    p->resident = 0;
    if (mb_r >= 1) {
        blocks = cdiv(g->m, mb_r);
        uint64_t cost_r = plan_cost(blocks * (p->kt + (uint64_t)p->nt * (2 * p->kt + extra)),
                                    mk + kn * blocks, eb);
        p->resident = cost_r <= cost_s;
    }
    p->mb = p->resident ? mb_r : mb_s;
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
    uint32_t tile = 0, ktile = 0, block = 0;
    for (uint32_t m0 = 0; m0 < g->m; m0 += p.mb, block++) {
        uint32_t mm = min_u32(p.mb, g->m - m0);
        uint32_t a_base = (block % 2) * p.a_half;
        for (uint32_t n0 = 0, t_n = 0; n0 < g->n; n0 += c, t_n++) {
            uint32_t nn = min_u32(c, g->n - n0);
            uint32_t acc0 = (tile % 2) * p.mb;
            uint32_t scale_row = p.scale_row + tile % 2;
            tile++;
            if (scale) {
                npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, scale + 4 * n0, 0,
                             1, nn, scale_row);
                npu_push(d);
            }
            if (bias) {
                npu_cmd_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 1, bias + 4 * n0, 0,
                             mm, nn, acc0);
                npu_push(d);
            }
            for (uint32_t k0 = 0, t_k = 0; k0 < g->k; k0 += r, t_k++) {
                uint32_t kk = min_u32(r, g->k - k0);
                uint32_t a_row;
                int need_a;
                if (p.resident) {
                    a_row = a_base + t_k * p.mb;
                    need_a = t_n == 0;
                } else {
                    a_row = (ktile % 2) * p.a_half;
                    need_a = 1;
                }
                uint32_t w_row = p.w_slot + (ktile % 2) * r;
                ktile++;
                if (need_a) {
                    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, elem, 0, a + m0 * g->a_stride + k0 * eb,
                                 g->a_stride, mm, kk, a_row);
                    npu_push(d);
                }
                npu_cmd_load(d, DURE_NPU_TARGET_SPAD, elem, 0, b + k0 * g->b_stride + n0 * eb,
                             g->b_stride, kk, nn, w_row);
                npu_push(d);
                npu_cmd_compute(d, g->prec, t_k > 0 || bias, a_row, w_row, acc0, mm, kk, nn);
                npu_push(d);
            }
            npu_cmd_store(d, g->out_type, g->prec, scale != 0, clamp, zp,
                          out + m0 * g->out_stride + n0 * ob, g->out_stride, mm, nn, acc0,
                          scale ? scale_row : 0, lo, hi);
            npu_push(d);
        }
    }
    return 0;
}

int npu_gemm(const struct npu_gemm *g)
{
    int err = npu_gemm_submit(g);
    return err ? err : npu_wait();
}
