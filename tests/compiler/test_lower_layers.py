"""One layer at a time (compiler/lower_layers.py): the MACs of each operator kind, and a GEMM
layer's descriptors emitted in column and row parts computing exactly the whole layer's output
on the golden NPU command model."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.ir import OpKind
from dure.compiler.lower import compile_graph
from dure.compiler.lower_layers import emit_gemm, layer_macs
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset


def test_layer_macs_per_kind():
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    seen = set()
    for op in graph.ops:
        out = graph.tensors[op.outputs[0]].shape
        w = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] else None
        if op.kind is OpKind.CONV_2D:
            want = int(np.prod(out)) * w[1] * w[2] * w[3]
        elif op.kind is OpKind.DEPTHWISE_CONV_2D:
            want = int(np.prod(out)) * w[1] * w[2]
        elif op.kind is OpKind.FULLY_CONNECTED:
            want = int(np.prod(out)) * w[1]
        else:
            want = 0
        assert layer_macs(graph, op) == want, op.kind
        seen.add(op.kind)
    assert {OpKind.CONV_2D, OpKind.FULLY_CONNECTED} <= seen


def test_gemm_parts_cover_the_layer():
    """A GEMM layer's descriptors for output columns / rows parts are refused outside the
    layer and, run together, give the whole layer's output (mlp on the 4x4 array)."""
    rng = np.random.default_rng(5)
    graph = parse_tflite(cm.tflite_int8_mlp(rng, batch=9, sizes=(40, 33, 17, 5)))
    program = compile_graph(graph, preset("npu-small"), gemv=False)
    layer = next(la for la in program.layers if la.kind == "gemm")
    m, _, n = layer.gemm
    with pytest.raises(ValueError, match="bad part"):
        emit_gemm(program.config, layer, program.tensor_addr, program.weight_addr,
                  cols=(0, n + 1))
    whole = emit_gemm(program.config, layer, program.tensor_addr, program.weight_addr)
    assert layer.commands[:-1] == [list(d) for d in whole]      # (the FENCE is lower's)
    for part in ({"cols": (0, n // 2)}, {"rows": (0, m // 2)}):
        other = {k: (v[1], n if k == "cols" else m) for k, v in part.items()}
        layer.commands = [list(d) for d in (
            emit_gemm(program.config, layer, program.tensor_addr, program.weight_addr, **part) +
            emit_gemm(program.config, layer, program.tensor_addr, program.weight_addr, **other))]
        x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0], reference.run(graph, [x])[0]), part
