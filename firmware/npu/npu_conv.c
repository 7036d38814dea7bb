/* npu_conv.c: the layer operators of npu_ops.h: CONV_2D, DEPTHWISE_CONV_2D and AVERAGE_POOL_2D
 * through the walk engine (npu_walk.c), global average pooling and the FP16 ADD as their own
 * short streams. The C port of sim/conv_plan.py, sim/pool_plan.py and sim/eltwise_plan.py:
 * the parameter bytes are laid out as their ParamArea does (16-byte aligned pieces, in the same
 * order) and every refusal of theirs is a negative result here. */
#include "npu_walk.h"

/* --- the parameter area (sim/layer_program.py ParamArea) --------------------------------- */

struct params {
    const struct npu_op_mem *mem;
    uint32_t end;              /* bytes used */
    int err;
};

/* Place `bytes` bytes; returns their NPU address, *p where the core writes them (NULL when
 * not written). The alignment gap after them is zeroed. */
static uint32_t param_add(struct params *pa, uint32_t bytes, uint8_t **p)
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

static void put32(uint8_t *p, uint32_t i, uint32_t v)
{
    p[4 * i] = (uint8_t)v;
    p[4 * i + 1] = (uint8_t)(v >> 8);
    p[4 * i + 2] = (uint8_t)(v >> 16);
    p[4 * i + 3] = (uint8_t)(v >> 24);
}

