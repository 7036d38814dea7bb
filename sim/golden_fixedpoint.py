"""Fixed-point primitives of the TFLite reference kernels (plain numpy, bit-exact to the C code).

These are the integer building blocks of every full-integer TFLite operator, stated with the C
semantics of the reference implementation (gemmlowp ``fixedpoint.h`` and TFLite
``kernels/internal/common.h`` / ``quantization_util.cc``, double-rounding build, i.e.
``TFLITE_SINGLE_ROUNDING`` off, which is what the LiteRT wheel runs):

- :func:`quantize_multiplier` turns a real (double) multiplier into an int32 Q0.31 significand and
  a power-of-two exponent;
- :func:`saturating_rounding_doubling_high_mul` is ARM's ``VQRDMULH``: ``(a * b + nudge) / 2**31``
  with C truncating division, the nudge ``2**30`` for a non-negative product and ``1 - 2**30`` for
  a negative one (nearest, an exact half toward +infinity: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1), and
  ``INT32_MIN * INT32_MIN`` saturating to ``INT32_MAX``;
- :func:`rounding_divide_by_pot` is the rounding arithmetic right shift: round to nearest, ties
  away from zero;
- :func:`multiply_by_quantized_multiplier` applies a (multiplier, shift) pair to an int32: left
  shift first (wrapping modulo 2**32 as the C ``int32`` product does on every target we know),
  then the doubling high multiply, then the rounding right shift (two roundings);
- :func:`multiply_by_quantized_multiplier_single_rounding` is the one-rounding form
  ``(x * m + 2**(30 - shift)) >> (31 - shift)`` (ruy's ``MultiplyByQuantizedMultiplier``, and
  TFLite's under ``TFLITE_SINGLE_ROUNDING``), the NPU STORE's second TFLite mode. CONV_2D,
  DEPTHWISE_CONV_2D and ADD use the double-rounding form; LiteRT's FULLY_CONNECTED uses
  neither (it rescales in double: :mod:`dure.sim.golden_double_rescale`).

Every array function takes integer numpy arrays or Python ints (broadcast together), computes in
int64 where C computes in 64 bits and wraps to int32 where C stores an ``int32_t``, and returns
int32 arrays. Out-of-contract arguments (exponent outside [0, 31], a multiplier outside int32)
raise ValueError instead of invoking undefined behaviour.
"""

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "INT32_MIN", "INT32_MAX",
    "tflite_round", "quantize_multiplier", "quantize_multiplier_smaller_than_one_exp",
    "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier", "multiply_by_quantized_multiplier_smaller_than_one_exp",
    "multiply_by_quantized_multiplier_single_rounding",
    "wrap_int32",
]

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap_int32(x):
    """Reduce integers modulo 2**32 into the two's complement int32 range.

    Parameters
    ----------
    x : numpy.ndarray or int
        Any integer array (values must fit int64) or Python int.

    Returns
    -------
    numpy.ndarray
        int32, same shape: ``x`` modulo 2**32, read as two's complement.
    """
    x = np.asarray(x, dtype=np.int64)
    return (x & 0xFFFF_FFFF).astype(np.uint32).view(np.int32)


