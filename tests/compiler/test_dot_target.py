"""The dot-unit target (compiler/dot_target.py): TFLite INT8 models compiled for the
``icebreaker`` preset (no NPU, the INT8 dot-product unit) run bit for bit as LiteRT's reference
kernels on the compiler's model of the program; what the target cannot run is refused naming
the operator and the target. The same programs on the simulated SoC:
tests/firmware/test_dot_model_run.py."""

import numpy as np
import pytest
from dure.compiler.dot_target import (
    ROUNDING_DOUBLE,
    ROUNDING_SINGLE,
    compile_dot,
    dense_params,
)
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.fc_store import fc_store_params
from dure.compiler.layer_table import CoreOp
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.tflite_frontend import parse_tflite
from dure.rtl.npu.commands import RequantMode
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import dot_models as dm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

CONFIG = preset("icebreaker")

MODELS = dm.WHOLE_MODELS


def _dense_records(program):
    records = program.layer_records(program.table_layout()[0])
    layers = [program.layers[i] for i in program.table_layers()]
    return [(la, r) for la, r in zip(layers, records, strict=True) if la.kind == "dot_dense"]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("unit", [True, False], ids=["unit", "core"])
def test_program_model_equals_litert(name, unit, model_case):
    data, graph, x = model_case(name)
    program = compile_dot(graph, CONFIG, unit=unit)
    assert all(la.where in ("core", "alias") for la in program.layers)
    assert not any(la.commands for la in program.layers)
    got = run_program(program, [x])[0][0]
    want = run_reference(data, x)[0]
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert len(np.unique(got)) > 1                  # not a constant output
    for layer, rec in _dense_records(program):
        assert rec[1] == CoreOp.DENSE_DOT_INT8
        assert rec[13] == int(unit and layer.params["in"] % 4 == 0)
        if layer.op.kind.value == "FULLY_CONNECTED":    # the mode fc_store proved exact
            mode = fc_store_params(graph, layer.op)[0]
            assert rec[12] == (ROUNDING_SINGLE if mode is RequantMode.TFLITE_SINGLE_ROUNDING
                               else ROUNDING_DOUBLE)
        else:
            assert rec[12] == ROUNDING_DOUBLE
    records = program.layer_records(program.table_layout()[0])
    for i, rec in zip(program.table_layers(), records, strict=True):
        if program.layers[i].kind == "dot_depthwise":
            assert rec[1] == CoreOp.DEPTHWISE_DOT_INT8
            assert (rec[28], rec[29]) == (int(unit), 12)    # 3x3 taps in 3 words


def test_which_layers_stream_on_the_unit(model_case):
    _, graph, _ = model_case("cnn_cin3")
    program = compile_dot(graph, CONFIG)
    assert [la.kind for la in program.layers] == [
        "im2col", "dot_dense", "im2col", "dot_dense", "dot_dense", "ADD", "AVERAGE_POOL_2D",
        "MAX_POOL_2D", "alias", "dot_dense", "SOFTMAX"]
    dense = [(la.params["in"], la.params["dot"]) for la, _ in _dense_records(program)]
    assert dense == [(27, False), (72, True), (8, True), (32, True)]


def test_compile_graph_takes_the_dot_target_on_the_board_preset(model_case):
    _, graph, x = model_case("mlp")
    a, b = compile_graph(graph, CONFIG), compile_dot(graph, CONFIG)
    assert [la.kind for la in a.layers] == [la.kind for la in b.layers] == ["dot_dense"] * 2
    assert a.weights == b.weights and a.tensor_addr == b.tensor_addr


def test_input_zero_point_folded_into_the_bias(model_case):
    # bias' = bias - x_zp * sum_k w (int32, wrapping): the reference's sum of (x - x_zp) * w
    _, graph, _ = model_case("mlp")
    op = next(op for op in graph.ops if op.kind.value == "FULLY_CONNECTED")
    p = dense_params(graph, op)
    zx = graph.tensors[op.inputs[0]].quant.zp
    assert zx != 0
    bias = graph.tensors[op.inputs[2]].data.astype(np.int64)
    want = bias - zx * p["w"].astype(np.int64).sum(axis=1)
    np.testing.assert_array_equal(p["bias"], want.astype(np.int32))


def test_float_and_onnx_models_refused():
    graph = parse_tflite(cm.tflite_float_mlp(np.random.default_rng(1)))
    with pytest.raises(UnsupportedModel, match="icebreaker target .* runs full-integer \\(INT8\\) "
                       "TFLite models only; this is a float model"):
        compile_graph(graph, CONFIG)
    graph = parse_onnx(cm.onnx_qdq_mlp(np.random.default_rng(1)))
    with pytest.raises(UnsupportedModel, match="TFLite models only; this is a onnx model"):
        compile_graph(graph, CONFIG)


def test_explicit_padding_pool_refused(model_case):
    # a pooling with explicit padding has no C kernel: refused at compile time, not at run time
    _, graph, _ = model_case("cnn")
    op = next(op for op in graph.ops if op.kind.value == "AVERAGE_POOL_2D")
    op.attrs["padding"] = (0, 0, 0, 0)
    with pytest.raises(UnsupportedModel, match="AVERAGE_POOL_2D .* is not supported by the "
                       "icebreaker target .*: no C kernel on the core"):
        compile_graph(graph, CONFIG)


def test_model_larger_than_main_memory_refused():
    graph = parse_tflite(cm.tflite_int8_mlp(np.random.default_rng(1), batch=1,
                                            sizes=(256, 256, 10)))
    with pytest.raises(UnsupportedModel, match="main memory of variant 'icebreaker' has 65536"):
        compile_graph(graph, CONFIG)


def test_not_a_dot_variant(model_case):
    _, graph, _ = model_case("mlp")
    with pytest.raises(ValueError, match="not an NPU-less dot-unit variant"):
        compile_dot(graph, preset("icebreaker-npu"))
