"""The walk engine's blocking search: :func:`plan_walk` picks the :class:`WalkPlan` of a
:class:`WalkLayer` (block height, sub-block height, output chunks per group, weight mode, tile
buffers) by an estimate of its time. The layout it chooses among is the one
:mod:`dure.sim.walk_layer` describes. C port: ``firmware/npu/npu_walk_plan.c``.
"""

from dure.gemm_cost import (
    BYTES_PER_CYCLE,
    LATENCY,
    RELOAD,
    WALK_DESCRIPTOR_WEIGHT,
    WALK_ELTWISE_OVERHEAD,
    WALK_PUSH_CYCLES,
)

from .walk_layer import WalkPlan

__all__ = ["plan_walk", "PUSH_CYCLES"]

#: Estimated cycles to hand one descriptor to the NPU (the planner's cost estimate only).
PUSH_CYCLES = WALK_PUSH_CYCLES
#: Tie-break weight of a descriptor in the blocking search (cycles).
DESCRIPTOR_WEIGHT = WALK_DESCRIPTOR_WEIGHT
#: Cycles an ELTWISE takes beyond its m rows (144 MACs of 36 rows: 5,762 cycles on the 8x8
#: `sim` SoC, 40 each, before the MAC read its weight rows once up front: +1; the planner's
#: estimate only; dure.gemm_cost.WALK_ELTWISE_OVERHEAD, which the firmware's C port reads).
ELTWISE_OVERHEAD = WALK_ELTWISE_OVERHEAD


def _tile_rows(layer, bh, gn):
    g = layer.geo
    th = (min(bh, g.oh) - 1) * g.sh + g.kh
    return layer.tile_chunks(gn) * th * g.wp


