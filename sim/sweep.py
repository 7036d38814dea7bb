"""Design-space sweep points: the grid, one point's SoC configuration and its measurement.

This module knows nothing of Dask: :mod:`dure.commands.sweep` runs each point of a grid as an
independent task and caches the rows; here is what one point is and how it is measured.

Grid
----
A grid is a mapping of axis name to a list of values (:data:`AXES`); a missing axis takes its
default (:data:`DEFAULTS`). :func:`parse_grid` checks it and :func:`points` lists the cartesian
product in a stable order (axes in :data:`AXES` order, values in the order given, duplicates
dropped). Axes:

- ``rows``, ``cols``: the NPU array (``npu_rows``, ``npu_cols``);
- ``tiles``: ``npu_tiles`` (the work split over that many tiles);
- ``precision``: ``int8`` or ``fp16``;
- ``bytes_per_cycle``, ``latency``: main memory (``main_bytes_per_cycle``, ``main_latency``);
- ``main_bandwidth``: ``shared`` (every tile's DMA through the one main-memory port) or
  ``scaled`` (a port of ``bytes_per_cycle`` per tile), ``SoCConfig.main_bandwidth``; with one
  tile both are the same SoC;
- ``workload``: a GEMM shape or layer of :mod:`dure.sim.npu_bench` (``SHAPES``, ``LAYERS``), a
  workload of :mod:`dure.sim.tile_scaling` (``WORKLOADS``), or ``gemmMxKxN`` (any GEMM).

A point's configuration is the base preset with those fields replaced (:func:`point_config`);
one the configuration refuses (say ``rows = 3``) is measured as a row whose ``error`` says why,
never as a crash of the sweep.

Engines (:func:`run_point`)
---------------------------
``cost`` (cheap, the default of tests): the GEMM planner's blocking (:func:`plan_gemm`) and an
estimate of its time on the point's array and memory, ``max(push, memory, compute)`` plus the
array latency and the memory latency; with K tiles the N columns are split over the tiles and
the memory bandwidth is shared (``main_bandwidth = shared``) or K times as large (``scaled``).
Layers count as their implicit GEMM (M output pixels, K MACs per output, N channels). No
simulation, so ``exact`` is empty.

``rtl``: the simulated SoC (Verilator, firmware): one tile runs
:func:`dure.sim.npu_bench.run_shape` / ``run_layer``; more tiles run
:func:`dure.sim.tile_scaling.scaling_point` (its workloads, INT8). ``exact`` is the bit-for-bit
comparison with the golden model. Models are built by :mod:`dure.sim.verilator_build` (one
folder per configuration hash, an ``flock`` so concurrent workers build each model once).
"""

import itertools
import math
import re
from dataclasses import replace

from dure.config import MAIN_BANDWIDTHS, preset

from . import npu_bench, tile_scaling
from .gemm_plan import CMD_CYCLES, LATENCY, RELOAD, plan_gemm, tile_count

__all__ = ["AXES", "DEFAULTS", "ENGINES", "COLUMNS", "GridError", "parse_grid", "points",
           "point_config", "workload_shape", "run_point"]

#: Grid axes, in the order of the CSV columns and of :func:`points`.
AXES = ("rows", "cols", "tiles", "precision", "bytes_per_cycle", "latency", "workload",
        "main_bandwidth")
#: Value of an axis the grid leaves out.
DEFAULTS = {"rows": [8], "cols": [8], "tiles": [1], "precision": ["int8"],
            "bytes_per_cycle": [4], "latency": [10], "workload": ["gemm64"],
            "main_bandwidth": ["shared"]}
ENGINES = ("cost", "rtl")
#: CSV columns of one point (stable: append, never reorder; ``main_bandwidth`` came last).
COLUMNS = (*AXES[:-1], "engine", "m", "k", "n", "macs", "cycles", "macs_per_cycle", "util_pct",
           "exact", "error", "main_bandwidth")

_INT_AXES = ("rows", "cols", "tiles", "bytes_per_cycle", "latency")
_CUSTOM = re.compile(r"gemm(\d+)x(\d+)x(\d+)$")


