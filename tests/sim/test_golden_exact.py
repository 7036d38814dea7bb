"""Exact rational reference for IEEE binary16 / binary32 rounding, and tests of the reference.

The golden model's tests (test_golden*.py) load this module by path and compare the golden model
against it. Nothing here uses numpy's float arithmetic for the answer: values are decoded from
their bits into :class:`fractions.Fraction`, combined exactly, and rounded back with an explicit
round-to-nearest-even that handles normals, subnormals, overflow to Inf and ties. The tests at the
bottom check the reference itself against hand-worked constants and against numpy's float64 ->
float32/float16 conversions (an independent rounding implementation).
"""

import importlib.util
import math
import pathlib
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pytest


class Format(NamedTuple):
    """An IEEE binary interchange format."""

    width: int       # total bits
    p: int           # precision in bits, hidden bit included
    emin: int        # exponent of the smallest normal
    emax: int        # exponent of the largest finite

    @property
    def bias(self):
        return self.emax

    @property
    def exp_all_ones(self):
        return self.emax * 2 + 1

    @property
    def canonical_nan(self):
        return (self.exp_all_ones << (self.p - 1)) | (1 << (self.p - 2))


F16 = Format(16, 11, -14, 15)
F32 = Format(32, 24, -126, 127)


class Val(NamedTuple):
    """A decoded IEEE value: kind is "num", "inf" or "nan"; mag >= 0 exact; sign 0 or 1."""

    kind: str
    sign: int
    mag: Fraction

    @property
    def q(self):
        """The signed exact value of a number (zero has no sign here)."""
        return -self.mag if self.sign else self.mag


NAN = Val("nan", 0, Fraction(0))


def rne_int(q):
    """Round a Fraction to the nearest integer, ties to even."""
    q = Fraction(q)
    floor = q.numerator // q.denominator
    rest = q - floor
    if rest > Fraction(1, 2):
        return floor + 1
    if rest < Fraction(1, 2):
        return floor
    return floor + (floor & 1)


def _pow2(e):
    return Fraction(2) ** e


def round_bits(sign, mag, fmt):
    """Bits of the value (-1)**sign * mag rounded to ``fmt`` (RNE, subnormals, overflow to Inf)."""
    mag = Fraction(mag)
    if mag < 0:
        raise ValueError("mag must be >= 0")
    top = sign << (fmt.width - 1)
    if mag == 0:
        return top
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if mag < _pow2(e):
        e -= 1                                   # now 2**e <= mag < 2**(e+1)
    e = max(e, fmt.emin)                         # below emin the quantum stays 2**(emin-p+1)
    n = rne_int(mag / _pow2(e - (fmt.p - 1)))    # significand as an integer, < 2**p
    if n == 1 << fmt.p:                          # rounding carried into the next binade
        n >>= 1
        e += 1
    if e > fmt.emax:
        return top | (fmt.exp_all_ones << (fmt.p - 1))
    if n < 1 << (fmt.p - 1):                     # subnormal (or zero): exponent field 0
        return top | n
    return top | ((e + fmt.bias) << (fmt.p - 1)) | (n - (1 << (fmt.p - 1)))


@lru_cache(maxsize=1 << 16)
def decode(bits, fmt):
    """The exact value of a bit pattern."""
    sign = bits >> (fmt.width - 1)
    field = (bits >> (fmt.p - 1)) & fmt.exp_all_ones
    frac = bits & ((1 << (fmt.p - 1)) - 1)
    if field == fmt.exp_all_ones:
        return Val("nan", 0, Fraction(0)) if frac else Val("inf", sign, Fraction(0))
    if field == 0:
        return Val("num", sign, frac * _pow2(fmt.emin - (fmt.p - 1)))
    return Val("num", sign, ((1 << (fmt.p - 1)) + frac) * _pow2(field - fmt.bias - (fmt.p - 1)))


def encode(v, fmt):
    """Bits of a Val, rounding its magnitude to ``fmt``; NaN is the canonical NaN."""
    if v.kind == "nan":
        return fmt.canonical_nan
    if v.kind == "inf":
        return (v.sign << (fmt.width - 1)) | (fmt.exp_all_ones << (fmt.p - 1))
    return round_bits(v.sign, v.mag, fmt)


def exact_mul(x, y):
    """The exact IEEE product of two Vals (not rounded)."""
    if x.kind == "nan" or y.kind == "nan":
        return NAN
    sign = x.sign ^ y.sign
    if x.kind == "inf" or y.kind == "inf":
        other = y if x.kind == "inf" else x
        if other.kind == "num" and other.mag == 0:
            return NAN                           # Inf * 0
        return Val("inf", sign, Fraction(0))
    return Val("num", sign, x.mag * y.mag)


