/* npu_gemm_plan.c: the blocking of a tiled GEMM (npu_gemm_plan), searched as
 * sim/gemm_plan.py's plan_gemm does (same candidates, same order, same integer cost, the same
 * cost constants: DURE_NPU_GEMM_* of the generated dure_npu.h, from dure/gemm_cost.py), so that
 * the firmware pushes the stream the Python plan describes. See npu_gemm.c for the loops the
 * plan parametrises. */
#include "npu.h"

static uint32_t cdiv(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

struct cost {
    uint64_t max, sum;
};

/* plan_cost() of sim/gemm_plan.py for mblk = mc * gm (32-bit divisions only, and as few
 * as possible: the core divides in ~35 cycles and the search runs before every GEMM). */
static struct cost plan_cost(const struct npu_gemm *g, uint32_t r, uint32_t kt, uint32_t nt,
                             uint32_t mc, uint32_t gm, uint32_t gn, uint32_t q, uint32_t eb,
                             uint32_t extra)
{
    uint32_t mblk = mc * gm;
    if (mblk > g->m)                    /* sub-blocks of the (only) block */
        gm = cdiv(g->m, mc);
    if (gn > nt)
        gn = nt;
    uint32_t full = nt / gn, rem = nt - full * gn;
    uint32_t blocks = cdiv(g->m, mblk), groups = full + (rem != 0), chunks = cdiv(kt, q);
    uint64_t commands = (uint64_t)blocks * ((uint64_t)groups * kt + (uint64_t)chunks * nt +
                                            (uint64_t)kt * gm * nt + (uint64_t)nt * extra);
    uint64_t push = DURE_NPU_GEMM_CMD_CYCLES * commands;
    uint64_t memory = ((uint64_t)g->m * g->k * groups + (uint64_t)g->k * g->n * blocks) * eb
                      / DURE_NPU_GEMM_BYTES_PER_CYCLE;
    uint64_t per_row = max_u64(mc, DURE_NPU_GEMM_RELOAD * r);
    uint64_t wait = DURE_NPU_GEMM_LATENCY;
    uint64_t step_full = max_u64((uint64_t)gm * gn * per_row, wait);
    uint64_t step_rem = rem ? max_u64((uint64_t)gm * rem * per_row, wait) : 0;
    uint64_t compute = (uint64_t)blocks * kt * (full * step_full + step_rem);
    struct cost cost = {max_u64(max_u64(push, memory), compute), push + memory + compute};
    return cost;
}

int npu_gemm_plan(const struct npu_gemm *g, struct npu_gemm_plan *p)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols, s = hw->spad_rows, ac = hw->acc_rows;
    if (!g->m || !g->k || !g->n || !r)
        return NPU_E_ARG;
    uint32_t eb = g->prec == NPU_FP16 ? 2 : 1;
    uint32_t extra = 1 + (g->scale != 0) + (g->bias != 0);
    uint32_t kt = cdiv(g->k, r), nt = cdiv(g->n, c);
    int found = 0;
    struct cost best = {0, 0};
    uint32_t mc0 = min_u32(g->m, DURE_NPU_GEMM_MC_MAX);
    for (uint32_t mc = mc0; mc >= 1 && (!found || 2 * mc >= mc0); mc /= 2) {
        for (uint32_t gm = 1;; gm *= 2) {
            uint32_t mblk = mc * gm;
            uint32_t gn = min_u32(nt, ac / (2 * mblk + (g->scale ? 2 : 0)));
            gn = s / 2 > mblk ? min_u32(gn, (s / 2 - mblk) / r) : 0;
            if (gn < 1 || mblk > DURE_NPU_GEMM_MBLK_MAX)
                break;                          /* a larger block fits even less */
            gn = cdiv(nt, cdiv(nt, gn));        /* the same groups, balanced */
            uint32_t q = min_u32(kt, s / (2 * (mblk + gn * r)));
            struct cost cost = plan_cost(g, r, kt, nt, mc, gm, gn, q, eb, extra);
            if (!found || cost.max < best.max || (cost.max == best.max && cost.sum < best.sum)) {
                found = 1;
                best = cost;
                p->mc = mc;
                p->mblk = mblk;
                p->gn = gn;
                p->q = q;
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