class GridError(ValueError):
    """A grid that cannot be swept; the message names the bad key or value."""


def _workloads():
    names = {name for name, *_ in npu_bench.SHAPES}
    names |= {name for name, *_ in npu_bench.LAYERS}
    return names | set(tile_scaling.WORKLOADS)


def parse_grid(grid):
    """Check ``grid`` (axis -> value or list of values) and return it complete (every axis a
    non-empty list, defaults filled in). Raises :class:`GridError` naming the bad key."""
    if not isinstance(grid, dict):
        raise GridError(f"a grid is a table of axes, not {type(grid).__name__}")
    out = {}
    for key, values in grid.items():
        if key not in AXES:
            raise GridError(f"unknown grid key {key!r}; the axes are {', '.join(AXES)}")
        if not isinstance(values, list):
            values = [values]
        if not values:
            raise GridError(f"grid key {key!r} has no values")
        for value in values:
            if key in _INT_AXES:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise GridError(f"grid key {key!r}: {value!r} is not an integer >= 1")
            elif key == "precision":
                if value not in ("int8", "fp16"):
                    raise GridError(f"grid key 'precision': {value!r} is not int8 or fp16")
            elif key == "main_bandwidth":
                if value not in MAIN_BANDWIDTHS:
                    raise GridError(f"grid key 'main_bandwidth': {value!r} is not "
                                    f"{' or '.join(MAIN_BANDWIDTHS)}")
            elif not isinstance(value, str) or not (value in _workloads()
                                                     or _CUSTOM.match(value)):
                raise GridError(f"grid key 'workload': unknown workload {value!r}; use one of "
                                f"{', '.join(sorted(_workloads()))} or gemmMxKxN")
        out[key] = list(dict.fromkeys(values))
    return {key: out.get(key, DEFAULTS[key]) for key in AXES}


def points(grid):
    """Every point of ``grid`` (checked by :func:`parse_grid`) as a dict of :data:`AXES`."""
    grid = parse_grid(grid)
    return [dict(zip(AXES, values, strict=True))
            for values in itertools.product(*(grid[key] for key in AXES))]


def point_config(point, base="sim"):
    """The SoC configuration of ``point``: preset ``base`` with the array, tiles and main
    memory replaced (``main_bandwidth`` only with several tiles: one tile has one port either
    way). Raises ValueError when the configuration refuses the values."""
    start = preset(base)
    bandwidth = point.get("main_bandwidth", "shared") if point["tiles"] > 1 else \
        start.main_bandwidth
    config = replace(start, npu_rows=point["rows"], npu_cols=point["cols"],
                     npu_tiles=point["tiles"], main_bytes_per_cycle=point["bytes_per_cycle"],
                     main_latency=point["latency"], main_bandwidth=bandwidth)
    if config == start:         # the preset itself: keep its name (and its built models)
        return config
    name = (f"{base}-{point['rows']}x{point['cols']}-{point['tiles']}t-"
            f"{point['bytes_per_cycle']}b{point['latency']}l")
    if config.main_ports > 1:
        name += "-scaled"
    return replace(config, name=name)


def workload_shape(name):
    """``(M, K, N, kind)`` of a workload; kind ``gemm``, ``layer`` or ``tiles``."""
    match = _CUSTOM.match(name)
    if match:
        return (*map(int, match.groups()), "gemm")
    for shape, m, k, n, _ in npu_bench.SHAPES:
        if shape == name:
            return m, k, n, "gemm"
    for layer, op, x_shape, cout, kernel, stride, padding, _ in npu_bench.LAYERS:
        if layer == name:
            oh = math.ceil(x_shape[1] / stride) if padding == "SAME" else \
                (x_shape[1] - kernel[0]) // stride + 1
            ow = math.ceil(x_shape[2] / stride) if padding == "SAME" else \
                (x_shape[2] - kernel[1]) // stride + 1
            k = kernel[0] * kernel[1] * (x_shape[3] if op == "conv" else 1)
            return x_shape[0] * oh * ow, k, cout, "layer"
    if name in tile_scaling.WORKLOADS:
        m, k, n, *_ = tile_scaling.WORKLOADS[name]
        return m, k, n, "tiles"
    raise GridError(f"unknown workload {name!r}")


