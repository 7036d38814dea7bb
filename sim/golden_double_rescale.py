"""LiteRT's double-precision rescale of an int32 accumulator (FULLY_CONNECTED's reference kernel).

LiteRT's ``reference_integer_ops::FullyConnected`` and ``FullyConnectedPerChannel`` (the
overloads taking the float scales, which ``fully_connected.cc`` calls for int8 with the
reference op resolver) do not use the Q0.31 multiplier that Prepare computes; they evaluate

``acc_scaled = static_cast<int32_t>(round(static_cast<double>(acc) * effective_output_scale))``

with ``effective_output_scale = double(input_scale) * double(filter_scale) / double(output_scale)``
(:func:`dure.sim.golden_tflite_params.fully_connected_scales`), then
``acc_scaled += output_offset`` (int32) and the clamp. :func:`scale_round_int32` states that
expression exactly as the x86-64 wheel executes it:

- ``double(acc) * scale`` is one IEEE double multiplication (round to nearest even; an int32
  converts to double exactly);
- ``round`` is C's ``round``: nearest integer, halves away from zero (-3.5 -> -4, 0.5 -> 1);
- ``static_cast<int32_t>`` of a value outside the int32 range is undefined in C; the wheel's
  ``cvttsd2si`` returns ``INT32_MIN`` there (measured: a positive value of 2**31 or more comes
  out as -128 after the clamp), and so does this function.

The following ``+ output_offset`` is an int32 addition that wraps (measured: ``INT32_MIN`` plus
a negative zero point comes out as 127): :func:`add_int32_wrapping`.
"""

import numpy as np

from .golden_fixedpoint import INT32_MAX, INT32_MIN, wrap_int32

__all__ = ["scale_round_int32", "add_int32_wrapping"]


def scale_round_int32(acc, scale):
    """``static_cast<int32_t>(round(double(acc) * scale))`` on x86-64.

    Parameters
    ----------
    acc : numpy.ndarray or int
        int32 accumulators (any integer dtype with values in the int32 range).
    scale : numpy.ndarray or float
        Finite non-negative doubles, broadcast against ``acc`` (per channel on the last axis).

    Returns
    -------
    numpy.ndarray
        int32: the product rounded once to double, then to the nearest integer with halves away
        from zero; ``INT32_MIN`` where that integer does not fit int32.
    """
    a = np.asarray(acc)
    if a.dtype.kind not in "iu":
        raise TypeError(f"acc must be an integer array or int, not {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise ValueError("acc must lie in the int32 range")
    s = np.asarray(scale, dtype=np.float64)
    if s.size and (not np.all(np.isfinite(s)) or s.min() < 0):
        raise ValueError("scale must be finite and non-negative")
    v = a.astype(np.float64) * s                 # exact conversion, one rounded product
    t = np.trunc(v)
    away = np.abs(v - t) >= 0.5                  # v - trunc(v) is exact in double
    r = t + np.where(away, np.sign(v), 0.0)
    fits = (r >= INT32_MIN) & (r <= INT32_MAX)
    return np.where(fits, r, INT32_MIN).astype(np.int64).astype(np.int32)


def add_int32_wrapping(x, y):
    """``x + y`` as an int32 addition that wraps modulo 2**32 (what the wheel's code does where
    C leaves signed overflow undefined)."""
    return wrap_int32(np.asarray(x, np.int64) + np.asarray(y, np.int64))
