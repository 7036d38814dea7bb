/* npu_pool.c: AVERAGE_POOL_2D of npu_ops.h, the C port of sim/pool_plan.py: through the walk
 * engine (npu_walk_*.c), global pooling as its own short stream. */
#include "npu_walk.h"

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

/* The global-pooling streams' descriptors, in order into list (cap checked by the caller). */
struct gp {
    const struct npu_op_pool *op;
    const struct walk_layer *l;
    uint32_t *list, count, eb, elem, c, ch, pixels, tile, bufs, nt;
};

static uint32_t *gp_next(struct gp *s, uint32_t opcode)
{
    uint32_t *d = s->list + 8u * s->count++;
    npu_desc_clear(d);
    d[0] = opcode;
    return d;
}

static void gp_load(struct gp *s, uint32_t target, uint32_t elem, uint64_t dram, uint32_t stride,
                    uint32_t rows, uint32_t cols, uint32_t local)
{
    op_put_load(gp_next(s, DURE_NPU_OP_LOAD), target, elem, dram, stride, rows, cols, local);
}

static uint32_t gp_cols(const struct gp *s, uint32_t j)
{
    return walk_min(s->c, s->ch - j * s->c);
}

/* Pixels [lo, hi) of image n's channel chunk j into SPAD row `local` + lo (pixel p at
 * local + p). */
static void gp_part(struct gp *s, uint32_t n, uint32_t j, uint32_t lo, uint32_t hi,
                    uint32_t local)
{
    gp_load(s, DURE_NPU_TARGET_SPAD, s->elem,
            (uint64_t)s->op->mem.x_addr +
            ((uint64_t)n * s->pixels * s->ch + (uint64_t)lo * s->ch + j * s->c) * s->eb,
            s->ch * s->eb, hi - lo, gp_cols(s, j), local + lo);
}

/* Image n's channel chunk j into SPAD row `local` (pixel p at local + p). */
static void gp_chunk(struct gp *s, uint32_t n, uint32_t j, uint32_t local)
{
    gp_part(s, n, j, 0, s->pixels, local);
}

static void gp_store(struct gp *s, uint32_t n, uint32_t j, uint32_t acc)
{
    const struct walk_layer *l = s->l;
    uint32_t *d = gp_next(s, DURE_NPU_OP_STORE);
    WPUT(d, STORE, OUT, l->st_out);
    WPUT(d, STORE, ACC_TYPE, l->st_acc_type);
    WPUT(d, STORE, SCALE, l->st_scale);
    WPUT(d, STORE, REQUANT, l->st_requant);
    WPUT(d, STORE, CLAMP, l->st_clamp);
    WPUT(d, STORE, LO, l->st_lo);
    WPUT(d, STORE, HI, l->st_hi);
    WPUT64(d, STORE, DRAM_ADDR,
           (uint64_t)s->op->mem.out_addr + ((uint64_t)n * s->ch + j * s->c) * s->eb);
    WPUT(d, STORE, DRAM_STRIDE, s->ch * s->eb);
    WPUT(d, STORE, ROWS, 1);
    WPUT(d, STORE, COLS, gp_cols(s, j));
    WPUT(d, STORE, ACC_ADDR, acc);
    WPUT(d, STORE, SCALE_ADDR, 0);
}

/* _global_pool's units of GLOBAL_PAIR chunks of one image (FP16: every chunk of the image):
 * the unit's COMPUTEs pixel-major over its chunks (R pixels of C channels each, against the
 * ones row), the next unit's chunk LOADs spread between them, then the unit's STOREs. The
 * first unit's chunks come in slabs of GLOBAL_SLAB * R pixels: slab 0 up front, slab s + 1
 * spread between slab s's COMPUTEs. */
