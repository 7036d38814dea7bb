"""Golden model of TFLite's INT8 SOFTMAX reference kernel (``reference_ops::Softmax`` on int8,
gemmlowp fixed point), plain numpy, vectorised over rows.

Per row (the last axis) of the int8 input ``q``, with ``(multiplier, left_shift, diff_min)`` from
:func:`softmax_params`:

1. ``d = q - max(q)`` (int32); entries with ``d < diff_min`` contribute nothing and output -128.
2. ``s = SaturatingRoundingDoublingHighMul(d * 2**left_shift, multiplier)``: ``beta * x_scale *
   d`` as a Q5.26 number.
3. ``e = exp_on_negative_values(s)`` (gemmlowp, Q0.31): ``exp`` on ``[-1/4, 0)`` by a Taylor
   polynomial around -1/8, times a barrel of constants ``exp(-2**k)`` for the bits of the
   remainder (k = -2 .. 4), ``INT32_MAX`` for ``s == 0``.
4. ``sum = sum over the row of RoundingDivideByPOT(e, 12)`` (Q12.19, int32 wrapping adds).
5. ``GetReciprocal(sum, 12)``: ``h = clz(sum)``, ``bits = 12 - h``,
   ``r = one_over_one_plus_x_for_x_in_0_1((sum << h) - 2**31)`` (Newton-Raphson, 3 steps,
   gemmlowp constants 48/17 and -32/17).
6. ``out = clamp(RoundingDivideByPOT(SRDHM(r, e), bits + 23) - 128, -128, 127)``.

Every multiply is :func:`dure.sim.golden_fixedpoint.saturating_rounding_doubling_high_mul`,
every add and subtract wraps modulo 2**32 as gemmlowp's raw int32 arithmetic does, and the
saturating power-of-two rescales clamp to the int32 range. The output quantization is fixed by
TFLite: scale 1/256, zero point -128.
"""

import math

import numpy as np

from .golden_fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

__all__ = ["softmax_params", "softmax_int8", "exp_on_negative_values",
           "one_over_one_plus_x_for_x_in_0_1"]

#: Integer bits of the scaled input difference (Q5.26) and of the sum of exponentials (Q12.19).
SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


def _i64(x):
    return np.asarray(x, dtype=np.int64)


def _add(a, b):
    return wrap_int32(_i64(a) + _i64(b)).astype(np.int64)


def _mul(a, b):
    return saturating_rounding_doubling_high_mul(a, b).astype(np.int64)


def _rdbpot(x, e):
    return rounding_divide_by_pot(x, e).astype(np.int64)


def _sat_shl(x, e):
    """gemmlowp SaturatingRoundingMultiplyByPOT<e> for e > 0 on int32."""
    x = _i64(x)
    thr = (1 << (31 - e)) - 1
    return np.where(x > thr, INT32_MAX, np.where(x < -thr, INT32_MIN, x << e))


def softmax_params(beta, input_scale):
    """``(input_multiplier, input_left_shift, diff_min)`` as SOFTMAX's Prepare computes them.

    ``PreprocessSoftmaxScaling``: ``real = min(double(beta) * double(input_scale) * 2**26,
    2**31 - 1)`` (beta and the scale are float32 in the model), then
    ``QuantizeMultiplierGreaterThanOne`` (``real > 1`` required). ``CalculateInputRadius(5,
    left_shift, 31)``: ``radius = floor(31 * 2**26 / 2**left_shift)``; ``diff_min = -radius``.
    """
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * float(1 << 26),
               float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError(f"beta * input_scale * 2**26 must exceed 1, not {real}")
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(31.0 * float(1 << 26) / float(1 << left_shift))
    return multiplier, left_shift, -radius


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    constant_term = 1895147668                    # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)                         # a + 1/8
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _rdbpot(x4, 2)
    poly = _rdbpot(_add(_mul(_add(x4_over_4, x3), constant_1_over_3), x2), 1)
    return _add(constant_term, _mul(constant_term, _add(x, poly)))


def exp_on_negative_values(a):
    """gemmlowp ``exp_on_negative_values`` for Q5.26 inputs ``a <= 0``; returns Q0.31 (int64
    array of int32 values)."""
    a = _i64(a)
    frac = 31 - SCALED_DIFF_INTEGER_BITS         # 26 fractional bits
    one_quarter = 1 << (frac - 2)
    amq = _add(a & (one_quarter - 1), -one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _sat_shl(amq, SCALED_DIFF_INTEGER_BITS))
    remainder = _add(amq, -a)
    for exponent, mult in ((-2, 1672461947), (-1, 1302514674), (0, 790015084),
                           (1, 290630308), (2, 39332535), (3, 720401), (4, 242)):
        bit = (remainder & (1 << (frac + exponent))) != 0
        result = np.where(bit, _mul(result, mult), result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1`` on Q0.31 (Newton-Raphson); returns Q0.31."""
    a = _i64(a)
    s = a + INT32_MAX                            # RoundingHalfSum(a, One)
    half_denominator = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))
    x = _add(1515870810, _mul(half_denominator, -1010580540))     # 48/17 - 32/17 * d (Q2.29)
    one_f2 = 1 << 29
    for _ in range(3):
        hdx = _mul(half_denominator, x)
        x = _add(x, _sat_shl(_mul(x, _add(one_f2, -hdx)), 2))
    return _sat_shl(x, 1)


def _clz32(v):
    """Count of leading zero bits of uint32 values (32 for 0)."""
    v = _i64(v) & 0xFFFF_FFFF
    _, e = np.frexp(v.astype(np.float64))      # v = m * 2**e, 0.5 <= m < 1; exact below 2**53
    return np.where(v == 0, 32, 32 - e).astype(np.int64)


def softmax_int8(x, multiplier, left_shift, diff_min):
    """SOFTMAX over the last axis of an int8 tensor (output scale 1/256, zero point -128).

    Parameters
    ----------
    x : numpy.ndarray
        int8, any shape with at least one axis.
    multiplier, left_shift, diff_min : int
        From :func:`softmax_params`.

    Returns
    -------
    numpy.ndarray
        int8, same shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim < 1:
        raise TypeError("x must be a numpy int8 array with at least one axis")
    q = x.astype(np.int64)
    d = q - q.max(axis=-1, keepdims=True)
    live = d >= diff_min
    scaled = _mul(wrap_int32(d << left_shift), multiplier)
    e = exp_on_negative_values(np.where(live, scaled, 0))
    rescaled = np.where(live, _rdbpot(e, ACCUMULATION_INTEGER_BITS), 0)
    total = wrap_int32(rescaled.sum(axis=-1, keepdims=True)).astype(np.int64)
    h = _clz32(total)
    bits = ACCUMULATION_INTEGER_BITS - h
    shifted = wrap_int32(((total & 0xFFFF_FFFF) << h) - (1 << 31)).astype(np.int64)
    recip = one_over_one_plus_x_for_x_in_0_1(shifted)
    exponent = bits + 31 - 8
    if exponent.size and (exponent.min() < 0 or exponent.max() > 31):
        raise ValueError("softmax exponent out of [0, 31] (TFLITE_CHECK fails)")
    out = _rdbpot(_mul(np.broadcast_to(recip, e.shape), e), np.broadcast_to(exponent, e.shape))
    out = np.clip(out - 128, -128, 127)
    return np.where(live, out, -128).astype(np.int8)
