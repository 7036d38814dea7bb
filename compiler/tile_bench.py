"""Whole compiled models split across NPU tiles on the simulated SoC: the model part of the
tile-scaling curve (``dure bench --scaling --models``); and :func:`gemm_point`, a GEMM workload
of :mod:`dure.sim.tile_scaling` with host-built tile lists.

:func:`model_point` compiles a model for a multi-tile SoC, splits its NPU layers over ``tiles``
tiles (:mod:`.tile_split`), runs one inference in one ``npu_model_run`` firmware run
(:func:`.tile_split.run_split_soc`) and compares the output bit for bit with the compiler's
reference. ``tiles = 1`` is the unsplit program on tile 0 (the other tiles idle: no arbiter
slots, the one-tile timing). :func:`with_speedup` adds speedup and efficiency against the
``tiles = 1`` point of the same family, bandwidth and model.

Columns (:data:`COLUMNS`, stable): ``cycles`` the whole inference (first layer to last, core
layers included), ``npu_cycles`` / ``core_cycles`` the NPU / core layers' share, ``split_layers``
the NPU layers that ran on more than one tile, ``one_tile_cycles`` the cycles of NPU layers
that could not be split (one tile works, the rest wait: the model's load imbalance beside the
uneven shares), ``macs_per_cycle`` and ``utilization`` against ``tiles`` x the tile's peak.
Where the shortfall goes (the firmware's tile statistics, :func:`.soc.tile_stats`, summed over
the split layers): ``shortfall_cycles`` = ``cycles - cycles(K = 1) / K``; ``tiles_cycles``
the split layers' cycles; ``launch_cycles`` ringing their tiles (LISTs and FENCEs);
``imbalance_cycles`` each split layer's cycles minus the mean of its tiles' finishing times
(waiting for the slowest tile); ``wait_cycles`` the mean over the ``tiles`` tiles of their
DMA grant-wait cycles (arbitration; an upper bound of its cost: a wait under compute costs
nothing); ``busy_cycles`` the mean of their NPU busy cycles over the inference.
"""


import numpy as np

__all__ = ["COLUMNS", "model_point", "gemm_point", "with_speedup", "write_csv"]

COLUMNS = ("model", "family", "array", "tiles", "bandwidth", "macs", "peak_macs_per_cycle",
           "cycles", "npu_cycles", "core_cycles", "split_layers", "npu_layers",
           "one_tile_cycles", "macs_per_cycle", "utilization", "speedup", "efficiency",
           "exact", "shortfall_cycles", "tiles_cycles", "launch_cycles", "imbalance_cycles",
           "wait_cycles", "busy_cycles")


def model_point(name, data, config, tiles, *, family=None, bandwidth=None, seed=0):
    """One inference of the TFLite model ``data`` (bytes) compiled for ``config`` with its NPU
    layers split over ``tiles`` tiles; returns a dict of :data:`COLUMNS` (speedup and
    efficiency None)."""
    from . import reference
    from .lower import compile_graph
    from .tflite_frontend import parse_tflite
    from .tile_split import run_split_soc, split_program

    graph = parse_tflite(data)
    program = compile_graph(graph, config)
    split = split_program(program, tiles)
    t = graph.tensors[graph.inputs[0]]
    x = np.random.default_rng(seed).integers(-128, 128, t.shape).astype(np.int8)
    outputs, run = run_split_soc(split, [x])
    stats = run.segments[0].tiles
    want = reference.run(graph, [x])[0]
    npu = core = one = 0
    for layer, tiled, cycles in zip(program.layers, split.layers, run.layer_cycles,
                                    strict=True):
        if layer.where == "npu":
            npu += cycles
            if len(tiled.lists) == 1:
                one += cycles
        else:
            core += cycles
    peak = tiles * config.npu_peak_macs_per_cycle
    macs, cycles = program.macs, run.cycles
    return {"model": name, "family": family or config.name,
            "array": f"{config.npu_rows}x{config.npu_cols}", "tiles": tiles,
            "bandwidth": bandwidth or config.main_bandwidth, "macs": macs,
            "peak_macs_per_cycle": peak, "cycles": cycles, "npu_cycles": npu,
            "core_cycles": core,
            "split_layers": sum(1 for la in split.layers if la and len(la.lists) > 1),
            "npu_layers": sum(1 for la in split.layers if la), "one_tile_cycles": one,
            "macs_per_cycle": round(macs / cycles, 2),
            "utilization": round(macs / cycles / peak, 4), "speedup": None,
            "efficiency": None,
            "exact": bool(outputs[0].dtype == want.dtype and np.array_equal(outputs[0], want)),
            "shortfall_cycles": None, "tiles_cycles": stats["cycles"],
            "launch_cycles": stats["launch"], "imbalance_cycles": stats["imbalance"],
            "wait_cycles": round(sum(stats["wait"][:tiles]) / tiles),
            "busy_cycles": round(sum(stats["busy"][:tiles]) / tiles)}


