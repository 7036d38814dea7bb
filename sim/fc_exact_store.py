"""STORE parameters that reproduce LiteRT's FULLY_CONNECTED exactly on a layer's reachable
accumulators, or a refusal.

LiteRT's reference FULLY_CONNECTED rescales in double (``round(double(acc) * s_j)``,
:func:`dure.sim.golden_tflite.fully_connected_int8`); the NPU's STORE (and the dot-unit
firmware) rescale with a Q0.31 multiplier, single or double rounding
(:func:`dure.sim.golden_requant_tflite.requantize_tflite`). The two agree except on knife
edges, which this module finds exhaustively for one layer, so the compiler can pick parameters
under which they agree on *every* accumulator the layer can produce.

Why a finite check is exhaustive. For channel ``j`` with scale ``s`` and a candidate
``(mode, M, shift)`` let ``v = acc * s`` (exact), ``D = |M * 2**(shift - 31) - s|`` and ``r =
max(-shift, 0)``. For ``|v| < 2**29`` neither side wraps, and each side rounds to an integer a
value within ``E = |acc| * D + t + 2**-53 * |v|`` of ``v``, where ``t = 2**-(r + 1)`` is the
double rounding's first rounding (``t = 0`` for single rounding and for ``r = 0``) and the
last term the double product's own rounding. If no boundary ``b = k + 1/2`` lies within ``E``
of ``v``, both round to the integer nearest ``v`` whatever their tie rules. So a mismatch
needs ``|acc - b / s| <= E / s`` for a boundary ``b``, and only boundaries between two
outputs that the clamp keeps apart matter (``k`` in ``[lo - zp - 1, hi - zp]``). The check
evaluates both functions on every accumulator within ``ceil(E_b / s) + 2`` of ``b / s`` for
each such ``b`` (``E_b`` bounds ``E`` there: usually a window of 1 to 5) and on nothing else.

The reachable accumulators of channel ``j``: ``bias_j + sum_k w[j, k] * (x_k - x_zp)`` over
int8 inputs ``x_k``, an interval computed from the weights. A layer whose interval reaches
``|acc * s| >= 2**29`` is not verified (the wrap-around of both sides is not analysed).
"""

import numpy as np
from dure.rtl.npu.commands import RequantMode

from .golden_double_rescale import add_int32_wrapping, scale_round_int32
from .golden_fixedpoint import INT32_MAX, INT32_MIN, quantize_multiplier
from .golden_requant_tflite import SHIFT_MAX, SHIFT_MIN, requantize_tflite

__all__ = ["reachable_acc_range", "store_mismatches", "exact_fc_store", "NotExact"]

#: The widest accumulator window (each side of a boundary) the check accepts.
MAX_WINDOW = 1 << 16
#: Multiplier offsets tried around QuantizeMultiplier's, in this order.
OFFSETS = (0, -1, 1, -2, 2, -3, 3, -4, 4, -6, 6, -8, 8, -12, 12, -16, 16)
#: The largest |acc * s| the check covers.
LIMIT = 2.0 ** 29


class NotExact(ValueError):
    """No STORE parameters reproduce LiteRT on every reachable accumulator of a channel."""


def reachable_acc_range(w, bias, input_zero_point):
    """Per output channel, the smallest and largest ``bias_j + sum_k w[j, k] * (x_k - x_zp)``
    over int8 inputs (Python ints in int64 arrays; the int32 wrap is not applied).

    Parameters
    ----------
    w : numpy.ndarray
        int8, (units, K).
    bias : numpy.ndarray or None
        int32, (units,).
    input_zero_point : int
    """
    w = np.asarray(w, np.int64)
    b = np.zeros(w.shape[0], np.int64) if bias is None else np.asarray(bias, np.int64)
    lo_x, hi_x = -128 - int(input_zero_point), 127 - int(input_zero_point)
    a, c = w * lo_x, w * hi_x
    return b + np.minimum(a, c).sum(axis=1), b + np.maximum(a, c).sum(axis=1)


def _reference(acc, s, zp, lo, hi):
    y = add_int32_wrapping(scale_round_int32(acc, s), zp).astype(np.int64)
    return np.minimum(np.maximum(y, lo), hi)


def _candidates(s, m, shift, double, acc_lo, acc_hi, zp, lo, hi):
    """Accumulators of ``[acc_lo, acc_hi]`` near the boundaries that matter (see the module
    docstring), or None when the windows would exceed :data:`MAX_WINDOW`."""
    b = np.arange(lo - zp - 1, hi - zp + 1, dtype=np.float64) + 0.5
    d = abs(m * 2.0 ** (shift - 31) - s) * (1 + 2.0 ** -40)      # margin for float rounding
    r = max(-shift, 0)
    t = 2.0 ** -(r + 1) if double and r > 0 else 0.0
    half = np.zeros(b.size)
    for _ in range(2):          # |acc| in the window depends on the window: two passes
        reach = (np.abs(b) + 2) / s + half                         # |acc| in the window
        e = reach * d + t + 2.0 ** -52 * (np.abs(b) + 2)
        half = np.ceil(e / s) + 2
    centre = np.round(b / s)
    starts = np.maximum(centre - half, acc_lo)              # each window cut to the range
    ends = np.minimum(centre + half, acc_hi)
    keep = starts <= ends
    if not keep.any():
        return np.array([acc_lo, acc_hi], np.int64)
    starts, ends = starts[keep].astype(np.int64), ends[keep].astype(np.int64)
    counts = ends - starts + 1
    if counts.max() > 2 * MAX_WINDOW + 1:
        return None
    acc = np.repeat(starts, counts) + (np.arange(counts.sum()) -
                                       np.repeat(np.cumsum(counts) - counts, counts))
    acc = np.unique(np.concatenate([acc, [acc_lo, acc_hi]]))
    return acc[(acc >= acc_lo) & (acc <= acc_hi)]


