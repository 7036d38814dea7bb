"""Models quantized by onnxruntime's own tool (``quantize_static``: QDQ and QOperator formats,
per-tensor and per-channel weights, int8 and uint8 activations) compile and equal onnxruntime bit
for bit, through the IR reference and through the program on the NPU command model."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

quantization = pytest.importorskip("onnxruntime.quantization")


class _Reader(quantization.CalibrationDataReader):
    def __init__(self, rng, shape, n=4):
        self._data = iter([{"x": rng.standard_normal(shape).astype(np.float32)}
                           for _ in range(n)])

    def get_next(self):
        return next(self._data, None)


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("act", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("pool", ["global", "avg"])
def test_quantize_static_models_bit_exact(tmp_path, fmt, per_channel, act, pool):
    rng = np.random.default_rng(3)
    shape = (1, 3, 8, 8)
    src, dst = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    src.write_bytes(cm.onnx_float_resnet(rng, pool=pool))
    quantization.quantize_static(
        str(src), str(dst), _Reader(rng, shape), quant_format=getattr(quantization.QuantFormat,
                                                                      fmt),
        per_channel=per_channel, activation_type=getattr(quantization.QuantType, act),
        weight_type=quantization.QuantType.QInt8)
    model = dst.read_bytes()
    graph = parse_onnx(model)
    assert graph.arithmetic == "onnx"
    program = compile_graph(graph, preset("sim"))
    for _ in range(3):
        x = (rng.standard_normal(shape) * 1.5).astype(np.float32)
        want = run_onnx(model, x)[0]
        assert np.array_equal(reference.run(graph, [x])[0], want)
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0], want)
