/* npu_maxpool.c: MAX_POOL_2D of npu_ops.h, the C port of sim/pool_plan.py's _max_pool: the
 * walk engine (npu_walk_*.c) with one ELTWISE MAX per tap in place of each COMPUTE (the first
 * tap without accumulate), padded taps FILLed with the lowest value (-128 / -Inf), and the
 * STORE writing the ACC value back (INT8: the identity double-rounding requantization,
 * multiplier 2^30 and shift 1; FP16: the FP16 STORE); the same parameter bytes and stream,
 * word for word. */
#include "npu_walk.h"

int npu_op_maxpool(const struct npu_op_pool *op, uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    if (!hw->rows || !NPU_WALK_ELTWISE)
        return NPU_E_UNSUPPORTED;
    int err = op_check_device(op->prec);
    if (err)
        return err;
    struct walk_layer l = {0};
    if (op_pool_geometry(op, &l))
        return NPU_E_ARG;
    const struct walk_geo *g = &l.g;
    /* every window holds an in-bounds tap (a row and a column count of at least 1) */
    for (uint32_t oy = 0; oy < g->oh; oy++)
        if (walk_count(oy, g->height, g->kh, g->sh, g->pt) < 1)
            return NPU_E_ARG;
    for (uint32_t ox = 0; ox < g->ow; ox++)
        if (walk_count(ox, g->width, g->kw, g->sw, g->pl) < 1)
            return NPU_E_ARG;
    int int8 = op->prec == NPU_INT8;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    struct op_params pa = {&op->mem, 0, 0};
    struct npu_op_post post = op->post;
    post.output_zero_point = 0;                /* the maximum has no output offset */
    if ((err = op_set_store(&l, op->prec, &post, 0, DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING)))
        return err;
    if (int8) {
        /* the identity requantization: SRDHM(2 acc, 2^30) = acc */
        uint8_t *p;
        l.const_addr = op_param_add(&pa, 2 * lc * 4, &p);
        for (uint32_t lane = 0; p && lane < lc; lane++) {
            op_put32(p, lane, 1u << 30);
            op_put32(p, lc + lane, 1);
        }
        l.const_rows = 2;
    }
    op_pool_layer(op, lc, &l);
    l.pad_value = int8 ? 0x80u : 0xFC00u;      /* -128 / fp16 -Inf */
    l.out_bytes = int8 ? 1 : 2;
    l.shared_rows = 0;                         /* no weights: shared_weight (None, 0) */
    l.eltwise_max = 1;
    return op_finish(&l, &pa, list, cap);
}