static void gp_array(struct gp *s, uint32_t r, uint32_t crows)
{
    uint32_t pair = s->op->prec == NPU_INT8 ? DURE_NPU_WALK_GLOBAL_PAIR : s->nt;
    uint32_t per_image = walk_cdiv(s->nt, pair);
    uint32_t units = s->op->n * per_image;
    uint32_t slab = DURE_NPU_WALK_GLOBAL_SLAB * r;
    for (uint32_t j = 0; j < walk_min(s->nt, pair); j++)
        gp_part(s, 0, j, 0, walk_min(slab, s->pixels), 1 + j * s->pixels);
    for (uint32_t u = 0; u < units; u++) {
        uint32_t n = u / per_image, j0 = (u % per_image) * pair, j1 = walk_min(s->nt, j0 + pair);
        uint32_t base = 1 + (n % s->bufs) * s->tile, acc = crows + (n % 2) * s->nt;
        uint32_t nn_ = 0, a_ = 0, nside = 0;     /* the next unit's chunks [a_, a_ + nside) */
        if (u + 1 < units) {
            nn_ = (u + 1) / per_image;
            a_ = ((u + 1) % per_image) * pair;
            nside = walk_min(s->nt, a_ + pair) - a_;
        }
        uint32_t ncomp = walk_cdiv(s->pixels, r) * (j1 - j0);
        uint32_t gap = walk_max(1, ncomp / (nside + 1)), done = 0, i = 0;
        if (nside && nn_ % s->bufs == n % s->bufs && a_ < j1 && j0 < a_ + nside)
            gap = ncomp + 1;          /* they overwrite rows this unit reads: after it */
        uint32_t sgap = 1, sdone = 0, sn = 0, si = 0, s1 = 0;
        for (uint32_t p0 = 0; p0 < s->pixels; p0 += r) {
            if (p0 % slab == 0) {                /* a slab starts: its successor's LOADs */
                s1 = p0 + slab;
                sn = u == 0 && s1 < s->pixels ? j1 - j0 : 0;
                sdone = 0;
                si = 0;
                sgap = walk_max(1, walk_cdiv(walk_min(s->pixels, s1) - p0, r) * (j1 - j0) /
                                   (sn + 1));
            }
            for (uint32_t j = j0; j < j1; j++, i++) {
                uint32_t *d = gp_next(s, DURE_NPU_OP_COMPUTE);
                WPUT(d, COMPUTE, PRECISION, s->op->prec == NPU_FP16 ? DURE_NPU_PREC_FP16
                                                                    : DURE_NPU_PREC_INT8);
                WPUT(d, COMPUTE, ACCUMULATE, p0 > 0);
                WPUT(d, COMPUTE, A_ADDR, 0);
                WPUT(d, COMPUTE, W_ADDR, base + j * s->pixels + p0);
                WPUT(d, COMPUTE, ACC_ADDR, acc + j);
                WPUT(d, COMPUTE, M, 1);
                WPUT(d, COMPUTE, K, walk_min(r, s->pixels - p0));
                WPUT(d, COMPUTE, N, gp_cols(s, j));
                si++;
                if (sdone < sn && si % sgap == 0) {
                    gp_part(s, n, j0 + sdone, s1, walk_min(s->pixels, s1 + slab),
                            base + (j0 + sdone) * s->pixels);
                    sdone++;
                }
                if (sn && p0 + r >= walk_min(s->pixels, s1) && j + 1 == j1) {
                    for (; sdone < sn; sdone++)  /* the slab's last COMPUTE: the rest */
                        gp_part(s, n, j0 + sdone, s1, walk_min(s->pixels, s1 + slab),
                                base + (j0 + sdone) * s->pixels);
                }
                if (done < nside && (i + 1) % gap == 0) {
                    gp_chunk(s, nn_, a_ + done, 1 + (nn_ % s->bufs) * s->tile +
                             (a_ + done) * s->pixels);
                    done++;
                }
            }
        }
        for (; done < nside; done++)
            gp_chunk(s, nn_, a_ + done, 1 + (nn_ % s->bufs) * s->tile + (a_ + done) * s->pixels);
        for (uint32_t j = j0; j < j1; j++)
            gp_store(s, n, j, acc + j);
    }
}

/* _global_pool_mac: per image and channel chunk one ELTWISE MAC with reduce sums the chunk's
 * pixels against the ones row into one ACC row; the next chunk's LOAD (two SPAD buffers by
 * chunk parity) goes ahead of it, its STORE right after. */
static void gp_mac(struct gp *s, uint32_t crows)
{
    uint32_t chunks = s->op->n * s->nt;
    gp_chunk(s, 0, 0, 1);
    for (uint32_t i = 0; i < chunks; i++) {
        uint32_t n = i / s->nt, j = i % s->nt, acc = crows + (n % 2) * s->nt + j;
        if (i + 1 < chunks)
            gp_chunk(s, (i + 1) / s->nt, (i + 1) % s->nt, 1 + ((i + 1) % 2) * s->pixels);
        uint32_t *d = gp_next(s, DURE_NPU_OP_ELTWISE);
        WPUT(d, ELTWISE, PRECISION, DURE_NPU_PREC_INT8);
        WPUT(d, ELTWISE, OP, DURE_NPU_ELTWISE_MAX);
        WPUT(d, ELTWISE, MAC, 1);
        WPUT(d, ELTWISE, REDUCE, 1);
        WPUT(d, ELTWISE, A_ADDR, 1 + (i % 2) * s->pixels);
        WPUT(d, ELTWISE, B_ADDR, 0);
        WPUT(d, ELTWISE, ACC_ADDR, acc);
        WPUT(d, ELTWISE, M, s->pixels);
        WPUT(d, ELTWISE, N, gp_cols(s, j));
        gp_store(s, n, j, acc);
    }
}

