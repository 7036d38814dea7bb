"""The exact rational reference (:mod:`dure.sim.verif.ieee_exact`) that the golden model's tests
compare against, checked itself: against hand-worked constants and against numpy's float64 ->
float32/float16 conversions (an independent rounding implementation)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from dure.sim.verif.ieee_exact import (
    F16,
    F32,
    decode,
    encode,
    f32_add,
    f32_mul,
    pow2,
    rne_int,
    round_bits,
)


def test_rne_int_ties_and_signs():
    cases = {Fraction(5, 2): 2, Fraction(7, 2): 4, Fraction(-5, 2): -2, Fraction(-1, 2): 0,
             Fraction(1, 2): 0, Fraction(3, 2): 2, Fraction(-3, 2): -2, Fraction(26, 10): 3,
             Fraction(-26, 10): -3, Fraction(24, 10): 2, Fraction(0): 0, Fraction(-7): -7}
    for q, want in cases.items():
        assert rne_int(q) == want, q


@pytest.mark.parametrize(("value", "fmt", "want"), [
    (Fraction(1), F32, 0x3F80_0000),
    (Fraction(1) + pow2(-24), F32, 0x3F80_0000),                 # tie -> even (down)
    (Fraction(1) + 3 * pow2(-24), F32, 0x3F80_0002),             # tie -> even (up)
    (pow2(-149), F32, 0x0000_0001),                              # smallest subnormal
    (pow2(-150), F32, 0x0000_0000),                              # tie -> even zero
    (3 * pow2(-150), F32, 0x0000_0002),                          # tie -> even subnormal
    (pow2(-126) - pow2(-150), F32, 0x0080_0000),                # rounds up into the normals
    ((2 - pow2(-23)) * pow2(127), F32, 0x7F7F_FFFF),            # largest finite
    ((2 - pow2(-24)) * pow2(127), F32, 0x7F80_0000),            # tie at the top -> Inf
    ((2 - pow2(-24)) * pow2(127) - 1, F32, 0x7F7F_FFFF),        # just below that tie
    (Fraction(65504), F16, 0x7BFF),
    (Fraction(65520), F16, 0x7C00),
    (Fraction(65519), F16, 0x7BFF),
    (pow2(-24), F16, 0x0001),
    (pow2(-25), F16, 0x0000),
    (3 * pow2(-25), F16, 0x0002),
    (Fraction(1, 3), F16, 0x3555),
])
def test_round_bits_constants(value, fmt, want):
    assert round_bits(0, value, fmt) == want
    assert round_bits(1, value, fmt) == want | (1 << (fmt.width - 1))


def _random_doubles(rng, count):
    """float64 values spread over binary32/binary16 ranges, plus exact midpoints."""
    out = [float(x) for x in rng.standard_normal(count) * np.exp2(rng.integers(-160, 130, count))]
    for bits in rng.integers(0, 0x7F80_0000, count // 4):        # binary32 midpoints (ties)
        lo = decode(int(bits), F32).mag
        out.append(float(lo + pow2(math.floor(math.log2(lo)) - 24) if lo else pow2(-150)))
    for bits in rng.integers(0, 0x7C00, count // 4):             # binary16 midpoints (ties)
        lo = decode(int(bits), F16).mag
        half_ulp = pow2(max(math.floor(math.log2(lo)), -14) - 11) if lo else pow2(-25)
        out.append(float(lo + half_ulp) * float(rng.choice([-1, 1])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_round_bits_matches_numpy_conversions(seed):
    """float64 -> float32 / float16 in numpy is an independent RNE implementation."""
    rng = np.random.default_rng(seed)
    values = _random_doubles(rng, 1500)
    with np.errstate(all="ignore"):
        want32 = np.array(values, np.float64).astype(np.float32).view(np.uint32)
        want16 = np.array(values, np.float64).astype(np.float16).view(np.uint16)
    for v, w32, w16 in zip(values, want32, want16, strict=True):
        q = Fraction(v)
        assert round_bits(int(q < 0), abs(q), F32) == w32, v
        assert round_bits(int(q < 0), abs(q), F16) == w16, v


def test_decode_encode_round_trip_all_fp16():
    for bits in range(1 << 16):
        v = decode(bits, F16)
        want = F16.canonical_nan if v.kind == "nan" else bits
        assert encode(v, F16) == want


def test_add_zero_signs_and_specials():
    pz, nz, one, inf, ninf = 0x0000_0000, 0x8000_0000, 0x3F80_0000, 0x7F80_0000, 0xFF80_0000
    assert f32_add(nz, nz) == nz
    assert f32_add(nz, pz) == pz
    assert f32_add(one, one | 0x8000_0000) == pz
    assert f32_add(inf, ninf) == F32.canonical_nan
    assert f32_add(inf, one) == inf
    assert f32_mul(inf, pz) == F32.canonical_nan
    assert f32_mul(ninf, one) == ninf
    assert f32_add(0x7F7F_FFFF, 0x7F7F_FFFF) == inf              # overflow by rounding
