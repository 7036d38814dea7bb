"""The golden model against onnxruntime (graphs built with onnx.helper at test time, never stored).

Requantization through QLinearMatMul
    onnxruntime computes ``Y = clamp(rne(f32(A @ B) * M) + y_zp, -128, 127)`` with the multiplier
    ``M = a_scale * b_scale / y_scale`` formed in float. To make its single float32 multiply the
    contract's ``f32(acc) * scale_j``, the graph uses ``a_scale = 1``, ``y_scale = 1`` and the
    per-column ``b_scale = scale`` (1-D, length N), with all input zero points 0: then every
    association and precision of the multiplier computation gives exactly ``scale_j``
    (``1 * s / 1 = s``), and ``A @ B`` is the golden model's int32 accumulator (K small enough
    that nothing wraps). A Clip node on the int8 output applies ``[lo, hi]``: clamping the
    already saturated int8 again equals clamping the wide value once, as -128 <= lo <= hi <= 127.
    Ties, saturation (including products that overflow to Inf) and accumulators above 2**24
    (where int32 -> float32 rounds) are all exercised.

Other operators
    MatMulInteger checks gemm_int8; DequantizeLinear on int32 with a per-axis scale, followed by a
    Cast to float16, checks dequantize_fp16; Cast float -> float16 checks to_fp16.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from dure.sim import golden
from onnx import TensorProto, helper, numpy_helper

OPSET = 21


def _session(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "golden_check", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _tensor(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _ort_requantize(a, b, scale, zp, lo=-128, hi=127):
    n = b.shape[1]
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "a_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "a_zp"),
        numpy_helper.from_array(scale.astype(np.float32), "b_scale"),
        numpy_helper.from_array(np.zeros(n, np.int8), "b_zp"),
        numpy_helper.from_array(np.array(1.0, np.float32), "y_scale"),
        numpy_helper.from_array(np.array(zp, np.int8), "y_zp"),
        numpy_helper.from_array(np.array(lo, np.int8), "lo"),
        numpy_helper.from_array(np.array(hi, np.int8), "hi"),
    ]
    nodes = [
        helper.make_node("QLinearMatMul", ["A", "a_scale", "a_zp", "B", "b_scale", "b_zp",
                                           "y_scale", "y_zp"], ["Q"]),
        helper.make_node("Clip", ["Q", "lo", "hi"], ["Y"]),
    ]
    session = _session(nodes, [_tensor("A", TensorProto.INT8, list(a.shape)),
                               _tensor("B", TensorProto.INT8, list(b.shape))],
                       [_tensor("Y", TensorProto.INT8, [a.shape[0], n])], inits)
    return session.run(None, {"A": a, "B": b})[0]


def _check_requantize(a, b, scale, zp, lo=-128, hi=127):
    want = _ort_requantize(a, b, scale, zp, lo, hi)
    got = golden.requantize(golden.gemm_int8(a, b), scale, zp, lo, hi)
    assert got.dtype == want.dtype == np.int8
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("seed", range(8))
def test_requantize_matches_qlinearmatmul_random(seed):
    rng = np.random.default_rng(seed)
    m, k, n = int(rng.integers(1, 9)), int(rng.integers(1, 65)), int(rng.integers(1, 9))
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    scale = (rng.uniform(0.5, 1, n) * np.exp2(rng.integers(-18, -6, n))).astype(np.float32)
    scale *= rng.choice(np.array([1, -1], np.float32), n)
    zp = int(rng.integers(-128, 128))
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if seed % 2 else (-128, 127)
    _check_requantize(a, b, scale, zp, lo, hi)


def test_requantize_matches_qlinearmatmul_exact_ties():
    """Scales with few bits put acc * scale exactly on .5 for many accumulators."""
    rng = np.random.default_rng(42)
    a = rng.integers(-20, 21, (16, 3)).astype(np.int8)
    b = rng.integers(-20, 21, (3, 8)).astype(np.int8)
    scale = np.array([0.5, 1.5, 0.25, 0.75, 2.5, 0.125, 0.375, 2.0**-6], np.float32)
    for zp in (0, 1, -7):
        _check_requantize(a, b, scale, zp)
    acc = golden.gemm_int8(a, b)
    assert np.any((acc[:, 0] % 2) == 1), "the data must contain .5 ties"


def test_requantize_matches_qlinearmatmul_large_acc_near_ties():
    """|acc| > 2**24 (f32(acc) rounds) with scales aimed at (t + 0.5) / acc."""
    rng = np.random.default_rng(3)
    k, n = 4096, 64
    a = rng.choice(np.array([-128, -127], np.int8), (1, k))
    b = (-128 + rng.integers(0, 9, (k, n))).astype(np.int8)
    acc = golden.gemm_int8(a, b)[0]
    assert np.all(acc > 2**24)
    target = rng.integers(-120, 120, n) + 0.5
    scale = (target / acc.astype(np.float64)).astype(np.float32)
    _check_requantize(a, b, scale, zp=int(rng.integers(-5, 5)))


def test_requantize_matches_qlinearmatmul_saturation():
    rng = np.random.default_rng(5)
    a = rng.choice(np.array([-128, 127, 1, -1, 0], np.int8), (6, 40))
    b = rng.choice(np.array([-128, 127, 3], np.int8), (40, 5))
    scale = np.array([3e38, -3e38, 100.0, 1.0, 2.0**-140], np.float32)   # Inf products, tiny
    for zp, lo, hi in ((0, -128, 127), (100, -128, 127), (-128, -128, 127), (3, 3, 9)):
        _check_requantize(a, b, scale, zp, lo, hi)


def test_gemm_int8_matches_matmulinteger():
    rng = np.random.default_rng(9)
    a = rng.integers(-128, 128, (7, 300)).astype(np.int8)
    b = rng.integers(-128, 128, (300, 5)).astype(np.int8)
    session = _session([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
                       [_tensor("A", TensorProto.INT8, [7, 300]),
                        _tensor("B", TensorProto.INT8, [300, 5])],
                       [_tensor("Y", TensorProto.INT32, [7, 5])], [])
    want = session.run(None, {"A": a, "B": b})[0]
    assert golden.gemm_int8(a, b).tolist() == want.tolist()


def test_dequantize_fp16_matches_dequantizelinear_and_cast():
    rng = np.random.default_rng(10)
    m, n = 50, 6
    acc = np.concatenate([rng.integers(-2**31, 2**31, m * n // 2),
                          rng.integers(-70000, 70000, m * n // 2)]).astype(np.int32)
    acc = rng.permutation(acc).reshape(m, n)
    scale = np.array([1.0, 0.37, 2.0**-20, 3.1e-5, 1e30, -0.013], np.float32)
    inits = [numpy_helper.from_array(scale, "scale"),
             numpy_helper.from_array(np.zeros(n, np.int32), "zp")]
    nodes = [helper.make_node("DequantizeLinear", ["X", "scale", "zp"], ["F"], axis=1),
             helper.make_node("Cast", ["F"], ["Y"], to=TensorProto.FLOAT16)]
    session = _session(nodes, [_tensor("X", TensorProto.INT32, [m, n])],
                       [_tensor("Y", TensorProto.FLOAT16, [m, n])], inits)
    want = session.run(None, {"X": acc})[0]
    assert golden.bits(golden.dequantize_fp16(acc, scale)).tolist() == golden.bits(want).tolist()


def test_to_fp16_matches_onnxruntime_cast():
    rng = np.random.default_rng(12)
    pattern = np.concatenate([
        rng.integers(0, 1 << 32, 20000, dtype=np.uint64).astype(np.uint32),
        rng.integers(0x3280_0000, 0x4780_0000, 20000).astype(np.uint32),   # fp16 range
        np.array([0x477F_F000, 0x477F_EFFF, 0x3300_0000, 0x3340_0000, 0x3380_1000], np.uint32),
    ])
    x = pattern.view(np.float32)
    session = _session([helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.FLOAT16)],
                       [_tensor("X", TensorProto.FLOAT, [x.size])],
                       [_tensor("Y", TensorProto.FLOAT16, [x.size])], [])
    want = session.run(None, {"X": x})[0]
    got = golden.to_fp16(x)
    nan = np.isnan(x)
    assert np.array_equal(np.isnan(want), nan)
    assert golden.bits(got[~nan]).tolist() == golden.bits(want[~nan]).tolist()
