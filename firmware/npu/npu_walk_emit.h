/* npu_walk_emit.h: what the walk engine's stream files share (npu_walk_cmds.c,
 * npu_walk_stream.c, npu_walk_emit.c: together the C port of sim/walk_emit.py's
 * walk_descriptors), internal to them; the operators use npu_walk.h. */
#ifndef NPU_WALK_EMIT_H
#define NPU_WALK_EMIT_H

#include "npu_walk.h"

/* One command with the rows it touches (_Cmd); -1: none. */
struct cmd {
    uint32_t d[8];
    int32_t sw0, sw1, aw0, aw1, ar0, ar1;
};

#define STAGE_WORDS 10u       /* key (2 words) and the descriptor */

/* The stream being written. */
struct out {
    uint32_t *list;           /* NULL: count only */
    uint32_t cap, cur, need;
    uint32_t ncomp, nside;    /* of the unit being written */
    int err;
    /* bounds of the SPAD rows the unit's COMPUTEs read (A tile rows [rmin, rmax), weight rows
     * [wmin, wmax): two ranges, so that a LOAD between them, as the other weight buffer,
     * needs no search) and of the ACC rows they write: a side command outside them needs no
     * search */
    int32_t rmin, rmax, wmin, wmax, amin, amax;
};

/* Everything walk_descriptors' closures share. */
struct walk {
    const struct walk_layer *l;
    const struct walk_plan *p;
    struct out *o;
    uint32_t eb, elem, cc, th_full, tile0, nt, blocks, groups, nunits, x_pix, o_pix;
    /* the side-command sink of the moment */
    int mode;                 /* SINK_SIDE, SINK_PRE, SINK_FLOOR */
    uint32_t side_total, side_index, side_last;
    /* no side command before this COMPUTE: the slot of the first unit's last tile LOAD */
    uint32_t side_floor;
    /* the first unit's tile LOADs / FILLs it does not read (spread) */
    uint32_t late_total;
    /* the COMPUTEs of the unit being written: per tap, per sub-block; ACC base */
    uint32_t per_tap, nsub, gcount, acc_unit;
    /* whether those COMPUTEs are in one wave and one chunk range (tap, input chunk, group
     * chunk, sub-block), so step_chunks' index arithmetic holds; else the searches scan */
    int indexed;
    /* and its first chunk, output rows, index and tile base (step_chunks) */
    uint32_t u_j0, u_rows, u_index, u_base;
    /* the joint first wave (walk_joint_first): the first part's output rows (0: none) and
     * the first unit's (one wave, one sub-block) */
    uint32_t joint_h, joint_rows;
    /* the FP16 joint first wave (walk_fp16_joint): its output rows (0: none) */
    uint32_t fp16_joint;
    /* the bytes of the first unit's image LOADs of each wave sunk so far (SINK_PRE;
     * npu_walk_stream.c's wave_ahead_slot) */
    uint32_t wave_cum[WALK_WAVES_MAX];
};

enum { SINK_SIDE, SINK_PRE, SINK_COUNT, SINK_LAST, SINK_FLOOR };

struct unit {
    uint32_t n, oy0, rows, j0, gcount, index, block;
    uint32_t tile, c0;    /* its tile buffer (by block, by unit if diagonal), first chunk */
};

/* npu_walk_stream.c: the stream being written and the side commands' slots */
void walk_cmd_new(struct cmd *c, uint32_t opcode);
/* A descriptor straight into the list (the prologue). */
void walk_emit_direct(struct out *o, const uint32_t *d);
/* A side command staged as a record with its sort key (key_hi / 4: after which COMPUTE). */
void walk_stage(struct out *o, const struct cmd *c, uint32_t key_hi, uint32_t key_lo);
uint32_t *walk_stage_at(struct out *o, uint32_t s);
/* The unit's COMPUTEs and its staged records, merged (stable by key) into their places. */
void walk_finish_unit(struct out *o);
/* The last COMPUTE before `limit` of the unit reading SPAD rows [s0, s1), plus one (0: none). */
uint32_t walk_last_reader_end(struct walk *w, int32_t s0, int32_t s1, uint32_t limit);
/* A side command of the unit being written, into the slot of w->mode. */
void walk_sink(struct walk *w, const struct cmd *c);

/* npu_walk_cmds.c: the units and their LOADs / STOREs (each through walk_sink) */
/* The LOAD of the STOREs' parameter rows (l->const_rows of them) into c. */
void walk_const_load(const struct walk *w, struct cmd *c);
void walk_unit_at(const struct walk *w, uint32_t i, struct unit *u);
/* Whether the layer's first / last units go in waves (not in the taps weight mode). */
int walk_waved(const struct walk *w);
/* INT8 convolutions: the first unit takes its input chunks outermost (walk_emit's c_outer) */
int walk_c_outer(const struct walk *w);
/* walk_computes' first_tap_swap: with the NPU's row-exact hazards (npu_info.row_hazard)
 * and the pair LOAD (has_pairs) the first unit takes input chunk 0's tap 1 before its tap 0
 * (a window column off a one-column left padding, so the side FILL follows its first
 * COMPUTE) */
