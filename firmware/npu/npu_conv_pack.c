/* npu_conv_pack.c: CONV_2D INT8 or FP16 with few input channels, kernel taps packed into the
 * array's K lanes: the C port of sim/conv_pack.py (its module docstring has the plan: tile,
 * gather by identity COMPUTEs (FP16: diagonal COMPUTEs onto -0.0 and one STORE per tap),
 * round trip through a scratch area, packed convolution), the same layout, the same
 * parameter bytes and the same stream, word for word. */
#include "npu_walk.h"

/* conv_pack.GROUP_IMAGES: most images of a batch sharing one tile, gather and FENCE. */
#define PACK_GROUP_IMAGES 16u

/* PackLayout: sizes and SPAD / ACC rows of the packed plan (group images per tile, slot i
 * pitch rows down; its packed positions from position row i * ppr). */
struct pack {
    uint32_t e, groups, lanes, d, prow, pos, gather, th, opix, wslot, w0, nt, tile, packed;
    uint32_t const_rows, const_row, out0, obufs;
    uint32_t taps, pitch, ppr, group, gpos, held, bias_row, windows, defer, tile_rows, tiles;
    uint64_t scratch;
};

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* PackLayout.place(config, cout, group): 0 and *y filled, or -1 when it does not fit. */
static int place(const struct walk_geo *g, uint32_t cin, uint32_t cout, int fp16,
                 uint32_t group, struct pack *y)
{
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows, c = hw->cols;
    y->e = r / (g->kw * cin);
    y->groups = walk_cdiv(g->kh, y->e);
    y->lanes = y->e * g->kw * cin;
    y->d = gcd(g->sh, y->e);
    uint64_t last = (uint64_t)(g->oh - 1) * g->sh + (uint64_t)(y->groups - 1) * y->e;
    if (last > 0xFFFFFFu)
        return -1;                 /* far beyond the 16-bit rows (and no 64-bit divide) */
    uint64_t prow = (uint32_t)last / y->d + 1, pos = prow * g->ow;
    uint64_t th = last + y->e > g->hp ? last + y->e : g->hp;
    uint32_t ppr = walk_cdiv((uint32_t)th, y->d);        /* no 64-bit divide */
    uint64_t pitch = (uint64_t)ppr * y->d;
    /* a full group's packed positions, gather ACC rows (INT8 one per position, FP16 one
     * region of gpos per (e, kx)) and tile rows */
    uint64_t gpos = ((uint64_t)(group - 1) * ppr + prow) * g->ow;
    uint64_t gather = gpos * (fp16 ? (uint64_t)y->e * g->kw : 1u);
    uint64_t tile_rows = (uint64_t)(group - 1) * pitch + th;
    uint64_t opix = (uint64_t)g->oh * g->ow;
    y->wslot = y->groups * r;
    y->w0 = r;
    y->nt = walk_cdiv(cout, c);
    uint64_t tile = y->w0 + (uint64_t)y->nt * y->wslot;
    uint32_t tiles = group > 1 ? 2 : 1;   /* a group's tile LOADs: the other region */
    uint64_t packed = tile + tiles * tile_rows * g->wp;
    if (packed + gpos > hw->spad_rows || opix > 0xFFFFu || gather > 0xFFFFu)
        return -1;
    int64_t const_row = (int64_t)hw->acc_rows - (2 * (int64_t)y->nt + 2);
    int64_t bias_row = const_row - (group > 1 ? (int64_t)y->nt : 0);
    int64_t room = bias_row - (int64_t)gather;
    uint32_t per = opix ? (uint32_t)opix : 1;
    /* obufs = min(nt, room // per): Python's floor division is negative (too few) here */
    if (room < 0 || walk_div64((uint64_t)room, per) < walk_min(2, y->nt))
        return -1;
    uint64_t obufs = walk_div64((uint64_t)room, per);
    if (obufs > y->nt)
        obufs = y->nt;
    uint64_t windows = obufs ? walk_div64((uint64_t)room, (uint32_t)(obufs * per)) : 0;
    if (windows > group)
        windows = group;
    y->prow = (uint32_t)prow;
    y->pos = (uint32_t)pos;
    y->gather = (uint32_t)gather;
    y->th = (uint32_t)th;
    y->opix = (uint32_t)opix;
    y->tile = (uint32_t)tile;
    y->packed = (uint32_t)packed;
    y->const_rows = 2 * y->nt + 2;
    y->const_row = (uint32_t)const_row;
    y->out0 = y->gather;
    y->obufs = (uint32_t)obufs;
    y->taps = y->e * g->kw;
    y->tile_rows = (uint32_t)tile_rows;
    y->tiles = tiles;
    y->pitch = (uint32_t)pitch;
    y->ppr = (uint32_t)ppr;
    y->group = group;
    y->gpos = (uint32_t)gpos;
    y->held = group > 1;
    y->bias_row = (uint32_t)bias_row;
    y->windows = (uint32_t)windows;
    /* image i's last STOREs after image i + 1's COMPUTEs: only into another window */
    y->defer = y->held && windows >= 2;
    y->scratch = (uint64_t)walk_cdiv(g->batch, group) * gpos * y->lanes;
    return 0;
}

