/* npu_walk.h: the windowed-operator engine, internal to the driver library.
 *
 * The C port of sim/walk_*.py, file for file: an operator describes its layer as a struct
 * walk_layer (sim/walk_layer.py's WalkLayer), walk_plan picks the blocking (npu_walk_plan.c:
 * sim/walk_plan.py's plan_walk), walk_unit_waves / walk_chunk_waves cut the first and last
 * units (npu_walk_waves.c: sim/walk_waves.py) and walk_emit writes the stream (npu_walk_emit.c,
 * npu_walk_cmds.c, npu_walk_stream.c: sim/walk_emit.py's walk_descriptors). Same search, same
 * integer cost, same order, word for word. */
#ifndef DURE_NPU_WALK_H
#define DURE_NPU_WALK_H

#include <stdint.h>

#include "npu_ops.h"

/* 1 when this variant's NPU has the element-wise unit (its MAC takes INT8 depthwise and
 * global pooling); 0 without it or without an NPU (the generated header then defines no
 * DURE_NPU_HAS_ELTWISE, which #if reads as 0). */
#if DURE_NPU_HAS_ELTWISE
#define NPU_WALK_ELTWISE 1
#else
#define NPU_WALK_ELTWISE 0
#endif

/* 1 when the element-wise unit also has its FP16 MAC (config.npu_eltwise_fp16_mac: FP16
 * depthwise on pair MACs, conv_plan's default there), else 0. */
#if DURE_NPU_HAS_ELTWISE_FP16
#define NPU_WALK_ELTWISE_FP16 1
#else
#define NPU_WALK_ELTWISE_FP16 0
#endif

struct walk_geo {
    uint32_t batch, height, width, kh, kw, sh, sw, oh, ow, pt, pl, hp, wp;
};

struct walk_layer {
    struct walk_geo g;
    int prec;
    uint32_t cin, cout, k_chunk, n_chunk;
    int diagonal;
    uint32_t x_addr, out_addr, pad_value, out_bytes;
    /* STORE fields common to every STORE (scale_addr set per STORE when st_scale) */
    uint32_t st_out, st_acc_type, st_scale, st_requant, st_clamp, st_lo, st_hi;
    int32_t st_zero_point;
    /* weights: chunk j's matrix at w_addr + j * w_step (has_weights), or one shared matrix */
    int has_weights;
    uint32_t w_addr, w_step;
    int has_shared;
    uint32_t shared_addr, shared_rows;
    int has_acc_init;
    uint32_t acc_init;
    uint32_t const_addr, const_rows, const_stride, const_per_chunk;
    /* pooling: STOREs per run of equal window count; count_index[n] = its constant rows'
     * index (times runs_per) */
    int runs;
    uint32_t runs_per;
    const uint16_t *count_index;
    /* INT8 depthwise on the element-wise unit: every tap an ELTWISE MAC whose weight row is
     * the tap's (chunk j's matrix: one row per tap), WalkLayer.eltwise_mac */
    int eltwise_mac;
    /* with eltwise_mac: taps 2t and 2t + 1 (row-major) one pair MAC (tap_step: the distance of
     * their tile rows; consecutive weight rows), WalkLayer.eltwise_pair; no taps weight mode */
    int eltwise_pair;
    /* max pooling: every tap an ELTWISE MAX (accumulate after the first tap) instead of a
     * COMPUTE, no weights (has_shared with shared_rows 0), WalkLayer.eltwise_max */
    int eltwise_max;
    /* the first unit's weights of taps 0 and 1 of input chunk 0, contiguous, per output
     * chunk of its group: chunk j's copy at pair_addr + j * pair_step (has_pairs; set once
     * planned, where walk_pair_applies holds: WalkLayer.pair_weights) */
    int has_pairs;
    uint32_t pair_addr, pair_step;
    /* the joint first wave's weights (walk_joint_applies): per tap t of the window's first
     * row, the second unit's chunk's rows of tap t of input chunk 0, then the first unit's,
     * contiguous, at joint_addr + t * 2 * kc * nn * eb (has_joint, then no pair copies; set
     * once planned: WalkLayer.joint_weights) */
    int has_joint;
    uint32_t joint_addr;
    /* the weight rows of input chunk 0 of the first unit's first two output chunks,
     * contiguous, at first_pair_addr (has_first_pair; set once planned, where
     * walk_first_pair_applies holds: WalkLayer.first_pair); not in walk_first_copied */
    int has_first_pair;
    uint32_t first_pair_addr;
    /* walk_descriptors' spread (border FILLs per channel chunk, the first unit's unread tile
     * LOADs spread between its COMPUTEs); with a 1x1 stride-1 kernel also plan_walk's
     * startup (the first unit's wait for its data counted in the search) */
    int spread;
    /* walk_descriptors' listed: the stream runs as one LIST, not pushed (an INT8 head ordered
     * for that feed: walk_bias_ahead) */
    int listed;
};

