"""The GEMM planner's cost model constants: the contract between the Python planner
(:mod:`dure.sim.gemm_plan`) and the firmware's C planner (firmware/npu/npu_gemm_plan.c).

Both run the same blocking search with the same integer cost estimate (see
:mod:`dure.sim.gemm_plan`), so both must use the same numbers: Python imports them from here,
and ``dure_npu.h`` (:func:`dure.header.generate_npu_header`) defines each entry of
:data:`COST_MODEL` as ``DURE_NPU_GEMM_<name>`` for C. They are estimates of the sim SoC, not
hardware parameters: changing one changes the plans (and so the streams) on both sides at once.
"""

__all__ = ["CMD_CYCLES", "BYTES_PER_CYCLE", "LATENCY", "MC_MAX", "RELOAD", "MBLK_MAX",
           "COST_MODEL", "WALK_PUSH_CYCLES", "WALK_DESCRIPTOR_WEIGHT", "WALK_JIT_LEAD",
           "POOL_MAX_WINDOW", "ADD_BLOCK_ROWS", "WALK_ELTWISE_OVERHEAD", "WALK_MAC_PIXELS",
           "WALK_GLOBAL_PAIR", "WALK_GLOBAL_SLAB", "WALK_PACK_PASS_CHUNKS", "WALK_PIECE_ROWS",
           "WALK_SPLIT_MIN_CHUNKS", "WALK_DW_TAIL_PIXELS", "WALK_TAIL_PORT_BYTES",
           "WALK_FP16_EVEN_WAVE_CHUNKS", "WALK_MODEL"]

#: Estimated core cycles per pushed descriptor, any kind (firmware npu_gemm on the sim SoC).
CMD_CYCLES = 40
#: Main-memory bytes per cycle assumed by the cost estimate.
BYTES_PER_CYCLE = 4
#: Cycles from a COMPUTE's row to its result in the ACC (8x8 dual precision: array latency 60
#: + 2): also the shortest period of an accumulate chain on the same ACC rows, whose links the
#: execute unit orders per row (a link takes ``max(m, LATENCY)``).
LATENCY = 64
#: Largest COMPUTE (rows) the search starts from.
MC_MAX = 128
#: Array cycles per weight row to switch weight sets (a COMPUTE takes at least RELOAD * R).
#: With the shadow weight banks a new weight set enters every ~15 cycles on the 8x8 (8 rows
#: read, bank turn-around): 2 per row (it was 8 with one bank).
RELOAD = 2
#: Largest M block (rows of one LOAD / STORE / COMPUTE: the 16-bit ``rows`` / ``m`` fields).
MBLK_MAX = 0xFFFF

#: Every constant above by name (the header's ``DURE_NPU_GEMM_<name>``).
COST_MODEL = {"CMD_CYCLES": CMD_CYCLES, "BYTES_PER_CYCLE": BYTES_PER_CYCLE, "LATENCY": LATENCY,
              "MC_MAX": MC_MAX, "RELOAD": RELOAD, "MBLK_MAX": MBLK_MAX}

