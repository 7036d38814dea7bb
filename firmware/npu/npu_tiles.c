/* npu_tiles.c: several NPU tiles (SoCConfig.npu_tiles): selecting a tile, recording command
 * streams as LISTs, and a GEMM split across tiles (npu.h, "several NPU tiles").
 *
 * Why LISTs: one core cannot push descriptors for several tiles at once (a push to a full
 * queue holds the core until that tile drains, and one tile's stream already takes most of the
 * core's time on an 8x8 array). So each tile's share is recorded once into a list in main
 * memory, and running it is one LIST doorbell per tile: the tiles then fetch their commands
 * themselves, in parallel, and the core only waits. */
#include "npu.h"

#include "csr.h"
#include "dure_soc.h"
#include "npu_hw.h"

#if NPU_MULTI_TILE
uintptr_t npu_tile_base = DURE_NPU_BASE;
uint32_t *npu_rec, *npu_rec_end;
uint32_t npu_rec_shadow[9];
static uint32_t *rec_start;
static unsigned tile_index;
#endif

unsigned npu_tile_count(void)
{
    return DURE_NPU_PRESENT ? DURE_NPU_TILES : 0;
}

int npu_tile_select(unsigned tile)
{
    if (tile >= npu_tile_count())
        return NPU_E_ARG;
#if NPU_MULTI_TILE
    npu_tile_base = DURE_NPU_BASE + tile * DURE_NPU_TILE_STRIDE;
    tile_index = tile;
#endif
    return 0;
}

unsigned npu_tile_current(void)
{
#if NPU_MULTI_TILE
    return tile_index;
#else
    return 0;
#endif
}

int npu_tiles_init(void)
{
    int err = 0;
    for (unsigned t = 0; t < npu_tile_count() && !err; t++) {
        npu_tile_select(t);
        err = npu_init();
    }
    npu_tile_select(0);
    return npu_tile_count() ? err : NPU_E_NO_DEVICE;
}

int npu_record_begin(uint32_t *list, uint32_t cap)
{
#if NPU_MULTI_TILE
    static uint32_t none[8];
    if ((list == 0) != (cap == 0))
        return NPU_E_ARG;
    rec_start = npu_rec = list ? list : none;   /* counting only: nothing is written */
    npu_rec_end = list ? list + 8 * cap : none;
    return 0;
#else
    (void)list;
    (void)cap;
    return NPU_E_UNSUPPORTED;
#endif
}

int npu_record_end(uint32_t *count)
{
#if NPU_MULTI_TILE
    uint32_t n = (uint32_t)(npu_rec - rec_start) / 8;
    int over = npu_rec > npu_rec_end;
    npu_rec = 0;
    *count = n;
    return over ? NPU_E_NO_MEMORY : 0;
#else
    *count = 0;
    return NPU_E_UNSUPPORTED;
#endif
}

#define NPU_LIST_MAX 65535u              /* entries of one LIST */

static uint32_t elem_bytes(int prec)
{
    return prec == NPU_FP16 ? 2 : 1;
}

static uint32_t out_bytes(int out)
{
    return out == NPU_OUT_INT8 ? 1 : out == NPU_OUT_FP16 ? 2 : 4;
}

/* Share `part` of `parts` of `units` units: [*first, *first + return value). */
static uint32_t share(uint32_t units, unsigned parts, unsigned part, uint32_t *first)
{
    uint32_t base = units / parts, extra = units % parts;
    *first = part * base + (part < extra ? part : extra);
    return base + (part < extra);
}