def exact_add(x, y):
    """The exact IEEE sum of two Vals (not rounded), with IEEE's zero-sign rule under RNE."""
    if x.kind == "nan" or y.kind == "nan":
        return NAN
    if x.kind == "inf" and y.kind == "inf":
        return x if x.sign == y.sign else NAN   # Inf + (-Inf) = NaN
    if x.kind == "inf" or y.kind == "inf":
        return x if x.kind == "inf" else y
    q = x.q + y.q
    if q == 0:                                   # exact zero: -0 only for (-0) + (-0)
        return Val("num", x.sign & y.sign, Fraction(0))
    return Val("num", int(q < 0), abs(q))


def f32_add(x_bits, y_bits):
    """binary32 addition, RNE, canonical NaN."""
    return encode(exact_add(decode(x_bits, F32), decode(y_bits, F32)), F32)


def f32_mul(x_bits, y_bits):
    """binary32 multiplication, RNE, canonical NaN."""
    return encode(exact_mul(decode(x_bits, F32), decode(y_bits, F32)), F32)


def f16_to_f32(bits):
    """Widen binary16 bits to binary32 bits (exact; NaN becomes the canonical NaN)."""
    return encode(decode(bits, F16), F32)


def f32_to_f16(bits):
    """Narrow binary32 bits to binary16 bits (RNE, overflow to Inf, canonical NaN)."""
    return encode(decode(bits, F32), F16)


def int_to_f32(i):
    """Bits of int ``i`` converted to binary32 (RNE)."""
    return round_bits(int(i < 0), Fraction(abs(int(i))), F32)


def gemm_fp16_reference(a_bits, b_bits, start_bits):
    """The contract's fp16 GEMM on bit patterns: sequential over k, binary32 RNE.

    a_bits (M, K) and b_bits (K, N) are binary16 patterns, start_bits (M, N) binary32 patterns of
    the starting values; returns (M, N) binary32 patterns as nested lists of ints.
    """
    m, k_len = len(a_bits), len(a_bits[0]) if a_bits else 0
    n = len(start_bits[0]) if start_bits else 0
    out = []
    for i in range(m):
        row = []
        for j in range(n):
            c = start_bits[i][j]
            for k in range(k_len):
                p = f32_mul(f16_to_f32(a_bits[i][k]), f16_to_f32(b_bits[k][j]))
                c = f32_add(c, p)
            row.append(encode(decode(c, F32), F32))   # canonicalises a NaN start with K = 0
        out.append(row)
    return out


def load(name):
    """Import a sibling test module by path (pytest's importlib mode has no package here)."""
    path = pathlib.Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"_dure_golden_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- tests of the reference itself -----------------------------------------------------------

def test_rne_int_ties_and_signs():
    cases = {Fraction(5, 2): 2, Fraction(7, 2): 4, Fraction(-5, 2): -2, Fraction(-1, 2): 0,
             Fraction(1, 2): 0, Fraction(3, 2): 2, Fraction(-3, 2): -2, Fraction(26, 10): 3,
             Fraction(-26, 10): -3, Fraction(24, 10): 2, Fraction(0): 0, Fraction(-7): -7}
    for q, want in cases.items():
        assert rne_int(q) == want, q


@pytest.mark.parametrize(("value", "fmt", "want"), [
    (Fraction(1), F32, 0x3F80_0000),
    (Fraction(1) + _pow2(-24), F32, 0x3F80_0000),                 # tie -> even (down)
    (Fraction(1) + 3 * _pow2(-24), F32, 0x3F80_0002),             # tie -> even (up)
    (_pow2(-149), F32, 0x0000_0001),                              # smallest subnormal
    (_pow2(-150), F32, 0x0000_0000),                              # tie -> even zero
    (3 * _pow2(-150), F32, 0x0000_0002),                          # tie -> even subnormal
    (_pow2(-126) - _pow2(-150), F32, 0x0080_0000),                # rounds up into the normals
    ((2 - _pow2(-23)) * _pow2(127), F32, 0x7F7F_FFFF),            # largest finite
    ((2 - _pow2(-24)) * _pow2(127), F32, 0x7F80_0000),            # tie at the top -> Inf
    ((2 - _pow2(-24)) * _pow2(127) - 1, F32, 0x7F7F_FFFF),        # just below that tie
    (Fraction(65504), F16, 0x7BFF),
    (Fraction(65520), F16, 0x7C00),
    (Fraction(65519), F16, 0x7BFF),
    (_pow2(-24), F16, 0x0001),
    (_pow2(-25), F16, 0x0000),
    (3 * _pow2(-25), F16, 0x0002),
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
        out.append(float(lo + _pow2(math.floor(math.log2(lo)) - 24) if lo else _pow2(-150)))
    for bits in rng.integers(0, 0x7C00, count // 4):             # binary16 midpoints (ties)
        lo = decode(int(bits), F16).mag
        half_ulp = _pow2(max(math.floor(math.log2(lo)), -14) - 11) if lo else _pow2(-25)
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