def _estimate(config, layer, bh, sbh, gn, wmode, startup=False):
    """``(time, descriptors)``: a rough cycle estimate of one blocking (see plan_walk)."""
    g = layer.geo
    r = config.npu_rows
    nt, cc = layer.out_chunks, layer.kin_chunks
    blocks = -(-g.oh // bh)
    groups = -(-nt // gn)
    taps = g.kh * g.kw
    if layer.eltwise_mac and layer.eltwise_pair:
        taps = -(-taps // 2)             # one pair MAC per two taps
    steps_in = 1 if layer.diagonal else cc
    compute = 0
    commands = 0
    for b in range(blocks):
        rows = min(bh, g.oh - b * bh)
        subs = [min(sbh, rows - s) * g.ow for s in range(0, rows, sbh)]
        for gi in range(groups):
            chunks = min(gn, nt - gi * gn)
            if layer.eltwise_mac:
                # one row per cycle and a few cycles per command, no weight load, no array
                # latency between the taps (measured on the 8x8 `sim` SoC)
                per_step = sum(m + ELTWISE_OVERHEAD for m in subs) * chunks
            else:
                per_step = sum(max(m, RELOAD * r) for m in subs) * chunks
                # an accumulation onto the same rows waits, row by row, for the previous
                # one's results (the execute unit orders chains per ACC row): hidden by
                # that much other work between
                per_step = max(per_step, LATENCY)
            compute += taps * steps_in * per_step
            commands += taps * steps_in * len(subs) * chunks + 2 * chunks
    compute *= g.batch
    commands *= g.batch
    eb = layer.elem_bytes
    th = (bh - 1) * g.sh + g.kh
    tile_bytes = blocks * min(th, g.height) * g.width * layer.cin * eb
    w_bytes = sum(layer.weight_rows(j) * layer.chunk_cols(j) for j in range(nt)) * eb
    reloads = 1 if wmode in ("resident", "shared") else blocks * g.batch
    memory = (g.batch * tile_bytes + reloads * w_bytes
              + g.pixels * layer.cout * layer.out_bytes) // BYTES_PER_CYCLE
    if wmode in ("single", "taps"):
        commands += reloads * nt * taps
    push = commands * PUSH_CYCLES
    extra = 0
    if startup:
        # The first unit cannot start before its data: its tile rows and the weights loaded
        # with it arrive at BYTES_PER_CYCLE; what exceeds its own compute is not hidden.
        rows0 = min(bh, g.oh)
        subs0 = [min(sbh, rows0 - s) * g.ow for s in range(0, rows0, sbh)]
        chunks0 = min(gn, nt)
        compute0 = taps * steps_in * max(sum(max(m, RELOAD * r) for m in subs0) * chunks0,
                                         LATENCY)
        kin0 = cc if not layer.diagonal else chunks0
        tile0 = min(th, g.height) * g.width * min(layer.cin, kin0 * layer.k_chunk) * eb
        w0 = w_bytes if wmode == "resident" else w_bytes * chunks0 // nt
        extra = max(0, (tile0 + w0) // BYTES_PER_CYCLE - compute0)
    return max(compute, memory, push) + max(subs) + LATENCY + extra, commands


def plan_walk(config, layer, wmodes=None, startup=False, startup_tiebreak=False):
    """The :class:`WalkPlan` of ``layer`` on ``config``'s NPU: the blocking with the lowest
    estimated time (compute: per tap and input chunk, ``max(sum of max(m, RELOAD * R) over the
    group's COMPUTEs, LATENCY)``; memory at BYTES_PER_CYCLE; descriptors at PUSH_CYCLES;
    the largest of the three) plus DESCRIPTOR_WEIGHT cycles per descriptor (so that of two
    near-equal blockings the one with larger COMPUTEs wins). ``wmodes``: the weight modes
    the search may pick (default: all; tests force each one). ``startup``: also count the
    first unit's wait for its data beyond its own compute (used for 1x1 stride-1
    convolutions with the spread stream). ``startup_tiebreak``: of blockings of equal
    estimated time, take one whose first unit does not wait for its data (no ``startup``
    term) before the one with fewer descriptors (1x1 stride-1 convolutions without the spread
    stream, i.e. FP16: DS-CNN's 25x5x64 -> 64 pointwise then takes one group of every chunk
    instead of eight, 15,079 -> 13,379 cycles in the model on the 8x8 `sim` SoC;
    MobileNetV1-0.25's 12x12 pointwise layers -300 and -2,080). Measured and rejected on the
    same models: counting ``startup`` in the time (MobileNet's 6x6x128 -> 128: 17,971 ->
    20,339 cycles) and breaking ties by the least wait (6x6x64 -> 128: 11,123 -> 12,351).

    Raises ValueError when no blocking fits the SPAD and ACC."""
    g = layer.geo
    s_rows, a_rows = config.npu_spad_rows, config.npu_acc_rows
    nt = layer.out_chunks
    slot = max(layer.weight_rows(j) for j in range(nt)) if layer.weights else 0
    best = None
    for bh in sorted({-(-g.oh // nb) for nb in range(1, g.oh + 1)}, reverse=True):
        if bh * g.ow > 0xFFFF:
            continue
        blocks = -(-g.oh // bh)
        sbh_options = {bh}
        for s in range(1, bh + 1):
            if s * g.ow >= RELOAD * config.npu_rows:
                sbh_options.add(s)
                break
        for gn in range(1, nt + 1):
            if gn > 1 and -(-nt // gn) == -(-nt // (gn - 1)):
                continue             # same number of groups as a smaller gn
            half = gn * bh * g.ow
            const_row = a_rows - layer.const_rows - layer.init_rows
            units = blocks * g.batch * -(-nt // gn)
            if (2 if units > 1 else 1) * half > const_row:
                continue
            tile = _tile_rows(layer, bh, gn)
            tbufs = 2 if (units if layer.unit_tiles else blocks * g.batch) > 1 else 1
            kmax = max(layer.kin(j) for j in range(nt))
            if layer.shared_weight is not None:
                modes = [("shared", layer.shared_weight[1])]
            elif gn == nt:
                modes = [("resident", nt * slot)]
            elif layer.unit_tiles and not layer.eltwise_mac:
                # per-unit tiles on the array (FP16 depthwise): see WalkLayer.unit_tiles
                modes = [("double", 2 * gn * slot), ("single", gn * slot)]
            else:
                modes = [("resident", nt * slot), ("double", 2 * gn * slot),
                         ("single", gn * slot)]
            if layer.shared_weight is None and g.kh * g.kw > 2 and not layer.eltwise_pair:
                modes.append(("taps", 2 * gn * kmax))
            for wmode, w_rows in modes:
                if wmodes is not None and wmode not in wmodes:
                    continue
                for tb in sorted({tbufs, 1}, reverse=True):
                    if w_rows + tb * tile > s_rows:
                        continue
                    for sbh in sorted(sbh_options):
                        cost = _estimate(config, layer, bh, sbh, gn, wmode, startup)
                        wait = 0
                        if startup_tiebreak:
                            wait = int(_estimate(config, layer, bh, sbh, gn, wmode, True)[0]
                                       > cost[0])
                        cost = (cost[0] + (0 if tb == tbufs else tile // 2)
                                + DESCRIPTOR_WEIGHT * cost[1], wait, cost[1])
                        if best is None or cost < best.cost:
                            best = WalkPlan(bh, sbh, gn, wmode, tb,
                                            kmax if wmode == "taps" else slot, w_rows, tile,
                                            half, const_row, cost)
                    break            # two tile buffers fit: one is never better
                if wmode == "resident" and w_rows + tile <= s_rows and wmodes is None:
                    break            # resident fits: the others load more
    if best is None:
        raise ValueError(f"the NPU's SPAD ({s_rows} rows) / ACC ({a_rows} rows) hold no "
                         f"blocking of this layer (tile of one output row: "
                         f"{_tile_rows(layer, 1, 1)} rows)")
    return best

