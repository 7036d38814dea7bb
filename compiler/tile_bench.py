"""Whole compiled models split across NPU tiles on the simulated SoC: the model part of the
tile-scaling curve (``dure bench --scaling --models``).

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
"""

import csv
import pathlib

import numpy as np

__all__ = ["COLUMNS", "model_point", "with_speedup", "write_csv"]

COLUMNS = ("model", "family", "array", "tiles", "bandwidth", "macs", "peak_macs_per_cycle",
           "cycles", "npu_cycles", "core_cycles", "split_layers", "npu_layers",
           "one_tile_cycles", "macs_per_cycle", "utilization", "speedup", "efficiency",
           "exact")


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
            "exact": bool(outputs[0].dtype == want.dtype and np.array_equal(outputs[0], want))}


def with_speedup(points):
    """``points`` with ``speedup`` = cycles(K = 1) / cycles and ``efficiency`` = speedup / K
    against the K = 1 point of the same family, bandwidth and model (None without one)."""
    base = {(p["family"], p["bandwidth"], p["model"]): p["cycles"] for p in points
            if p["tiles"] == 1}
    out = []
    for p in points:
        p = dict(p)
        one = base.get((p["family"], p["bandwidth"], p["model"]))
        if one:
            p["speedup"] = round(one / p["cycles"], 3)
            p["efficiency"] = round(one / p["cycles"] / p["tiles"], 3)
        out.append(p)
    return out


def write_csv(points, path):
    """Write ``points`` with the columns of :data:`COLUMNS`, in that order."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for p in points:
            writer.writerow({c: "" if p[c] is None else p[c] for c in COLUMNS})
    return path
