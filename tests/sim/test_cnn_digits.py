"""The digits CNN demo's numeric pipeline: deterministic training, INT8 quantization, FP16
conversion and golden inference; the convolution's golden reference (im2col GEMM) against a
direct convolution written here with plain loops; the walked convolution on the NPU command
model; and a small batch through the simulated SoC (the walked convolution pushed by the
npu_job firmware, then the FC GEMM layer), bit-exact."""

import numpy as np
import pytest
from dure.sim import cnn_digits as cnn
from dure.sim.layer_program import run_on_model
from dure.sim.npu_job import reference_conv2d
from dure.sim.npu_model import NpuModel

from dure.config import preset


@pytest.fixture(scope="module")
def small():
    x_train, y_train, x_test, y_test = cnn.load_split()
    model = cnn.train(x_train, y_train, channels=8, epochs=80)
    return x_train, y_train, x_test, y_test, model


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def _rne(value):
    """Round a float to the nearest integer, ties to even (Python's round)."""
    return round(float(value))


def direct_conv_int8(x, w, stride, pad, pad_value, bias, scale, zero_point, lo, hi):
    """INT8 convolution with Python integers: int32 accumulator (wrapping), then the contract's
    requantization ``clamp(rne(f32(acc) * scale) + zp, lo, hi)``."""
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, oh, ow, cout), np.int8)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for co in range(cout):
                    acc = int(bias[co]) if bias is not None else 0
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
                            inside = 0 <= iy < h and 0 <= ix < wd
                            for ci in range(cin):
                                v = int(x[b, iy, ix, ci]) if inside else pad_value
                                acc += v * int(w[ky, kx, ci, co])
                    acc = (acc + 2**31) % 2**32 - 2**31
                    prod = np.float32(acc) * np.float32(scale[co])
                    y[b, oy, ox, co] = min(max(_rne(prod) + zero_point, lo), hi)
    return y


def direct_conv_fp16(x, w, stride, pad, bias, lo):
    """FP16 convolution: float32 accumulation one product at a time in (ky, kx, ci) order,
    from the bias; padding +0.0; ReLU-style clamp at ``lo`` (or none), then fp16."""
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, oh, ow, cout), np.float16)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for co in range(cout):
                    acc = np.float32(bias[co]) if bias is not None else np.float32(0)
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
                            inside = 0 <= iy < h and 0 <= ix < wd
                            for ci in range(cin):
                                v = np.float32(x[b, iy, ix, ci]) if inside else np.float32(0)
                                acc = np.float32(acc + v * np.float32(w[ky, kx, ci, co]))
                    if lo is not None and acc < np.float32(lo):
                        acc = np.float32(lo)
                    y[b, oy, ox, co] = np.float16(acc)
    return y


@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 1), (2, 0), (1, 2)])
def test_conv_golden_is_the_direct_convolution(stride, pad):
    rng = np.random.default_rng(100 + 10 * stride + pad)
    x = rng.integers(-128, 128, (2, 5, 6, 3), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 2, 3, 5), dtype=np.int8)
    bias = rng.integers(-3000, 3000, 5, dtype=np.int32)
    scale = np.array([0.002, 0.0013, 0.004, 0.0005, 0.003], np.float32)
    got = reference_conv2d("int8", x, w, stride=stride, pad=pad, pad_value=-7, bias=bias,
                           scale=scale, zero_point=3, lo=-20, hi=100)
    want = direct_conv_int8(x, w, stride, pad, -7, bias, scale, 3, -20, 100)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert len(np.unique(got)) > 20           # not all clamped
    xf = (rng.standard_normal((2, 5, 6, 3)) * 3).astype(np.float16)
    wf = rng.standard_normal((3, 2, 3, 5)).astype(np.float16)
    bf = rng.standard_normal(5).astype(np.float32)
    got = reference_conv2d("fp16", xf, wf, stride=stride, pad=pad, bias=bf, lo=0.0)
    want = direct_conv_fp16(xf, wf, stride, pad, bf, 0.0)
    assert np.array_equal(_bits(got), _bits(want))
    assert np.count_nonzero(got) > got.size // 4