/* Global pooling (one output pixel whose window is the whole image): INT8 on the element-wise
 * unit (_global_pool_mac), else R pixels per COMPUTE (_global_pool); 1 when the image does not
 * fit the SPAD (the walk then). */
static int global_pool(const struct npu_op_pool *op, const struct walk_layer *l,
                       struct op_params *pa, uint32_t ncount, uint8_t *const_src,
                       uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols, eb = op->prec == NPU_FP16 ? 2 : 1;
    uint32_t ch = op->c, pixels = op->h * op->w, nt = walk_cdiv(ch, c), tile = nt * pixels;
    uint32_t per = op->prec == NPU_INT8 ? 2 : 1, crows = per * ncount;
    uint32_t lc = walk_min(hw->rows, hw->cols);
    int mac = NPU_WALK_ELTWISE && op->prec == NPU_INT8;
    if (mac ? 1 + 2 * (uint64_t)pixels > hw->spad_rows || pixels > 0xFFFFu
            : 1 + (uint64_t)tile > hw->spad_rows)
        return 1;                            /* does not fit: the walk */
    uint32_t bufs = op->n > 1 && 1 + 2 * (uint64_t)tile <= hw->spad_rows ? 2 : 1;
    uint32_t ones_n = mac ? hw->lanes : r;
    uint8_t *p;
    uint32_t ones = op_param_add(pa, ones_n * eb, &p);
    for (uint32_t i = 0; p && i < ones_n; i++)
        op_put_one(p, i, eb);
    uint32_t constants = op_param_add(pa, crows * c * 4, &p);
    for (uint32_t row = 0; p && const_src && row < crows; row++)
        for (uint32_t lane = 0; lane < c; lane++)
            for (uint32_t b = 0; b < 4; b++)
                p[(row * c + lane) * 4 + b] = const_src[row * lc * 4 + b];
    uint32_t slabs = walk_cdiv(pixels, DURE_NPU_WALK_GLOBAL_SLAB * r);
    uint32_t n_first = walk_min(nt, op->prec == NPU_INT8 ? DURE_NPU_WALK_GLOBAL_PAIR : nt);
    uint32_t n_desc = mac ? 2 + 3 * op->n * nt :
        2 + op->n * (nt + walk_cdiv(pixels, r) * nt + nt) + (slabs - 1) * n_first;
    if (!list)
        return pa->err ? pa->err : (int)n_desc;
    if (n_desc > cap)
        return NPU_E_NO_MEMORY;
    walk_bad = 0;
    struct gp s = {op, l, list, 0, eb, eb == 2 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8, c, ch,
                   pixels, tile, bufs, nt};
    gp_load(&s, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, constants, 4 * c, crows, c, 0);
    gp_load(&s, DURE_NPU_TARGET_SPAD, s.elem, ones, ones_n * eb, 1, ones_n, 0);
    if (mac)
        gp_mac(&s, crows);
    else
        gp_array(&s, r, crows);
    return op_list_done(pa, list, s.count);
}

int npu_op_avgpool(const struct npu_op_pool *op, uint32_t *list, uint32_t cap)
{
    int err = op_check_device(op->prec);
    if (err)
        return err;
    const struct npu_info *hw = npu_get_info();
    struct walk_layer l = {0};
    if (op_pool_geometry(op, &l))
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
    struct op_params pa = {&op->mem, 0, 0};
    uint8_t *p;
    uint32_t ident = op_param_add(&pa, lc * lc * eb, &p);
    for (uint32_t i = 0; p && i < lc; i++)
        op_put_one(p, i * lc + i, eb);
    int int8 = op->prec == NPU_INT8;
    uint32_t per = int8 ? 2 : 1;
    uint32_t const_addr = op_param_add(&pa, per * ncount * lc * 4, &p);
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
                op_put32(p, 2 * i * lc + lane, m);
                op_put32(p, (2 * i + 1) * lc + lane, (uint32_t)shift);
            } else {
                op_put32(p, i * lc + lane, recip_f32(n));
            }
        }
    }
    struct npu_op_post post = op->post;
    post.output_zero_point = 0;                /* the average has no output offset */
    if ((err = op_set_store(&l, op->prec, &post, 1,
                            DURE_NPU_REQUANT_TFLITE_SINGLE_ROUNDING)))
        return err;
    if (ncount == 1 && only == op->h * op->w && g->oh == 1 && g->ow == 1) {
        err = global_pool(op, &l, &pa, ncount, const_bytes, list, cap);
        if (err != 1)
            return err;
    }
    op_pool_layer(op, lc, &l);
    l.pad_value = 0;
    l.out_bytes = eb;
    l.shared_addr = ident;
    l.shared_rows = lc;
    l.const_addr = const_addr;
    l.const_rows = per * ncount;
    l.runs = 1;
    l.runs_per = per;
    l.count_index = count_index;
    return op_finish(&l, &pa, list, cap);
}