/* pack_layout(config, geo, cin, cout, precision): the most images per tile that fit (at most
 * PACK_GROUP_IMAGES); 0 and *y filled, or -1 when one image does not fit. */
static int layout(const struct walk_geo *g, uint32_t cin, uint32_t cout, int fp16,
                  struct pack *y)
{
    for (uint32_t group = walk_min(g->batch, PACK_GROUP_IMAGES); group > 0; group--)
        if (place(g, cin, cout, fp16, group, y) == 0)
            return 0;
    return -1;
}

int conv_pack_applies(const struct walk_geo *g, uint32_t cin, uint32_t cout, int prec)
{
    struct pack y;
    const struct npu_info *hw = npu_get_info();
    uint32_t r = hw->rows;
    int fp16 = prec == NPU_FP16;
    if (fp16 && cin > hw->cols)                 /* op_check_device has checked FP16 */
        return 0;
    if (cin >= r || (uint64_t)g->kw * cin > r ||
        walk_min(r / (g->kw * cin), g->kh) * g->kw * cin <= cin)
        return 0;
    return layout(g, cin, cout, fp16, &y) == 0;
}

/* The stream being written (list NULL: count only). */
struct em {
    uint32_t *list, cap, count;
    int err;
    uint32_t scratch[8];
};

static uint32_t *next(struct em *s, uint32_t opcode)
{
    uint32_t *d = s->scratch;
    if (s->list) {
        if (s->count < s->cap)
            d = s->list + 8u * s->count;
        else
            s->err = NPU_E_NO_MEMORY;
    }
    s->count++;
    npu_desc_clear(d);
    d[0] = opcode;
    return d;
}

static void load(struct em *s, uint32_t target, uint32_t elem, uint64_t dram, uint32_t stride,
                 uint32_t rows, uint32_t cols, uint32_t local)
{
    op_put_load(next(s, DURE_NPU_OP_LOAD), target, elem, dram, stride, rows, cols, local);
}

static void fill(struct em *s, uint32_t elem, uint32_t pad, uint32_t first, uint32_t rows,
                 uint32_t cols, uint32_t groups, uint32_t step)
{
    uint32_t *d = next(s, DURE_NPU_OP_LOAD);
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(d, LOAD, ELEM, elem);
    WPUT(d, LOAD, FILL, 1);
    WPUT(d, LOAD, FILL_VALUE, pad);
    WPUT(d, LOAD, ROWS, rows);
    WPUT(d, LOAD, COLS, cols);
    WPUT(d, LOAD, LOCAL_ADDR, first);
    if (groups) {
        WPUT(d, LOAD, LOCAL_COLS, rows / groups);
        WPUT(d, LOAD, LOCAL_GROUPS, groups);
        WPUT(d, LOAD, LOCAL_ROW_STEP, step);
    }
}

