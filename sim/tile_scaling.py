"""Scaling of NPU work over K tiles: cycles, speedup, efficiency and where the shortfall goes.

:func:`scaling_point` is one measurement, a plain function of a configuration and a workload
name that a design-space sweep can call: it splits the workload's GEMM across the
configuration's ``npu_tiles`` tiles (or ``tiles`` of them) with the firmware
(:mod:`dure.sim.tile_job`: every tile's share recorded once as a LIST, then one LIST doorbell
per tile, then a FENCE per tile and polling) and returns a flat dict of :data:`COLUMNS`.
:func:`run_scaling` runs the grid of ``dure bench --scaling`` (K = 1, 2, 4; shared and scaled
bandwidth; the workloads) and :func:`with_speedup` adds speedup and efficiency against the
K = 1 point of the same family, bandwidth and workload.

The K = 1 point of a family runs on the family's K-tile SoC with one tile working: the other
tiles never request the bus, and a round-robin arbiter gives an idle initiator no slot, so
that is the single-tile SoC's timing (with ``"scaled"`` bandwidth tile 0 keeps main-memory
port 0 beside the core, as on one tile).

Measured quantities (all in core cycles, from the firmware's ``rdcycle`` and counters):

- ``cycles``: from the first LIST doorbell until the last tile was seen idle (recording the
  lists, ``record_cycles``, is a one-off cost of the core before it, reported apart: lists are
  built once and replayed).
- ``launch_cycles``: ringing every tile's LIST and FENCE (the synchronisation cost on the core;
  the polling that detects the end adds at most one poll round, ~30 cycles per tile).
- ``imbalance_cycles``: ``cycles`` minus the mean over tiles of the cycle at which each was seen
  done (0 with one tile).
- ``wait_cycles``: mean over tiles of the cycles their DMA asked for the shared fabric and was
  not granted (the arbitration counters of :mod:`dure.rtl.soc.tile_counters`; only with K > 1;
  a wait overlapped by compute costs no time, so this bounds the arbitration loss).
- ``dma_bound_cycles``: the bytes that must cross main memory (operands once, output, the
  LISTs at 32 B per descriptor) over the bandwidth (one port, or K ports when scaled).
- ``shortfall_cycles``: ``cycles - cycles(K = 1) / K``, what separates the point from perfect
  scaling (:func:`with_speedup`).
"""

import csv
import pathlib
from dataclasses import replace

import numpy as np

from dure.config import preset

from .tile_job import TileGemm, run_tile_gemms

__all__ = ["WORKLOADS", "FAMILIES", "COLUMNS", "workload", "family_config", "scaling_point",
           "with_speedup", "run_scaling", "write_csv", "markdown"]

#: name: (M, K, N, precision, split, what).
WORKLOADS = {
    "gemm256": (256, 256, 256, "int8", "cols", "compute-bound INT8 GEMM 256^3"),
    "gemm512": (512, 512, 512, "int8", "cols", "compute-bound INT8 GEMM 512^3"),
    "gemv512": (1, 512, 256, "int8", "cols",
                "memory-bound INT8 GEMV 1x512 by 512x256 (each weight byte read once)"),
    "gemm64": (64, 64, 64, "int8", "cols", "small INT8 GEMM 64^3 (the tests' SoC runs)"),
}

#: Tile families of the scaling runs: name -> (preset, changes to it). ``4x4`` and ``8x8`` keep
#: the sim variant's memories (2048 SPAD rows, 4096 ACC rows, 4 MiB main memory at 4 B/cycle,
#: latency 10), so four 4x4 tiles and one 8x8 differ only in the arrays (the same MACs per
#: cycle); ``4x4-small`` is the test suite's two-tile SoC (npu-small memories); ``4x4-8t`` the
#: ``4x4`` family with eight tiles (K = 8; eight tiles simulate at about half the speed of four).
FAMILIES = {
    "4x4": ("sim", {"name": "sim-4x4-4t", "npu_rows": 4, "npu_cols": 4, "npu_tiles": 4}),
    "4x4-8t": ("sim", {"name": "sim-4x4-8t", "npu_rows": 4, "npu_cols": 4, "npu_tiles": 8}),
    "8x8": ("sim", {}),
    "4x4-small": ("npu-small-2t", {}),
}

