"""The ONNX front end's operators other than convolutions (compiler/onnx_ops.py): Pad and
BatchNormalization folded into the convolution before it (float model: close to onnxruntime,
the program bit-exact with the FP16 reference), Relu refused where nothing precedes it to fuse
into, Softmax over an axis it does not take, Add broadcasting refused."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.ir import OpKind
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif.onnx_ref import run_onnx
from onnx import TensorProto, helper, numpy_helper

from dure.config import preset


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _single(node, inputs, outputs, inits):
    return _model([node], inputs, outputs, inits)


def test_pad_and_batchnorm_folding_float():
    """Pad before a strided Conv, BatchNormalization folded into the Conv (float model): close
    to onnxruntime (FP16 sanity bound), the program equal to the FP16 reference."""
    rng = np.random.default_rng(0)
    c = 4
    inits = [numpy_helper.from_array((rng.standard_normal((c, 3, 3, 3)) * 0.3).astype(
        np.float32), "w"),
        numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "pads"),
        numpy_helper.from_array(rng.uniform(0.5, 2, c).astype(np.float32), "g"),
        numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), "b"),
        numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), "m"),
        numpy_helper.from_array(rng.uniform(0.5, 2, c).astype(np.float32), "v")]
    nodes = [helper.make_node("Pad", ["x", "pads"], ["xp"]),
             helper.make_node("Conv", ["xp", "w"], ["c"], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, c, 4, 4])],
                              initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    model = m.SerializeToString()
    g = parse_onnx(model)
    assert [op.kind for op in g.ops] == [OpKind.PAD, OpKind.CONV_2D]
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    ref = reference.run(g, [x])[0]
    assert np.max(np.abs(ref - run_onnx(model, x)[0])) < 0.02
    npu, _ = run_program(compile_graph(g, preset("sim")), [x])
    assert np.array_equal(npu[0].view(np.uint32), ref.view(np.uint32))


def test_standalone_relu_is_refused():
    model = _single(helper.make_node("Relu", ["x"], ["y"], name="r"),
                    [_vi("x", [1, 4])], [_vi("y", [1, 4])], [])
    with pytest.raises(UnsupportedModel, match=r"node 0 'r' \(Relu\): Relu / Clip is supported "
                                               "only fused"):
        parse_onnx(model)


def test_softmax_over_another_axis_is_refused():
    model = _single(helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=0),
                    [_vi("x", [2, 4])], [_vi("y", [2, 4])], [])
    with pytest.raises(UnsupportedModel, match=r"node 0 'sm' \(Softmax\): Softmax over axis 0 "
                                               "is not supported"):
        parse_onnx(model)


def test_add_broadcasting_is_refused():
    model = _single(helper.make_node("Add", ["a", "b"], ["y"], name="add"),
                    [_vi("a", [1, 4]), _vi("b", [1, 1])], [_vi("y", [1, 4])], [])
    with pytest.raises(UnsupportedModel, match=r"node 0 'add' \(Add\): Add needs two inputs "
                                               "of one shape"):
        parse_onnx(model)


def test_softmax_float_model_close_to_onnxruntime():
    """A float MatMul + Softmax (last axis): the program equals the FP16 reference, which is
    close to onnxruntime's float32."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array((rng.standard_normal((6, 5)) * 0.5).astype(np.float32), "w")
    model = _model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                    helper.make_node("Softmax", ["h"], ["y"])],
                   [_vi("x", [2, 6])], [_vi("y", [2, 5])], [w])
    g = parse_onnx(model)
    assert [op.kind for op in g.ops] == [OpKind.FULLY_CONNECTED, OpKind.SOFTMAX]
    x = rng.standard_normal((2, 6)).astype(np.float32)
    ref = reference.run(g, [x])[0]
    assert np.max(np.abs(ref - run_onnx(model, x)[0])) < 0.01
    got, _ = run_program(compile_graph(g, preset("npu-small")), [x])
    assert np.array_equal(got[0].view(np.uint32), ref.view(np.uint32))