static void store(struct em *s, const struct walk_layer *l, uint32_t scale_addr, uint64_t dram,
                  uint32_t stride, uint32_t rows, uint32_t cols, uint32_t acc)
{
    uint32_t *d = next(s, DURE_NPU_OP_STORE);
    WPUT(d, STORE, OUT, l->st_out);
    WPUT(d, STORE, ACC_TYPE, l->st_acc_type);
    WPUT(d, STORE, SCALE, l->st_scale);
    WPUT(d, STORE, REQUANT, l->st_requant);
    WPUT(d, STORE, CLAMP, l->st_clamp);
    walk_put(d, DURE_NPU_STORE_ZERO_POINT_WORD, DURE_NPU_STORE_ZERO_POINT_LSB,
             DURE_NPU_STORE_ZERO_POINT_WIDTH, (int64_t)(l->st_zero_point & 0xFF));
    WPUT(d, STORE, LO, l->st_lo);
    WPUT(d, STORE, HI, l->st_hi);
    WPUT(d, STORE, SCALE_ADDR, scale_addr);
    WPUT64(d, STORE, DRAM_ADDR, dram);
    WPUT(d, STORE, DRAM_STRIDE, stride);
    WPUT(d, STORE, ROWS, rows);
    WPUT(d, STORE, COLS, cols);
    WPUT(d, STORE, ACC_ADDR, acc);
}

/* A walked COMPUTE; init_row: from ACC row init_addr (accumulate 0). */
static void compute(struct em *s, uint32_t prec, int accumulate, int diagonal, uint32_t a,
                    uint32_t w, uint32_t acc, uint32_t m, uint32_t k, uint32_t n,
                    uint32_t a_cols, uint32_t a_rows, uint32_t a_col_step, uint32_t a_row_step,
                    int init_row, uint32_t init_addr)
{
    uint32_t *d = next(s, DURE_NPU_OP_COMPUTE);
    if (init_row) {
        WPUT(d, COMPUTE, INIT_ROW, 1);
        WPUT(d, COMPUTE, INIT_ADDR, init_addr);
    }
    WPUT(d, COMPUTE, PRECISION, prec);
    WPUT(d, COMPUTE, ACCUMULATE, accumulate);
    WPUT(d, COMPUTE, DIAGONAL, diagonal);
    WPUT(d, COMPUTE, A_ADDR, a);
    WPUT(d, COMPUTE, W_ADDR, w);
    WPUT(d, COMPUTE, ACC_ADDR, acc);
    WPUT(d, COMPUTE, M, m);
    WPUT(d, COMPUTE, K, k);
    WPUT(d, COMPUTE, N, n);
    WPUT(d, COMPUTE, A_COLS, a_cols);
    WPUT(d, COMPUTE, A_ROWS, a_rows);
    WPUT(d, COMPUTE, A_COL_STEP, a_col_step);
    WPUT(d, COMPUTE, A_ROW_STEP, a_row_step);
}

/* What _conv_stream's closures share. */
struct cs {
    struct em *s;
    const struct walk_layer *l;
    const struct pack *y;
    uint32_t n, acc_init, eb;
    uint32_t slot;                 /* the image's tile slot in its group */
};

static uint32_t buf(const struct cs *t, uint32_t j)
{
    uint32_t window = (t->slot % t->y->windows) * t->y->obufs;
    return t->y->out0 + (window + j % t->y->obufs) * t->y->opix;
}

static uint32_t chunk_n(const struct cs *t, uint32_t j)
{
    uint32_t c = npu_get_info()->cols;
    return walk_min(c, t->l->cout - j * c);
}

