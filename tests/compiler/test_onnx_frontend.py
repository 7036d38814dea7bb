"""ONNX front end against onnxruntime (CPU provider, default session options).

INT8 models (QOperator and QDQ, int8 and uint8 activations) must equal onnxruntime bit for bit,
through the IR reference and through the program on the NPU command model. The association of
the float32 requantization scale, ``(x_scale * w_scale_j) / y_scale``, is pinned by sweeps on
which the other associations differ from onnxruntime. Float models run in FP16 (sanity bound
against float32 only; bit-exactness with the FP16 golden is checked through the program).
"""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.ir import OpKind
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import load_onnx, parse_onnx
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.onnx_ref import run_onnx
from onnx import TensorProto, helper, numpy_helper

from dure.config import preset


def _x(rng, graph):
    name = graph.inputs[0]
    shape = graph.io_layout.get(name, graph.tensors[name].shape)
    return (rng.standard_normal(shape) * 2).astype(np.float32)


INT8 = [("qop_u8", cm.onnx_qoperator_cnn, {}),
        ("qop_i8", cm.onnx_qoperator_cnn, {"act": np.int8, "h": 9, "w": 6, "c": 5}),
        ("qop_b2", cm.onnx_qoperator_cnn, {"batch": 2, "cin": 4}),
        ("qdq_i8", cm.onnx_qdq_mlp, {}),
        ("qdq_u8", cm.onnx_qdq_mlp, {"act": np.uint8, "sizes": (40, 30, 20, 7)}),
        ("qdq_norelu", cm.onnx_qdq_mlp, {"relu": False})]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name,builder,kw", INT8, ids=[m[0] for m in INT8])
def test_int8_models_bit_exact_with_onnxruntime(name, builder, kw, seed):
    rng = np.random.default_rng(seed + 10 * len(name))
    model = builder(rng, **kw)
    graph = parse_onnx(model)
    assert graph.arithmetic == "onnx"
    program = compile_graph(graph, preset("sim"))
    assert any(la.where == "npu" for la in program.layers)
    for _ in range(2):
        x = _x(rng, graph)
        want = run_onnx(model, x)[0]
        got = reference.run(graph, [x])[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), name
        npu, _ = run_program(program, [x])
        assert np.array_equal(npu[0], want), name


def test_float_model_structure_and_fp16_program():
    rng = np.random.default_rng(0)
    model = cm.onnx_float_cnn(rng)
    graph = parse_onnx(model)
    assert graph.arithmetic == "float"
    kinds = [op.kind for op in graph.ops]
    assert kinds[:3] == [OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.CONV_2D]
    conv1, dw, pw = graph.ops[:3]
    assert conv1.attrs["padding"] == "SAME" and conv1.attrs["lo"] == 0.0
    assert (dw.attrs["lo"], dw.attrs["hi"]) == (0.0, 6.0) and dw.attrs["stride"] == (2, 2)
    assert pw.inputs[2] is not None                     # the Add of a constant became the bias
    x = _x(rng, graph)
    want = run_onnx(model, x)[0]
    got = reference.run(graph, [x])[0]
    assert np.max(np.abs(got - want)) < 0.01               # FP16 vs float32: sanity only
    npu, _ = run_program(compile_graph(graph, preset("npu-small")), [x])
    assert np.array_equal(npu[0].view(np.uint32), got.view(np.uint32))


