"""QUANTIZE / DEQUANTIZE golden model (dure.sim.golden_tflite_quantize) against LiteRT's
reference kernels, bit for bit: float32 -> int8 (ties, huge values, +/-Inf and NaN with the x86
conversion of the wheel, subnormals),
int8 -> float32, and int8 -> int8 rescales with multipliers above and below 1."""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim import golden_tflite_quantize as gq
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

SEEDS = range(40)


def _scale(rng):
    return float(np.float32(2.0 ** rng.uniform(-10, 3)))


def _floats(rng, n, scale, zp):
    kind = rng.integers(0, 4, n)
    x = rng.uniform(-200, 200, n) * scale                               # in and beyond range
    ties = (rng.integers(-140, 140, n) + 0.5 - zp * 0) * scale          # near .5 after division
    special = rng.choice(np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, -0.0, 0.0]), n)
    tiny = rng.uniform(-2, 2, n) * scale
    out = np.where(kind == 0, x, np.where(kind == 1, ties, np.where(kind == 2, special, tiny)))
    return out.astype(np.float32)


@pytest.mark.parametrize("seed", SEEDS)
def test_quantize_float_to_int8(seed):
    rng = np.random.default_rng(seed)
    scale, zp = _scale(rng), int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    x = _floats(rng, 512, scale, zp).reshape(2, 256)
    mb = tb.ModelBuilder()
    xi = mb.tensor("input", x.shape, np.float32)
    (ref,) = run_reference(mb.build([xi], [tb.add_quantize(mb, xi, x.shape,
                                                           tb.Quant(scale, zp))]), x)
    got = gq.quantize_int8(x, scale, zp)
    assert (got == ref).all(), np.argwhere(got != ref)[:3]


@pytest.mark.parametrize("seed", SEEDS)
def test_dequantize_int8_to_float(seed):
    rng = np.random.default_rng(seed)
    scale, zp = _scale(rng), int(rng.integers(-128, 128))
    q = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    mb = tb.ModelBuilder()
    qi = mb.tensor("input", q.shape, np.int8, tb.Quant(scale, zp))
    (ref,) = run_reference(mb.build([qi], [tb.add_dequantize(mb, qi, q.shape)]), q)
    got = gq.dequantize_int8(q, scale, zp)
    assert (golden.bits(got) == golden.bits(ref)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_requantize_int8_to_int8(seed):
    rng = np.random.default_rng(seed)
    s_in, s_out = _scale(rng), _scale(rng)
    z_in, z_out = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    q = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    mb = tb.ModelBuilder()
    qi = mb.tensor("input", q.shape, np.int8, tb.Quant(s_in, z_in))
    (ref,) = run_reference(mb.build([qi], [tb.add_quantize(mb, qi, q.shape,
                                                           tb.Quant(s_out, z_out))]), q)
    got = gq.requantize_int8(q, s_in, z_in, s_out, z_out)
    assert (got == ref).all(), np.argwhere(got != ref)[:3]