/* g restricted to tile t's share; 0 when it has none. */
static int sub_gemm(const struct npu_gemm *g, unsigned tiles, unsigned t, int dim,
                    struct npu_gemm *sub)
{
    *sub = *g;
    if (dim == NPU_SPLIT_ROWS) {
        uint32_t m0, mm = share(g->m, tiles, t, &m0);
        sub->m = mm;
        sub->a = (const char *)g->a + m0 * g->a_stride;
        sub->out = (char *)g->out + m0 * g->out_stride;
        return mm != 0;
    }
    uint32_t c = npu_get_info()->cols, nt = (g->n + c - 1) / c, j0;
    uint32_t nj = share(nt, tiles, t, &j0), n0 = j0 * c;
    if (!nj)
        return 0;
    sub->n = (n0 + nj * c < g->n ? n0 + nj * c : g->n) - n0;
    sub->b = (const char *)g->b + n0 * elem_bytes(g->prec);
    sub->out = (char *)g->out + n0 * out_bytes(g->out_type);
    if (g->bias)
        sub->bias = (const char *)g->bias + 4 * n0;
    if (g->scale)
        sub->scale = g->scale + n0;
    return 1;
}

static int record_gemm(const struct npu_gemm *g, uint32_t *list, uint32_t cap, uint32_t *count)
{
    int err = npu_record_begin(list, cap);
    if (err)
        return err;
    int gerr = npu_gemm_submit(g);
    err = npu_record_end(count);
    return gerr ? gerr : err;
}

int npu_gemm_split(const struct npu_gemm *g, unsigned tiles, int dim, struct npu_split *s)
{
    if (!tiles || tiles > npu_tile_count() || (dim != NPU_SPLIT_COLS && dim != NPU_SPLIT_ROWS))
        return NPU_E_ARG;
    if (tiles > 1 && !NPU_MULTI_TILE)
        return NPU_E_UNSUPPORTED;
    s->tiles = 0;
    for (unsigned t = 0; t < tiles; t++) {
        struct npu_gemm sub;
        if (!sub_gemm(g, tiles, t, dim, &sub))
            break;                      /* shares are in order: the rest are empty too */
        /* record into all the free space, then keep what the list used (bump allocator:
         * the same address comes back) */
        void *mark = npu_alloc_mark();
        uint32_t room = (uint32_t)(npu_alloc_free(32) / 32);
        uint32_t *list = room ? npu_alloc(32 * room, 32) : 0;
        if (!list)
            return NPU_E_NO_MEMORY;
        int err = record_gemm(&sub, list, room, &s->count[t]);
        npu_alloc_release(mark);
        if (err)
            return err;
        if (npu_alloc(32 * s->count[t], 32) != list)
            return NPU_E_NO_MEMORY;
        s->list[t] = list;
        s->tiles = t + 1;
    }
    return s->tiles ? 0 : NPU_E_ARG;
}

int npu_split_run(struct npu_split *s)
{
    uint32_t d[8], pending = 0, start = rdcycle();
    for (unsigned t = 0; t < s->tiles; t++) {
        npu_tile_select(t);
        for (uint32_t at = 0; at < s->count[t]; at += NPU_LIST_MAX) {
            uint32_t n = s->count[t] - at < NPU_LIST_MAX ? s->count[t] - at : NPU_LIST_MAX;
            npu_run_list(s->list[t] + 8 * at, n);
        }
    }
    npu_cmd_fence(d, 0);
    for (unsigned t = 0; t < s->tiles; t++) {
        npu_tile_select(t);
        npu_push(d);
        pending |= 1u << t;
    }
    s->launch = rdcycle() - start;
    while (pending)
        for (unsigned t = 0; t < s->tiles; t++)
            if (pending & (1u << t)) {
                npu_tile_select(t);
                if (!npu_busy()) {
                    s->done[t] = rdcycle() - start;
                    pending &= ~(1u << t);
                }
            }
    int err = 0;
    for (unsigned t = 0; t < s->tiles && !err; t++) {
        npu_tile_select(t);
        err = (int)npu_error(0);
    }
    npu_tile_select(0);
    return err;
}

int npu_gemm_tiles(const struct npu_gemm *g, unsigned tiles, int dim)
{
    struct npu_split s;
    void *mark = npu_alloc_mark();
    int err = npu_gemm_split(g, tiles, dim, &s);
    if (!err)
        err = npu_split_run(&s);
    npu_alloc_release(mark);
    return err;
}
