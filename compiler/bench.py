"""Whole compiled models on the simulated SoC (``make bench-models``, ``dure bench-models``).

The models (listed by the command, :mod:`dure.commands.bench_models`) are the
MLPerf-Tiny-shaped networks the project builds without downloads (random weights, same layer
shapes): ResNet-8 (32x32x3 image classification) and DS-CNN (49x10 keyword spotting, 64
channels, 4 depthwise-separable blocks), full-integer TFLite. Each is compiled for the variant
(:func:`.lower.compile_graph`), run on one random input in one firmware run
(:func:`.soc.run_program_soc`) and compared bit for bit with the compiler's reference and the
model's runtime (LiteRT's reference kernels).

Per model (:data:`COLUMNS`, the CSV's stable header): MACs (the model's), SoC cycles of the
whole inference (first layer to last, core layers included) and split into NPU / core layers,
inferences per second at the variant's clock and at 100 MHz, MACs per cycle and % of the
array's peak, DMA bytes, whether the output is exact. Per layer (:data:`LAYER_COLUMNS`): kind,
where it runs, MACs, cycles.
"""

import csv
import dataclasses

import numpy as np

__all__ = ["COLUMNS", "LAYER_COLUMNS", "ModelResult", "run_model", "write_csv"]

COLUMNS = ["model", "precision", "variant", "layers", "npu_layers", "core_layers", "macs",
           "cycles", "npu_cycles", "core_cycles", "inferences_per_s", "inferences_per_s_100mhz",
           "macs_per_cycle", "util_pct", "npu_layer_util_pct", "dma_rd", "dma_wr",
           "exact_reference", "exact_runtime"]
LAYER_COLUMNS = ["model", "index", "node", "kind", "where", "macs", "cycles", "util_pct"]


@dataclasses.dataclass
class ModelResult:
    row: dict
    layers: list


def run_model(name, data, config, runtime, rng):
    """Compile the TFLite model ``data`` (bytes) and run it on ``config``'s SoC on one random
    input drawn from ``rng`` (a numpy Generator); ``runtime(data, x)`` gives the model
    runtime's outputs. Returns a :class:`ModelResult`."""
    from . import reference
    from .lower import compile_graph
    from .soc import run_program_soc
    from .tflite_frontend import parse_tflite

    graph = parse_tflite(data)
    program = compile_graph(graph, config)
    t = graph.tensors[graph.inputs[0]]
    x = rng.integers(-128, 128, t.shape).astype(np.int8)
    outputs, run = run_program_soc(program, [x])
    want = reference.run(graph, [x])[0]
    runtime_y = runtime(data, x)[0]
    y = outputs[0]
    peak = config.npu_peak_macs_per_cycle
    layers, npu_cycles, core_cycles = [], 0, 0
    for i, (layer, cycles) in enumerate(zip(program.layers, run.layer_cycles, strict=True)):
        if layer.where == "npu":
            npu_cycles += cycles
        else:
            core_cycles += cycles
        layers.append({"model": name, "index": i, "node": layer.op.name, "kind": layer.kind,
                       "where": layer.where, "macs": layer.macs, "cycles": cycles,
                       "util_pct": round(100 * layer.macs / cycles / peak, 1) if cycles else 0})
    macs, cycles = program.macs, run.cycles
    row = {"model": name, "precision": program.precision, "variant": config.name,
           "layers": len(program.layers),
           "npu_layers": sum(1 for la in program.layers if la.where == "npu"),
           "core_layers": sum(1 for la in program.layers if la.where != "npu"),
           "macs": macs, "cycles": cycles, "npu_cycles": npu_cycles, "core_cycles": core_cycles,
           "inferences_per_s": round(config.clk_freq / cycles, 1),
           "inferences_per_s_100mhz": round(100e6 / cycles, 1),
           "macs_per_cycle": round(macs / cycles, 2),
           "util_pct": round(100 * macs / cycles / peak, 1),
           "npu_layer_util_pct": round(100 * macs / npu_cycles / peak, 1) if npu_cycles else 0,
           "dma_rd": sum(s.dma_rd for s in run.segments),
           "dma_wr": sum(s.dma_wr for s in run.segments),
           "exact_reference": bool(y.dtype == want.dtype and np.array_equal(y, want)),
           "exact_runtime": bool(np.array_equal(y, runtime_y))}
    return ModelResult(row, layers)


def write_csv(results, path, layers_path):
    """Write the per-model CSV (:data:`COLUMNS`) and the per-layer CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for r in results:
            w.writerow(r.row)
    with open(layers_path, "w", newline="") as f:
        w = csv.DictWriter(f, LAYER_COLUMNS)
        w.writeheader()
        for r in results:
            w.writerows(r.layers)


def write_chart(results, path):
    """A PNG with one panel per model: cycles per layer, NPU and core layers in two colours.
    Returns the path, or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.2 * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results, strict=True):
        xs = [la["index"] for la in r.layers]
        colours = ["tab:blue" if la["where"] == "npu" else "tab:orange" for la in r.layers]
        ax.bar(xs, [la["cycles"] for la in r.layers], color=colours)
        ax.set_xticks(xs, [la["kind"].lower()[:10] for la in r.layers], rotation=70,
                      fontsize=7)
        ax.set_ylabel("cycles")
        ax.set_title(f"{r.row['model']}: {r.row['cycles']} cycles, {r.row['util_pct']} % of "
                     f"peak (blue: NPU layers, orange: core layers)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