struct walk_plan {
    uint32_t bh, sbh, gn, wmode, tbufs, slot, w_rows, tile_rows, acc_half, const_row;
};

enum { WALK_RESIDENT, WALK_DOUBLE, WALK_SINGLE, WALK_TAPS, WALK_SHARED };

/* The Geometry of sim/walk_layer.py (TFLite's padding); NPU_E_ARG for zero sizes or a VALID
 * window larger than the input. */
int walk_geometry(struct walk_geo *g, uint32_t n, uint32_t h, uint32_t w, uint32_t kh,
                  uint32_t kw, uint32_t sh, uint32_t sw, int padding);
/* In-bounds taps of output o along one axis (pooling window counts). */
int32_t walk_count(uint32_t o, uint32_t size, uint32_t k, uint32_t s, uint32_t before);
int walk_plan(const struct walk_layer *layer, struct walk_plan *plan);
/* Whether the layer's first unit takes its input chunks outermost (sim/walk_cmds.py
 * chunks_outer: INT8 on the array, several input chunks, not the taps weight mode), and
 * whether, with two taps or more, its weights of taps 0 and 1 of input chunk 0 come in one
 * LOAD of a contiguous copy (pair_applies; the layer's planner lays the copies out). */
int walk_chunks_outer(const struct walk_layer *l, const struct walk_plan *p);
int walk_pair_applies(const struct walk_layer *l, const struct walk_plan *p);
/* Whether the layer's first unit computes the joint first wave (walk_joint_first) with its
 * weights from a copy (walk_cmds.py's joint_copy_applies: two output chunks of one width);
 * then *j0, *j1: the first two units' output chunks. */
int walk_joint_applies(const struct walk_layer *l, const struct walk_plan *p, uint32_t *j0,
                       uint32_t *j1);
/* Whether the first unit's input chunk 0 goes in three parts with its first two output
 * chunks' weights of it in one LOAD of a copy (walk_computes.py's first_pair_applies: INT8
 * 1x1, four output chunks a group or more, those two of one width); then *j0: the first. */
int walk_first_pair_applies(const struct walk_layer *l, const struct walk_plan *p,
                            uint32_t *j0);
/* Whether the first unit's first weights come from a copy (WalkLayer.first_copied). */
static inline int walk_first_copied(const struct walk_layer *l)
{
    return l->has_pairs || l->has_joint;
}

/* Most waves of a unit (two halvings of 16-bit row counts, 17 each, with room). */
#define WALK_WAVES_MAX 40u
/* sim/walk_waves.py unit_waves: the (w0, wr) output-row ranges of a unit of rows x gcount
 * chunks in COMPUTE order (first / last: the layer's first / last unit) into wv; returns
 * their count (at most WALK_WAVES_MAX). */
uint32_t walk_unit_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount, int first,
                         int last, uint32_t (*wv)[2]);
/* The lead tap of INT8 depthwise on narrow maps over output rows [oy0, oy0 + rows), or -1
 * (walk_waves.py's dw_lead_tap). */
int walk_dw_lead(const struct walk_layer *l, uint32_t oy0, uint32_t rows);
/* sim/walk_waves.py chunk_waves: the (c0, cn) ranges of a unit's gcount output chunks in
 * COMPUTE order (last: the layer's last unit) into cw; returns their count. */
uint32_t walk_chunk_waves(const struct walk_layer *l, uint32_t rows, uint32_t gcount, int last,
                          uint32_t (*cw)[2]);