def store_mismatches(s, mode, m, shift, acc_lo, acc_hi, zp, lo=-128, hi=127):
    """The accumulators in ``[acc_lo, acc_hi]`` where the STORE (``mode``, ``m``, ``shift``)
    and LiteRT's double rescale by ``s`` give different int8 outputs, or None when the range
    is outside what the check covers (``|acc * s| >= 2**29``, or windows wider than
    :data:`MAX_WINDOW`). An empty array means exact on the whole range."""
    top = max(abs(int(acc_lo)), abs(int(acc_hi)))
    if top * s >= LIMIT:
        return None
    if m == 0:      # the STORE gives zp everywhere; LiteRT (monotone in acc) at both ends?
        ends = np.array([acc_lo, acc_hi], np.int64)
        return ends[scale_round_int32(ends, s) != 0]
    double = mode is RequantMode.TFLITE_DOUBLE_ROUNDING
    acc = _candidates(s, m, shift, double, int(acc_lo), int(acc_hi), int(zp), int(lo), int(hi))
    if acc is None or acc.size == 0:
        return acc
    a32 = acc.astype(np.int32)
    got = requantize_tflite(a32, m, shift, zp, lo, hi, single_rounding=not double)
    return acc[got.astype(np.int64) != _reference(a32, s, int(zp), int(lo), int(hi))]


def _fit_channel(s, mode, acc_lo, acc_hi, zp, lo, hi):
    m0, shift = quantize_multiplier(s)
    if s == 0.0:
        return 0, 0                  # both sides give 0 + zp
    if not SHIFT_MIN <= shift <= SHIFT_MAX:
        return None
    for d in OFFSETS:
        m = m0 + d
        if not 0 <= m <= INT32_MAX:
            continue
        bad = store_mismatches(s, mode, m, shift, acc_lo, acc_hi, zp, lo, hi)
        if bad is None:
            return None
        if bad.size == 0:
            return m, shift
    return None


def exact_fc_store(scales, acc_lo, acc_hi, zp, lo=-128, hi=127):
    """``(mode, multipliers, shifts)`` of a STORE that equals LiteRT's FULLY_CONNECTED on every
    reachable accumulator of every channel: single rounding with per-channel multipliers near
    ``QuantizeMultiplier``'s if every channel has one, else double rounding likewise. When all
    scales are equal (per-tensor weights), one multiplier for every channel is tried first.

    Parameters
    ----------
    scales : array of float
        Per-channel double scales (:func:`dure.sim.golden_tflite_params.fully_connected_scales`).
    acc_lo, acc_hi : array of int
        Per-channel reachable range (:func:`reachable_acc_range`); a range beyond int32 is
        taken as all of int32 (the int32 accumulator wraps).
    zp, lo, hi : int
        Output zero point and clamp.

    Raises
    ------
    NotExact
        Naming the first channel that neither mode fits, with a mismatching accumulator.
    """
    scales = np.asarray(scales, np.float64)
    lo_r, hi_r = np.asarray(acc_lo, np.int64), np.asarray(acc_hi, np.int64)
    wraps = (lo_r < INT32_MIN) | (hi_r > INT32_MAX)       # int32 sums wrap: any value occurs
    lo_r, hi_r = np.where(wraps, INT32_MIN, lo_r), np.where(wraps, INT32_MAX, hi_r)
    if scales.size and np.all(scales == scales[0]):
        # per-tensor weights: one multiplier for all channels if one fits the union of their
        # ranges (the GEMV plan's per-tensor path needs that), else per channel below
        for mode in (RequantMode.TFLITE_SINGLE_ROUNDING, RequantMode.TFLITE_DOUBLE_ROUNDING):
            f = _fit_channel(float(scales[0]), mode, lo_r.min(), hi_r.max(), zp, lo, hi)
            if f is not None:
                return (mode, np.full(scales.size, f[0], np.int32),
                        np.full(scales.size, f[1], np.int32))
    for mode in (RequantMode.TFLITE_SINGLE_ROUNDING, RequantMode.TFLITE_DOUBLE_ROUNDING):
        fits = [_fit_channel(float(s), mode, a, b, zp, lo, hi)
                for s, a, b in zip(scales, lo_r, hi_r, strict=True)]
        if all(f is not None for f in fits):
            return (mode, np.array([f[0] for f in fits], np.int32),
                    np.array([f[1] for f in fits], np.int32))
    j = next(i for i, f in enumerate(fits) if f is None)
    m, shift = quantize_multiplier(float(scales[j]))
    bad = store_mismatches(float(scales[j]), RequantMode.TFLITE_SINGLE_ROUNDING, m, shift,
                           lo_r[j], hi_r[j], zp, lo, hi)
    where = ("accumulators beyond 2**29 / scale" if bad is None
             else f"accumulator {int(bad[0])}")
    raise NotExact(f"channel {j} (scale {float(scales[j])!r}): no single- or double-rounding "
                   f"STORE parameters equal LiteRT's double rescale on {where}")