static void cs_init(const struct cs *t, uint32_t j)
{
    uint32_t c = npu_get_info()->cols;
    if (t->y->held)                /* a group's ACC starts from the bias rows */
        return;
    uint32_t *d = next(t->s, DURE_NPU_OP_LOAD);
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
    WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
    if (t->l->has_acc_init) {
        WPUT(d, LOAD, BROADCAST, 1);
        WPUT(d, LOAD, DRAM_ADDR, t->acc_init + 4 * j * c);
    } else {
        WPUT(d, LOAD, FILL, 1);                  /* FP16 without bias: +0.0 */
    }
    WPUT(d, LOAD, ROWS, t->y->opix);
    WPUT(d, LOAD, COLS, chunk_n(t, j));
    WPUT(d, LOAD, LOCAL_ADDR, buf(t, j));
}

static void cs_store(const struct cs *t, uint32_t j)
{
    uint32_t c = npu_get_info()->cols, o_pix = t->l->cout * t->eb;
    store(t->s, t->l, t->l->st_scale ? t->y->const_row + 2 * j : 0,
          (uint64_t)t->l->out_addr + (uint64_t)t->n * t->y->opix * o_pix +
              (uint64_t)j * c * t->eb,
          o_pix, t->y->opix, chunk_n(t, j), buf(t, j));
}

static void cs_comp(const struct cs *t, uint32_t j, uint32_t gi)
{
    const struct walk_geo *g = &t->l->g;
    const struct pack *y = t->y;
    uint32_t k = walk_min(y->e, g->kh - gi * y->e) * g->kw * (y->lanes / (y->e * g->kw));
    /* a group's first kernel-row group starts from its bias row (without bias: +0.0) */
    int from_bias = y->held && gi == 0;
    compute(t->s, t->eb == 2 ? DURE_NPU_PREC_FP16 : DURE_NPU_PREC_INT8, !from_bias, 0,
            y->packed + (t->slot * y->ppr + gi * y->e / y->d) * g->ow,
            y->w0 + j * y->wslot + gi * npu_get_info()->rows, buf(t, j), y->opix, k,
            chunk_n(t, j), g->ow, g->oh, 1, (g->sh / y->d) * g->ow,
            from_bias && t->l->has_acc_init, y->bias_row + j);
}

/* Output chunks per pass of _conv_stream. */
static uint32_t pass_step(const struct pack *y)
{
    uint32_t nt = y->nt, pass = DURE_NPU_WALK_PACK_PASS_CHUNKS;
    uint32_t step = y->obufs >= 2 * pass ? pass : 1;
    if (pass >= nt && y->obufs >= nt)
        step = nt;
    return step;
}

/* The last pass's STOREs of image t->n (_conv_stream's deferred ones). */
static void last_stores(const struct cs *t)
{
    uint32_t step = pass_step(t->y);
    for (uint32_t j = (walk_cdiv(t->y->nt, step) - 1) * step; j < t->y->nt; j++)
        cs_store(t, j);
}

/* _conv_stream: image n's convolution, output chunks in passes of PACK_PASS_CHUNKS, kernel-row
 * groups outer within a pass; a pass's STOREs and the next pass's bias LOADs spread between
 * the COMPUTEs, the last pass's STOREs after each chunk's final COMPUTE (defer: left to the
 * caller, last_stores). */