# The windowed-operator engine (sim/walk_*.py), the layer planners on it (sim/conv_plan.py,
# conv_pack.py, pool_plan.py) and the element-wise ADD (sim/eltwise_plan.py), searched and
# emitted alike by their C port (firmware/npu/npu_walk*.c, npu_conv*.c, npu_*pool.c, npu_add*.c):
# the header's ``DURE_NPU_WALK_<name>``.
#: Estimated cycles to hand one descriptor to the NPU (the walk planner's cost estimate only).
WALK_PUSH_CYCLES = 12
#: Tie-break weight of a descriptor in the walk's blocking search (cycles).
WALK_DESCRIPTOR_WEIGHT = 4
#: The first unit's LOADs go this many COMPUTEs ahead of the first one that needs them, per
#: element byte on the array (FP16: twice as many) and as is on the element-wise unit
#: (sim/walk_emit.py; swept in docs/layer_fixed_cost.md, session 12).
WALK_JIT_LEAD = 2
#: Largest window (KH * KW) the average-pooling programs accept.
POOL_MAX_WINDOW = 256
#: Rows per block of the FP16 ADD.
ADD_BLOCK_ROWS = 256
#: Cycles an ELTWISE takes beyond its m rows (the walk planner's estimate only;
#: sim/walk_plan.py ELTWISE_OVERHEAD).
WALK_ELTWISE_OVERHEAD = 5
#: INT8 depthwise goes to the element-wise MAC when an output image has fewer pixels than this
#: many times the array's rows (sim/conv_plan.py MAC_PIXELS). Re-measured after the weight banks
#: and the per-row ordering of accumulate chains (8x8 `sim` SoC, 3x3, cycles diagonal -> MAC),
#: alone: stride 1 3x3x256 11,354 -> 13,100, 6x6x128 8,460 -> 9,719, 8x8x64 8,192 -> 7,304,
#: 25x5x64 12,404 -> 12,909, 12x12x64 13,981 -> 14,484, 24x24x32 25,921 -> 27,141; stride 2
#: 12x12x128 15,683 -> 13,951; inside MobileNetV1-0.25: 3x3x256 12,952 -> 10,160, 6x6x128
#: 9,972 -> 10,208. No pixel count separates them cleanly; 64 pixels (8 x R) loses nothing
#: measurable in the bench models, so it stays (no longer tied to RELOAD).
WALK_MAC_PIXELS = 8
#: Channel chunks per unit of the INT8 global-pooling stream on the array (sim/pool_plan.py
#: GLOBAL_PAIR; FP16 takes every chunk of an image).
WALK_GLOBAL_PAIR = 2
#: The first unit of the global-pooling stream on the array loads its chunks in slabs of this
#: many COMPUTE steps (times R pixels), each slab's LOADs spread between the previous slab's
#: COMPUTEs, so the first COMPUTE waits for one slab, not the whole image (sim/pool_plan.py
#: GLOBAL_SLAB). An image of at most one slab keeps one LOAD per chunk. DS-CNN's FP16 25x5x64
#: pool in the model on the 8x8 `sim` SoC: 6,567 -> 6,459 cycles (the rest not analysed;
#: presumably the NPU's one bus port: 16 kB of pixels, 32 bytes per COMPUTE's descriptor).
WALK_GLOBAL_SLAB = 4
#: Output chunks per pass of the packed small-Cin convolution (sim/conv_pack.py PASS_CHUNKS).
WALK_PACK_PASS_CHUNKS = 2

#: Rows per LOAD when the walk refills a 1x1 layer's weights for the next group (``double`` and
#: ``single`` modes, sim/walk_emit.py PIECE_ROWS): each output chunk's matrix comes in pieces of
#: this many input channels, emitted piece by piece across the group's chunks, so a ``single``
#: piece follows the COMPUTEs that free its rows (not the unit's last COMPUTE) and no long LOAD
#: holds the in-order front. Measured on the 8x8 `sim` SoC, the layer alone as one LIST read from
#: main memory (as compiled models run), cycles whole matrices -> pieces of 64 rows:
#: MobileNetV1-0.25 pw13 (3x3x256 -> 256; INT8 single gn=4, FP16 double gn=2) INT8 35,660 ->
#: 32,944 (128 rows: 33,220, 32 rows: 34,732), FP16 54,296 -> 50,780 (128: 52,300, 32:
#: 52,184); pw12 (3x3x128 -> 256, double) INT8 16,756 -> 17,136 (the one loss), FP16 26,632
#: -> 26,020; pw11 (6x6x128 -> 128, double) INT8 13,348 -> 13,080, FP16 18,040 -> 17,888.
#: Such layers are bound by the NPU's one bus port, which carries the LIST's descriptors (32
#: bytes per 8x8 weight tile's COMPUTE) as well as the weights (64 / 128 bytes per tile).
WALK_PIECE_ROWS = 64

#: A 1x1 layer's first unit (INT8) takes input chunk 0 in two parts of its rows and its last
#: unit's last chunk in two waves of rows (dure.sim.walk_computes.first_halves,
#: dure.sim.walk_cmds.last_halves) only with at least this many input chunks. Measured on the
#: 8x8 NPU's Verilator model (BUSY, both splits / first only / neither), INT8: DS-CNN's
#: 25x5x64 -> 64 (8 chunks) 8,337 / 8,374 / 8,457, 12x12x64 -> 64 (8) 9,585 / 9,657 / 9,704;
#: with 4 chunks 12x12x32 -> 64 5,477 / 5,119 / 5,166, 24x24x32 -> 32 10,466 / 10,431 /
#: 10,390; with 1-2 chunks the last-chunk waves cost 35 (48x48x8 -> 16, 24x24x16 -> 32).
WALK_SPLIT_MIN_CHUNKS = 8