def with_speedup(points):
    """``points`` with ``speedup`` = cycles(K = 1) / cycles, ``efficiency`` = speedup / K and
    ``shortfall_cycles`` = cycles - cycles(K = 1) / K against the K = 1 point of the same
    family, bandwidth and model (None without one)."""
    base = {(p["family"], p["bandwidth"], p["model"]): p["cycles"] for p in points
            if p["tiles"] == 1}
    out = []
    for p in points:
        p = dict(p)
        one = base.get((p["family"], p["bandwidth"], p["model"]))
        if one:
            p["speedup"] = round(one / p["cycles"], 3)
            p["efficiency"] = round(one / p["cycles"] / p["tiles"], 3)
            p["shortfall_cycles"] = round(p["cycles"] - one / p["tiles"])
        out.append(p)
    return out


def write_csv(points, path):
    """Write ``points`` with the columns of :data:`COLUMNS`, in that order."""
    from dure.sim import tile_scaling

    return tile_scaling.write_csv(points, path, COLUMNS)


def gemm_point(config, workload_name, tiles, *, family=None, bandwidth=None, seed=0):
    """The GEMM workload ``workload_name`` of :mod:`dure.sim.tile_scaling` split by columns
    over ``tiles`` tiles as ``npu_gemm_split`` splits it (whole array-width column tiles, the
    same shares), but with each tile's list made on the host by the one GEMM planner
    (:func:`dure.sim.gemm_descriptors.gemm_descriptors`, the stream the firmware's C planner
    records) and run through ``npu_model_run`` as one layer (an ``NPU_TILES`` record; K = 1 an
    ``NPU`` record): no recording on the core, so the simulation is the run alone. Main memory
    holds A, B, the scales and C from its base, then every tile's list, the layer table and
    the results: the list area is what the operands leave below the boot block, so it follows
    ``config.main_size`` (512^3 on 4x4 tiles: 84,481 descriptors, 2.7 MB, beside 0.77 MB of
    operands in 4 MiB); ValueError, with the sizes, when they do not fit.

    Returns a dict of :data:`dure.sim.tile_scaling.COLUMNS`: ``cycles`` from the first LIST
    doorbell until every tile is idle (the layer's cycles), ``wait_cycles`` the mean over the
    tiles of their DMA grant-wait cycles, ``record_cycles`` 0; ``launch_cycles``,
    ``imbalance_cycles``, ``busy_cycles`` and ``idle_cycles`` from the firmware's tile
    statistics (:func:`.soc.tile_stats`; K = 1 runs as an ``NPU`` record: no launch, no
    imbalance). :func:`dure.sim.tile_scaling.with_speedup` splits the shortfall."""
    import struct

    from dure.rtl.npu.commands import Opcode, OutType, Precision
    from dure.rtl.npu.descriptor import encode
    from dure.sim import tile_scaling
    from dure.sim.gemm_descriptors import gemm_descriptors
    from dure.sim.npu_job_build import job_elf
    from dure.sim.runner import run_elf

    from .layer_table import (
        HEADER_WORDS,
        RECORD_WORDS,
        LayerKind,
        TableError,
        pack_layer_table,
        results_bytes,
        unpack_results,
    )
    from .soc import BOOT_BYTES, PROGRAM, tile_stats
    from .tile_split import share

    if not 1 <= tiles <= config.npu_tiles:
        raise ValueError(f"tiles must be in 1..{config.npu_tiles}, not {tiles!r}")
    g = tile_scaling.workload(workload_name, seed)
    m, k, n = g.shape
    main = config.region("main")

    def up(v):
        return (v + 63) // 64 * 64
    a_addr = main.base
    b_addr = up(a_addr + m * k)
    scale_addr = up(b_addr + k * n)
    out_addr = up(scale_addr + 4 * n)
    cols = config.npu_cols
    nt = -(-n // cols)
    used = min(tiles, nt)
    lists = []
    for t in range(used):
        j0, nj = share(nt, used, t)
        n0, n1 = j0 * cols, min((j0 + nj) * cols, n)
        lists.append(gemm_descriptors(
            config, m, k, n1 - n0, precision=Precision.INT8, a_addr=a_addr, a_stride=k,
            b_addr=b_addr + n0, b_stride=n, out_addr=out_addr + n0, out_stride=n,
            out=OutType.INT8, scale_addr=scale_addr + 4 * n0, zero_point=g.zero_point,
            lo=g.lo, hi=g.hi) + [encode(Opcode.FENCE)])
    commands_base = up(out_addr + m * n)
    descriptors_total = sum(len(lst) for lst in lists)
    rec = [0] * RECORD_WORDS
    rec[0], rec[1] = (LayerKind.NPU, 0) if used == 1 else (LayerKind.NPU_TILES, used)
    at = commands_base
    for t, lst in enumerate(lists):
        rec[2 + 2 * t], rec[3 + 2 * t] = at, len(lst)
        at += 32 * len(lst)
    table_addr = up(at)
    results_addr = up(table_addr + 4 * (HEADER_WORDS + RECORD_WORDS))
    boot_addr = main.base + main.size - BOOT_BYTES
    if results_addr + results_bytes(1) > boot_addr:
        raise ValueError(f"{workload_name} on {tiles} tiles: operands, {descriptors_total} "
                         f"descriptors of lists and the table need "
                         f"{results_addr + results_bytes(1) - main.base} bytes; main memory "
                         f"has {boot_addr - main.base} below the boot block")
    words = np.array([w for lst in lists for d in lst for w in d], "<u4").tobytes()
    data = [(a_addr, g.a.tobytes()), (b_addr, g.b.tobytes()),
            (scale_addr, np.asarray(g.scale, "<f4").tobytes()), (commands_base, words),
            (table_addr, pack_layer_table([rec], results_addr)),
            (boot_addr, struct.pack("<I", table_addr) + bytes(BOOT_BYTES - 4))]
    dumps = [(out_addr, m * n), (results_addr, results_bytes(1)), (boot_addr, BOOT_BYTES)]
    result = run_elf(job_elf(config, PROGRAM), config, max_cycles=400_000_000, data=data,
                     dumps=dumps)
    boot = struct.unpack("<16I", result.dumps[dumps[2]][:64])
    if result.status != "pass" or boot[1] != TableError.OK:
        raise RuntimeError(f"{workload_name} on {tiles} tiles: {result.status}, status "
                           f"{boot[1]}")
    res = unpack_results(result.dumps[dumps[1]], 1)
    stats = tile_stats(result.dumps[dumps[2]])
    cycles = res["layer_cycles"][0]
    out = np.frombuffer(result.dumps[dumps[0]], np.int8).reshape(m, n)
    descriptors = sum(len(lst) for lst in lists)
    traffic = m * k + k * n + 4 * n + m * n + 32 * descriptors
    peak = tiles * config.npu_peak_macs_per_cycle
    macs = m * k * n
    busy = stats["busy"][:used]
    if used > 1:
        # one NPU_TILES layer: the firmware's launch, per-tile done and imbalance are its own;
        # the walk around it (the layer's cycles beyond run_tiles') counts as synchronisation
        launch, imbalance = stats["launch"], stats["imbalance"]
        mean_done = sum(stats["done"][:used]) / used + cycles - stats["cycles"]
    else:
        # one tile through an NPU record: done when the layer ends, nothing to launch apart
        launch, imbalance, mean_done = None, 0, cycles
    mean_busy = sum(busy) / used
    return {
        "family": family or config.name, "array": f"{config.npu_rows}x{config.npu_cols}",
        "tiles": tiles, "bandwidth": bandwidth or config.main_bandwidth,
        "main_bytes_per_cycle": config.main_bytes_per_cycle, "workload": workload_name,
        "m": m, "k": k, "n": n, "precision": g.precision, "macs": macs,
        "peak_macs_per_cycle": peak, "cycles": cycles,
        "macs_per_cycle": round(macs / cycles, 3),
        "utilization": round(macs / cycles / peak, 4), "speedup": None, "efficiency": None,
        "shortfall_cycles": None, "imbalance_cycles": imbalance, "launch_cycles": launch,
        "wait_cycles": round(sum(stats["wait"][:used]) / used) if used > 1 else 0,
        "record_cycles": 0, "descriptors": descriptors,
        "dma_bound_cycles": round(traffic / (config.main_bytes_per_cycle *
                                             min(tiles, config.main_ports))),
        "exact": out.tobytes() == g.golden().tobytes(),
        "busy_cycles": round(mean_busy), "idle_cycles": round(mean_done - mean_busy),
        "sync_cycles": None, "stall_cycles": None,
    }
