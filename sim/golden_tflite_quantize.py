"""Golden model of TFLite's QUANTIZE and DEQUANTIZE (per-tensor int8), bit-exact to the LiteRT
reference kernels: the conversions at the float edges of a full-integer model.

- :func:`quantize_int8` (float32 -> int8):
  ``q = clamp(int32(TfLiteRound(x / scale)) + zero_point, -128, 127)`` with ``x / scale`` one
  float32 division (RNE) and ``TfLiteRound`` half away from zero. When the rounded quotient is
  outside int32 (or NaN) the C conversion is undefined; LiteRT 2.3 on x86 yields ``INT32_MIN``
  (the ``cvttss2si`` "integer indefinite"), and the int32 sum with the zero point then wraps:
  so +Inf and huge positive values give -128 (or 127 when ``zero_point < 0``, through the
  wrap). The golden model reproduces that, as the tests establish against the wheel; newer
  TFLite sources (sum and clamp in double) would saturate instead.
- :func:`dequantize_int8` (int8 -> float32, ``reference_ops::Dequantize``):
  ``float32(double(scale) * (q - zero_point))``: the double product is exact, so this is the
  exact product rounded once to float32 (RNE).
- :func:`requantize_int8` (int8 -> int8 QUANTIZE, ``reference_ops::Requantize``):
  ``clamp(MultiplyByQuantizedMultiplier(q - zp_in, m, shift) + zp_out, -128, 127)`` with
  ``(m, shift) = QuantizeMultiplier(double(s_in) / double(s_out))``.
"""

import numpy as np

from .golden_args import zero_point_arg
from .golden_fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32

__all__ = ["quantize_int8", "dequantize_int8", "requantize_int8", "requantize_multiplier"]


def _f32(name, x):
    v = np.float32(x)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite float32, not {x!r}")
    return v


def _round_half_away(v):
    """Elementwise std::round on float32 values, exact (computed on the float64 widening)."""
    w = v.astype(np.float64)
    # |w| + 0.5 is exact in float64 for every float32 w below 2**52 (larger ones are integers).
    r = np.floor(np.abs(w) + 0.5)
    r = np.where(np.abs(w) >= 2.0 ** 52, np.abs(w), r)
    return np.copysign(r, w)


def quantize_int8(x, scale, zero_point):
    """QUANTIZE float32 -> int8 (per tensor), as described in the module docstring.

    Parameters
    ----------
    x : numpy.ndarray
        float32, any shape.
    scale : float
        Positive, rounded to float32.
    zero_point : int
        In [-128, 127].

    Returns
    -------
    numpy.ndarray
        int8, same shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError("x must be a numpy float32 array")
    s = _f32("scale", scale)
    zp = zero_point_arg("zero point", zero_point)
    with np.errstate(all="ignore"):
        v = x / s                                  # float32 / float32: one RNE division
        r = _round_half_away(v)
        fits = (r >= -(2.0 ** 31)) & (r < 2.0 ** 31)      # False for NaN too
    i = np.where(fits, np.nan_to_num(r), -(2.0 ** 31)).astype(np.int64)
    y = wrap_int32(i + zp).astype(np.int64)
    return np.clip(y, -128, 127).astype(np.int8)


def dequantize_int8(q, scale, zero_point):
    """DEQUANTIZE int8 -> float32 (per tensor): ``float32(double(scale) * (q - zero_point))``.

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``q``.
    """
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        raise TypeError("q must be a numpy int8 array")
    s = float(_f32("scale", scale))
    zp = zero_point_arg("zero point", zero_point)
    return (s * (q.astype(np.float64) - zp)).astype(np.float32)


def requantize_multiplier(input_scale, output_scale):
    """``QuantizeMultiplier(double(s_in) / double(s_out))`` of an int8 -> int8 QUANTIZE."""
    return quantize_multiplier(float(_f32("input_scale", input_scale))
                               / float(_f32("output_scale", output_scale)))


def requantize_int8(q, input_scale, input_zero_point, output_scale, output_zero_point):
    """QUANTIZE int8 -> int8 (a rescale between two quantizations).

    ``clamp(MultiplyByQuantizedMultiplier(q - zp_in, m, shift) + zp_out, -128, 127)`` with the
    double-rounding multiply and ``(m, shift)`` from :func:`requantize_multiplier`.

    Returns
    -------
    numpy.ndarray
        int8, same shape.
    """
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        raise TypeError("q must be a numpy int8 array")
    m, s = requantize_multiplier(input_scale, output_scale)
    zi = zero_point_arg("zero point", input_zero_point)
    zo = zero_point_arg("zero point", output_zero_point)
    d = q.astype(np.int64) - zi
    y = multiply_by_quantized_multiplier(d, m, s).astype(np.int64) + zo
    return np.clip(y, -128, 127).astype(np.int8)
