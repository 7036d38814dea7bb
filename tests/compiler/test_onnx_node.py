"""The ONNX node wrapper and element types of the front end (compiler/onnx_node.py)."""

import numpy as np
from dure.compiler.errors import UnsupportedModel
from dure.compiler.onnx_node import NCHW_TO_NHWC, NHWC_TO_NCHW, OnnxNode, onnx_dtype
from onnx import TensorProto, helper


def test_node_fail_names_index_name_and_op_type():
    node = OnnxNode(3, helper.make_node("Conv", ["x", "w"], ["y"], name="c1", group=2))
    assert (node.op, node.name, node.inputs, node.outputs) == ("Conv", "c1", ["x", "w"], ["y"])
    assert node.attrs == {"group": 2}
    err = node.fail("no")
    assert isinstance(err, UnsupportedModel) and str(err) == "node 3 'c1' (Conv): no"


def test_node_domain_and_unnamed_node():
    node = OnnxNode(0, helper.make_node("QLinearAdd", ["a"], ["out"], domain="com.microsoft"))
    assert node.op == "com.microsoft.QLinearAdd" and node.name == "out"


def test_element_types_and_layout_permutations():
    assert onnx_dtype(TensorProto.UINT8) is np.uint8
    assert onnx_dtype(TensorProto.FLOAT) is np.float32
    assert onnx_dtype(TensorProto.DOUBLE) is None
    x = np.zeros((1, 2, 3, 4))
    assert x.transpose(NCHW_TO_NHWC).shape == (1, 3, 4, 2)
    assert x.transpose(NCHW_TO_NHWC).transpose(NHWC_TO_NCHW).shape == x.shape