def _single(node, inputs, outputs, inits, opset=17):
    graph = helper.make_graph([node], "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()



# --- malformed files and unsupported content ---------------------------------------------

def test_not_onnx():
    for data in (b"", b"\x08\x07garbage\xff\xff\xff", bytes(range(256))):
        with pytest.raises(UnsupportedModel, match="not a valid ONNX model"):
            parse_onnx(data)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated(keep):
    model = cm.onnx_qoperator_cnn(np.random.default_rng(0))
    with pytest.raises(UnsupportedModel):
        parse_onnx(model[:int(len(model) * keep)])


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def test_unsupported_operator_names_the_node():
    model = _single(helper.make_node("Sigmoid", ["x"], ["y"], name="act"),
                    [_vi("x", [1, 4])], [_vi("y", [1, 4])], [])
    with pytest.raises(UnsupportedModel) as err:
        parse_onnx(model)
    assert str(err.value).startswith("node 0 'act' (Sigmoid): operator not supported")


def test_unsupported_attribute():
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    model = _single(helper.make_node("Conv", ["x", "w"], ["y"], group=2, name="gconv"),
                    [_vi("x", [1, 4, 5, 5])], [_vi("y", [1, 4, 3, 3])], [w])
    graph = parse_onnx(model)           # grouped: one CONV_2D, zero outside the group blocks
    (conv,) = graph.ops
    w = graph.tensors[conv.inputs[1]].data
    assert conv.kind.value == "CONV_2D" and w.shape == (4, 3, 3, 4)
    assert not w[:2, ..., 2:].any() and not w[2:, ..., :2].any() and w[:2, ..., :2].all()
    b = numpy_helper.from_array(np.ones((3, 4), np.float32), "b")
    model = _single(helper.make_node("Gemm", ["x", "b"], ["y"], alpha=2.0, name="g"),
                    [_vi("x", [2, 3])], [_vi("y", [2, 4])], [b])
    with pytest.raises(UnsupportedModel, match=r"node 0 'g' \(Gemm\): only transA = 0, alpha"):
        parse_onnx(model)


def test_unsupported_dtype():
    model = _single(helper.make_node("Relu", ["x"], ["y"], name="r"),
                    [_vi("x", [1, 4], TensorProto.FLOAT16)],
                    [_vi("y", [1, 4], TensorProto.FLOAT16)], [])
    with pytest.raises(UnsupportedModel, match="graph input 'x'"):
        parse_onnx(model)


def test_bad_shapes_rejected_by_shape_inference():
    b = numpy_helper.from_array(np.ones((5, 4), np.float32), "b")
    model = _single(helper.make_node("MatMul", ["x", "b"], ["y"], name="mm"),
                    [_vi("x", [2, 3])], [_vi("y", [2, 4])], [b])
    with pytest.raises(UnsupportedModel, match="not a valid ONNX model"):
        parse_onnx(model)


def test_symbolic_batch_is_one_other_dynamic_dims_refused():
    b = numpy_helper.from_array(np.ones((3, 4), np.float32), "b")
    model = _single(helper.make_node("MatMul", ["x", "b"], ["y"], name="mm"),
                    [_vi("x", ["batch", 3])], [_vi("y", ["batch", 4])], [b])
    graph = parse_onnx(model)
    assert graph.tensors[graph.inputs[0]].shape == (1, 3)
    b = numpy_helper.from_array(np.ones((3, 4), np.float32), "b")
    model = _single(helper.make_node("MatMul", ["x", "b"], ["y"], name="mm"),
                    [_vi("x", [1, "rows", 3])], [_vi("y", [1, "rows", 4])], [b])
    with pytest.raises(UnsupportedModel, match="static shape"):
        parse_onnx(model)


def test_load_onnx_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(cm.onnx_qdq_mlp(np.random.default_rng(0)))
    assert load_onnx(path).arithmetic == "onnx"


def test_exporter_style_graph_nhwc_input_transpose_squeeze():
    """As tf2onnx writes graphs: an NHWC input transposed to NCHW, Squeeze after the pooling,
    Dropout and Identity; the layout bookkeeping keeps the result equal to onnxruntime's (FP16
    sanity bound) and the program equal to the FP16 reference."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32),
                                "w")
    fw = numpy_helper.from_array((rng.standard_normal((4, 5)) * 0.3).astype(np.float32), "fw")
    ax = numpy_helper.from_array(np.array([2, 3], np.int64), "ax")
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xt", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Squeeze", ["g", "ax"], ["s"]),
             helper.make_node("Dropout", ["s"], ["d"]),
             helper.make_node("MatMul", ["d", "fw"], ["y0"]),
             helper.make_node("Identity", ["y0"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 6, 6, 3])], [_vi("y", [1, 5])],
                              initializer=[w, fw, ax])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    model = m.SerializeToString()
    g = parse_onnx(model)
    x = rng.standard_normal((1, 6, 6, 3)).astype(np.float32)
    got = reference.run(g, [x])[0]
    assert np.max(np.abs(got - run_onnx(model, x)[0])) < 0.01
    npu, _ = run_program(compile_graph(g, preset("sim")), [x])
    assert np.array_equal(npu[0].view(np.uint32), got.view(np.uint32))
    # the NHWC input is taken as it is, the Transpose is a renaming: no TRANSPOSE at all
    assert g.inputs[0] not in g.io_layout and g.tensors[g.inputs[0]].shape == (1, 6, 6, 3)
    assert not [op for op in g.ops if op.kind is OpKind.TRANSPOSE]


def test_nhwc_input_read_twice_keeps_its_transpose():
    """An NHWC input also read by a node other than a Transpose to NCHW is taken as NCHW
    (the edge layout of every 4-D input) and its Transpose stays a TRANSPOSE; both results
    as onnxruntime's."""
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
             helper.make_node("GlobalAveragePool", ["xt"], ["y"]),
             helper.make_node("GlobalAveragePool", ["x"], ["y2"])]
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 4, 5, 3])],
                              [_vi("y", [1, 3, 1, 1]), _vi("y2", [1, 4, 1, 1])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    model = m.SerializeToString()
    g = parse_onnx(model)
    assert [op.kind for op in g.ops].count(OpKind.TRANSPOSE) >= 1
    x = np.random.default_rng(2).standard_normal((1, 4, 5, 3)).astype(np.float32)
    for got, want in zip(reference.run(g, [x]), run_onnx(model, x), strict=True):
        assert got.shape == want.shape and np.max(np.abs(got - want)) < 0.01


def test_initializer_data_shorter_than_its_shape():
    t = numpy_helper.from_array(np.zeros((4, 4), np.float32), "b")
    t.dims[:] = [1000, 1000]
    model = _single(helper.make_node("MatMul", ["x", "b"], ["y"], name="mm"),
                    [_vi("x", [1, 1000])], [_vi("y", [1, 1000])], [t])
    with pytest.raises(UnsupportedModel, match="not a valid ONNX model"):
        parse_onnx(model)
