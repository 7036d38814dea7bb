"""IR helpers: which RESHAPE / TRANSPOSE operators are only a new view of their input's bytes
(:func:`dure.compiler.ir.is_layout_view`)."""

import numpy as np
import pytest
from dure.compiler.ir import Graph, Op, OpKind, Quant, Tensor, is_layout_view


def _graph(kind, in_shape, out_shape, *, attrs=None, out_quant=None, out_dtype=np.int8,
           const=False):
    q = Quant.of(0.05, 3)
    x = Tensor("x", np.int8, in_shape, q,
               np.zeros(in_shape, np.int8) if const else None)
    y = Tensor("y", out_dtype, out_shape, q if out_quant is None else out_quant)
    op = Op(kind, ["x"], ["y"], attrs or {}, 0, "y", kind.value)
    return Graph({"x": x, "y": y}, [op], [] if const else ["x"], ["y"], "tflite", "tflite"), op


@pytest.mark.parametrize("kind,in_shape,out_shape,attrs,view", [
    (OpKind.RESHAPE, (1, 2, 2, 8), (1, 32), {"shape": (1, 32)}, True),
    (OpKind.RESHAPE, (2, 3, 4), (6, 4), {"shape": (6, 4)}, True),
    # a transpose that only moves axes of size 1 keeps the byte order
    (OpKind.TRANSPOSE, (1, 1, 1, 16), (1, 16, 1, 1), {"perm": (0, 3, 1, 2)}, True),
    (OpKind.TRANSPOSE, (1, 32, 1), (1, 1, 32), {"perm": (0, 2, 1)}, True),
    (OpKind.TRANSPOSE, (4, 1, 5), (1, 4, 5), {"perm": (1, 0, 2)}, True),
    # a real transpose reorders bytes
    (OpKind.TRANSPOSE, (1, 2, 2, 8), (1, 8, 2, 2), {"perm": (0, 3, 1, 2)}, False),
    (OpKind.TRANSPOSE, (4, 1, 5), (5, 1, 4), {"perm": (2, 1, 0)}, False),
])
def test_layout_views(kind, in_shape, out_shape, attrs, view):
    graph, op = _graph(kind, in_shape, out_shape, attrs=attrs)
    graph.validate()
    assert is_layout_view(graph, op) is view


def test_not_views():
    shape = {"shape": (1, 32)}
    # the quantization changes (scale or zero point): the bytes mean something else
    for q in (Quant.of(0.1, 3), Quant.of(0.05, 4)):
        graph, op = _graph(OpKind.RESHAPE, (1, 2, 2, 8), (1, 32), attrs=shape, out_quant=q)
        assert not is_layout_view(graph, op)
    # another element type
    graph, op = _graph(OpKind.RESHAPE, (1, 2, 2, 8), (1, 32), attrs=shape, out_dtype=np.int16)
    assert not is_layout_view(graph, op)
    # a constant input (nothing in the arena to view)
    graph, op = _graph(OpKind.RESHAPE, (1, 2, 2, 8), (1, 32), attrs=shape, const=True)
    assert not is_layout_view(graph, op)
    # other operators
    graph, op = _graph(OpKind.SOFTMAX, (1, 32), (1, 32), attrs={"beta": 1.0})
    assert not is_layout_view(graph, op)
