"""The values the compiler's executors compute on (compiler/reference_values.py): window taps
with explicit padding, graph inputs checked and converted (uint8 edges, NCHW edges) and the
outputs converted back."""

import numpy as np
import pytest
from dure.compiler.errors import UnsupportedModel
from dure.compiler.ir import Graph, Quant, Tensor
from dure.compiler.reference_values import finish_outputs, patches, prepare_inputs


def test_patches_pad_stride_and_dilation():
    x = np.arange(40, dtype=np.int16).reshape(1, 4, 5, 2)
    taps = patches(x, 3, 3, (2, 2), (1, 1), (1, 1, 1, 1), -1)
    assert taps.shape == (1, 2, 3, 3, 3, 2)         # (4 + 2 - 3) // 2 + 1, (5 + 2 - 3) // 2 + 1
    assert (taps[0, 0, 0, 0] == -1).all() and (taps[0, 0, 0, :, 0] == -1).all()
    assert np.array_equal(taps[0, 0, 0, 1, 1], x[0, 0, 0])
    assert np.array_equal(taps[0, 1, 2, 2, 2], [-1, -1])        # past the bottom-right edge
    assert np.array_equal(taps[0, 1, 2, 1, 1], x[0, 2, 4])           # padded row 3, col 5
    wide = patches(x, 2, 2, 1, (2, 3), (0, 0, 0, 0), 0)        # dilation 2 x 3
    assert wide.shape == (1, 2, 2, 2, 2, 2)
    assert np.array_equal(wide[0, 1, 1, 1, 1], x[0, 3, 4])


def test_uint8_edges_round_trip_and_bad_inputs_refused():
    tensors = {"x": Tensor("x", np.int8, (2, 3), Quant.of(0.1, 0)),
               "y": Tensor("y", np.int8, (1, 3), Quant.of(0.1, 0))}
    graph = Graph(tensors, [], ["x"], ["y"], "onnx", "onnx", {"x": True, "y": True}, {})
    x = np.array([[0, 127, 128], [255, 1, 200]], np.uint8)
    values = prepare_inputs(graph, [x])
    assert values["x"].dtype == np.int8
    assert np.array_equal(values["x"].astype(np.int16), x.astype(np.int16) - 128)
    with pytest.raises(UnsupportedModel, match=r"input 'x' must be uint8 of shape \(2, 3\)"):
        prepare_inputs(graph, [x.astype(np.int8)])
    with pytest.raises(UnsupportedModel, match="the model has 1 inputs, 2 given"):
        prepare_inputs(graph, [x, x])
    y = np.array([[-128, 0, 127]], np.int8)
    assert np.array_equal(finish_outputs(graph, {"y": y})[0], [[0, 128, 255]])
    assert finish_outputs(graph, {"y": y})[0].dtype == np.uint8


def test_nchw_edges_and_fp16_results():
    """4-D edges kept NCHW (``io_layout``) are transposed to the IR's NHWC and back; a float
    graph computes on fp16 and returns float32."""
    tensors = {"x": Tensor("x", np.float32, (1, 3, 4, 2)), "y": Tensor("y", np.float32,
                                                                       (1, 1, 3, 2))}
    graph = Graph(tensors, [], ["x"], ["y"], "float", "onnx", {},
                  {"x": (1, 2, 3, 4), "y": (1, 2, 1, 3)})
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4)).astype(np.float32)
    values = prepare_inputs(graph, [x])
    assert values["x"].dtype == np.float16
    assert np.array_equal(values["x"], x.transpose(0, 2, 3, 1).astype(np.float16))
    y = np.arange(6, dtype=np.float16).reshape(1, 1, 3, 2)
    back = finish_outputs(graph, {"y": y})[0]
    assert back.dtype == np.float32 and np.array_equal(back, y.transpose(0, 3, 1, 2))
