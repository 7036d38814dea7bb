"""The FP16 SOFTMAX golden model (dure.sim.golden_softmax_fp16, integer fixed point) against the
exact softmax of its fp16 inputs (float64 ``exp``, ~1e-16 relative): the values before the final
rounding within ERROR_BOUND relative (plus depth * 2**-32 for dropped terms) on rows pairing
every finite fp16 value with a set of maxima and on random rows and betas; every output the
correctly rounded fp16 of the exact softmax except where that lies within the bound of a
rounding boundary; the exponential within 2**-29 on every fraction (make fuzz)."""

import numpy as np
import pytest
from dure.sim import golden_softmax_fp16 as gsm


def _exact(x, beta):
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = float(np.float32(beta)) * (x - x.max(axis=-1, keepdims=True))
        e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check(x, beta):
    """Bound on the unrounded values; outputs correctly rounded away from the boundaries."""
    exact = _exact(x, beta)
    v = gsm.softmax_fp16_unrounded(x, beta)
    y = gsm.softmax_fp16(x, beta).astype(np.float64)
    slack = x.shape[-1] * 2.0 ** -32
    assert np.all(np.abs(v - exact) <= exact * gsm.ERROR_BOUND + slack)
    with np.errstate(over="ignore"):
        rounded = exact.astype(np.float16).astype(np.float64)
    off = y != rounded
    # Where they differ, the exact value is within the bound of the midpoint between the two.
    mid = (y[off] + rounded[off]) / 2
    assert np.all(np.abs(exact[off] - mid) <= exact[off] * gsm.ERROR_BOUND + slack)
    rel = np.abs(v - exact)[exact > 2.0 ** -20] / exact[exact > 2.0 ** -20]
    return rel.max(), int(off.sum())


@pytest.mark.parametrize("beta", [1.0, 0.7, 1e-3, 300.0])
def test_every_fp16_value_against_maxima(beta):
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    every = every[np.isfinite(every)]
    for m in np.float16([0.0, 1.5, -3.0, 65504.0, 6e-8, -65504.0, 10.0]):
        x = every[every <= m]
        worst, _ = _check(np.stack([x, np.full_like(x, m)], axis=-1), beta)
        assert worst < gsm.ERROR_BOUND


@pytest.mark.parametrize("case", range(6))
def test_random_rows(case):
    rng = np.random.default_rng(4100 + case)
    depth = [2, 10, 12, 100, 1000, 7][case]
    for beta in (1.0, 0.5, 2.0, 1.7, 40.0):
        x = rng.normal(0, [1, 4, 30][case % 3], (2000 // depth + 1, depth)).astype(np.float16)
        worst, _ = _check(x, beta)
        assert worst < gsm.ERROR_BOUND


def test_specials():
    x = np.float16([[1, np.inf, 0], [np.nan, 1, 2], [-np.inf, 0, 0], [-np.inf] * 3,
                    [0, 0, 0], [-np.inf, 7, -np.inf]])
    y = gsm.softmax_fp16(x)
    assert np.all(y[[0, 1, 3]].view(np.uint16) == 0x7E00)
    assert list(y[2]) == [0, 0.5, 0.5] and list(y[5]) == [0, 1, 0]
    assert np.all(y[4] == np.float16(1 / 3))
    assert gsm.softmax_fp16(x[2:3].reshape(1, 1, 3)).shape == (1, 1, 3)
    for bad in (0.0, -1.0, np.inf, np.nan, 1e39):
        with pytest.raises(ValueError, match="positive finite beta"):
            gsm.softmax_fp16(x, bad)
    with pytest.raises(ValueError, match="float16"):
        gsm.softmax_fp16(np.zeros((2, 3), np.float32))


@pytest.mark.slow
def test_exp2_every_fraction():
    """E against 2**(31 - f / 2**27) for every 27-bit fraction f (I is the integer part)."""
    worst = 0.0
    for start in range(0, 1 << 27, 1 << 22):
        z = np.arange(start, start + (1 << 22), dtype=np.uint64)
        e, i = gsm.exp2_neg(z)
        assert np.all(i == 0)
        exact = np.exp2(31 - z.astype(np.float64) / 2 ** 27)
        worst = max(worst, float(np.max(np.abs(e - exact) / exact)))
    assert worst < 2.0 ** -29