/* element i (eb bytes) of an int8 / f16 array */
static void put_elem(uint8_t *p, uint32_t i, uint32_t eb, const void *src, uint32_t k)
{
    if (eb == 1) {
        p[i] = ((const uint8_t *)src)[k];
    } else {
        uint16_t v = ((const uint16_t *)src)[k];
        p[2 * i] = (uint8_t)v;
        p[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

static void put_one(uint8_t *p, uint32_t i, uint32_t eb)
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

static int check_device(int prec)
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

static int in_int8(int32_t v)
{
    return v >= -128 && v <= 127;
}

/* The STORE of the layer (conv_plan's _int8_store / _fp16_store). */
static int set_store(struct walk_layer *l, int prec, const struct npu_op_post *post,
                     int scale, uint32_t requant)
{
    if (prec == NPU_INT8) {
        if (!(post->lo >= -128 && post->lo <= post->hi && post->hi <= 127) ||
            !in_int8(post->output_zero_point))
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

static int finish(const struct walk_layer *l, const struct params *pa, uint32_t *list,
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

/* --- CONV_2D and DEPTHWISE_CONV_2D (sim/conv_plan.py) ------------------------------------- */

static int conv(const struct npu_op_conv *op, int diagonal, uint32_t *list, uint32_t cap)
{
    int err = check_device(op->prec);
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
    if (int8) {
        if (!in_int8(op->input_zero_point) || !op->multiplier || !op->shift)
            return NPU_E_ARG;
        for (uint32_t o = 0; o < cout; o++)
            if (op->shift[o] < -31 || op->shift[o] > 30)
                return NPU_E_ARG;
    }
    struct walk_layer l = {0};
    if (walk_geometry(&l.g, op->n, op->h, op->w, op->kh, op->kw, op->stride_h, op->stride_w,
                      op->padding))
        return NPU_E_ARG;
    if ((err = set_store(&l, op->prec, &op->post, op->scale != 0,
                         DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING)))
        return err;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    uint32_t k_chunk = diagonal ? lc : hw->rows, n_chunk = diagonal ? lc : hw->cols;
    uint32_t eb = int8 ? 1 : 2, taps = op->kh * op->kw, nt = walk_cdiv(cout, n_chunk);
    uint32_t per_out = taps * (diagonal ? 1 : op->cin);    /* weights per output channel */
    /* INT8 depthwise on the element-wise MAC when an output image is small (MAC_PIXELS) */
    int mac = DURE_NPU_HAS_ELTWISE && diagonal && int8 &&
              (uint64_t)l.g.oh * l.g.ow < (uint64_t)DURE_NPU_WALK_MAC_PIXELS * hw->rows;
    struct params pa = {&op->mem, 0, 0};
    uint8_t *p;

    /* ACC start: the folded bias (INT8) or the fp32 bias */
    l.has_acc_init = int8 || op->bias;
    if (int8) {
        l.acc_init = param_add(&pa, 4 * cout, &p);
        int32_t zi = op->input_zero_point;
        for (uint32_t o = 0; p && o < cout; o++) {
            uint32_t sum = 0;
            for (uint32_t t = 0; t < per_out; t++) {
                int8_t v = diagonal ? ((const int8_t *)op->weights)[t * cout + o]
                                    : ((const int8_t *)op->weights)[o * per_out + t];
                sum += (uint32_t)(int32_t)v;
            }
            uint32_t b = op->bias ? (uint32_t)((const int32_t *)op->bias)[o] : 0;
            put32(p, o, b - (uint32_t)zi * sum);
        }
    } else if (op->bias) {
        l.acc_init = param_add(&pa, 4 * cout, &p);
        for (uint32_t o = 0; p && o < cout; o++)
            put32(p, o, ((const uint32_t *)op->bias)[o]);
    }
    /* the weight matrices, per output chunk: (taps * Cin, nn) for a convolution, diag(w[tap])
     * per tap for a diagonal depthwise, one row w[tap] per tap for the MAC */
    for (uint32_t j = 0; j < nt; j++) {
        uint32_t nn = walk_min(n_chunk, cout - j * n_chunk);
        uint32_t rows = mac ? taps : diagonal ? taps * nn : per_out;
        uint32_t addr = param_add(&pa, rows * nn * eb, &p);
        if (j == 0)
            l.w_addr = addr;
        if (j == 1)
            l.w_step = addr - l.w_addr;
        for (uint32_t r = 0; p && r < rows; r++) {
            for (uint32_t jj = 0; jj < nn; jj++) {
                uint32_t o = j * n_chunk + jj;
                if (mac)
                    put_elem(p, r * nn + jj, eb, op->weights, r * cout + o);
                else if (!diagonal)
                    put_elem(p, r * nn + jj, eb, op->weights, o * per_out + r);
                else if (r % nn == jj)
                    put_elem(p, r * nn + jj, eb, op->weights, (r / nn) * cout + o);
            }
        }
    }
    /* the constant rows: multiplier and shift rows (INT8), scale rows (FP16) */
    if (int8 || op->scale) {
        uint32_t per = int8 ? 2 : 1;
        l.const_addr = param_add(&pa, per * nt * n_chunk * 4, &p);
        l.const_rows = per * nt;
        l.const_stride = 4 * n_chunk;
        l.const_per_chunk = per;
        for (uint32_t o = 0; p && o < cout; o++) {
            uint32_t j = o / n_chunk, lane = o % n_chunk;
            if (int8) {
                put32(p, (2 * j) * n_chunk + lane, (uint32_t)op->multiplier[o]);
                put32(p, (2 * j + 1) * n_chunk + lane, (uint32_t)op->shift[o]);
            } else {
                put32(p, j * n_chunk + lane, op->scale[o]);
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
    l.spread = int8 || diagonal;       /* conv_plan's defaults: FP16 convolutions unspread */
    return finish(&l, &pa, list, cap);
}

int npu_op_conv2d(const struct npu_op_conv *op, uint32_t *list, uint32_t cap)
{
    return conv(op, 0, list, cap);
}

int npu_op_depthwise(const struct npu_op_conv *op, uint32_t *list, uint32_t cap)
{
    return conv(op, 1, list, cap);
}

/* --- AVERAGE_POOL_2D (sim/pool_plan.py) --------------------------------------------------- */

/* floor(2^k / n) (n >= 1, k <= 63) and 2^k mod n, by long division (no 64-bit divide). */
static uint64_t pow2_div(uint32_t k, uint32_t n, uint32_t *rem)
{
    uint64_t q = 0;
    uint32_t r = 1 % n;
    if (n == 1)
        q = 1;
    for (uint32_t i = 0; i < k; i++) {
        q <<= 1;
        r <<= 1;
        if (r >= n) {
            r -= n;
            q |= 1;
        }
    }
    if (rem)
        *rem = r;
    return q;
}

static uint32_t log2_floor(uint32_t n)
{
    uint32_t b = 0;
    while (n >> (b + 1))
        b++;
    return b;
}

/* pool_multiplier: (M, shift) of the single-rounding STORE for a window count n. */
static void pool_multiplier(uint32_t n, uint32_t *m, int32_t *shift)
{
    uint32_t p = 30 + log2_floor(n);
    *m = (uint32_t)pow2_div(p, n, 0) + 1;
    *shift = 31 - (int32_t)p;
}

/* np.float32(np.float64(1.0) / n): 1/n rounded to binary64, then to binary32 (both RNE). */
static f32_t recip_f32(uint32_t n)
{
    uint32_t b = log2_floor(n);          /* 2^b <= n < 2^(b+1) */
    if (n == 1u << b)
        return (uint32_t)(127 - b) << 23;
    /* 1/n = q54 * 2^-(b + 54) + rest, q54 in [2^53, 2^54) */
    uint32_t rem;
    uint64_t q = pow2_div(b + 54, n, &rem);
    uint64_t m53 = (q >> 1) + ((q & 1) && (rem || (q & 2)));   /* RNE to 53 bits */
    int32_t e = -(int32_t)b - 1;         /* value = m53 * 2^(e - 52) */
    if (m53 >> 53) {
        m53 >>= 1;
        e++;
    }
    uint64_t low = m53 & ((1u << 29) - 1);
    uint32_t m24 = (uint32_t)(m53 >> 29);
    if (low > (1u << 28) || (low == (1u << 28) && (m24 & 1)))
        m24++;
    if (m24 >> 24) {
        m24 >>= 1;
        e++;
    }
    return ((uint32_t)(127 + e) << 23) | (m24 & 0x7FFFFFu);
}

static uint16_t count_index[DURE_NPU_WALK_POOL_MAX_WINDOW + 1];

/* _global_pool: one output pixel over the whole image, R pixels per COMPUTE. */
static int global_pool(const struct npu_op_pool *op, const struct walk_layer *l,
                       struct params *pa, uint32_t ncount, uint8_t *const_src,
                       uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols, eb = op->prec == NPU_FP16 ? 2 : 1;
    uint32_t elem = eb == 2 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    uint32_t ch = op->c, pixels = op->h * op->w, nt = walk_cdiv(ch, c), tile = nt * pixels;
    uint32_t per = op->prec == NPU_INT8 ? 2 : 1, crows = per * ncount;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    if (1 + (uint64_t)tile > hw->spad_rows)
        return 1;                            /* does not fit: the walk */
    uint32_t bufs = op->n > 1 && 1 + 2 * (uint64_t)tile <= hw->spad_rows ? 2 : 1;
    uint8_t *p;
    uint32_t ones = param_add(pa, r * eb, &p);
    for (uint32_t i = 0; p && i < r; i++)
        put_one(p, i, eb);
    uint32_t constants = param_add(pa, crows * c * 4, &p);
    for (uint32_t row = 0; p && const_src && row < crows; row++)
        for (uint32_t lane = 0; lane < c; lane++)
            for (uint32_t b = 0; b < 4; b++)
                p[(row * c + lane) * 4 + b] = const_src[row * lc * 4 + b];
    uint32_t count = 0, n_desc = 2 + op->n * (nt + walk_cdiv(pixels, r) * nt + nt);
    if (!list)
        return pa->err ? pa->err : (int)n_desc;
    if (n_desc > cap)
        return NPU_E_NO_MEMORY;
    walk_bad = 0;
    uint32_t *d = list;
#define NEXT() (d = list + 8u * count++, npu_desc_clear(d))
    NEXT();
    d[0] = DURE_NPU_OP_LOAD;
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
    WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
    WPUT(d, LOAD, DRAM_ADDR, constants);
    WPUT(d, LOAD, DRAM_STRIDE, 4 * c);
    WPUT(d, LOAD, ROWS, crows);
    WPUT(d, LOAD, COLS, c);
    WPUT(d, LOAD, LOCAL_ADDR, 0);
    NEXT();
    d[0] = DURE_NPU_OP_LOAD;
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(d, LOAD, ELEM, elem);
    WPUT(d, LOAD, DRAM_ADDR, ones);
    WPUT(d, LOAD, DRAM_STRIDE, r * eb);
    WPUT(d, LOAD, ROWS, 1);
    WPUT(d, LOAD, COLS, r);
    WPUT(d, LOAD, LOCAL_ADDR, 0);
    for (uint32_t n = 0; n < op->n; n++) {
        uint32_t base = 1 + (n % bufs) * tile, acc = crows + (n % 2) * nt;
        for (uint32_t j = 0; j < nt; j++) {
            NEXT();
            d[0] = DURE_NPU_OP_LOAD;
            WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
            WPUT(d, LOAD, ELEM, elem);
            WPUT64(d, LOAD, DRAM_ADDR, (uint64_t)op->mem.x_addr +
                 ((uint64_t)n * pixels * ch + j * c) * eb);
            WPUT(d, LOAD, DRAM_STRIDE, ch * eb);
            WPUT(d, LOAD, ROWS, pixels);
            WPUT(d, LOAD, COLS, walk_min(c, ch - j * c));
            WPUT(d, LOAD, LOCAL_ADDR, base + j * pixels);
        }
        for (uint32_t p0 = 0; p0 < pixels; p0 += r) {
            for (uint32_t j = 0; j < nt; j++) {
                NEXT();
                d[0] = DURE_NPU_OP_COMPUTE;
                WPUT(d, COMPUTE, PRECISION, op->prec == NPU_FP16 ? DURE_NPU_PREC_FP16
                                                                 : DURE_NPU_PREC_INT8);
                WPUT(d, COMPUTE, ACCUMULATE, p0 > 0);
                WPUT(d, COMPUTE, A_ADDR, 0);
                WPUT(d, COMPUTE, W_ADDR, base + j * pixels + p0);
                WPUT(d, COMPUTE, ACC_ADDR, acc + j);
                WPUT(d, COMPUTE, M, 1);
                WPUT(d, COMPUTE, K, walk_min(r, pixels - p0));
                WPUT(d, COMPUTE, N, walk_min(c, ch - j * c));
            }
        }
        for (uint32_t j = 0; j < nt; j++) {
            NEXT();
            d[0] = DURE_NPU_OP_STORE;
            WPUT(d, STORE, OUT, l->st_out);
            WPUT(d, STORE, ACC_TYPE, l->st_acc_type);
            WPUT(d, STORE, SCALE, l->st_scale);
            WPUT(d, STORE, REQUANT, l->st_requant);
            WPUT(d, STORE, CLAMP, l->st_clamp);
            WPUT(d, STORE, LO, l->st_lo);
            WPUT(d, STORE, HI, l->st_hi);
            WPUT64(d, STORE, DRAM_ADDR,
                   (uint64_t)op->mem.out_addr + ((uint64_t)n * ch + j * c) * eb);
            WPUT(d, STORE, DRAM_STRIDE, ch * eb);
            WPUT(d, STORE, ROWS, 1);
            WPUT(d, STORE, COLS, walk_min(c, ch - j * c));
            WPUT(d, STORE, ACC_ADDR, acc + j);
            WPUT(d, STORE, SCALE_ADDR, 0);
        }
    }
#undef NEXT
    if (walk_bad)
        return NPU_E_ARG;
    if (pa->err)
        return pa->err;
    if (npu_op_flush)
        npu_op_flush(list, count);
    return (int)count;
}

int npu_op_avgpool(const struct npu_op_pool *op, uint32_t *list, uint32_t cap)
{
    int err = check_device(op->prec);
    if (err)
        return err;
    const struct npu_info *hw = npu_get_info();
    if (!op->n || !op->h || !op->w || !op->c || !op->kh || !op->kw ||
        (uint64_t)op->kh * op->kw > DURE_NPU_WALK_POOL_MAX_WINDOW ||
        (op->mem.param_addr & 15u))
        return NPU_E_ARG;
    struct walk_layer l = {0};
    if (walk_geometry(&l.g, op->n, op->h, op->w, op->kh, op->kw, op->stride_h, op->stride_w,
                      op->padding))
        return NPU_E_ARG;
    const struct walk_geo *g = &l.g;
    /* the distinct window counts, in increasing order */
    for (uint32_t i = 0; i <= DURE_NPU_WALK_POOL_MAX_WINDOW; i++)
        count_index[i] = 0xFFFF;
    int32_t cy_min = 1 << 30, cx_min = 1 << 30;
    for (uint32_t oy = 0; oy < g->oh; oy++) {
        int32_t cy = walk_count(oy, g->height, g->kh, g->sh, g->pt);
        cy_min = cy < cy_min ? cy : cy_min;
    }
    for (uint32_t ox = 0; ox < g->ow; ox++) {
        int32_t cx = walk_count(ox, g->width, g->kw, g->sw, g->pl);
        cx_min = cx < cx_min ? cx : cx_min;
    }
    if (cy_min < 1 || cx_min < 1)
        return NPU_E_ARG;                  /* a window entirely in the padding */
    for (uint32_t oy = 0; oy < g->oh; oy++) {
        int32_t cy = walk_count(oy, g->height, g->kh, g->sh, g->pt);
        for (uint32_t ox = 0; ox < g->ow; ox++)
            count_index[cy * walk_count(ox, g->width, g->kw, g->sw, g->pl)] = 0;
    }
    uint32_t ncount = 0, only = 0;
    for (uint32_t i = 1; i <= DURE_NPU_WALK_POOL_MAX_WINDOW; i++) {
        if (count_index[i] == 0) {
            count_index[i] = (uint16_t)ncount++;
            only = i;
        }
    }
    uint32_t lc = walk_min(hw->rows, hw->cols), eb = op->prec == NPU_FP16 ? 2 : 1;
    struct params pa = {&op->mem, 0, 0};
    uint8_t *p;
    uint32_t ident = param_add(&pa, lc * lc * eb, &p);
    for (uint32_t i = 0; p && i < lc; i++)
        put_one(p, i * lc + i, eb);
    int int8 = op->prec == NPU_INT8;
    uint32_t per = int8 ? 2 : 1;
    uint32_t const_addr = param_add(&pa, per * ncount * lc * 4, &p);
    uint8_t *const_bytes = p;
    for (uint32_t n = 1; p && n <= DURE_NPU_WALK_POOL_MAX_WINDOW; n++) {
        if (count_index[n] == 0xFFFF)
            continue;
        uint32_t i = count_index[n];
        for (uint32_t lane = 0; lane < lc; lane++) {
            if (int8) {
                uint32_t m;
                int32_t shift;
                pool_multiplier(n, &m, &shift);
                put32(p, 2 * i * lc + lane, m);
                put32(p, (2 * i + 1) * lc + lane, (uint32_t)shift);
            } else {
                put32(p, i * lc + lane, recip_f32(n));
            }
        }
    }
    struct npu_op_post post = op->post;
    post.output_zero_point = 0;                /* the average has no output offset */
    if ((err = set_store(&l, op->prec, &post, 1, DURE_NPU_REQUANT_TFLITE_SINGLE_ROUNDING)))
        return err;
    if (ncount == 1 && only == op->h * op->w && g->oh == 1 && g->ow == 1) {
        err = global_pool(op, &l, &pa, ncount, const_bytes, list, cap);
        if (err != 1)
            return err;
    }
    l.prec = op->prec;
    l.cin = l.cout = op->c;
    l.k_chunk = l.n_chunk = lc;
    l.diagonal = 1;
    l.x_addr = op->mem.x_addr;
    l.out_addr = op->mem.out_addr;
    l.pad_value = 0;
    l.out_bytes = eb;
    l.has_shared = 1;
    l.shared_addr = ident;
    l.shared_rows = lc;
    l.const_addr = const_addr;
    l.const_rows = per * ncount;
    l.const_stride = 4 * lc;
    l.const_per_chunk = 0;
    l.runs = 1;
    l.runs_per = per;
    l.count_index = count_index;
    return finish(&l, &pa, list, cap);
}

/* --- FP16 ADD (sim/eltwise_plan.py) ------------------------------------------------------- */

int npu_op_add_fp16(const struct npu_op_add *op, uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    if (!hw->rows || !hw->fp16)
        return NPU_E_UNSUPPORTED;
    if (!op->elements || (op->mem.param_addr & 15u))
        return NPU_E_ARG;
    struct walk_layer l = {0};
    int err = set_store(&l, NPU_FP16, &op->post, 0, 0);
    if (err)
        return err;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    struct params pa = {&op->mem, 0, 0};
    uint8_t *p;
    uint32_t ident = param_add(&pa, lc * lc * 2, &p);
    for (uint32_t i = 0; p && i < lc; i++)
        put_one(p, i * lc + i, 2);
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
    if (walk_bad)
        return NPU_E_ARG;
    if (pa.err)
        return pa.err;
    if (npu_op_flush)
        npu_op_flush(list, count);
    return (int)count;
}