int walk_first_tap_swap(const struct walk *w);
/* The tap an INT8 depthwise layer on the element-wise MAC takes first (alone) in its first
 * unit, or -1 (walk_computes' dw_first_tap). */
int walk_dw_first_tap(const struct walk *w);
/* walk_emit's head order: with row-exact hazards and the pair LOAD the first COMPUTE's FILLs
 * go ahead of its weights and starting-value rows (staged with key_lo 0, the others 1) */
int walk_fills_first(const struct walk *w);
/* walk_emit's head as one LIST (INT8, walk_layer.listed) with walk_fills_first: the
 * starting-value rows (key_lo 1) ahead of the weights and image rows (key_lo 2) */
int walk_bias_ahead(const struct walk *w);
/* walk_computes' first_halves: the output rows of the parts of input chunk 0 of a 1x1 first
 * unit (a wave of `rows`, a chunk range of `gcount`) but the last into cuts (a quarter and a
 * third with four chunks or more, the quarter rounded up with the first pair copy, or a
 * third); returns their count, 0 when it is not split */
uint32_t walk_first_parts(const struct walk *w, uint32_t rows, uint32_t gcount,
                          uint32_t *cuts);
/* walk_computes' first_pair_applies on a walk (its first unit's input chunk 0 in three
 * parts, its first two output chunks of one width) */
int walk_first_pair(const struct walk *w);
/* walk_cmds' last_halves: the first wave's output rows of the last chunk range (one chunk) of
 * a 1x1 last unit, 0 when it is not split */
uint32_t walk_last_half(const struct walk *w, const struct unit *u);
uint32_t walk_waves_of(const struct walk *w, const struct unit *u, uint32_t (*wv)[2]);
/* walk_cmds' joint_first: the first part's output rows when the first unit also computes
 * input chunk 0 of the second unit's output chunk for the taps of the window's first row, in
 * two parts of its rows (the second part the rest of its one wave, w->joint_rows), 0 when it
 * does not (w->joint_h once walk_emit has set it) */
uint32_t walk_joint_first(struct walk *w);
/* walk_cmds' fp16_joint_rows: the output rows of an FP16 first unit's first wave when that
 * wave also computes the second unit's output chunk over them (the second unit then computes
 * its other rows), 0 when it does not (w->fp16_joint once walk_emit has set it) */
uint32_t walk_fp16_joint(const struct walk *w);
/* SPAD row of tap t's weight matrix of chunk j (the group's jj-th) for unit u_index. */
uint32_t walk_weight_row(const struct walk *w, uint32_t u_index, uint32_t jj, uint32_t j,
                         uint32_t t);
uint32_t walk_tile_base(const struct walk *w, uint32_t block);
uint32_t walk_acc_base(const struct walk *w, uint32_t u_index);
/* The STOREs of a unit: per chunk (split: per chunk and sub-block of the last unit's waves). */
void walk_stores(struct walk *w, const struct unit *u, int split);
/* The output chunks whose starting-value rows go ahead of the first COMPUTE (walk_emit.py's
 * g0): with input chunks outermost only the first unit's, when two rows or more are left. */
uint32_t walk_bias_split(const struct walk *w);
/* The LOADs of output chunks [j_lo, j_hi)'s starting-value rows (whole chunks in one LOAD, a
 * partial last chunk in its own): straight into the list (BIAS_DIRECT), to walk_sink
 * (BIAS_SINK) or staged ahead of the first COMPUTE in their order among the first unit's own
 * LOADs (BIAS_FIRST: with the pair LOAD, after its weights; walk_emit.py's first_bias) or
 * right after the first COMPUTE (BIAS_AFTER_FIRST: with the first pair copy, the group's
 * rows past its first two chunks; walk_emit.py's mid_bias). */
enum { BIAS_SINK = 0, BIAS_DIRECT = 1, BIAS_FIRST = 2, BIAS_AFTER_FIRST = 3 };
void walk_bias_loads(struct walk *w, uint32_t j_lo, uint32_t j_hi, int how);
/* Unit i's side commands: the previous unit's STOREs, the next unit's LOADs. */
void walk_side_commands(struct walk *w, uint32_t i, const struct unit *u);
/* The first unit's own LOADs (border FILLs, tile, ACC init, weights). */
void walk_pre_commands(struct walk *w, const struct unit *u);

#endif
