"""Knife edges built on purpose, golden against LiteRT 2.3's reference kernels: accumulators
whose exact scaled value lies within 1e-9 of a rounding tie (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED per channel), every int8 input pair through ADD, and exact halves of average
pooling. A rule that rounds the exact value, or a multiplier one unit off, fails here."""

from fractions import Fraction

import numpy as np
import pytest
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_params as gp
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

NEAR = Fraction(1, 10 ** 9)


def _knife_pairs(rng, want):
    """``want`` (float32 scale, accumulator) pairs whose exact product lies within 1e-9 of a
    half-integer in [-128.5, 127.5], scales from 2**-24 to 2**-18 (right shifts 17-23)."""
    pairs = []
    while len(pairs) < want:
        s = np.float32(2.0 ** rng.uniform(-24, -18))
        fs = Fraction(float(s))
        for k in range(-129, 128):
            b = Fraction(2 * k + 1, 2)
            c = round(b / fs)
            for acc in range(c - 3, c + 4):
                if abs(acc) < 2 ** 31 and abs(acc * fs - b) < NEAR:
                    pairs.append((s, acc))
        pairs = pairs[:want]
    return pairs


def _split(pairs):
    return (np.array([p[0] for p in pairs], np.float32),
            np.array([p[1] for p in pairs], np.int32))


@pytest.mark.parametrize("seed", range(3))
def test_conv_knife_edges(seed):
    scales, bias = _split(_knife_pairs(np.random.default_rng(seed), 24))
    c = bias.size
    x = np.zeros((1, 1, 1, 1), np.int8)
    w = np.ones((c, 1, 1, 1), np.int8)
    model = tb.conv2d_model(x.shape, w, bias, tb.Quant(1.0, 0), tb.Quant(scales, 0, 0),
                            tb.Quant(1.0, 0), (1, 1, 1, c))
    m, s = gp.conv_multipliers(1.0, scales, 1.0)
    got = gt.conv2d_int8(x, w, bias, input_zero_point=0, output_zero_point=0, multiplier=m,
                         shift=s)
    (ref,) = run_reference(model, x)
    assert np.array_equal(got, ref), np.argwhere(got != ref)


@pytest.mark.parametrize("seed", range(3))
def test_depthwise_knife_edges(seed):
    scales, bias = _split(_knife_pairs(np.random.default_rng(100 + seed), 24))
    c = bias.size
    x = np.zeros((1, 1, 1, c), np.int8)
    w = np.ones((1, 1, 1, c), np.int8)
    model = tb.depthwise_conv2d_model(x.shape, w, bias, tb.Quant(1.0, 0),
                                      tb.Quant(scales, 0, 3), tb.Quant(1.0, 0), (1, 1, 1, c))
    m, s = gp.conv_multipliers(1.0, scales, 1.0)
    got = gt.depthwise_conv2d_int8(x, w, bias, input_zero_point=0, output_zero_point=0,
                                   multiplier=m, shift=s)
    (ref,) = run_reference(model, x)
    assert np.array_equal(got, ref), np.argwhere(got != ref)


@pytest.mark.parametrize("seed", range(3))
def test_fully_connected_per_channel_knife_edges(seed):
    scales, bias = _split(_knife_pairs(np.random.default_rng(200 + seed), 24))
    c = bias.size
    x = np.zeros((1, 1), np.int8)
    w = np.ones((c, 1), np.int8)
    model = tb.fully_connected_model(x.shape, w, bias, tb.Quant(1.0, 0), tb.Quant(scales, 0, 0),
                                     tb.Quant(1.0, 0))
    got = gt.fully_connected_int8(x, w, bias, input_zero_point=0, output_zero_point=0,
                                  scale=gp.fully_connected_scales(1.0, scales, 1.0))
    (ref,) = run_reference(model, x)
    assert np.array_equal(got, ref), np.argwhere(got != ref)


@pytest.mark.parametrize("seed", range(4))
def test_add_every_input_pair(seed):
    """All 65,536 int8 pairs with random zero points and scales (some equal, some output
    scales far below the inputs'), so every rounding boundary the scales produce is met."""
    rng = np.random.default_rng(300 + seed)
    d = np.arange(-128, 128, dtype=np.int8)
    x1, x2 = (a.reshape(1, -1) for a in np.meshgrid(d, d))
    s1, s2 = (float(np.float32(2.0 ** rng.uniform(-8, 0))) for _ in range(2))
    if seed == 0:
        s2 = s1
    so = float(np.float32(max(s1, s2) * 2.0 ** rng.uniform(-4, 2)))
    z1, z2, zo = (int(rng.integers(-128, 128)) for _ in range(3))
    model = tb.add_model(x1.shape, tb.Quant(s1, z1), tb.Quant(s2, z2), tb.Quant(so, zo))
    (ref,) = run_reference(model, x1, x2)
    got = gt.add_int8(x1, x2, gp.add_params(s1, s2, so), input1_zero_point=z1,
                      input2_zero_point=z2, output_zero_point=zo)
    assert np.array_equal(got, ref), np.argwhere(got != ref)[:5]


@pytest.mark.parametrize("window", [(1, 2), (2, 2), (1, 4), (2, 3)])
def test_average_pool_exact_halves(window):
    """Windows of 2, 4 and 6 taps over values whose sums are exact halves of the count, both
    signs (-3.5 -> -4, 3.5 -> 4), and random values."""
    rng = np.random.default_rng(window[0] * 10 + window[1])
    n = window[0] * window[1]
    x = rng.integers(-128, 128, (1, window[0] * 16, window[1] * 16, 3)).astype(np.int8)
    # first window row: sums (2 j + 1) * n / 2 for j in -8..7 (exact halves of the average)
    for j in range(16):
        target = (2 * (j - 8) + 1) * n // 2
        vals = np.full(n, target // n)
        vals[: target - vals.sum()] += 1
        x[0, :window[0], j * window[1]:(j + 1) * window[1], 0] = vals.reshape(window)
    model = tb.pool2d_model("average", x.shape, (1, 16, 16, 3), tb.Quant(0.1, 0), window,
                            stride=window)
    (ref,) = run_reference(model, x)
    got = gt.average_pool_int8(x, window, stride=window)
    assert np.array_equal(got, ref), np.argwhere(got != ref)[:5]