def test_training_is_deterministic_and_accurate(small):
    x_train, y_train, x_test, y_test, model = small
    again = cnn.train(x_train, y_train, channels=8, epochs=80)
    for name in ("wc", "bc", "wf", "bf"):
        assert np.array_equal(getattr(model, name), getattr(again, name)), name
    assert model.wc.shape == (*cnn.KERNEL, 1, 8) and model.wf.shape == (16 * 8, 10)
    assert np.mean(cnn.float_predict(model, x_test) == y_test) > 0.9


def test_quantized_golden_accuracy_and_the_conv_layer(small):
    x_train, _, x_test, y_test, model = small
    float_acc = np.mean(cnn.float_predict(model, x_test) == y_test)
    q = cnn.quantize_int8(model, x_train)
    assert q["wc"].dtype == np.int8 and q["wc"].shape == model.wc.shape
    assert np.abs(q["wc"].astype(int)).reshape(-1, 8).max(axis=0).tolist() == [127] * 8
    assert q["bc"].dtype == np.int32 and q["mc"].dtype == np.float32
    features, logits = cnn.golden_run("int8", q, x_test)
    assert features.dtype == np.int8 and features.shape == (360, 4, 4, 8)
    assert features.min() == 0 and features.max() > 60          # ReLU as the clamp
    assert logits.dtype == np.float16 and logits.shape == (360, 10)
    assert np.mean(np.argmax(logits.astype(np.float32), axis=1) == y_test) > float_acc - 0.03
    # the demo's conv layer itself, against the direct convolution, on a few images
    xq = cnn.model_input("int8", x_test[:4])
    want = direct_conv_int8(xq, q["wc"], cnn.STRIDE, cnn.PAD, 0, q["bc"], q["mc"], 0, 0, 127)
    assert np.array_equal(features[:4], want)
    f = cnn.convert_fp16(model)
    features16, logits32 = cnn.golden_run("fp16", f, x_test)
    assert features16.dtype == np.float16 and logits32.dtype == np.float32
    assert np.mean(np.argmax(logits32, axis=1) == y_test) > float_acc - 0.02
    want16 = direct_conv_fp16(cnn.model_input("fp16", x_test[:4]), f["wc"], cnn.STRIDE,
                              cnn.PAD, f["bc"], 0.0)
    assert np.array_equal(_bits(features16[:4]), _bits(want16))


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_walked_conv_equals_the_golden_on_the_command_model(small, variant):
    """The demo's convolution as the NPU runs it (the walk planner's descriptors on the golden
    command model) against the im2col golden, every held-out image, both precisions."""
    x_train, _, x_test, _, model = small
    config = preset(variant)
    main = config.region("main")
    params = {"int8": cnn.quantize_int8(model, x_train), "fp16": cnn.convert_fp16(model)}
    for precision in ("int8", "fp16"):
        npu = NpuModel(config)
        npu.set_window(main.base, main.size)
        x = cnn.model_input(precision, x_test)
        xa, oa, pa = main.base, main.base + main.size // 2, main.base + 3 * main.size // 4
        program = cnn.conv_program(config, precision, params[precision], x.shape, x_addr=xa,
                                   out_addr=oa, param_addr=pa)
        got = run_on_model(npu, program, [(xa, x)])
        want = cnn.golden_run(precision, params[precision], x_test)[0]
        assert got.dtype == want.dtype and np.array_equal(_bits(got), _bits(want)), precision
        assert np.count_nonzero(want) > want.size // 4        # ReLU does not zero everything


def test_small_batch_on_the_soc_is_bit_exact(small):
    x_train, _, x_test, _, model = small
    params = {"int8": cnn.quantize_int8(model, x_train), "fp16": cnn.convert_fp16(model)}
    for precision in ("int8", "fp16"):
        outputs, result = cnn.npu_run(precision, params[precision], x_test[:13],
                                      preset("npu-small"), cpu_check=precision == "int8")
        golden = cnn.golden_run(precision, params[precision], x_test[:13])
        for got, want in zip(outputs, golden, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(_bits(got), _bits(want))
        assert all(layer["error"] == 0 for layer in result.layers)
        if precision == "int8":     # the walked convolution has no CPU path: check 0
            assert [layer["check"] for layer in result.layers] == [0, 1]
