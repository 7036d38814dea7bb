"""The digits MLP demo's numeric pipeline at small size: training, INT8 quantization, FP16
conversion, golden inference; and a small batch through the simulated SoC, bit-exact."""

import numpy as np
import pytest
from dure.sim import mlp_digits as mlp

from dure.config import preset


@pytest.fixture(scope="module")
def small():
    x_train, y_train, x_test, y_test = mlp.load_split()
    model = mlp.train(x_train, y_train, hidden=16, epochs=80)
    return x_train, y_train, x_test, y_test, model


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def test_split_is_fixed_and_disjoint():
    x_train, y_train, x_test, y_test = mlp.load_split()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.max() == 16 and x_train.dtype == np.uint8
    again = mlp.load_split()
    assert np.array_equal(again[2], x_test) and np.array_equal(again[3], y_test)


def test_training_and_quantization(small):
    x_train, _, x_test, y_test, model = small
    float_acc = np.mean(mlp.float_predict(model, x_test) == y_test)
    assert float_acc > 0.85
    q = mlp.quantize_int8(model, x_train)
    assert q["w1"].dtype == np.int8 and np.abs(q["w1"].astype(int)).max() == 127
    assert q["b1"].dtype == np.int32 and q["m1"].dtype == np.float32
    assert q["m1"].shape == (16,) and q["m2"].shape == (10,)
    xq = mlp.quantize_input(x_test)
    assert xq.min() == 0 and xq.max() == 127
    hidden, logits = mlp.golden_run("int8", q, x_test)
    assert hidden.dtype == np.int8 and hidden.min() >= 0          # ReLU as the clamp
    assert logits.dtype == np.float16 and logits.shape == (360, 10)
    int8_pred = np.argmax(logits.astype(np.float32), axis=1)
    assert np.mean(int8_pred == y_test) > float_acc - 0.03
    # the dequantized logits track the float model's
    ref = np.maximum(x_test / 16 @ model.w1 + model.b1, 0) @ model.w2 + model.b2
    assert np.corrcoef(ref.ravel(), logits.astype(np.float64).ravel())[0, 1] > 0.99
    f = mlp.convert_fp16(model)
    hidden16, logits32 = mlp.golden_run("fp16", f, x_test)
    assert hidden16.dtype == np.float16 and logits32.dtype == np.float32
    assert np.mean(np.argmax(logits32, axis=1) == y_test) > float_acc - 0.02


def test_small_batch_on_the_soc_is_bit_exact(small):
    x_train, _, x_test, _, model = small
    params = {"int8": mlp.quantize_int8(model, x_train), "fp16": mlp.convert_fp16(model)}
    for precision in ("int8", "fp16"):
        outputs, result = mlp.npu_run(precision, params[precision], x_test[:21],
                                      preset("npu-small"))
        golden = mlp.golden_run(precision, params[precision], x_test[:21])
        for got, want in zip(outputs, golden, strict=True):
            assert got.dtype == want.dtype
            assert np.array_equal(_bits(got), _bits(want))
        assert all(layer["error"] == 0 for layer in result.layers)
