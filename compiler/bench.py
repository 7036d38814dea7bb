"""Whole compiled models on the simulated SoC (``make bench-models``, ``dure bench-models``).

The models (listed by the command, :mod:`dure.commands.bench_models`) are the
MLPerf-Tiny-shaped networks the project builds without downloads (random weights, same layer
shapes): ResNet-8 (32x32x3 image classification), DS-CNN (49x10 keyword spotting, 64
channels, 4 depthwise-separable blocks), MobileNetV1-0.25 (96x96x3 visual wake words) and the
FC autoencoder (anomaly detection, batch 1), each as a full-integer TFLite model (INT8) and as
a float32 TFLite model (run in FP16). Each is compiled for the variant
(:func:`.lower.compile_graph`), run on one random input in one firmware run
(:func:`.soc.run_program_soc`) and compared bit for bit with the compiler's reference; INT8
also bit for bit with the model's runtime (LiteRT's reference kernels), FP16 against LiteRT's
float32 result (max error and top-1 agreement, reported, not asserted). A core layer without a
C kernel (none in these models since the FP16 SOFTMAX got one) is computed by the host between
firmware runs and not timed (``host_layers``).

Per model (:data:`COLUMNS`, the CSV's stable header; new columns only ever go at the end):
MACs (the model's), SoC cycles of the whole inference (first layer to last, core layers
included) and split into NPU / core layers, inferences per second at the variant's clock and at
100 MHz, MACs per cycle and % of the array's peak, DMA bytes, whether the output is exact
(``exact_runtime`` empty for FP16); then the FP16 comparison with the float32 runtime
(``runtime_max_abs_err``, ``runtime_top1``; empty for INT8), the layers the host computed, the
filter bytes, the roofline bound, the % of it reached and whether the bound is memory's.

Roofline bound (:func:`roofline_cycles`): ``max(MACs / peak, weight bytes / main-memory bytes
per cycle)``, the weight bytes those of every filter the model reads once (int8: 1 byte, FP16:
2 bytes per weight; biases, requantization parameters and activations not counted, so the
bound is optimistic). A model whose second term is the larger is memory-bound
(``memory_bound``): batch-1 fully connected layers use each weight once. Per layer
(:data:`LAYER_COLUMNS`): kind, where it runs, MACs, cycles; for an NPU layer also its work
(``work_cycles``: the rows its COMPUTEs and ELTWISEs take, one per cycle,
:func:`dure.sim.layer_program.work_rows`) and its fixed cost (``fixed_cycles``: cycles minus
the work, every stall included; empty for core layers).
"""

import csv
import dataclasses

import numpy as np

__all__ = ["COLUMNS", "LAYER_COLUMNS", "ModelResult", "run_model", "write_csv",
           "roofline_cycles", "filter_bytes", "exact"]

COLUMNS = ["model", "precision", "variant", "layers", "npu_layers", "core_layers", "macs",
           "cycles", "npu_cycles", "core_cycles", "inferences_per_s", "inferences_per_s_100mhz",
           "macs_per_cycle", "util_pct", "npu_layer_util_pct", "dma_rd", "dma_wr",
           "exact_reference", "exact_runtime", "runtime_max_abs_err", "runtime_top1",
           "host_layers", "weight_bytes", "roofline_cycles", "roofline_pct", "memory_bound"]
LAYER_COLUMNS = ["model", "index", "node", "kind", "where", "macs", "cycles", "util_pct",
                 "work_cycles", "fixed_cycles"]


@dataclasses.dataclass
class ModelResult:
    row: dict
    layers: list


def filter_bytes(graph, precision):
    """Bytes of every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED filter of ``graph`` at run
    time (one byte per weight in INT8, two in FP16)."""
    from .ir import OpKind

    kinds = (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED)
    eb = 2 if precision == "fp16" else 1
    return sum(int(np.prod(graph.tensors[op.inputs[1]].shape)) * eb
               for op in graph.ops if op.kind in kinds)


def roofline_cycles(macs, weight_bytes, config):
    """``(cycles, memory_bound)``: the roofline bound of a model (module docstring)."""
    compute = macs / config.npu_peak_macs_per_cycle
    memory = weight_bytes / config.main_bytes_per_cycle
    return max(compute, memory), memory > compute


