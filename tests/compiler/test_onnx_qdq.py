"""QDQ patterns of the ONNX front end (compiler/onnx_qdq.py) that onnxruntime does not fuse
into one QLinear kernel are refused naming the node and why: an output feeding two
QuantizeLinear nodes (``DedicatedQDQPair``), float biases (``QuantizeBias: False``). (The
patterns it takes: quantize_static models bit-exact with onnxruntime in
tests/compiler/test_onnx_quantized.py and test_onnx_ort_quantized.py.)"""

import numpy as np
import pytest
from dure.compiler.errors import UnsupportedModel
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import onnx_models as om

pytest.importorskip("onnxruntime.quantization")


def test_dedicated_qdq_pairs_named():
    """``DedicatedQDQPair``: an output feeding two QuantizeLinear nodes is no QDQ group
    onnxruntime fuses; refused naming the node and why."""
    q = om.quantized_model(np.random.default_rng(12), "resnet8",
                           extra_options={"DedicatedQDQPair": True})
    with pytest.raises(UnsupportedModel, match=r"\(Conv\): .*feeds 2 QuantizeLinear"):
        parse_onnx(q)


def test_float_bias_named(tmp_path):
    """``QuantizeBias: False`` leaves float biases: onnxruntime then runs the convolution in
    float; refused naming the node."""
    rng = np.random.default_rng(12)
    q = om.quantized_model(rng, "dscnn", extra_options={"QuantizeBias": False})
    with pytest.raises(UnsupportedModel, match=r"node \d+ '.*' \(Conv\): QDQ bias"):
        parse_onnx(q)