COLUMNS = ("family", "array", "tiles", "bandwidth", "main_bytes_per_cycle", "workload", "m", "k",
           "n", "precision", "macs", "peak_macs_per_cycle", "cycles", "macs_per_cycle",
           "utilization", "speedup", "efficiency", "shortfall_cycles", "imbalance_cycles",
           "launch_cycles", "wait_cycles", "record_cycles", "descriptors", "dma_bound_cycles",
           "exact", "busy_cycles", "idle_cycles", "sync_cycles", "stall_cycles")


def family_config(family, bandwidth="shared"):
    """The SoC of ``family`` (:data:`FAMILIES`) with ``bandwidth`` ``shared`` or ``scaled``
    (a one-tile family is its preset itself: both bandwidths are the same SoC)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    name, changes = FAMILIES[family]
    config = replace(preset(name), **changes)
    if config.npu_tiles > 1 and bandwidth != config.main_bandwidth:
        config = replace(config, main_bandwidth=bandwidth)
    return config


def workload(name, seed=0):
    """The :class:`~dure.sim.tile_job.TileGemm` of workload ``name`` (random operands, INT8 to
    int8 with a per-column scale)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}")
    m, k, n, precision, split, _ = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    scale = np.full(n, 2.0 ** -10, dtype=np.float32)
    return TileGemm(a, b, precision, "int8", scale=scale, split=split)


def scaling_point(config, workload_name, tiles=None, *, family=None, bandwidth=None, seed=0):
    """Run workload ``workload_name`` split over ``tiles`` (default ``config.npu_tiles``) tiles
    of ``config``; returns a dict of :data:`COLUMNS` (``speedup``, ``efficiency`` and
    ``shortfall_cycles`` None: :func:`with_speedup` fills them from the K = 1 point).
    ``family`` and ``bandwidth`` label the point (default: the config's name and
    ``main_bandwidth``)."""
    tiles = config.npu_tiles if tiles is None else tiles
    gemm = workload(workload_name, seed)
    (run,) = run_tile_gemms(config, [gemm], tiles)
    if run.error:
        raise RuntimeError(f"{workload_name} on {tiles} tiles of {config.name}: NPU error "
                           f"{run.error}")
    m, k, n = gemm.shape
    macs = m * k * n
    peak = tiles * config.npu_peak_macs_per_cycle
    used = run.tiles
    mean_done = sum(run.done) / used
    # the bytes that must cross the memory: A, B, scale read once, C written, and the LISTs
    # (32 B per descriptor), over the bandwidth (a lower bound: a column split reads A per tile)
    traffic = m * k + k * n + 4 * n + m * n + 32 * run.descriptors
    bytes_per_cycle = config.main_bytes_per_cycle * min(tiles, config.main_ports)
    return {
        "family": family or config.name, "array": f"{config.npu_rows}x{config.npu_cols}",
        "tiles": tiles, "bandwidth": bandwidth or config.main_bandwidth,
        "main_bytes_per_cycle": config.main_bytes_per_cycle, "workload": workload_name,
        "m": m, "k": k, "n": n, "precision": gemm.precision, "macs": macs,
        "peak_macs_per_cycle": peak, "cycles": run.cycles,
        "macs_per_cycle": round(macs / run.cycles, 3),
        "utilization": round(macs / run.cycles / peak, 4), "speedup": None, "efficiency": None,
        "shortfall_cycles": None, "imbalance_cycles": round(run.cycles - mean_done),
        "launch_cycles": run.launch,
        "wait_cycles": round(sum(run.wait) / used) if tiles > 1 else 0,
        "record_cycles": run.record, "descriptors": run.descriptors,
        "dma_bound_cycles": round(traffic / bytes_per_cycle), "exact": run.exact,
        "busy_cycles": None, "idle_cycles": None, "sync_cycles": None, "stall_cycles": None,
    }


