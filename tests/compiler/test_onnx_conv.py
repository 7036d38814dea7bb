"""Convolutions and matrix products of the ONNX front end (compiler/onnx_conv.py): quantized
layers whose uint8 weights have a zero point other than 0 split into one with zero point 0 over
the input twice (on the NPU, bit-exact with onnxruntime and with the unsplit graph), and the
split refused where some ``w - z_w`` is 255. (Grouped and channel-multiplier convolutions:
tests/compiler/test_onnx_ort_quantized.py, with onnxruntime's quantize_static.)"""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_conv import FC_SPLIT_MAX_INPUTS
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import onnx_models as om
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

pytest.importorskip("onnxruntime.quantization")

# quantize_static options: uint8 weights (with a zero point) and activations, QDQ / QOperator
_U8_WEIGHTS = dict(weight_type="QUInt8", activation_type="QUInt8")
_QOP_U8_WEIGHTS = dict(quant_format="QOperator", weight_type="QUInt8", activation_type="QUInt8")


@pytest.mark.parametrize("opts", [_U8_WEIGHTS, _QOP_U8_WEIGHTS],
                         ids=["QDQ", "QOperator"])
@pytest.mark.parametrize("name", ["resnet8", "dscnn", "autoencoder"])
def test_weight_zero_point_split_onto_the_npu(tmp_path, name, opts):
    """uint8 weights with a zero point (per tensor): every convolution, depthwise convolution
    and fully connected layer becomes one with zero point 0 over the input twice (a
    duplicating 1x1 convolution / fully connected layer first), on the NPU, bit-exact with
    onnxruntime and with the unsplit graph (those layers on the core)."""
    fn, small, _ = om.MODELS[name]
    rng = np.random.default_rng(12)
    q = om.quantize(fn(rng, **small), rng, tmp_path, **opts)
    graph = parse_onnx(q)
    plain = parse_onnx(q, split_weight_zero_point=False)
    convs = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    assert any(np.any(plain.tensors[op.inputs[1]].quant.zero_point)
               for op in plain.ops if op.kind.value in convs)
    program = compile_graph(graph, preset("sim"))
    assert all(la.where == "npu" for la in program.layers if la.op.kind.value in convs)
    assert any(la.where == "core" for la in compile_graph(plain, preset("sim")).layers
               if la.op.kind.value in convs)
    for _ in range(2):
        x = (rng.standard_normal(om.input_shape(q)) * 1.5).astype(np.float32)
        want = run_onnx(q, x)[0]
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8))
        assert np.array_equal(reference.run(plain, [x])[0].view(np.uint8), want.view(np.uint8))


def test_weight_zero_point_split_refused_at_255():
    """A weight 255 with zero point 0 (uint8): ``w - z_w = 255`` is not a sum of two int8,
    so the convolution stays as it is (on the core), still exact."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    w = rng.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8)
    w[0, 0, 0, 0] = 255

    def arr(name, v, dt):
        return numpy_helper.from_array(np.asarray(v, dt), name)

    inits = [arr("xs", 0.05, np.float32), arr("xz", 128, np.uint8), arr("w", w, np.uint8),
             arr("ws", 0.01, np.float32), arr("wz", 0, np.uint8),
             arr("ys", 0.3, np.float32), arr("yz", 120, np.uint8)]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
                              ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 2, 5, 5])], [helper.make_tensor_value_info(
            "y", TensorProto.UINT8, [1, 3, 5, 5])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    model = m.SerializeToString()
    graph = parse_onnx(model)
    (conv,) = [op for op in graph.ops if op.kind.value == "CONV_2D"]
    assert np.any(graph.tensors[conv.inputs[1]].quant.zero_point)
    program = compile_graph(graph, preset("sim"))
    assert [la.where for la in program.layers if la.op.kind.value == "CONV_2D"] == ["core"]
    x = (rng.standard_normal((1, 2, 5, 5)) * 2).astype(np.float32)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], run_onnx(model, x)[0])


def test_fc_split_bound_is_the_front_ends():
    """The fully connected split's input bound (its 2 K x K duplicating weights) is one
    constant, importable from the front end as before the split into onnx_conv.py."""
    from dure.compiler import onnx_frontend

    assert onnx_frontend.FC_SPLIT_MAX_INPUTS is FC_SPLIT_MAX_INPUTS == 256
