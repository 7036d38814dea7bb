"""The ONNX arithmetic of the compiler's golden (compiler/reference_onnx.py): the float32
requantization scale of QLinearMatMul / QLinearConv is ``(x_scale * w_scale_j) / y_scale``, in
that association (sweeps on which the other associations differ from onnxruntime); the ADD's
output table is the element-wise ADD at every int8 pair; QLinearSoftmax's output multiplier."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.ir import Graph, Op, OpKind, Quant, Tensor
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.reference_onnx import (
    onnx_add,
    onnx_add_table,
    onnx_scales,
    onnx_softmax_y_scale,
)
from dure.sim import golden
from dure.sim.verif.onnx_ref import run_onnx
from onnx import TensorProto, helper, numpy_helper


def _single(node, inputs, outputs, inits, opset=17):
    graph = helper.make_graph([node], "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("op", ["QLinearMatMul", "QLinearConv"])
def test_requantization_scale_association(op):
    """Scales where ``x * (w / y)`` or ``(x / y) * w`` differ from ``(x * w) / y`` in float32:
    onnxruntime agrees with the last one only."""
    rng = np.random.default_rng(7)
    k, n, m = 64, 16, 128
    for _ in range(40):
        xs, ys = np.float32(rng.uniform(0.001, 0.2)), np.float32(rng.uniform(0.001, 0.5))
        ws = rng.uniform(0.0005, 0.05, n).astype(np.float32)
        w = rng.integers(-127, 128, (k, n)).astype(np.int8)
        x = rng.integers(-128, 128, (m, k)).astype(np.int8)
        inits = [numpy_helper.from_array(np.array(xs), "xs"),
                 numpy_helper.from_array(np.array(0, np.int8), "xz"),
                 numpy_helper.from_array(ws, "ws"),
                 numpy_helper.from_array(np.zeros(n, np.int8), "wz"),
                 numpy_helper.from_array(np.array(ys), "ys"),
                 numpy_helper.from_array(np.array(3, np.int8), "yz")]
        if op == "QLinearMatMul":
            inits.append(numpy_helper.from_array(w, "w"))
            shape_in, shape_out, xin = [m, k], [m, n], x
        else:
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T)[:, :, None, None],
                                                 "w"))
            shape_in, shape_out = [1, k, m, 1], [1, n, m, 1]
            xin = np.ascontiguousarray(x.T)[None, :, :, None]
        node = helper.make_node(op, ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])
        model = _single(node, [helper.make_tensor_value_info("x", TensorProto.INT8, shape_in)],
                        [helper.make_tensor_value_info("y", TensorProto.INT8, shape_out)],
                        inits)
        graph = parse_onnx(model)
        (mm,) = graph.ops
        assert np.array_equal(onnx_scales(graph, mm).view(np.uint32),
                              ((xs * ws) / ys).astype(np.float32).view(np.uint32))
        want = run_onnx(model, xin)[0]
        assert np.array_equal(reference.run(graph, [xin])[0], want)
        acc = golden.gemm_int8(x, w)
        if op == "QLinearMatMul":
            want2 = want
        else:
            want2 = want[0, :, :, 0].T
        assert np.array_equal(golden.requantize(acc, ((xs * ws) / ys).astype(np.float32), 3),
                              want2)


def _add_graph(lo=-128, hi=127):
    tensors = {"a": Tensor("a", np.int8, (1, 4), Quant.of(0.05, 3)),
               "b": Tensor("b", np.int8, (1, 4), Quant.of(0.021, -7)),
               "y": Tensor("y", np.int8, (1, 4), Quant.of(0.07, 1))}
    op = Op(OpKind.ADD, ["a", "b"], ["y"], {"lo": lo, "hi": hi}, 0, "add", "QLinearAdd")
    return Graph(tensors, [op], ["a", "b"], ["y"], "onnx", "onnx", {}, {}), op


def test_add_table_is_the_add_at_every_pair():
    graph, op = _add_graph(-100, 90)
    table = onnx_add_table(graph, op)
    assert table.shape == (65536,) and table.dtype == np.int8
    a, b = np.int8(-128), np.int8(127)
    assert table[(int(a) + 128) * 256 + int(b) + 128] == onnx_add(graph, op, a, b, -100, 90)
    assert table.min() >= -100 and table.max() <= 90 and len(np.unique(table)) > 50
    x = np.array([[-128, -1, 0, 127]], np.int8)
    y = np.array([[127, 5, 0, -128]], np.int8)
    assert np.array_equal(reference.run_op(graph, op, {"a": x, "b": y}),
                          table[(x.astype(np.int64) + 128) * 256 + y + 128])


def test_softmax_output_multiplier_is_floor_of_the_inverse_scale():
    assert onnx_softmax_y_scale(Quant.of(1 / 256, -128)) == np.float32(256)
    assert onnx_softmax_y_scale(Quant.of(0.003, 0)) == np.float32(333)
