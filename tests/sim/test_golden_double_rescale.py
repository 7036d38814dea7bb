"""dure.sim.golden_double_rescale: LiteRT's ``static_cast<int32_t>(round(double(acc) * s))``."""

from fractions import Fraction

import numpy as np
import pytest
from dure.sim.golden_double_rescale import add_int32_wrapping, scale_round_int32
from dure.sim.golden_fixedpoint import INT32_MAX, INT32_MIN


def _c_model(acc, scale):
    """The same expression from first principles: the product rounded to double by Python's
    float multiply, then C's round() on the exact Fraction of it, INT32_MIN when out of range."""
    v = Fraction(float(acc) * float(scale))
    r = int(abs(v) + Fraction(1, 2)) * (1 if v >= 0 else -1)
    return r if INT32_MIN <= r <= INT32_MAX else INT32_MIN


def test_halves_go_away_from_zero():
    acc = np.arange(-7, 8)
    assert scale_round_int32(acc, 0.5).tolist() == [-4, -3, -3, -2, -2, -1, -1, 0, 1, 1, 2, 2,
                                                    3, 3, 4]


def test_just_below_a_half_is_not_rounded_up():
    # 0.49999999999999994 (the double below 0.5): C's round gives 0 (floor(x + 0.5) would give 1)
    below = np.nextafter(0.5, 0.0)
    assert scale_round_int32(1, below) == 0 and scale_round_int32(-1, below) == 0


def test_the_product_is_rounded_to_double_first():
    # s = the double below 2.5 / 3: 3 * s lies below 2.5 by less than half an ulp, so the double
    # product is 2.5, then away from zero: 3 (the exact product would give 2)
    s = float(np.nextafter(2.5 / 3, 0.0))
    assert float(3) * s == 2.5 and Fraction(3) * Fraction(s) < Fraction(5, 2)
    assert scale_round_int32(3, s) == 3 and scale_round_int32(-3, s) == -3


def test_out_of_range_gives_int32_min():
    assert scale_round_int32(2 ** 28, 8.0) == INT32_MIN            # 2**31 does not fit
    assert scale_round_int32(2 ** 28 - 1, 8.0) == INT32_MAX - 7
    assert scale_round_int32(-2 ** 28, 8.0) == INT32_MIN           # fits exactly
    assert scale_round_int32(-2 ** 28 - 1, 8.0) == INT32_MIN       # does not fit
    assert scale_round_int32(INT32_MAX, 1.0) == INT32_MAX


@pytest.mark.parametrize("seed", range(3))
def test_random_against_first_principles(seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True)
    scale = np.exp2(rng.uniform(-34, 4, 2000))
    got = scale_round_int32(acc, scale)
    assert got.dtype == np.int32
    assert got.tolist() == [_c_model(a, s) for a, s in zip(acc, scale, strict=True)]


def test_arguments_are_checked():
    with pytest.raises(TypeError):
        scale_round_int32(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="int32"):
        scale_round_int32(2 ** 31, 1.0)
    with pytest.raises(ValueError, match="finite"):
        scale_round_int32(1, float("inf"))
    with pytest.raises(ValueError, match="non-negative"):
        scale_round_int32(1, -0.5)


def test_wrapping_add():
    assert add_int32_wrapping(INT32_MIN, -1) == INT32_MAX
    assert add_int32_wrapping(INT32_MAX, 1) == INT32_MIN
    assert add_int32_wrapping(5, -7) == -2