static void conv_stream(const struct cs *t, int defer)
{
    const struct pack *y = t->y;
    uint32_t nt = y->nt, step = pass_step(y);
    uint32_t npass = walk_cdiv(nt, step);
    for (uint32_t j = 0; j < walk_min(nt, step); j++)
        cs_init(t, j);
    for (uint32_t p = 0; p < npass; p++) {
        uint32_t j0 = p * step, j1 = walk_min(nt, j0 + step), gsize = j1 - j0;
        uint32_t ncomp = y->groups * gsize;
        /* side: the previous pass's STOREs, then the next pass's inits */
        uint32_t nst = p ? step : 0;             /* a previous pass is always full */
        uint32_t ninit = p + 1 < npass && !y->held ? walk_min(nt, j1 + step) - j1 : 0;
        uint32_t nside = nst + ninit;
        int last = p + 1 == npass;
        uint32_t ci = 0;
        for (uint32_t gi = 0; gi < y->groups; gi++) {
            for (uint32_t j = j0; j < j1; j++, ci++) {
                cs_comp(t, j, gi);
                for (uint32_t d = 0; d < nside; d++) {
                    uint32_t at = (d + 1) * ncomp / (nside + 1);
                    if ((at < 1 ? 1 : at) != ci + 1)
                        continue;
                    if (d < nst)
                        cs_store(t, j0 - step + d);
                    else
                        cs_init(t, j1 + d - nst);
                }
                if (last && ci >= ncomp - gsize && !defer)
                    cs_store(t, j0 + ci - (ncomp - gsize));
            }
        }
    }
}

/* The FP16 gather of a group whose walk has prow position rows (conv_pack._fp16_gather): the
 * (e, kx) regions of gpos ACC rows set to -0.0 by one fill, then per (e, kx) a diagonal
 * COMPUTE with accumulate (the tile's lanes widened exactly) and an FP16 STORE of its Cin
 * lanes to lanes (e * kw + kx) * Cin of the scratch rows; the previous group's last image's
 * deferred STOREs (tail, or NULL) after the first COMPUTE, the next group's tile LOADs (nxt)
 * spread between the (COMPUTE, STORE) steps; the tile region at SPAD row tile. */
/* The next group's tile LOADs (tile_loads(b + 1)) that go after gather step i (1-based) of
 * steps: _spread's rule, LOAD d after step max(1, (d + 1) * steps / (loads + 1)). */
struct next_tile {
    const struct walk_layer *l;
    const struct pack *y;
    uint32_t b, count, elem, eb, cin;   /* count 0: none */
};

static void tile_load(struct em *s, const struct next_tile *t, uint32_t i)
{
    const struct walk_geo *g = &t->l->g;
    const struct pack *y = t->y;
    uint32_t n0 = t->b * y->group, cin = t->cin;
    uint32_t tile = y->tile + (t->b % y->tiles) * y->tile_rows * g->wp;
    uint32_t *d = next(s, DURE_NPU_OP_LOAD);
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_SPAD);
    WPUT(d, LOAD, ELEM, t->elem);
    WPUT64(d, LOAD, DRAM_ADDR,
           (uint64_t)t->l->x_addr + (uint64_t)(n0 + i) * g->height * g->width * cin * t->eb);
    WPUT(d, LOAD, DRAM_STRIDE, cin * t->eb);
    WPUT(d, LOAD, ROWS, g->height * g->width);
    WPUT(d, LOAD, COLS, cin);
    WPUT(d, LOAD, LOCAL_ADDR, tile + i * y->pitch * g->wp + g->pt * g->wp + g->pl);
    if (g->wp != g->width) {
        WPUT(d, LOAD, LOCAL_COLS, g->width);
        WPUT(d, LOAD, LOCAL_GROUPS, g->height);
        WPUT(d, LOAD, LOCAL_ROW_STEP, g->wp);
    }
}

static void spread_loads(struct em *s, const struct next_tile *t, uint32_t step,
                         uint32_t steps)
{
    for (uint32_t d = 0; d < t->count; d++) {
        uint32_t at = (d + 1) * steps / (t->count + 1);
        if ((at < 1 ? 1 : at) == step)
            tile_load(s, t, d);
    }
}