def with_speedup(points):
    """``points`` with ``speedup`` = cycles(K = 1) / cycles, ``efficiency`` = speedup / K and
    ``shortfall_cycles`` = cycles - cycles(K = 1) / K, against the K = 1 point of the same
    family, bandwidth and workload (left None when there is none).

    Where the per-tile statistics were measured (``busy_cycles``: the mean NPU busy cycles of
    the working tiles; ``idle_cycles``: the mean of their done cycles minus that), the
    shortfall is split exactly into three terms, each against 1/K of the K = 1 point's own:
    ``imbalance_cycles`` (``cycles`` minus the tiles' mean done: waiting for the slowest
    tile), ``sync_cycles`` = ``idle_cycles - idle_cycles(K = 1) / K`` (synchronisation: a
    tile not yet started, its LIST fetch and FENCE, the polling that sees it idle) and
    ``stall_cycles`` = ``busy_cycles - busy_cycles(K = 1) / K`` (the tiles busy longer than
    their share: DMA grant waits, the arbitration, plus the split's own extra work, e.g. A
    read by every tile); ``shortfall = imbalance + sync + stall`` up to rounding."""
    base = {(p["family"], p["bandwidth"], p["workload"]): p for p in points
            if p["tiles"] == 1}
    out = []
    for p in points:
        p = dict(p)
        b = base.get((p["family"], p["bandwidth"], p["workload"]))
        if b:
            one, k = b["cycles"], p["tiles"]
            p["speedup"] = round(one / p["cycles"], 3)
            p["efficiency"] = round(one / p["cycles"] / k, 3)
            p["shortfall_cycles"] = round(p["cycles"] - one / k)
            if None not in (p.get("busy_cycles"), p.get("idle_cycles"), b.get("busy_cycles"),
                            b.get("idle_cycles")):
                p["sync_cycles"] = round(p["idle_cycles"] - b["idle_cycles"] / k)
                p["stall_cycles"] = round(p["busy_cycles"] - b["busy_cycles"] / k)
        out.append(p)
    return out


def run_scaling(families=("4x4",), workloads=("gemm256", "gemv512"),
                bandwidths=("shared", "scaled"), tile_counts=(1, 2, 4), progress=None,
                point=None):
    """The scaling grid: every family x bandwidth x workload x K (K up to the family's
    tiles); returns the points with speedup and efficiency. ``point`` measures one point
    (default :func:`scaling_point`; ``dure bench --scaling --host-lists`` passes
    :func:`dure.compiler.tile_bench.gemm_point`, same arguments)."""
    point = point or scaling_point
    points = []
    for family in families:
        for bandwidth in bandwidths:
            config = family_config(family, bandwidth)
            for name in workloads:
                for k in tile_counts:
                    if k > config.npu_tiles:
                        continue
                    if progress:
                        progress(f"{family} {bandwidth} {name} K={k}")
                    points.append(point(config, name, k, family=family,
                                        bandwidth=bandwidth))
    return with_speedup(points)


def write_csv(points, path, columns=None):
    """Write ``points`` to ``path`` with ``columns`` (default :data:`COLUMNS`), in that order;
    None is written as an empty cell."""
    columns = COLUMNS if columns is None else columns
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for p in points:
            writer.writerow({c: "" if p[c] is None else p[c] for c in columns})
    return path


#: The columns of the printed / README table.
SHORT = ("family", "tiles", "bandwidth", "workload", "cycles", "macs_per_cycle", "speedup",
         "efficiency", "shortfall_cycles", "imbalance_cycles", "launch_cycles", "wait_cycles",
         "dma_bound_cycles", "exact")


def markdown(points, columns=SHORT):
    """The points as a Markdown table of ``columns``."""
    def cell(v):
        return "-" if v is None else ("yes" if v is True else "NO" if v is False else str(v))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(p[c]) for c in columns) + " |" for p in points]
    return "\n".join(lines)
