"""The per-layer report of a compiled program: one row per layer of the layer table.

Columns: layer index; the model node (index, type, name); where it runs (``NPU``, ``core``, or
``alias``: a layout-only RESHAPE / TRANSPOSE that is a view of its input's buffer and runs
nothing);
what it computes (the GEMM ``MxKxN``, ``im2col``, the operator, or ``<operator> (walk)``
for a whole operator lowered by an operator planner, :mod:`.npu_ops`; ``<operator> (float32)``
for a QDQ node onnxruntime leaves unfused, :mod:`.onnx_float`; its fast path: ``(sums)`` on
the NPU, ``(decide / float32)`` on the core, :mod:`.onnx_fast`); input and output shapes;
MACs; the GEMM planner's cycle estimate for NPU layers (core layers are not estimated); weight
bytes and activation bytes read and written. The totals below the table: MACs on the NPU and on
the core, the estimated NPU cycles and what they mean in MAC utilization of the array's peak,
the weights, and the activation arena (peak bytes with reuse by lifetime against the sum of all
buffers).
"""

import numpy as np
from dure.sim.report import format_table

__all__ = ["format_report", "report_rows"]

HEADERS = ["#", "node", "op", "where", "computes", "in", "out", "MACs", "est. cycles",
           "weight B", "act. B"]


def _shape(s):
    return "x".join(str(d) for d in s)


def report_rows(program):
    """The table rows (lists of cells) of :data:`HEADERS`."""
    rows = []
    for i, layer in enumerate(program.layers):
        op = layer.op
        ins = [program.buffers[n][1] for n in layer.reads]
        outs = [program.buffers[n][1] for n in layer.writes]
        act = sum(int(np.prod(s)) * np.dtype(program.buffers[n][0]).itemsize
                  for n, s in zip(layer.reads + layer.writes, ins + outs, strict=True))
        what = (("GEMV " if layer.kind == "gemv" else "GEMM ") + "x".join(map(str, layer.gemm))
                if layer.gemm else
                layer.kind if layer.kind == "im2col" else
                op.kind.value.lower() + " (alias)" if layer.kind == "alias" else
                op.kind.value.lower() + (" (sums)" if op.attrs.get("ort_float") else " (walk)")
                if layer.kind == "npu_op" else
                op.kind.value.lower() + " (decide / float32)" if layer.kind == "conv_fast" else
                op.kind.value.lower() + " (double rescale)" if layer.kind == "fc_rescale" else
                op.kind.value.lower() + (" (float32)" if op.attrs.get("ort_float") else ""))
        weights = layer.weight_bytes or sum(program.graph.tensors[n].nbytes
                                            for n in op.inputs if n is not None and
                                            program.graph.tensors[n].const)
        if layer.kind == "im2col":
            weights = 0
        rows.append([i, f"{op.index} {op.name}"[:40], op.source,
                     {"npu": "NPU", "alias": "alias"}.get(layer.where, "core"), what,
                     ",".join(_shape(s) for s in ins) or "-", ",".join(_shape(s) for s in outs),
                     layer.macs, layer.est_cycles if layer.est_cycles is not None else "-",
                     weights, act])
    return rows


def format_report(program):
    """The report as text (table and totals)."""
    npu = sum(layer.macs for layer in program.layers if layer.where == "npu")
    core = sum(layer.macs for layer in program.layers if layer.where == "core")
    cycles = sum(layer.est_cycles or 0 for layer in program.layers)
    peak = program.config.npu_peak_macs_per_cycle
    lines = [format_table(HEADERS, report_rows(program)), ""]
    lines.append(f"model: {len(program.graph.ops)} operators, {len(program.layers)} layers "
                 f"({sum(1 for la in program.layers if la.where == 'npu')} on the NPU); "
                 f"precision {program.precision}, arithmetic {program.graph.arithmetic}, "
                 f"variant {program.config.name}")
    lines.append(f"MACs: {npu + core} total, {npu} on the NPU, {core} on the core")
    if cycles:
        lines.append(f"NPU layers: {cycles} cycles estimated by the GEMM / walk planners' cost "
                     f"models "
                     f"({npu / cycles:.1f} MACs/cycle, {100 * npu / cycles / peak:.1f} % of "
                     f"peak {peak}); core layers not estimated")
    lines.append(f"memory: weights {len(program.weights)} B at 0x{program.weights_base:08x}; "
                 f"activations {program.arena_size} B peak at 0x{program.arena_base:08x} "
                 f"({program.arena_total} B without reuse)")
    return "\n".join(lines)


def soc_layer_rows(program, run, *, cycles_header="cycles"):
    """The per-layer table of a whole-model SoC run (:func:`dure.compiler.soc.run_program_soc`
    or a board run with the same ``layer_cycles`` / ``host_layers``): header and rows of
    index, node, where it ran (NPU, core in C, alias (nothing runs, 0 cycles), or host for an op
    without a C kernel), what it
    computes, MACs, measured cycles and NPU utilization against the variant's peak."""
    peak = program.config.npu_peak_macs_per_cycle
    rows = []
    for i, (layer, cycles) in enumerate(zip(program.layers, run.layer_cycles, strict=True)):
        where = ("NPU" if layer.where == "npu" else "alias" if layer.where == "alias" else
                 "host (no C kernel)" if i in run.host_layers else
                 "dot unit" if layer.kind == "dot_dense" and layer.params["dot"] else "core (C)")
        util = (f"{100 * layer.macs / cycles / peak:.1f}"
                if cycles and layer.where == "npu" else "-")
        rows.append([i, layer.op.source, where, layer.kind.lower(), layer.macs,
                     cycles if cycles is not None else "-", util])
    return ["#", "node", "where", "computes", "MACs", cycles_header, "util %"], rows