def _cost_cycles(config, point, m, k, n):
    """The ``cost`` engine's estimate (see the module docstring)."""
    elem = 1 if point["precision"] == "int8" else 2
    tiles = point["tiles"]
    n_tile = tile_count(n, tiles)           # columns per tile (the last may have fewer)
    plan = plan_gemm(config, m, k, n_tile, elem_bytes=elem, scale=elem == 1, bias=True)
    r = config.npu_rows
    blocks = tile_count(m, plan.mblk)
    groups = tile_count(plan.nt, plan.gn)
    chunks = tile_count(plan.kt, plan.q)
    gm = tile_count(min(m, plan.mblk), plan.mc)
    commands = blocks * (groups * plan.kt + chunks * plan.nt + plan.kt * gm * plan.nt
                         + plan.nt * (3 if elem == 1 else 2))
    push = CMD_CYCLES * commands * tiles         # one core pushes every tile's descriptors
    read = elem * (m * k * groups + k * n_tile * blocks) * tiles
    written = m * n * (1 if elem == 1 else 2)
    memory = (read + written) / (config.main_bytes_per_cycle * config.main_ports)

    def step(count):
        return max(gm * count * max(plan.mc, RELOAD * r), LATENCY) if count else 0

    compute = blocks * plan.kt * ((plan.nt // plan.gn) * step(plan.gn)
                                  + step(plan.nt % plan.gn))
    return math.ceil(max(push, memory, compute)) + LATENCY + config.main_latency


def _rtl(config, point, name, kind):
    """(cycles, exact) of the ``rtl`` engine."""
    precision = point["precision"]
    if point["tiles"] > 1 or kind == "tiles":
        if name not in tile_scaling.WORKLOADS:
            raise ValueError(f"workload {name!r} has no tile split; with tiles use one of "
                             f"{', '.join(tile_scaling.WORKLOADS)}")
        if precision != "int8":
            raise ValueError("the tile split runs INT8 workloads only")
        row = tile_scaling.scaling_point(config, name)
        return int(row["cycles"]), bool(row["exact"])
    m, k, n, _ = workload_shape(name)
    if kind == "layer":
        spec = next(layer for layer in npu_bench.LAYERS if layer[0] == name)
        row = npu_bench.run_layer(config, *spec[:7], precision)
    else:
        row = npu_bench.run_shape(config, name, m, k, n, precision)
    return int(row.cycles), bool(row.exact)


def run_point(point, engine="cost", base="sim"):
    """Measure one point; returns a dict of :data:`COLUMNS`. A configuration or workload that
    cannot run gives a row with ``error`` set (and no cycles) instead of raising."""
    if engine not in ENGINES:
        raise GridError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    row = {key: point[key] for key in AXES}
    row.update(engine=engine, m="", k="", n="", macs="", cycles="", macs_per_cycle="",
               util_pct="", exact="", error="")
    try:
        m, k, n, kind = workload_shape(point["workload"])
        row.update(m=m, k=k, n=n, macs=m * k * n)
        config = point_config(point, base)
        if point["precision"] == "fp16" and not config.npu_fp16:
            raise ValueError(f"{config.name} has no FP16 datapath")
        if engine == "cost":
            cycles, exact = _cost_cycles(config, point, m, k, n), ""
        else:
            cycles, exact = _rtl(config, point, point["workload"], kind)
        peak = point["tiles"] * config.npu_peak_macs_per_cycle
        rate = m * k * n / cycles
        row.update(cycles=cycles, macs_per_cycle=round(rate, 3),
                   util_pct=round(100 * rate / peak, 2), exact=exact)
    except Exception as error:       # any failure is the point's result, not the sweep's
        row["error"] = f"{type(error).__name__}: {error}".replace("\n", " ")
    return row