def run_model(name, data, config, runtime, rng, *, precision="int8"):
    """Compile the TFLite model ``data`` (bytes) in ``precision`` (``"int8"`` for a
    full-integer model, ``"fp16"`` for a float one) and run it on ``config``'s SoC on one
    random input drawn from ``rng`` (a numpy Generator: int8 uniform, or float32 standard
    normal); ``runtime(data, x)`` gives the model runtime's outputs. Returns a
    :class:`ModelResult`."""
    from ..sim.layer_program import work_rows
    from . import reference
    from .lower import compile_graph
    from .soc import run_program_soc
    from .tflite_frontend import parse_tflite

    graph = parse_tflite(data)
    program = compile_graph(graph, config, precision)
    t = graph.tensors[graph.inputs[0]]
    fp16 = program.precision == "fp16"
    if fp16:
        x = rng.standard_normal(t.shape).astype(np.float32)
    else:
        x = rng.integers(-128, 128, t.shape).astype(np.int8)
    outputs, run = run_program_soc(program, [x], host_fallback=fp16)
    want = reference.run(graph, [x])[0]
    runtime_y = runtime(data, x)[0]
    y = outputs[0]
    peak = config.npu_peak_macs_per_cycle
    layers, npu_cycles, core_cycles = [], 0, 0
    for i, (layer, cycles) in enumerate(zip(program.layers, run.layer_cycles, strict=True)):
        where = layer.where if cycles is not None else "host"
        cycles = cycles or 0
        if where == "npu":
            npu_cycles += cycles
        else:
            core_cycles += cycles
        work = work_rows(layer.commands) if where == "npu" else ""
        layers.append({"model": name, "index": i, "node": layer.op.name, "kind": layer.kind,
                       "where": where, "macs": layer.macs, "cycles": cycles,
                       "util_pct": round(100 * layer.macs / cycles / peak, 1) if cycles else 0,
                       "work_cycles": work, "fixed_cycles": cycles - work if work != "" else ""})
    macs, cycles = program.macs, run.cycles
    wbytes = filter_bytes(graph, program.precision)
    bound, memory_bound = roofline_cycles(macs, wbytes, config)
    if fp16:
        exact_ref = bool(y.dtype == want.dtype and np.array_equal(y.view(np.uint32),
                                                                   want.view(np.uint32)))
        err = float(np.max(np.abs(y.astype(np.float64) - runtime_y.astype(np.float64))))
        top1 = bool(np.array_equal(np.argmax(y.reshape(y.shape[0], -1), axis=1),
                                   np.argmax(runtime_y.reshape(y.shape[0], -1), axis=1)))
        exact_rt = ""
    else:
        exact_ref = bool(y.dtype == want.dtype and np.array_equal(y, want))
        exact_rt, err, top1 = bool(np.array_equal(y, runtime_y)), "", ""
    row = {"model": name, "precision": program.precision, "variant": config.name,
           "layers": len(program.layers),
           "npu_layers": sum(1 for la in program.layers if la.where == "npu"),
           "core_layers": sum(1 for la in program.layers if la.where == "core"),
           "macs": macs, "cycles": cycles, "npu_cycles": npu_cycles, "core_cycles": core_cycles,
           "inferences_per_s": round(config.clk_freq / cycles, 1),
           "inferences_per_s_100mhz": round(100e6 / cycles, 1),
           "macs_per_cycle": round(macs / cycles, 2),
           "util_pct": round(100 * macs / cycles / peak, 1),
           "npu_layer_util_pct": round(100 * macs / npu_cycles / peak, 1) if npu_cycles else 0,
           "dma_rd": sum(s.dma_rd for s in run.segments),
           "dma_wr": sum(s.dma_wr for s in run.segments),
           "exact_reference": exact_ref, "exact_runtime": exact_rt,
           "runtime_max_abs_err": err if err == "" else f"{err:.4g}", "runtime_top1": top1,
           "host_layers": len(run.host_layers), "weight_bytes": wbytes,
           "roofline_cycles": round(bound), "roofline_pct": round(100 * bound / cycles, 1),
           "memory_bound": memory_bound}
    return ModelResult(row, layers)


def exact(row):
    """Whether a result row is bit-exact where it must be: with the compiler's reference, and
    for INT8 also with the runtime."""
    return bool(row["exact_reference"]) and row["exact_runtime"] in (True, "")


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
        colours = [{"npu": "tab:blue", "host": "tab:gray"}.get(la["where"], "tab:orange")
                   for la in r.layers]
        ax.bar(xs, [la["cycles"] for la in r.layers], color=colours)
        ax.set_xticks(xs, [la["kind"].lower()[:10] for la in r.layers], rotation=70,
                      fontsize=7)
        ax.set_ylabel("cycles")
        ax.set_title(f"{r.row['model']} {r.row.get('precision', '')}: {r.row['cycles']} "
                     f"cycles, {r.row['util_pct']} % of peak (blue: NPU layers, orange: core "
                     "layers)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