#: The last unit of a layer on the element-wise MAC (depthwise) runs its last this many output
#: pixels (rounded up to whole rows) as a wave of their own, after the rest of its rows, so only
#: that wave's outputs are stored after the final row (dure.sim.walk_waves.eltwise_tail).
#: Measured on DS-CNN's 25x5x64 depthwise (8x8 `sim` SoC, pushed, npu fixed INT8; last wave of
#: 3 / 4 / 5 / 6 / 7 / 8 / 12 rows of 5 pixels: 574 / 554 / 534 / 524 / 529 / 534 / 554, 599
#: in one wave; docs/layer_fixed_cost.md, session 15).
WALK_DW_TAIL_PIXELS = 30

#: The main-memory bytes a cycle the last unit's interleaved waves assume (dure.sim.
#: walk_computes.WalkComputes.tail_interleave: the second wave's COMPUTEs after the first
#: wave's last cover that wave's STORE at this rate; the 8x8 `sim` SoC's port). Measured on
#: DS-CNN's 25x5x64 pointwise (8x8 `sim` SoC, pushed, npu fixed; 1 / 2 / 3 / 4 / 5 of the
#: second wave's COMPUTEs after the first's last: INT8 398 / 338 / 306 / 310 / 314 against
#: 326 without, FP16 (4 / 5 / 6 / 7) 2,975 / 2,944 / 2,948 / 2,952 against 2,956; the rule
#: takes 3 and 5; docs/layer_fixed_cost.md, session 21, branch kwspw).
WALK_TAIL_PORT_BYTES = 4

#: An FP16 convolution's first unit with at least this many input chunks runs its rows in
#: waves of LATENCY pixels each (dure.sim.walk_waves.unit_waves) instead of growing ones:
#: each wave's first tap reads every input chunk's new image rows, so a wave of twice the
#: rows waits for twice the bytes at its start. Measured on the 8x8 `sim` SoC (pushed, npu
#: fixed FP16; ResNet-8 stage 2, 16x16x32 -> 32, 4 input chunks, first-unit waves of 4, 4, 8
#: / 8, 4, 4 / 4, 8, 4 / 5, 5, 6 / 4, 4, 4, 4 rows: 2,291 / 2,078 / 2,270 / 2,067 / 1,736;
#: stage 1, 32x32x16 -> 16, 2 input chunks, 2, 2, 4 / 2, 2, 2, 2 / 4, 4 rows: 921 / 1,076 /
#: 1,076; docs/layer_fixed_cost.md, session 22, branch fp16first).
WALK_FP16_EVEN_WAVE_CHUNKS = 4

#: Every walk constant above by name (the header's ``DURE_NPU_WALK_<name>``).
WALK_MODEL = {"PUSH_CYCLES": WALK_PUSH_CYCLES, "DESCRIPTOR_WEIGHT": WALK_DESCRIPTOR_WEIGHT,
              "JIT_LEAD": WALK_JIT_LEAD, "POOL_MAX_WINDOW": POOL_MAX_WINDOW,
              "ADD_BLOCK_ROWS": ADD_BLOCK_ROWS, "ELTWISE_OVERHEAD": WALK_ELTWISE_OVERHEAD,
              "MAC_PIXELS": WALK_MAC_PIXELS, "GLOBAL_PAIR": WALK_GLOBAL_PAIR,
              "GLOBAL_SLAB": WALK_GLOBAL_SLAB,
              "PACK_PASS_CHUNKS": WALK_PACK_PASS_CHUNKS, "PIECE_ROWS": WALK_PIECE_ROWS,
              "SPLIT_MIN_CHUNKS": WALK_SPLIT_MIN_CHUNKS, "DW_TAIL_PIXELS": WALK_DW_TAIL_PIXELS,
              "TAIL_PORT_BYTES": WALK_TAIL_PORT_BYTES,
              "FP16_EVEN_WAVE_CHUNKS": WALK_FP16_EVEN_WAVE_CHUNKS}
