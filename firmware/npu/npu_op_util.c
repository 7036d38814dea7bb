/* npu_op_util.c: what the layer operators (npu_conv.c, npu_conv_pack.c, npu_pool.c,
 * npu_add.c) share: the parameter area laid out as sim/layer_program.py's ParamArea does
 * (16-byte aligned pieces, in the order of the Python planner), the argument checks and the
 * STORE fields of conv_plan's _int8_store / _fp16_store, and the plan-then-emit tail. */
#include "npu_walk.h"

/* --- the parameter area (sim/layer_program.py ParamArea) --------------------------------- */

/* Place `bytes` bytes; returns their NPU address, *p where the core writes them (NULL when
 * not written). The alignment gap after them is zeroed. */
uint32_t op_param_add(struct op_params *pa, uint32_t bytes, uint8_t **p)
{
    uint32_t off = pa->end, size = (bytes + 15u) & ~15u;
    pa->end += size;
    *p = 0;
    if (pa->mem->param) {
        if (pa->end > pa->mem->param_cap) {
            pa->err = NPU_E_NO_MEMORY;
        } else {
            *p = (uint8_t *)pa->mem->param + off;
            for (uint32_t i = 0; i < size; i++)
                (*p)[i] = 0;
        }
    }
    return pa->mem->param_addr + off;
}

void op_put32(uint8_t *p, uint32_t i, uint32_t v)
{
    p[4 * i] = (uint8_t)v;
    p[4 * i + 1] = (uint8_t)(v >> 8);
    p[4 * i + 2] = (uint8_t)(v >> 16);
    p[4 * i + 3] = (uint8_t)(v >> 24);
}

/* element i (eb bytes) of an int8 / f16 array */
void op_put_elem(uint8_t *p, uint32_t i, uint32_t eb, const void *src, uint32_t k)
{
    if (eb == 1) {
        p[i] = ((const uint8_t *)src)[k];
    } else {
        uint16_t v = ((const uint16_t *)src)[k];
        p[2 * i] = (uint8_t)v;
        p[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

void op_put_one(uint8_t *p, uint32_t i, uint32_t eb)
{
    if (eb == 1) {
        p[i] = 1;
    } else {
        p[2 * i] = 0x00;
        p[2 * i + 1] = 0x3C;         /* fp16 1.0 */
    }
}

/* --- argument checks ---------------------------------------------------------------------- */

static int nan32(f32_t x)
{
    return (x & 0x7FFFFFFFu) > 0x7F800000u;
}

/* a > b for non-NaN binary32 bit patterns (IEEE order, -0 == +0) */
static int f32_gt(f32_t a, f32_t b)
{
    int64_t ka = a & 0x80000000u ? -(int64_t)(a & 0x7FFFFFFFu) : (int64_t)a;
    int64_t kb = b & 0x80000000u ? -(int64_t)(b & 0x7FFFFFFFu) : (int64_t)b;
    return ka > kb;
}

void op_put_load(uint32_t *d, uint32_t target, uint32_t elem, uint64_t dram, uint32_t stride,
                 uint32_t rows, uint32_t cols, uint32_t local)
{
    WPUT(d, LOAD, TARGET, target);
    WPUT(d, LOAD, ELEM, elem);
    WPUT64(d, LOAD, DRAM_ADDR, dram);
    WPUT(d, LOAD, DRAM_STRIDE, stride);
    WPUT(d, LOAD, ROWS, rows);
    WPUT(d, LOAD, COLS, cols);
    WPUT(d, LOAD, LOCAL_ADDR, local);
}

int op_check_device(int prec)
{
    const struct npu_info *hw = npu_get_info();
    if (!hw->rows)
        return NPU_E_UNSUPPORTED;
    if (prec != NPU_INT8 && prec != NPU_FP16)
        return NPU_E_ARG;
    if (prec == NPU_FP16 && !hw->fp16)
        return NPU_E_UNSUPPORTED;
    return 0;
}

int op_in_int8(int32_t v)
{
    return v >= -128 && v <= 127;
}

/* The STORE of the layer (conv_plan's _int8_store / _fp16_store). */
int op_set_store(struct walk_layer *l, int prec, const struct npu_op_post *post,
                 int scale, uint32_t requant)
{
    if (prec == NPU_INT8) {
        if (!(post->lo >= -128 && post->lo <= post->hi && post->hi <= 127) ||
            !op_in_int8(post->output_zero_point))
            return NPU_E_ARG;
        l->st_out = DURE_NPU_OUT_INT8;
        l->st_acc_type = DURE_NPU_PREC_INT8;
        l->st_scale = 1;
        l->st_requant = requant;
        l->st_zero_point = post->output_zero_point;
        l->st_clamp = 0;
        l->st_lo = (uint32_t)post->lo;
        l->st_hi = (uint32_t)post->hi;
        return 0;
    }
    l->st_out = DURE_NPU_OUT_FP16;
    l->st_acc_type = DURE_NPU_PREC_FP16;
    l->st_scale = scale ? 1 : 0;
    l->st_requant = 0;
    l->st_zero_point = 0;
    l->st_clamp = 0;
    l->st_lo = l->st_hi = 0;
    if (post->clamp) {
        if (nan32(post->flo) || nan32(post->fhi) || f32_gt(post->flo, post->fhi))
            return NPU_E_ARG;
        l->st_clamp = 1;
        l->st_lo = post->flo;
        l->st_hi = post->fhi;
    }
    return 0;
}

int op_finish(const struct walk_layer *l, const struct op_params *pa, uint32_t *list,
              uint32_t cap)
{
    struct walk_plan plan;
    if (pa->err)
        return pa->err;
    int err = walk_plan(l, &plan);
    if (err)
        return err;
    err = walk_emit(l, &plan, list, cap);
    if (err < 0)
        return err;
    return pa->err ? pa->err : err;
}


int op_pool_geometry(const struct npu_op_pool *op, struct walk_layer *l)
{
    if (!op->n || !op->h || !op->w || !op->c || !op->kh || !op->kw ||
        (uint64_t)op->kh * op->kw > DURE_NPU_WALK_POOL_MAX_WINDOW ||
        (op->mem.param_addr & 15u))
        return NPU_E_ARG;
    if (walk_geometry(&l->g, op->n, op->h, op->w, op->kh, op->kw, op->stride_h, op->stride_w,
                      op->padding))
        return NPU_E_ARG;
    return 0;
}

void op_pool_layer(const struct npu_op_pool *op, uint32_t lc, struct walk_layer *l)
{
    l->prec = op->prec;
    l->cin = l->cout = op->c;
    l->k_chunk = l->n_chunk = lc;
    l->diagonal = 1;
    l->x_addr = op->mem.x_addr;
    l->out_addr = op->mem.out_addr;
    l->has_shared = 1;
    l->const_stride = 4 * lc;
    l->const_per_chunk = 0;
}

int op_list_done(const struct op_params *pa, const uint32_t *list, uint32_t count)
{
    if (walk_bad)
        return NPU_E_ARG;
    if (pa->err)
        return pa->err;
    if (npu_op_flush)
        npu_op_flush(list, count);
    return (int)count;
}
