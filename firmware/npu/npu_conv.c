/* npu_conv.c: CONV_2D and DEPTHWISE_CONV_2D of npu_ops.h through the walk engine (npu_walk_*.c),
 * the C port of sim/conv_plan.py (a small-Cin convolution: npu_conv_pack.c, the port of
 * sim/conv_pack.py): the parameter bytes are laid out as the Python planner's ParamArea does
 * and every refusal of theirs is a negative result here. */
#include "npu_walk.h"

/* --- CONV_2D and DEPTHWISE_CONV_2D (sim/conv_plan.py) ------------------------------------- */

static int conv(const struct npu_op_conv *op, int diagonal, uint32_t *list, uint32_t cap)
{
    int err = op_check_device(op->prec);
    if (err)
        return err;
    const struct npu_info *hw = npu_get_info();
    uint32_t cout = diagonal ? op->cin : op->cout;
    if (!op->n || !op->h || !op->w || !op->cin || !cout || !op->kh || !op->kw ||
        op->dilation_h != 1 || op->dilation_w != 1 ||
        (diagonal && (op->depth_multiplier != 1 || op->cout != op->cin)) ||
        !op->weights || (op->mem.param_addr & 15u))
        return NPU_E_ARG;
    int int8 = op->prec == NPU_INT8;
    /* INT8 with a scale and no multiplier: the float-scale requantization (ONNX) */
    int fscale = int8 && !op->multiplier && op->scale;
    if (fscale) {
#if !DURE_NPU_HAS_FLOAT_POST
        return NPU_E_UNSUPPORTED;
#endif
        if (!op_in_int8(op->input_zero_point))
            return NPU_E_ARG;
        for (uint32_t o = 0; o < cout; o++)
            if ((op->scale[o] & 0x7F800000u) == 0x7F800000u)
                return NPU_E_ARG;              /* not finite */
    } else if (int8) {
        if (!op_in_int8(op->input_zero_point) || !op->multiplier || !op->shift)
            return NPU_E_ARG;
        for (uint32_t o = 0; o < cout; o++)
            if (op->shift[o] < -31 || op->shift[o] > 30)
                return NPU_E_ARG;
    }
    struct walk_layer l = {0};
    if (walk_geometry(&l.g, op->n, op->h, op->w, op->kh, op->kw, op->stride_h, op->stride_w,
                      op->padding))
        return NPU_E_ARG;
    if ((err = op_set_store(&l, op->prec, &op->post, op->scale != 0,
                            fscale ? DURE_NPU_REQUANT_FLOAT_SCALE
                                   : DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING)))
        return err;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    uint32_t k_chunk = diagonal ? lc : hw->rows, n_chunk = diagonal ? lc : hw->cols;
    uint32_t eb = int8 ? 1 : 2, taps = op->kh * op->kw, nt = walk_cdiv(cout, n_chunk);
    uint32_t per_out = taps * (diagonal ? 1 : op->cin);    /* weights per output channel */
    /* depthwise on the element-wise unit whenever the NPU has it (FP16: with its FP16 MAC),
     * two taps per MAC (conv_plan's default, pair=True: it beats the diagonal COMPUTEs on
     * every map) */
    int mac = NPU_WALK_ELTWISE && diagonal && (int8 || NPU_WALK_ELTWISE_FP16);
    struct op_params pa = {&op->mem, 0, 0};
    uint8_t *p;

    /* ACC start: the folded bias (INT8) or the fp32 bias */
    l.has_acc_init = int8 || op->bias;
    if (int8) {
        l.acc_init = op_param_add(&pa, 4 * cout, &p);
        int32_t zi = op->input_zero_point;
        for (uint32_t o = 0; p && o < cout; o++) {
            uint32_t sum = 0;
            for (uint32_t t = 0; t < per_out; t++) {
                int8_t v = diagonal ? ((const int8_t *)op->weights)[t * cout + o]
                                    : ((const int8_t *)op->weights)[o * per_out + t];
                sum += (uint32_t)(int32_t)v;
            }
            uint32_t b = op->bias ? (uint32_t)((const int32_t *)op->bias)[o] : 0;
            op_put32(p, o, b - (uint32_t)zi * sum);
        }
    } else if (op->bias) {
        l.acc_init = op_param_add(&pa, 4 * cout, &p);
        for (uint32_t o = 0; p && o < cout; o++)
            op_put32(p, o, ((const uint32_t *)op->bias)[o]);
    }
    if (!diagonal && conv_pack_applies(&l.g, op->cin, cout, op->prec)) {
        /* few input channels: kernel taps packed into the K lanes */
        l.cout = cout;
        l.x_addr = op->mem.x_addr;
        l.out_addr = op->mem.out_addr;
        l.pad_value = int8 ? (uint32_t)op->input_zero_point & 0xFFFFu : 0;
        return conv_pack(op, &l, &pa, l.acc_init, list, cap);
    }
    /* the weight matrices, per output chunk: (taps * Cin, nn) for a convolution, diag(w[tap])
     * per tap for a diagonal depthwise, one row w[tap] per tap for the MAC */
    for (uint32_t j = 0; j < nt; j++) {
        uint32_t nn = walk_min(n_chunk, cout - j * n_chunk);
        uint32_t rows = mac ? taps : diagonal ? taps * nn : per_out;
        uint32_t addr = op_param_add(&pa, rows * nn * eb, &p);
        if (j == 0)
            l.w_addr = addr;
        if (j == 1)
            l.w_step = addr - l.w_addr;
        for (uint32_t r = 0; p && r < rows; r++) {
            for (uint32_t jj = 0; jj < nn; jj++) {
                uint32_t o = j * n_chunk + jj;
                if (mac)
                    op_put_elem(p, r * nn + jj, eb, op->weights, r * cout + o);
                else if (!diagonal)
                    op_put_elem(p, r * nn + jj, eb, op->weights, o * per_out + r);
                else if (r % nn == jj)
                    op_put_elem(p, r * nn + jj, eb, op->weights, (r / nn) * cout + o);
            }
        }
    }
    /* the constant rows: multiplier and shift rows (INT8), scale rows (FP16, float-scale) */
    if (int8 || op->scale) {
        uint32_t per = int8 && !fscale ? 2 : 1;
        l.const_addr = op_param_add(&pa, per * nt * n_chunk * 4, &p);
        l.const_rows = per * nt;
        l.const_stride = 4 * n_chunk;
        l.const_per_chunk = per;
        for (uint32_t o = 0; p && o < cout; o++) {
            uint32_t j = o / n_chunk, lane = o % n_chunk;
            if (per == 2) {
                op_put32(p, (2 * j) * n_chunk + lane, (uint32_t)op->multiplier[o]);
                op_put32(p, (2 * j + 1) * n_chunk + lane, (uint32_t)op->shift[o]);
            } else {
                op_put32(p, j * n_chunk + lane, op->scale[o]);
            }
        }
    } else {
        l.const_per_chunk = 1;
    }
    l.prec = op->prec;
    l.cin = op->cin;
    l.cout = cout;
    l.k_chunk = k_chunk;
    l.n_chunk = n_chunk;
    l.diagonal = diagonal;
    l.x_addr = op->mem.x_addr;
    l.out_addr = op->mem.out_addr;
    l.pad_value = int8 ? (uint32_t)op->input_zero_point & 0xFFFFu : 0;
    l.out_bytes = eb;
    l.has_weights = 1;
    l.eltwise_mac = mac;
    l.eltwise_pair = mac;
    l.spread = int8 || diagonal;       /* conv_plan's defaults: FP16 convolutions unspread */
    l.listed = !diagonal && op->listed;    /* conv2d's listed (the depthwise planners: none) */
    if (pa.err)
        return pa.err;
    struct walk_plan plan;
    if ((err = walk_plan(&l, &plan)))
        return err;
    uint32_t j0, j1;
    if (walk_joint_applies(&l, &plan, &j0, &j1)) {
        /* WalkLayer.joint_weights (conv_emit.py's joint_copies): after the other parameter
         * bytes, per tap t of the window's first row, output chunk j1's then j0's rows of
         * tap t of input chunk 0 (matrix rows [t Cin, t Cin + kc)), contiguous */
        uint32_t kc = in_cols(&l, 0), nn = chunk_cols(&l, j0);
        l.has_joint = 1;
        l.joint_addr = op_param_add(&pa, l.g.kw * 2 * kc * nn * eb, &p);
        for (uint32_t r = 0; p && r < l.g.kw * 2 * kc; r++) {
            uint32_t t = r / (2 * kc), j = (r / kc) % 2 ? j0 : j1;
            uint32_t src = t * op->cin + r % kc;
            for (uint32_t jj = 0; jj < nn; jj++)
                op_put_elem(p, r * nn + jj, eb, op->weights, (j * n_chunk + jj) * per_out + src);
        }
    } else if (walk_pair_applies(&l, &plan)) {
        /* (a 1x1 layer never has pair copies: walk_pair_applies needs two taps) */
        /* WalkLayer.pair_weights (conv_emit.py's pair_copies): after the other parameter
         * bytes, per output chunk of the first unit's group, its rows of taps 0 and 1 of input
         * chunk 0 (matrix rows [0, kc) and [Cin, Cin + kc)), contiguous */
        uint32_t kc = in_cols(&l, 0);
        l.has_pairs = 1;
        for (uint32_t j = 0; j < walk_min(plan.gn, nt); j++) {
            uint32_t nn = chunk_cols(&l, j);
            uint32_t addr = op_param_add(&pa, 2 * kc * nn * eb, &p);
            if (j == 0)
                l.pair_addr = addr;
            if (j == 1)
                l.pair_step = addr - l.pair_addr;
            for (uint32_t r = 0; p && r < 2 * kc; r++) {
                uint32_t src = r < kc ? r : op->cin + r - kc;
                for (uint32_t jj = 0; jj < nn; jj++)
                    op_put_elem(p, r * nn + jj, eb, op->weights,
                                (j * n_chunk + jj) * per_out + src);
            }
        }
    }
    if (walk_first_pair_applies(&l, &plan, &j0)) {
        /* WalkLayer.first_pair (conv_emit.py's first_pair_copy): after the other parameter
         * bytes, output chunk j0's then j0 + 1's rows of input chunk 0 (matrix rows
         * [0, kc)), contiguous */
        uint32_t kc = in_cols(&l, 0), nn = chunk_cols(&l, j0);
        l.has_first_pair = 1;
        l.first_pair_addr = op_param_add(&pa, 2 * kc * nn * eb, &p);
        for (uint32_t r = 0; p && r < 2 * kc; r++) {
            uint32_t j = r < kc ? j0 : j0 + 1;
            for (uint32_t jj = 0; jj < nn; jj++)
                op_put_elem(p, r * nn + jj, eb, op->weights,
                            (j * n_chunk + jj) * per_out + r % kc);
        }
    }
    err = walk_emit(&l, &plan, list, cap);
    if (err < 0)
        return err;
    return pa.err ? pa.err : err;
}

int npu_op_conv2d(const struct npu_op_conv *op, uint32_t *list, uint32_t cap)
{
    return conv(op, 0, list, cap);
}

int npu_op_depthwise(const struct npu_op_conv *op, uint32_t *list, uint32_t cap)
{
    return conv(op, 1, list, cap);
}

