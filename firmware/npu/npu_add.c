/* npu_add.c: the FP16 ADD of npu_ops.h, the C port of sim/eltwise_plan.py's add_fp16_program. */
#include "npu_walk.h"

/* --- FP16 ADD (sim/eltwise_plan.py) ------------------------------------------------------- */

int npu_op_add_fp16(const struct npu_op_add *op, uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    if (!hw->rows || !hw->fp16)
        return NPU_E_UNSUPPORTED;
    if (!op->elements || (op->mem.param_addr & 15u))
        return NPU_E_ARG;
    struct walk_layer l = {0};
    int err = op_set_store(&l, NPU_FP16, &op->post, 0, 0);
    if (err)
        return err;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    struct op_params pa = {&op->mem, 0, 0};
    uint8_t *p;
    uint32_t ident = op_param_add(&pa, lc * lc * 2, &p);
    for (uint32_t i = 0; p && i < lc; i++)
        op_put_one(p, i * lc + i, 2);
    uint32_t block = walk_min(DURE_NPU_WALK_ADD_BLOCK_ROWS, hw->acc_rows / 2);
    if (hw->spad_rows < lc)
        return NPU_E_ARG;
    block = walk_min(block, (hw->spad_rows - lc) / 4);
    if (!block)
        return NPU_E_ARG;
    uint32_t full = op->elements / lc, tail = op->elements % lc;
    uint32_t pieces = walk_cdiv(full, block) + (tail != 0);
    uint32_t n_desc = 1 + 6 * pieces;
    if (!list)
        return pa.err ? pa.err : (int)n_desc;
    if (n_desc > cap)
        return NPU_E_NO_MEMORY;
    walk_bad = 0;
    uint32_t count = 0, *d = list;
#define NEXT(op_) (d = list + 8u * count++, npu_desc_clear(d), d[0] = (op_))
    NEXT(DURE_NPU_OP_LOAD);
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_FP16);
    WPUT(d, LOAD, DRAM_ADDR, ident);
    WPUT(d, LOAD, DRAM_STRIDE, 2 * lc);
    WPUT(d, LOAD, ROWS, lc);
    WPUT(d, LOAD, COLS, lc);
    WPUT(d, LOAD, LOCAL_ADDR, 0);
    for (uint32_t i = 0; i < pieces; i++) {
        uint32_t r0, rows, cols;
        if (i < walk_cdiv(full, block)) {
            r0 = i * block;
            rows = walk_min(block, full - r0);
            cols = lc;
        } else {
            r0 = full;
            rows = 1;
            cols = tail;
        }
        uint32_t acc = (i % 2) * block, spad = lc + (i % 2) * 2 * block;
        uint64_t off = 2 * (uint64_t)r0 * lc;
        NEXT(DURE_NPU_OP_LOAD);
        WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
        WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
        WPUT(d, LOAD, FILL, 1);
        WPUT(d, LOAD, FILL_VALUE, 0x80000000u);
        WPUT(d, LOAD, ROWS, rows);
        WPUT(d, LOAD, COLS, cols);
        WPUT(d, LOAD, LOCAL_ADDR, acc);
        for (uint32_t j = 0; j < 2; j++) {
            NEXT(DURE_NPU_OP_LOAD);
            WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
            WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_FP16);
            WPUT64(d, LOAD, DRAM_ADDR, (j ? op->b_addr : op->a_addr) + off);
            WPUT(d, LOAD, DRAM_STRIDE, 2 * lc);
            WPUT(d, LOAD, ROWS, rows);
            WPUT(d, LOAD, COLS, cols);
            WPUT(d, LOAD, LOCAL_ADDR, spad + j * block);
        }
        for (uint32_t j = 0; j < 2; j++) {
            NEXT(DURE_NPU_OP_COMPUTE);
            WPUT(d, COMPUTE, PRECISION, DURE_NPU_PREC_FP16);
            WPUT(d, COMPUTE, ACCUMULATE, 1);
            WPUT(d, COMPUTE, DIAGONAL, 1);
            WPUT(d, COMPUTE, A_ADDR, spad + j * block);
            WPUT(d, COMPUTE, W_ADDR, 0);
            WPUT(d, COMPUTE, ACC_ADDR, acc);
            WPUT(d, COMPUTE, M, rows);
            WPUT(d, COMPUTE, K, cols);
            WPUT(d, COMPUTE, N, cols);
        }
        NEXT(DURE_NPU_OP_STORE);
        WPUT(d, STORE, OUT, l.st_out);
        WPUT(d, STORE, ACC_TYPE, l.st_acc_type);
        WPUT(d, STORE, SCALE, 0);
        WPUT(d, STORE, CLAMP, l.st_clamp);
        WPUT(d, STORE, LO, l.st_lo);
        WPUT(d, STORE, HI, l.st_hi);
        WPUT64(d, STORE, DRAM_ADDR, op->mem.out_addr + off);
        WPUT(d, STORE, DRAM_STRIDE, 2 * lc);
        WPUT(d, STORE, ROWS, rows);
        WPUT(d, STORE, COLS, cols);
        WPUT(d, STORE, ACC_ADDR, acc);
    }
#undef NEXT
    return op_list_done(&pa, list, count);
}

