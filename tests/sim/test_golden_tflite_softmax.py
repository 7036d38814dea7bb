"""The INT8 SOFTMAX golden model (dure.sim.golden_tflite_softmax) against LiteRT's reference
kernel, bit for bit: random rows (length 1-40, batch and 4-D shapes), input scales from 2**-8 to
2**6 (the diff_min cut-off removes entries at large scales; above 2**5 the multiplier clips to
2**31 - 1), betas other than 1, constant rows, rows with one dominant entry and rows spanning
-128..127."""

import numpy as np
import pytest
from dure.sim import golden_tflite_softmax as gs
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

FAST, SLOW = 60, 600


def _seeds():
    return list(range(FAST)) + [pytest.param(s, marks=pytest.mark.slow)
                                for s in range(FAST, SLOW)]


def _input(rng, shape):
    kind = rng.integers(0, 4)
    if kind == 0:                                  # constant rows
        return np.full(shape, rng.integers(-128, 128), np.int8)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    if kind == 1:                                  # one dominant entry per row
        x[..., rng.integers(0, shape[-1])] = 127
    if kind == 2:                                  # extremes
        x[..., 0] = -128
        x[..., -1] = 127
    return x


@pytest.mark.parametrize("seed", _seeds())
def test_softmax_matches_litert(seed):
    rng = np.random.default_rng(1000 + seed)
    length = int(rng.integers(1, 41))
    shape = [(1, length), (int(rng.integers(1, 4)), length),
             (1, int(rng.integers(1, 4)), int(rng.integers(1, 4)), length)][seed % 3]
    scale = float(np.float32(2.0 ** rng.uniform(-8, 6)))   # above 2**5 the multiplier clips
    zp = int(rng.integers(-128, 128))
    beta = float(rng.choice([1.0, 1.0, 0.5, 2.0, 1.7]))
    x = _input(rng, shape)
    (ref,) = run_reference(tb.softmax_model(shape, tb.Quant(scale, zp), beta=beta), x)
    got = gs.softmax_int8(x, *gs.softmax_params(beta, scale))
    bad = np.argwhere(got != ref)
    assert bad.size == 0, (f"{bad.shape[0]} differ; scale {scale} beta {beta}; first "
                           f"golden {got[tuple(bad[0])]} LiteRT {ref[tuple(bad[0])]}")


def test_softmax_params_and_cutoff():
    m, s, dmin = gs.softmax_params(1.0, 1.0)
    assert s == 27 and m == 2 ** 30 and dmin == -(31 * 2 ** 26 // 2 ** 27)   # -15
    x = np.array([[127, 127 - 15, 127 - 16]], np.int8)
    out = gs.softmax_int8(x, m, s, dmin)
    assert out[0, 2] == -128 and out[0, 0] > out[0, 1]
    with pytest.raises(ValueError):
        gs.softmax_params(1.0, 2.0 ** -30)


def test_exp_and_reciprocal_building_blocks():
    q26 = np.array([0, -(1 << 26), -(1 << 24), -(3 << 25), -(31 << 26)])
    e = gs.exp_on_negative_values(q26) / 2.0 ** 31
    assert np.allclose(e, np.exp(q26 / 2.0 ** 26), atol=2e-9)
    assert gs.exp_on_negative_values(np.array([0]))[0] == 2 ** 31 - 1
    a = np.array([0, 1 << 29, 1 << 30, (1 << 31) - 1])
    r = gs.one_over_one_plus_x_for_x_in_0_1(a) / 2.0 ** 31
    assert np.allclose(r, 1 / (1 + a / 2.0 ** 31), atol=2e-9)
