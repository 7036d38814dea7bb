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
           "WALK_GLOBAL_PAIR", "WALK_PACK_PASS_CHUNKS", "WALK_MODEL"]

#: Estimated core cycles per pushed descriptor, any kind (firmware npu_gemm on the sim SoC).
CMD_CYCLES = 40
#: Main-memory bytes per cycle assumed by the cost estimate.
BYTES_PER_CYCLE = 4
#: Cycles from a COMPUTE's first row to its last result in the ACC (8x8 dual precision: ~62).
LATENCY = 64
#: Largest COMPUTE (rows) the search starts from.
MC_MAX = 128
#: Array cycles per weight row to switch weight sets (a COMPUTE takes at least RELOAD * R).
RELOAD = 8
#: Largest M block (rows of one LOAD / STORE / COMPUTE: the 16-bit ``rows`` / ``m`` fields).
MBLK_MAX = 0xFFFF

#: Every constant above by name (the header's ``DURE_NPU_GEMM_<name>``).
COST_MODEL = {"CMD_CYCLES": CMD_CYCLES, "BYTES_PER_CYCLE": BYTES_PER_CYCLE, "LATENCY": LATENCY,
              "MC_MAX": MC_MAX, "RELOAD": RELOAD, "MBLK_MAX": MBLK_MAX}

# The windowed-operator engine (sim/walk_plan.py), the layer planners on it (sim/conv_plan.py,
# conv_pack.py, pool_plan.py) and the element-wise ADD (sim/eltwise_plan.py), searched and
# emitted alike by their C port (firmware/npu/npu_walk*.c, npu_conv*.c, npu_pool.c, npu_add.c):
# the header's ``DURE_NPU_WALK_<name>``.
#: Estimated cycles to hand one descriptor to the NPU (the walk planner's cost estimate only).
WALK_PUSH_CYCLES = 12
#: Tie-break weight of a descriptor in the walk's blocking search (cycles).
WALK_DESCRIPTOR_WEIGHT = 4
#: The first unit's LOADs go this many COMPUTEs ahead of the first one that needs them.
WALK_JIT_LEAD = 2
#: Largest window (KH * KW) the average-pooling programs accept.
POOL_MAX_WINDOW = 256
#: Rows per block of the FP16 ADD.
ADD_BLOCK_ROWS = 256
#: Cycles an ELTWISE takes beyond its m rows (the walk planner's estimate only;
#: sim/walk_plan.py ELTWISE_OVERHEAD).
WALK_ELTWISE_OVERHEAD = 4
#: INT8 depthwise goes to the element-wise MAC when an output image has fewer pixels than this
#: many times the array's rows (sim/conv_plan.py MAC_PIXELS).
WALK_MAC_PIXELS = RELOAD
#: Channel chunks per unit of the INT8 global-pooling stream on the array (sim/pool_plan.py
#: GLOBAL_PAIR; FP16 takes every chunk of an image).
WALK_GLOBAL_PAIR = 2
#: Output chunks per pass of the packed small-Cin convolution (sim/conv_pack.py PASS_CHUNKS).
WALK_PACK_PASS_CHUNKS = 2

#: Every walk constant above by name (the header's ``DURE_NPU_WALK_<name>``).
WALK_MODEL = {"PUSH_CYCLES": WALK_PUSH_CYCLES, "DESCRIPTOR_WEIGHT": WALK_DESCRIPTOR_WEIGHT,
              "JIT_LEAD": WALK_JIT_LEAD, "POOL_MAX_WINDOW": POOL_MAX_WINDOW,
              "ADD_BLOCK_ROWS": ADD_BLOCK_ROWS, "ELTWISE_OVERHEAD": WALK_ELTWISE_OVERHEAD,
              "MAC_PIXELS": WALK_MAC_PIXELS, "GLOBAL_PAIR": WALK_GLOBAL_PAIR,
              "PACK_PASS_CHUNKS": WALK_PACK_PASS_CHUNKS}