static void fp16_gather(struct em *s, const struct walk_geo *g, const struct pack *y,
                        uint32_t cin, uint64_t scratch, uint32_t prow, uint32_t tile,
                        const struct cs *tail, const struct next_tile *nxt)
{
    uint32_t pos = prow * g->ow;
    uint32_t *d = next(s, DURE_NPU_OP_LOAD);
    WPUT(d, LOAD, TARGET, DURE_NPU_TARGET_ACC);
    WPUT(d, LOAD, ELEM, DURE_NPU_ELEM_WORD32);
    WPUT(d, LOAD, FILL, 1);
    WPUT(d, LOAD, FILL_VALUE, 0x80000000u);
    WPUT(d, LOAD, ROWS, y->gather);
    WPUT(d, LOAD, COLS, cin);
    WPUT(d, LOAD, LOCAL_ADDR, 0);
    for (uint32_t idx = 0; idx < y->taps; idx++) {
        uint32_t e = idx / g->kw, kx = idx % g->kw;
        compute(s, DURE_NPU_PREC_FP16, 1, 1, tile + e * g->wp + kx, 0, idx * y->gpos, pos,
                cin, cin, g->ow, prow, g->sw, y->d * g->wp, 0, 0);
        if (idx == 0 && tail)
            last_stores(tail);
        d = next(s, DURE_NPU_OP_STORE);
        WPUT(d, STORE, OUT, DURE_NPU_OUT_FP16);
        WPUT(d, STORE, ACC_TYPE, DURE_NPU_PREC_FP16);
        WPUT64(d, STORE, DRAM_ADDR, scratch + 2u * idx * cin);
        WPUT(d, STORE, DRAM_STRIDE, 2 * y->lanes);
        WPUT(d, STORE, ROWS, pos);
        WPUT(d, STORE, COLS, cin);
        WPUT(d, STORE, ACC_ADDR, idx * y->gpos);
        spread_loads(s, nxt, idx + 1, y->taps);
    }
}

