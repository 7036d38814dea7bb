/* npu_add_int8.c: the INT8 ADD of npu_ops.h on the element-wise unit, the C port of
 * sim/eltwise_plan.py's add_int8_program (its module docstring has the arithmetic): the same
 * parameter bytes (the output multiplier and shift rows) and the same stream, word for word. */
#include "npu_walk.h"

int npu_op_add_int8(const struct npu_op_add_int8 *op, uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    if (!hw->rows || !NPU_WALK_ELTWISE)
        return NPU_E_UNSUPPORTED;
    const struct npu_op_post *post = &op->post;
    if (!op->elements || (op->mem.param_addr & 15u) || op->left_shift != 20 ||
        op->input1_shift < -31 || op->input1_shift > 0 || op->input2_shift < -31 ||
        op->input2_shift > 0 || op->output_shift < -31 || op->output_shift > 0 ||
        !op_in_int8(op->input1_zero_point) || !op_in_int8(op->input2_zero_point) ||
        !op_in_int8(post->output_zero_point) ||
        !(post->lo >= -128 && post->lo <= post->hi && post->hi <= 127))
        return NPU_E_ARG;
    uint32_t c = hw->cols;
    struct op_params pa = {&op->mem, 0, 0};
    uint8_t *p;
    /* ACC constant rows: the output multiplier row, then the output shift row */
    uint32_t const_addr = op_param_add(&pa, 2 * c * 4, &p);
    for (uint32_t lane = 0; p && lane < c; lane++) {
        op_put32(p, lane, (uint32_t)op->output_multiplier);
        op_put32(p, c + lane, (uint32_t)op->output_shift);
    }
    uint32_t block = walk_min(DURE_NPU_WALK_ADD_BLOCK_ROWS,
                              hw->acc_rows >= 2 ? (hw->acc_rows - 2) / 2 : 0);
    block = walk_min(block, hw->spad_rows / 4);
    if (!block)
        return NPU_E_ARG;
    uint32_t full = op->elements / c, tail = op->elements % c;
    uint32_t nfull = walk_cdiv(full, block), pieces = nfull + (tail != 0);
    uint32_t n_desc = 1 + 4 * pieces;
    if (!list)
        return pa.err ? pa.err : (int)n_desc;
    if (n_desc > cap)
        return NPU_E_NO_MEMORY;
    walk_bad = 0;
    uint32_t count = 0, *d = list, const_row = hw->acc_rows - 2;
#define NEXT(op_) (d = list + 8u * count++, npu_desc_clear(d), d[0] = (op_))
    NEXT(DURE_NPU_OP_LOAD);
    op_put_load(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, const_addr, 4 * c, 2, c,
                const_row);
    for (uint32_t i = 0; i < pieces; i++) {
        uint32_t r0 = i < nfull ? i * block : full;
        uint32_t rows = i < nfull ? walk_min(block, full - r0) : 1;
        uint32_t cols = i < nfull ? c : tail;
        uint32_t acc = (i % 2) * block, spad = (i % 2) * 2 * block;
        uint64_t off = (uint64_t)r0 * c;
        NEXT(DURE_NPU_OP_LOAD);
        op_put_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, op->a_addr + off, c, rows,
                    cols, spad);
        NEXT(DURE_NPU_OP_LOAD);
        op_put_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, op->b_addr + off, c, rows,
                    cols, spad + block);
        NEXT(DURE_NPU_OP_ELTWISE);
        WPUT(d, ELTWISE, OP, DURE_NPU_ELTWISE_ADD);
        WPUT(d, ELTWISE, PRECISION, DURE_NPU_PREC_INT8);
        WPUT(d, ELTWISE, ZP_A, (uint32_t)op->input1_zero_point & 0xFFu);
        WPUT(d, ELTWISE, ZP_B, (uint32_t)op->input2_zero_point & 0xFFu);
        WPUT64(d, ELTWISE, MULT_A, op->input1_multiplier);
        WPUT(d, ELTWISE, RSHIFT_A, (uint32_t)-op->input1_shift);
        WPUT64(d, ELTWISE, MULT_B, op->input2_multiplier);
        WPUT(d, ELTWISE, RSHIFT_B, (uint32_t)-op->input2_shift);
        WPUT(d, ELTWISE, A_ADDR, spad);
        WPUT(d, ELTWISE, B_ADDR, spad + block);
        WPUT(d, ELTWISE, ACC_ADDR, acc);
        WPUT(d, ELTWISE, M, rows);
        WPUT(d, ELTWISE, N, cols);
        NEXT(DURE_NPU_OP_STORE);
        WPUT(d, STORE, OUT, DURE_NPU_OUT_INT8);
        WPUT(d, STORE, ACC_TYPE, DURE_NPU_PREC_INT8);
        WPUT(d, STORE, SCALE, 1);
        WPUT(d, STORE, REQUANT, DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING);
        WPUT(d, STORE, ZERO_POINT, (uint32_t)post->output_zero_point & 0xFFu);
        WPUT(d, STORE, LO, (uint32_t)post->lo);
        WPUT(d, STORE, HI, (uint32_t)post->hi);
        WPUT(d, STORE, SCALE_ADDR, const_row);
        WPUT64(d, STORE, DRAM_ADDR, op->mem.out_addr + off);
        WPUT(d, STORE, DRAM_STRIDE, c);
        WPUT(d, STORE, ROWS, rows);
        WPUT(d, STORE, COLS, cols);
        WPUT(d, STORE, ACC_ADDR, acc);
    }
#undef NEXT
    return op_list_done(&pa, list, count);
}