def _int_array(name, x):
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array or int, not {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise ValueError(f"{name} must lie in the int32 range")
    return a


def tflite_round(x):
    """``TfLiteRound`` (``std::round``) of one finite float: nearest integer, ties away from zero.

    Parameters
    ----------
    x : float or numpy.floating
        The value exactly as the C code holds it (a float32 stays float32: its exact value is
        rounded, no conversion happens first).

    Returns
    -------
    int
        ``round(x)`` with halves going away from zero (2.5 -> 3, -2.5 -> -3, 0.49999997 -> 0).
    """
    f = Fraction(float(x))      # exact for float16/32/64 values
    r = math.floor(abs(f) + Fraction(1, 2))
    return r if f >= 0 else -r


def quantize_multiplier(real_multiplier):
    """``tflite::QuantizeMultiplier``: a double multiplier as (Q0.31 significand, shift).

    Statement of the C code (non-emulated float path):

    1. ``0.0`` gives ``(0, 0)``.
    2. ``q, shift = frexp(real)`` (``0.5 <= |q| < 1``, ``real = q * 2**shift``).
    3. ``q_fixed = TfLiteRound(q * 2**31)`` (the product is exact; ties away from zero).
    4. If ``q_fixed == 2**31`` (q rounded up to 1.0): ``q_fixed = 2**30`` and ``shift += 1``.
    5. If ``shift < -31``: ``(0, 0)``, i.e. multipliers below about ``2**-32`` flush to zero.

    So ``real ~= multiplier * 2**(shift - 31)`` with ``multiplier`` in ``[2**30, 2**31 - 1]``
    (or 0). The double-rounding build keeps any ``shift`` (the single-rounding build, not used
    by LiteRT's wheel, would saturate shifts above 30).

    Parameters
    ----------
    real_multiplier : float
        A finite double (Python float; a numpy float32 is first widened exactly, as C does).

    Returns
    -------
    (int, int)
        ``(quantized_multiplier, shift)``.
    """
    d = float(real_multiplier)
    if not math.isfinite(d):
        raise ValueError(f"the multiplier must be finite, not {d}")
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    q_fixed = tflite_round(q * float(1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one_exp(real_multiplier):
    """``tflite::QuantizeMultiplierSmallerThanOneExp``: as :func:`quantize_multiplier` for
    ``0 < real < 1`` (checked), returning ``(multiplier, shift)`` with ``shift <= 0``."""
    d = float(real_multiplier)
    if not 0.0 < d < 1.0:
        raise ValueError(f"the multiplier must lie in (0, 1), not {d}")
    m, shift = quantize_multiplier(d)
    if shift > 0:
        raise ValueError(f"{d} quantized to a positive shift {shift}")
    return m, shift


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 (ARM ``VQRDMULH``).

    ``ab = int64(a) * int64(b)``; ``nudge = 2**30 if ab >= 0 else 1 - 2**30``;
    ``result = int32((ab + nudge) / 2**31)`` with C truncating division; except
    ``a == b == INT32_MIN``, which gives ``INT32_MAX``. Read as Q0.31 numbers this is the product
    ``a * b / 2**31`` rounded to nearest, an exact half toward +infinity (the negative nudge is
    ``1 - 2**30``, not ``-2**30``: -0.5 -> 0, -1.5 -> -1).

    Parameters
    ----------
    a, b : numpy.ndarray or int
        int32 values (any integer dtype with values in the int32 range), broadcast together.

    Returns
    -------
    numpy.ndarray
        int32.
    """
    a = _int_array("a", a)
    b = _int_array("b", b)
    ab = a * b                                    # |ab| <= 2**62: exact in int64
    t = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))  # C division truncates toward zero
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, q).astype(np.int32)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties away from 0.

    ``mask = 2**exponent - 1``; ``remainder = x & mask``;
    ``threshold = (mask >> 1) + (1 if x < 0 else 0)``;
    ``result = (x >> exponent) + (1 if remainder > threshold else 0)`` with an arithmetic shift.

    Parameters
    ----------
    x : numpy.ndarray or int
        int32 values.
    exponent : numpy.ndarray or int
        In [0, 31] (the C code asserts this), broadcast against ``x``.

    Returns
    -------
    numpy.ndarray
        int32.
    """
    x = _int_array("x", x)
    e = _int_array("exponent", exponent)
    if e.size and (e.min() < 0 or e.max() > 31):
        raise ValueError("exponent must lie in [0, 31]")
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return ((x >> e) + (remainder > threshold)).astype(np.int32)


def multiply_by_quantized_multiplier(x, quantized_multiplier, shift):
    """``tflite::MultiplyByQuantizedMultiplier(int32 x, int32 m, int shift)``, double rounding.

    ``left = max(shift, 0)``, ``right = max(-shift, 0)``; then
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**left, m), right)`` where
    ``x * 2**left`` is an int32 product that wraps modulo 2**32 (the C code overflows there only
    for out-of-range inputs; we reproduce the two's complement wrap rather than refuse).

    Parameters
    ----------
    x : numpy.ndarray or int
        int32 accumulators.
    quantized_multiplier, shift : numpy.ndarray or int
        As from :func:`quantize_multiplier` (scalars or per-element / per-channel arrays that
        broadcast against ``x``); ``shift`` in [-31, 31].

    Returns
    -------
    numpy.ndarray
        int32.
    """
    x = _int_array("x", x)
    m = _int_array("quantized_multiplier", quantized_multiplier)
    s = _int_array("shift", shift)
    if s.size and (s.min() < -31 or s.max() > 31):
        raise ValueError("shift must lie in [-31, 31]")
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = wrap_int32(x << left)      # x < 2**31, left <= 31: fits int64 before the wrap
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m), right)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, quantized_multiplier, shift):
    """``tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp`` (double rounding): for
    ``shift <= 0`` (checked), ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m),
    -shift)``; identical to :func:`multiply_by_quantized_multiplier` on that domain."""
    s = _int_array("shift", shift)
    if s.size and s.max() > 0:
        raise ValueError("shift must be <= 0 for the smaller-than-one form")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, quantized_multiplier),
                                  -s)


def multiply_by_quantized_multiplier_single_rounding(x, quantized_multiplier, shift):
    """Single-rounding ``MultiplyByQuantizedMultiplier`` (ruy ``detail::`` / TFLite
    ``TFLITE_SINGLE_ROUNDING``).

    ``total = 31 - shift``; ``result = (int64(x) * m + 2**(total - 1)) >> total`` with an
    arithmetic shift: the exact product ``x * m / 2**total`` rounded to nearest with ties toward
    +infinity, one rounding only; the int64 result is stored to int32 (wrapping modulo 2**32 if
    it does not fit, which the C code only asserts against).

    Parameters
    ----------
    x : numpy.ndarray or int
        int32 accumulators.
    quantized_multiplier, shift : numpy.ndarray or int
        As from :func:`quantize_multiplier`, broadcast against ``x``; ``shift`` in [-31, 30].

    Returns
    -------
    numpy.ndarray
        int32.
    """
    x = _int_array("x", x)
    m = _int_array("quantized_multiplier", quantized_multiplier)
    s = _int_array("shift", shift)
    if s.size and (s.min() < -31 or s.max() > 30):
        raise ValueError("shift must lie in [-31, 30] for the single-rounding form")
    total = 31 - s
    return wrap_int32((x * m + (np.int64(1) << (total - 1))) >> total)
