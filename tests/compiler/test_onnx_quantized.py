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
@pytest.mark.parametrize("pool", ["global", "avg"])     # "avg" ends with a Softmax
def test_quantize_static_models_bit_exact(tmp_path, fmt, per_channel, act, pool):
    rng = np.random.default_rng(3)
    shape = (1, 3, 8, 8)
    src, dst = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    src.write_bytes(cm.onnx_float_resnet(rng, pool=pool, softmax=pool == "avg"))
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


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_qlinear_softmax_sweep(dtype):
    """QLinearSoftmax on many rows and scales, including rows whose largest output saturates
    (p = 1 is 256 steps of 1/256 above the zero point)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    et = TensorProto.INT8 if dtype == np.int8 else TensorProto.UINT8
    off = 0 if dtype == np.int8 else 128
    for d in (2, 10, 37):
        for _ in range(4):
            xs = np.float32(rng.uniform(0.01, 0.5))
            ys, yz = np.float32(1 / 256), -128 + off
            x = rng.integers(-128, 128, (64, d)).astype(np.int16) + off
            x[0] = x[0, 0]                      # a row of equal values
            x = x.astype(dtype)
            inits = [numpy_helper.from_array(np.array(xs), "xs"),
                     numpy_helper.from_array(np.array(0 + off, dtype), "xz"),
                     numpy_helper.from_array(np.array(ys), "ys"),
                     numpy_helper.from_array(np.array(yz, dtype), "yz")]
            node = helper.make_node("QLinearSoftmax", ["x", "xs", "xz", "ys", "yz"], ["y"],
                                    domain="com.microsoft", axis=-1, opset=13)
            g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", et, [64, d])],
                                  [helper.make_tensor_value_info("y", et, [64, d])],
                                  initializer=inits)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
            m.ir_version = 8
            model = m.SerializeToString()
            assert np.array_equal(reference.run(parse_onnx(model), [x])[0],
                                  run_onnx(model, x)[0])


def test_symbolic_batch_model(tmp_path):
    """A float model with a symbolic batch dimension (as exporters write it), quantized by
    onnxruntime: compiled with batch 1, bit-exact."""
    import onnx

    rng = np.random.default_rng(5)
    m = onnx.load_from_string(cm.onnx_float_resnet(rng, pool="avg", softmax=True))
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    src, dst = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    src.write_bytes(m.SerializeToString())
    quantization.quantize_static(str(src), str(dst), _Reader(rng, (1, 3, 8, 8)),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=True)
    model = dst.read_bytes()
    program = compile_graph(parse_onnx(model), preset("sim"))
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], run_onnx(model, x)[0])


def test_uint8_model_compiles_to_the_int8_program():
    """The uint8 mapping: a QOperator model with uint8 activations and the same model with
    every activation value and zero point 128 lower in int8 compile to the same program,
    descriptor for descriptor and weight byte for weight byte (``u8 = i8 + 128``: ``x - zp``
    and ``clamp(r + zp)`` do not change), and both equal onnxruntime: the walked
    convolutions need no uint8 arithmetic of their own."""
    progs, models = [], []
    for act in (np.uint8, np.int8):
        model = cm.onnx_qoperator_cnn(np.random.default_rng(31), act=act)
        program = compile_graph(parse_onnx(model), preset("sim"))
        assert {la.op.kind.value for la in program.layers if la.kind == "npu_op"} >= {
            "CONV_2D", "DEPTHWISE_CONV_2D"}
        progs.append(program)
        models.append(model)
    u, i = progs
    assert u.weights == i.weights
    assert [la.commands for la in u.layers] == [la.commands for la in i.layers]
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)   # NCHW
    for program, model in zip(progs, models, strict=True):
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0], run_onnx(model, x)[0])