/* The stream; returns the count (list) or the capacity needed (list NULL), or NPU_E_*. */
int walk_emit(const struct walk_layer *layer, const struct walk_plan *plan, uint32_t *list,
              uint32_t cap);

/* Descriptor fields with the range check of rtl/npu/descriptor.py encode (a value that does
 * not fit sets walk_bad: the Python planner raises ValueError there). WPUT takes a uint32
 * value (inline: the field's position folds away), WPUT64 any int64 (a 32-bit field takes
 * [-2^31, 2^32)). */
extern int walk_bad;
void walk_put(uint32_t *d, uint32_t word, uint32_t lsb, uint32_t width, int64_t value);

static inline void walk_put32(uint32_t *d, uint32_t word, uint32_t lsb, uint32_t width,
                              uint32_t value)
{
    if (width < 32 && (value >> (width & 31u)) != 0)
        walk_bad = 1;
    d[word] |= value << lsb;
}

#define WPUT(d, OP, F, v) \
    walk_put32((d), DURE_NPU_##OP##_##F##_WORD, DURE_NPU_##OP##_##F##_LSB, \
               DURE_NPU_##OP##_##F##_WIDTH, (uint32_t)(v))
#define WPUT64(d, OP, F, v) \
    walk_put((d), DURE_NPU_##OP##_##F##_WORD, DURE_NPU_##OP##_##F##_LSB, \
             DURE_NPU_##OP##_##F##_WIDTH, (int64_t)(v))
#define WGET(d, OP, F) \
    (((d)[DURE_NPU_##OP##_##F##_WORD] >> DURE_NPU_##OP##_##F##_LSB) & \
     (uint32_t)(((uint64_t)1 << DURE_NPU_##OP##_##F##_WIDTH) - 1))

static inline uint32_t walk_cdiv(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

/* a / b without the 64-bit divide the firmware's runtime does not have (shift and subtract). */
static inline uint64_t walk_div64(uint64_t a, uint32_t b)
{
    if (!(a >> 32))
        return (uint32_t)a / b;       /* the usual case: one divide instruction */
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = (r << 1) | ((a >> i) & 1u);
        if (r >= b) {
            r -= b;
            q |= (uint64_t)1 << i;
        }
    }
    return q;
}

static inline uint32_t walk_min(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static inline uint32_t walk_max(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* The layer's derived sizes (WalkLayer's properties). */

static inline uint32_t elem_bytes(const struct walk_layer *l)
{
    return l->prec == NPU_FP16 ? 2 : 1;
}

static inline uint32_t out_chunks(const struct walk_layer *l)
{
    return walk_cdiv(l->cout, l->n_chunk);
}

static inline uint32_t kin_chunks(const struct walk_layer *l)
{
    return walk_cdiv(l->cin, l->k_chunk);
}

/* Tiles per unit (WalkLayer.unit_tiles): INT8 depthwise on the element-wise MAC and FP16
 * depthwise (diagonal without a shared weight), whose unit reads only its group's own input
 * chunks; other layers' tiles are per block. */
static inline int unit_tiles(const struct walk_layer *l)
{
    return l->diagonal && (l->eltwise_mac || (l->prec == NPU_FP16 && !l->has_shared));
}

/* Input chunks one tile buffer holds (WalkLayer.tile_chunks). */
static inline uint32_t tile_chunks(const struct walk_layer *l, uint32_t gn)
{
    return unit_tiles(l) ? walk_min(gn, kin_chunks(l)) : kin_chunks(l);
}

static inline uint32_t chunk_cols(const struct walk_layer *l, uint32_t j)
{
    return walk_min(l->n_chunk, l->cout - j * l->n_chunk);
}

static inline uint32_t in_cols(const struct walk_layer *l, uint32_t c)
{
    return walk_min(l->k_chunk, l->cin - c * l->k_chunk);
}

static inline uint32_t kin(const struct walk_layer *l, uint32_t j)
{
    if (l->eltwise_mac)
        return 1;
    return l->diagonal ? chunk_cols(l, j) : l->cin;
}

/* ACC rows holding the starting values for the whole layer (WalkLayer.init_rows): one per
 * output chunk, at plan const_row + const_rows + j (the first tap of every ACC row starts
 * from the chunk's row: COMPUTE init_row, or ELTWISE MAC init_row on the element-wise unit);
 * 0 without acc_init and for max pooling. */
static inline uint32_t walk_init_rows(const struct walk_layer *l)
{
    return l->has_acc_init && !l->eltwise_max ? out_chunks(l) : 0;
}

/* MAC steps per window: KH * KW taps, ceil(KH * KW / 2) pair MACs with eltwise_pair. */
static inline uint32_t walk_steps(const struct walk_layer *l)
{
    uint32_t taps = l->g.kh * l->g.kw;
    return l->eltwise_mac && l->eltwise_pair ? (taps + 1) / 2 : taps;
}

static inline uint32_t weight_rows(const struct walk_layer *l, uint32_t j)
{
    return l->g.kh * l->g.kw * kin(l, j);
}

/* --- what the layer operators share (npu_op_util.c) ----------------------------------------- */

/* The parameter area (sim/layer_program.py ParamArea): pieces of 16-byte aligned sizes. */
struct op_params {
    const struct npu_op_mem *mem;
    uint32_t end;              /* bytes used */
    int err;
};

/* Place `bytes` bytes; returns their NPU address, *p where the core writes them (NULL when
 * not written). The alignment gap after them is zeroed. */
uint32_t op_param_add(struct op_params *pa, uint32_t bytes, uint8_t **p);
void op_put32(uint8_t *p, uint32_t i, uint32_t v);
/* element i (eb bytes) of p = element k of the int8 / f16 array src */
void op_put_elem(uint8_t *p, uint32_t i, uint32_t eb, const void *src, uint32_t k);
/* element i = 1 (int8) / 1.0 (fp16) */
void op_put_one(uint8_t *p, uint32_t i, uint32_t eb);
int op_check_device(int prec);
int op_in_int8(int32_t v);
/* The fields of a LOAD from main memory (range-checked like WPUT64) into d, whose words the
 * caller has cleared and whose opcode it has set. */
void op_put_load(uint32_t *d, uint32_t target, uint32_t elem, uint64_t dram, uint32_t stride,
                 uint32_t rows, uint32_t cols, uint32_t local);
/* The STORE of the layer (conv_plan's _int8_store / _fp16_store). */
int op_set_store(struct walk_layer *l, int prec, const struct npu_op_post *post, int scale,
                 uint32_t requant);
/* A pooling layer's arguments (sizes, window of at most DURE_NPU_WALK_POOL_MAX_WINDOW taps,
 * 16-byte aligned parameter area) and its geometry into l->g: 0, or NPU_E_ARG. */
int op_pool_geometry(const struct npu_op_pool *op, struct walk_layer *l);
/* The walk layer fields average and max pooling share: channels in chunks of lc lanes, each
 * output chunk reading its own input chunk (diagonal), the operator's input and output, a
 * shared weight (the identity, or none), constant rows lc words apart shared by all chunks. */
void op_pool_layer(const struct npu_op_pool *op, uint32_t lc, struct walk_layer *l);
/* The end of an operator that emitted `count` descriptors itself: NPU_E_ARG if a field did
 * not fit (walk_bad), the parameter area's error, else the list flushed (npu_op_flush) and
 * the count. */
int op_list_done(const struct op_params *pa, const uint32_t *list, uint32_t count);
/* walk_plan then walk_emit; the count, or NPU_E_*. */
int op_finish(const struct walk_layer *l, const struct op_params *pa, uint32_t *list,
              uint32_t cap);

/* The packed plan of a small-Cin INT8 or FP16 convolution (npu_conv_pack.c,
 * sim/conv_pack.py): whether it applies (pack_applies with cout output channels and the
 * precision prec), and its stream after the folded bias (INT8) or fp32 bias (FP16, when
 * l->has_acc_init) at acc_init (the layer's geometry, addresses, pad value and STORE fields
 * set in l); the count (list NULL: the capacity needed), or NPU_E_*. */
int conv_pack_applies(const struct walk_geo *g, uint32_t cin, uint32_t cout, int prec);
int conv_pack(const struct npu_op_conv *op, const struct walk_layer *l, struct op_params *pa,
              uint32_t acc_init, uint32_t *list, uint32_t cap);

#endif
