"""Exact rational reference for IEEE binary16 / binary32 rounding.

The golden model's tests (tests/sim/test_golden*.py) compare :mod:`dure.sim.golden` against it.
Nothing here uses float arithmetic for the answer: values are decoded from their bits into
:class:`fractions.Fraction`, combined exactly, and rounded back with an explicit
round-to-nearest-even that handles normals, subnormals, overflow to Inf and ties.
tests/sim/test_golden_exact.py checks the reference itself against hand-worked constants and
against numpy's float64 -> float32/float16 conversions (an independent rounding implementation).
"""

from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple


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


def pow2(e):
    """2 ** e as an exact Fraction."""
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
    if mag < pow2(e):
        e -= 1                                   # now 2**e <= mag < 2**(e+1)
    e = max(e, fmt.emin)                         # below emin the quantum stays 2**(emin-p+1)
    n = rne_int(mag / pow2(e - (fmt.p - 1)))    # significand as an integer, < 2**p
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
        return Val("num", sign, frac * pow2(fmt.emin - (fmt.p - 1)))
    return Val("num", sign, ((1 << (fmt.p - 1)) + frac) * pow2(field - fmt.bias - (fmt.p - 1)))


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
