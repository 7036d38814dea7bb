"""TFLite fixed-point requantization of int32 accumulators to int8 (the STORE's TFLite modes).

The second INT8 requantization of the NPU, next to :func:`dure.sim.golden.requantize` (the
ONNX float-scale one). Per output column j:

``y = clamp(MultiplyByQuantizedMultiplier(acc, M_j, shift_j) + zero_point, lo, hi)``

with the multiply taken verbatim from :mod:`dure.sim.golden_fixedpoint` (double rounding:
:func:`~dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier`, LiteRT's CONV_2D and
DEPTHWISE_CONV_2D; single rounding:
:func:`~dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier_single_rounding`). LiteRT's
FULLY_CONNECTED rescales in double; :mod:`dure.sim.fc_exact_store` picks the mode and
multipliers under which this equals it on a layer's reachable accumulators. The zero point
is added in wide integer arithmetic (no int32 wrap), then
``max(., lo)`` then ``min(., hi)``, as the reference kernels' tail does.
"""

import numpy as np

from .golden_fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
)

__all__ = ["requantize_tflite", "SHIFT_MIN", "SHIFT_MAX"]

#: The shift range both rounding variants accept (positive = left shift).
SHIFT_MIN, SHIFT_MAX = -31, 30


def requantize_tflite(acc, multiplier, shift, zero_point, lo=-128, hi=127, *,
                      single_rounding=False):
    """Requantize int32 accumulators to int8 with TFLite's fixed-point arithmetic.

    Parameters
    ----------
    acc : numpy.ndarray
        int32, shape (M, N) or (N,); the last axis is the output channel.
    multiplier : numpy.ndarray or int
        int32 ``M_j`` per channel, shape (N,) or a scalar; any int32 value.
    shift : numpy.ndarray or int
        ``shift_j`` per channel in [-31, 30] (positive = left shift), shape (N,) or a scalar.
    zero_point : int
        Output zero point in [-128, 127].
    lo, hi : int
        Clamp bounds with ``-128 <= lo <= hi <= 127``.
    single_rounding : bool
        Use the single-rounding multiply instead of the double-rounding one.

    Returns
    -------
    numpy.ndarray
        int8, same shape as ``acc``.
    """
    acc = np.asarray(acc)
    if acc.dtype != np.int32:
        raise TypeError(f"acc must be int32, not {acc.dtype}")
    s = np.asarray(shift)
    if s.size and (s.min() < SHIFT_MIN or s.max() > SHIFT_MAX):
        raise ValueError(f"shift must lie in [{SHIFT_MIN}, {SHIFT_MAX}]")
    if not -128 <= int(zero_point) <= 127:
        raise ValueError(f"zero_point must lie in [-128, 127], not {zero_point}")
    if not -128 <= int(lo) <= int(hi) <= 127:
        raise ValueError(f"need -128 <= lo <= hi <= 127, not lo={lo}, hi={hi}")
    mbqm = (multiply_by_quantized_multiplier_single_rounding if single_rounding
            else multiply_by_quantized_multiplier)
    y = mbqm(acc, multiplier, shift).astype(np.int64) + int(zero_point)
    return np.minimum(np.maximum(y, int(lo)), int(hi)).astype(np.int8)
