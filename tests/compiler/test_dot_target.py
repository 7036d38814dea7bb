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
from dure.compiler.layer_table import CoreOp
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import dot_models as dm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

CONFIG = preset("icebreaker")

MODELS = {
    # K 16 and 8: every layer streams on the unit
    "mlp": (cm.tflite_int8_mlp, dict(batch=2, sizes=(16, 8, 10))),
    # K 18 and 7: not whole words, the core's loop
    "mlp_odd": (cm.tflite_int8_mlp, dict(batch=3, sizes=(18, 7, 5))),
    # convolutions through im2col (K 36, 72) and direct (1x1, K 8), ADD, pools, FC, SOFTMAX
    "cnn": (dm.tflite_int8_dot_cnn, {}),
    # the first convolution's K is 27: on the core; the others on the unit
    "cnn_cin3": (dm.tflite_int8_dot_cnn, dict(cin=3)),
    # DEPTHWISE_CONV_2D 3x3 stride 2 SAME (RELU6) on the unit: the ULX3S tests' CNN
    "cnn_dw": (cm.tflite_int8_cnn, dict(h=6, w=6, cin=2, c=4, units=5)),
    # the same with every convolution streaming (K 36, 8, 32; depthwise rows 12)
    "cnn_dw8": (cm.tflite_int8_cnn, dict(h=8, w=8, cin=4, c=8, units=10)),
}


def _model(name, seed=5):
    builder, kw = MODELS[name]
    rng = np.random.default_rng(seed)
    data = builder(rng, **kw)
    graph = parse_tflite(data)
    x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    return data, graph, x


def _dense_records(program):
    records = program.layer_records(program.table_layout()[0])
    layers = [program.layers[i] for i in program.table_layers()]
    return [(la, r) for la, r in zip(layers, records, strict=True) if la.kind == "dot_dense"]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("unit", [True, False], ids=["unit", "core"])
def test_program_model_equals_litert(name, unit):
    data, graph, x = _model(name)
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
        assert rec[12] == (ROUNDING_SINGLE if layer.op.kind.value == "FULLY_CONNECTED"
                           else ROUNDING_DOUBLE)
    records = program.layer_records(program.table_layout()[0])
    for i, rec in zip(program.table_layers(), records, strict=True):
        if program.layers[i].kind == "dot_depthwise":
            assert rec[1] == CoreOp.DEPTHWISE_DOT_INT8
            assert (rec[28], rec[29]) == (int(unit), 12)    # 3x3 taps in 3 words


def test_which_layers_stream_on_the_unit():
    _, graph, _ = _model("cnn_cin3")
    program = compile_dot(graph, CONFIG)
    assert [la.kind for la in program.layers] == [
        "im2col", "dot_dense", "im2col", "dot_dense", "dot_dense", "ADD", "AVERAGE_POOL_2D",
        "MAX_POOL_2D", "alias", "dot_dense", "SOFTMAX"]
    dense = [(la.params["in"], la.params["dot"]) for la, _ in _dense_records(program)]
    assert dense == [(27, False), (72, True), (8, True), (32, True)]


def test_compile_graph_takes_the_dot_target_on_the_board_preset():
    _, graph, x = _model("mlp")
    a, b = compile_graph(graph, CONFIG), compile_dot(graph, CONFIG)
    assert [la.kind for la in a.layers] == [la.kind for la in b.layers] == ["dot_dense"] * 2
    assert a.weights == b.weights and a.tensor_addr == b.tensor_addr


def test_input_zero_point_folded_into_the_bias():
    # bias' = bias - x_zp * sum_k w (int32, wrapping): the reference's sum of (x - x_zp) * w
    _, graph, _ = _model("mlp")
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


def test_explicit_padding_pool_refused():
    # a pooling with explicit padding has no C kernel: refused at compile time, not at run time
    _, graph, _ = _model("cnn")
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


def test_not_a_dot_variant():
    _, graph, _ = _model("mlp")
    with pytest.raises(ValueError, match="not an NPU-less dot-unit variant"):
        compile_dot(graph, preset("icebreaker-npu"))