int conv_pack(const struct npu_op_conv *op, const struct walk_layer *l, struct op_params *pa,
              uint32_t acc_init, uint32_t *list, uint32_t cap)
{
    const struct npu_info *hw = npu_get_info();
    const struct walk_geo *g = &l->g;
    uint32_t r = hw->rows, c = hw->cols, cin = op->cin, cout = op->cout;
    int fp16 = op->prec == NPU_FP16;
    uint32_t eb = fp16 ? 2 : 1;
    uint32_t elem = fp16 ? DURE_NPU_ELEM_FP16 : DURE_NPU_ELEM_INT8;
    struct pack y;
    if (layout(g, cin, cout, fp16, &y))
        return NPU_E_ARG;
    uint32_t per_out = g->kh * g->kw * cin, row_taps = g->kw * cin;
    uint8_t *p;
    /* packed_weights: per chunk (groups * R, nn), row gi * R + e * kw * Cin + (kx, ci) */
    uint32_t w_addr = 0, w_step = 0;
    for (uint32_t j = 0; j < y.nt; j++) {
        uint32_t nn = walk_min(c, cout - j * c);
        uint32_t addr = op_param_add(pa, y.wslot * nn * eb, &p);
        if (j == 0)
            w_addr = addr;
        if (j == 1)
            w_step = addr - w_addr;
        for (uint32_t gi = 0; p && gi < y.groups; gi++) {
            for (uint32_t e = 0; e < y.e && gi * y.e + e < g->kh; e++) {
                for (uint32_t q = 0; q < row_taps; q++) {
                    uint32_t row = gi * r + e * row_taps + q;
                    for (uint32_t jj = 0; jj < nn; jj++)
                        op_put_elem(p, row * nn + jj, eb, op->weights,
                                    (j * c + jj) * per_out + (gi * y.e + e) * row_taps + q);
                }
            }
        }
    }
    /* INT8: the requantization rows (multiplier, shift per chunk; the float-scale mode: the
     * scale row and an unused zero row) and the identity STORE's two; FP16: the scale rows in
     * the same two-row slots, when the STORE scales */
    uint32_t const_addr = 0;
    if (!fp16) {
        const_addr = op_param_add(pa, y.const_rows * c * 4, &p);
        for (uint32_t o = 0; p && o < cout; o++) {
            uint32_t j = o / c, lane = o % c;
            if (!op->multiplier) {
                op_put32(p, (2 * j) * c + lane, op->scale[o]);
                continue;
            }
            op_put32(p, (2 * j) * c + lane, (uint32_t)op->multiplier[o]);
            op_put32(p, (2 * j + 1) * c + lane, (uint32_t)op->shift[o]);
        }
        for (uint32_t lane = 0; p && lane < c; lane++) {
            op_put32(p, (2 * y.nt) * c + lane, 1u << 30);     /* conv_pack IDENTITY_MULTIPLIER */
            op_put32(p, (2 * y.nt + 1) * c + lane, 1);        /* IDENTITY_SHIFT */
        }
    } else if (op->scale) {
        const_addr = op_param_add(pa, 2 * y.nt * c * 4, &p);
        for (uint32_t o = 0; p && o < cout; o++)
            op_put32(p, (2 * (o / c)) * c + o % c, op->scale[o]);
    }
    uint32_t ident = op_param_add(pa, r * r * eb, &p);
    for (uint32_t i = 0; p && i < r; i++)
        op_put_one(p, i * r + i, eb);
    if (y.scratch * eb > 0xFFFFFFFFu)            /* beyond any parameter area */
        return NPU_E_NO_MEMORY;
    uint32_t scratch0 = op_param_add(pa, (uint32_t)(y.scratch * eb), &p);
    if (pa->err)
        return pa->err;

    struct em s = {list, cap, 0, 0, {0}};
    uint32_t pad = l->pad_value;
    walk_bad = 0;
    if (const_addr)
        load(&s, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, const_addr, 4 * c,
             y.const_rows - (fp16 ? 2 : 0), c, y.const_row);
    load(&s, DURE_NPU_TARGET_SPAD, elem, ident, r * eb, r, r, 0);
    /* the tile regions' borders: the same for every group; below slot i its bottom rows and
     * slot i + 1's top rows (the last slot: to th) */
    uint32_t right = g->wp - g->pl - g->width, pitch = y.pitch * g->wp;
    uint32_t region = y.tile_rows * g->wp;
    for (uint32_t tile = y.tile; tile < y.tile + y.tiles * region; tile += region) {
        if (g->pt)
            fill(&s, elem, pad, tile, g->pt * g->wp, cin, 0, 0);
        for (uint32_t i = 0; i < y.group; i++) {
            uint32_t slot = tile + i * pitch;
            uint32_t end = i + 1 < y.group ? y.pitch + g->pt : y.th;
            if (end > g->pt + g->height)
                fill(&s, elem, pad, slot + (g->pt + g->height) * g->wp,
                     (end - g->pt - g->height) * g->wp, cin, 0, 0);
            if (g->pl)
                fill(&s, elem, pad, slot + g->pt * g->wp, g->height * g->pl, cin, g->height,
                     g->wp);
            if (right)
                fill(&s, elem, pad, slot + g->pt * g->wp + g->pl + g->width, g->height * right,
                     cin, g->height, g->wp);
        }
    }
    /* image i's last STOREs after image i + 1's COMPUTEs, a group's last image's after the
     * next group's gather; with two tile regions the next group's images load while this
     * group's gather runs */
    struct cs tail = {&s, l, &y, 0, acc_init, eb, 0};
    int has_tail = 0;
    uint32_t ngroups = walk_cdiv(g->batch, y.group);
    struct next_tile first = {l, &y, 0, walk_min(y.group, g->batch), elem, eb, cin};
    for (uint32_t i = 0; y.tiles == 2 && i < first.count; i++)
        tile_load(&s, &first, i);
    for (uint32_t b = 0, n0 = 0; n0 < g->batch; b++, n0 += y.group) {
        uint32_t size = walk_min(y.group, g->batch - n0);
        uint32_t prow = (size - 1) * y.ppr + y.prow;
        uint64_t scratch = scratch0 + (uint64_t)b * y.gpos * y.lanes * eb;
        uint32_t tile = y.tile + (b % y.tiles) * region;
        struct next_tile nxt = {l, &y, b + 1, 0, elem, eb, cin};
        if (y.tiles == 2 && b + 1 < ngroups)
            nxt.count = walk_min(y.group, g->batch - (n0 + y.group));
        if (y.tiles == 1) {
            struct next_tile own = {l, &y, b, size, elem, eb, cin};
            for (uint32_t i = 0; i < size; i++)
                tile_load(&s, &own, i);
        }
        if (fp16) {
            fp16_gather(&s, g, &y, cin, scratch, prow, tile, has_tail ? &tail : NULL, &nxt);
        } else {
            /* the gather: highest lanes first, none accumulating */
            for (uint32_t idx = y.taps; idx-- > 0;) {
                uint32_t e = idx / g->kw, kx = idx % g->kw;
                compute(&s, DURE_NPU_PREC_INT8, 0, 0, tile + e * g->wp + kx, idx * cin, 0,
                        prow * g->ow, cin, (idx + 1) * cin, g->ow, prow, g->sw, y.d * g->wp,
                        0, 0);
                spread_loads(&s, &nxt, y.taps - idx, y.taps);
            }
            if (has_tail)
                last_stores(&tail);
            /* the identity STORE to the scratch rows */
            uint32_t *d = next(&s, DURE_NPU_OP_STORE);
            WPUT(d, STORE, OUT, DURE_NPU_OUT_INT8);
            WPUT(d, STORE, ACC_TYPE, DURE_NPU_PREC_INT8);
            WPUT(d, STORE, SCALE, 1);
            WPUT(d, STORE, REQUANT, DURE_NPU_REQUANT_TFLITE_DOUBLE_ROUNDING);
            WPUT(d, STORE, LO, (uint32_t)-128);
            WPUT(d, STORE, HI, 127);
            WPUT64(d, STORE, DRAM_ADDR, scratch);
            WPUT(d, STORE, DRAM_STRIDE, y.lanes);
            WPUT(d, STORE, ROWS, prow * g->ow);
            WPUT(d, STORE, COLS, y.lanes);
            WPUT(d, STORE, ACC_ADDR, 0);
            WPUT(d, STORE, SCALE_ADDR, y.const_row + 2 * y.nt);
        }
        has_tail = 0;
        if (b == 0) {
            /* the weights (and a group's bias rows) go while the gather runs */
            for (uint32_t j = 0; j < y.nt; j++) {
                uint32_t nn = walk_min(c, cout - j * c);
                load(&s, DURE_NPU_TARGET_SPAD, elem, w_addr + j * w_step, nn * eb, y.wslot, nn,
                     y.w0 + j * y.wslot);
            }
            for (uint32_t j = 0; y.held && l->has_acc_init && j < y.nt; j++)
                load(&s, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, acc_init + 4 * j * c, 4 * c,
                     1, walk_min(c, cout - j * c), y.bias_row + j);
        }
        next(&s, DURE_NPU_OP_FENCE);
        load(&s, DURE_NPU_TARGET_SPAD, elem, scratch, y.lanes * eb, prow * g->ow, y.lanes,
             y.packed);
        for (uint32_t i = 0; i < size; i++) {
            struct cs t = {&s, l, &y, n0 + i, acc_init, eb, i};
            conv_stream(&t, y.defer);
            if (has_tail)
                last_stores(&tail);
            tail = t;
            has_tail = y.defer;
        }
    }
    if (has_tail)
        last_stores(&tail);
    if (s.err)
        return s.err;
    if (walk_bad)
        return NPU_E_ARG;
    if (list && npu_op_flush)
        npu_op_flush(list, s.count);
    return (int)s.count;
}
