"""Golden model of TFLite full-integer operators (INT8, NHWC), bit-exact to LiteRT's reference
op resolver (``kernels/internal/reference/integer_ops``; where the wheel departs from those
sources, the wheel wins: see the list below).

Every operator takes the numbers a compiled model holds (zero points, per-channel multiplier and
shift or, for FULLY_CONNECTED, double scales from :mod:`dure.sim.golden_tflite_params`, the
activation clamp) and states the C computation it reproduces:

- :func:`conv2d_int8`, :func:`depthwise_conv2d_int8`:
  ``acc = bias + sum(w * (x - input_zero_point))`` in int32 (wrapping modulo 2**32, as the C
  ``int32_t`` accumulator does on overflow), then
  ``y = clamp(MultiplyByQuantizedMultiplier(acc, m_j, shift_j) + output_zero_point, lo, hi)``
  (double rounding); taps outside the input (padding) are skipped, which equals padding with
  the input zero point;
- :func:`fully_connected_int8`: the same accumulator, then
  ``clamp(int32(round(double(acc) * scale_j)) + output_zero_point, lo, hi)``: LiteRT's
  reference FULLY_CONNECTED rescales in double, not with a fixed-point multiplier (see there);
  :func:`fully_connected_int8_fixed` is the single-rounding fixed-point form the hardware
  computes;
- :func:`average_pool_int8`: sum of the in-bounds raw int8 values, then
  ``(sum + n/2) / n`` if ``sum > 0`` else ``(sum - n/2) / n`` with C truncating division
  (round half away from zero), ``n`` = number of in-bounds taps, then the clamp;
- :func:`max_pool_int8`: maximum of the in-bounds values, then the clamp;
- :func:`add_int8`: both inputs offset, shifted left by 20, rescaled, summed, rescaled to the
  output (``reference_integer_ops::AddFunc``).

What LiteRT 2.3.0 (``ai-edge-litert``, reference op resolver) computes, established bit for bit
by tests/sim/test_golden_tflite.py, including targeted inputs that tell the alternatives apart:

- CONV_2D and DEPTHWISE_CONV_2D: multiplier ``double(x_s) * double(w_s_j) / double(y_s)``, the
  double-rounding multiply (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT); a
  single filter scale is broadcast to every channel; int8 CONV_2D needs a bias tensor;
- FULLY_CONNECTED (per tensor and per channel): ``round(double(acc) * scale_j)``, halves away
  from zero, with ``scale_j = double(x_s) * double(w_s_j) / double(y_s)`` (per tensor too, not
  the float32 product of older sources), ``INT32_MIN`` when the rounded value overflows int32,
  the zero point added with int32 wrap-around (the LiteRT sources' overloads with the float
  scales; no fixed-point multiplier reproduces its knife edges);
- ADD: left shift 20, multipliers from double quotients (``twice_max`` and ``2**20 * y_s`` are
  exact float32 products), double rounding everywhere;
- AVERAGE_POOL_2D: half away from zero via C division, the count excludes padding;
- AVERAGE_POOL_2D and MAX_POOL_2D ignore the quantization except for the activation clamp;
- activation clamps: ``zp + round_half_away(f / scale)`` with a float32 division (scales where
  float32 and double quotients round differently show it on RELU6's upper bound).

The clamp is ``min(max(v, lo), hi)`` (so crossed bounds give ``hi``, as in C). Zero points are in
[-128, 127]; shapes follow TFLite: input NHWC, conv filter OHWI ``(Cout, KH, KW, Cin)``,
depthwise filter ``(1, KH, KW, Cin * M)`` with output channel ``c * M + m``, FC filter
``(units, K)``. Computation is vectorised numpy in int64, wrapped to int32 where C stores int32.
"""


import numpy as np

from .golden_args import array_arg, pair_arg, vector_arg, zero_point_arg
from .golden_double_rescale import add_int32_wrapping, scale_round_int32
from .golden_fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
    wrap_int32,
)
from .golden_padding import conv_padding
from .golden_tflite_params import AddParams

__all__ = [
    "conv2d_int8", "depthwise_conv2d_int8", "fully_connected_int8", "fully_connected_int8_fixed",
    "average_pool_int8", "max_pool_int8", "add_int8",
]


# --- checks ---------------------------------------------------------------------------------

def _clamp_bounds(lo, hi):
    lo, hi = int(lo), int(hi)
    if not (-128 <= lo <= 127 and -128 <= hi <= 127):
        raise ValueError(f"clamp bounds must lie in [-128, 127], not ({lo}, {hi})")
    return lo, hi


def _channel_ints(name, v, n):
    a = np.asarray(v)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer, not {a.dtype}")
    a = a.astype(np.int64)
    if a.ndim == 0:
        a = np.full(n, a)
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), not {a.shape}")
    return a


def _bias(bias, n):
    if bias is None:
        return np.zeros(n, np.int64)
    return vector_arg("bias", bias, np.int32, n).astype(np.int64)


def _requantize(acc, multiplier, shift, output_zero_point, lo, hi, single_rounding=False):
    """int32 accumulators (last axis = channel) to int8, the tail shared by conv/depthwise/FC."""
    mbqm = (multiply_by_quantized_multiplier_single_rounding if single_rounding
            else multiply_by_quantized_multiplier)
    y = mbqm(acc, multiplier, shift).astype(np.int64)
    y = y + output_zero_point
    return np.minimum(np.maximum(y, lo), hi).astype(np.int8)


def _geometry(x_shape, kh, kw, stride, padding, dilation):
    (sh, sw), (dh, dw) = stride, dilation
    oh, pt, _ = conv_padding(x_shape[1], kh, sh, padding, dh)
    ow, pl, _ = conv_padding(x_shape[2], kw, sw, padding, dw)
    return oh, ow, pt, pl


def _taps(xp, kh, kw, oh, ow, stride, dilation):
    """Yield ``(i, j, view)`` with ``view[n, y, x, c] = xp[n, y*sh + i*dh, x*sw + j*dw, c]``."""
    (sh, sw), (dh, dw) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            yield i, j, xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]


def _pad(x, pt, pl, oh, ow, kh, kw, stride, dilation, value):
    """Pad H and W so that every tap of every output is inside (extra rows never read)."""
    (sh, sw), (dh, dw) = stride, dilation
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    pb = max(0, need_h - pt - x.shape[1])
    pr = max(0, need_w - pl - x.shape[2])
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


# --- operators ------------------------------------------------------------------------------

def conv2d_int8(x, w, bias, *, input_zero_point, output_zero_point, multiplier, shift,
                stride=1, padding="SAME", dilation=1, lo=-128, hi=127):
    """CONV_2D, per-channel INT8 (``reference_integer_ops::ConvPerChannel``).

    For batch n, output pixel (y, x) and output channel o::

        acc = bias[o] + sum over (i, j, c) with the input position inside the image of
              w[o, i, j, c] * (x[n, y*sh - pt + i*dh, x*sw - pl + j*dw, c] - input_zero_point)
        out = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[o], shift[o])
                    + output_zero_point, lo, hi)

    with ``acc`` an int32 that wraps modulo 2**32, ``(pt, pl)`` the padding before
    (:func:`dure.sim.golden_padding.conv_padding`), and the output size as TFLite computes it.

    Parameters
    ----------
    x : numpy.ndarray
        int8, (N, H, W, Cin).
    w : numpy.ndarray
        int8, (Cout, KH, KW, Cin) (TFLite's OHWI).
    bias : numpy.ndarray or None
        int32, (Cout,).
    input_zero_point, output_zero_point : int
        In [-128, 127].
    multiplier, shift : int or array of int
        Per output channel (or one for all), from
        :func:`dure.sim.golden_tflite_params.conv_multipliers`; shift in [-31, 31].
    stride, dilation : int or (int, int)
        (height, width).
    padding : {'SAME', 'VALID'}
    lo, hi : int
        Activation clamp in [-128, 127], from
        :func:`dure.sim.golden_tflite_params.activation_range_int8`.

    Returns
    -------
    numpy.ndarray
        int8, (N, OH, OW, Cout).
    """
    array_arg("x", x, np.int8, 4)
    array_arg("w", w, np.int8, 4)
    cout, kh, kw, cin = w.shape
    if x.shape[3] != cin:
        raise ValueError(f"x has {x.shape[3]} channels but w expects {cin}")
    stride, dilation = pair_arg("stride", stride), pair_arg("dilation", dilation)
    zi = zero_point_arg("input_zero_point", input_zero_point)
    zo = zero_point_arg("output_zero_point", output_zero_point)
    lo, hi = _clamp_bounds(lo, hi)
    m = _channel_ints("multiplier", multiplier, cout)
    s = _channel_ints("shift", shift, cout)
    acc = np.broadcast_to(_bias(bias, cout), (x.shape[0], 1, 1, cout))
    oh, ow, pt, pl = _geometry(x.shape, kh, kw, stride, padding, dilation)
    # Padding with the zero point makes padded taps contribute exactly 0 after the offset.
    xp = _pad(x.astype(np.int64), pt, pl, oh, ow, kh, kw, stride, dilation, zi) - zi
    w64 = w.astype(np.int64)
    for i, j, view in _taps(xp, kh, kw, oh, ow, stride, dilation):
        acc = acc + np.einsum("nyxc,oc->nyxo", view, w64[:, i, j, :])
    return _requantize(wrap_int32(acc), m, s, zo, lo, hi)


def depthwise_conv2d_int8(x, w, bias, *, input_zero_point, output_zero_point, multiplier, shift,
                          stride=1, padding="SAME", dilation=1, depth_multiplier=1,
                          lo=-128, hi=127):
    """DEPTHWISE_CONV_2D, per-channel INT8 (``reference_integer_ops::DepthwiseConvPerChannel``).

    Output channel ``o = c * depth_multiplier + m`` reads input channel ``c`` only::

        acc = bias[o] + sum over in-bounds taps (i, j) of
              w[0, i, j, o] * (x[n, y*sh - pt + i*dh, x*sw - pl + j*dw, c] - input_zero_point)

    then the same requantization and clamp as :func:`conv2d_int8`.

    Parameters
    ----------
    x : numpy.ndarray
        int8, (N, H, W, C).
    w : numpy.ndarray
        int8, (1, KH, KW, C * depth_multiplier).
    bias : numpy.ndarray or None
        int32, (C * depth_multiplier,).
    depth_multiplier : int
        Output channels per input channel.
    Other parameters as :func:`conv2d_int8` (multiplier/shift per output channel).

    Returns
    -------
    numpy.ndarray
        int8, (N, OH, OW, C * depth_multiplier).
    """
    array_arg("x", x, np.int8, 4)
    array_arg("w", w, np.int8, 4)
    one, kh, kw, cout = w.shape
    if one != 1 or cout != x.shape[3] * depth_multiplier:
        raise ValueError(f"w must have shape (1, KH, KW, {x.shape[3] * depth_multiplier}), "
                         f"not {w.shape}")
    stride, dilation = pair_arg("stride", stride), pair_arg("dilation", dilation)
    zi = zero_point_arg("input_zero_point", input_zero_point)
    zo = zero_point_arg("output_zero_point", output_zero_point)
    lo, hi = _clamp_bounds(lo, hi)
    m = _channel_ints("multiplier", multiplier, cout)
    s = _channel_ints("shift", shift, cout)
    acc = np.broadcast_to(_bias(bias, cout), (x.shape[0], 1, 1, cout))
    oh, ow, pt, pl = _geometry(x.shape, kh, kw, stride, padding, dilation)
    xr = np.repeat(x.astype(np.int64), depth_multiplier, axis=3)   # channel c*M + m <- c
    xp = _pad(xr, pt, pl, oh, ow, kh, kw, stride, dilation, zi) - zi
    w64 = w.astype(np.int64)
    for i, j, view in _taps(xp, kh, kw, oh, ow, stride, dilation):
        acc = acc + view * w64[0, i, j, :]
    return _requantize(wrap_int32(acc), m, s, zo, lo, hi)


def _fc_acc(x, w, bias, input_zero_point, weights_zero_point):
    array_arg("x", x, np.int8, 2)
    array_arg("w", w, np.int8, 2)
    units, k = w.shape
    if x.shape[1] != k:
        raise ValueError(f"x has K={x.shape[1]} but w has K={k}")
    zi = zero_point_arg("input_zero_point", input_zero_point)
    zw = zero_point_arg("weights_zero_point", weights_zero_point)
    acc = (x.astype(np.int64) - zi) @ (w.astype(np.int64) - zw).T + _bias(bias, units)
    return wrap_int32(acc), units


def fully_connected_int8(x, w, bias, *, input_zero_point, output_zero_point, scale,
                         weights_zero_point=0, lo=-128, hi=127):
    """FULLY_CONNECTED, INT8, as LiteRT 2.3 computes it with the reference op resolver.

    ``acc[b, o] = bias[o] + sum_k (w[o, k] - weights_zero_point) * (x[b, k] - input_zero_point)``
    (int32, wrapping), then (``reference_integer_ops::FullyConnected`` /
    ``FullyConnectedPerChannel``, the overloads with the float scales)
    ``clamp(int32(scale_round_int32(acc, scale_o) + output_zero_point), lo, hi)``:
    the accumulator times the unit's double effective scale, one double product rounded to
    the nearest integer with halves away from zero, ``INT32_MIN`` if that does not fit int32,
    the zero point added with int32 wrap-around
    (:mod:`dure.sim.golden_double_rescale`). No Q0.31 multiplier is involved: up to session
    19 this model used the single-rounding fixed-point multiply, which LiteRT matches except
    at knife edges (:func:`fully_connected_int8_fixed`).

    Parameters
    ----------
    x : numpy.ndarray
        int8, (B, K) (TFLite flattens any input to this).
    w : numpy.ndarray
        int8, (units, K).
    bias : numpy.ndarray or None
        int32, (units,).
    scale : float or array of float
        Per unit (or one for all), from
        :func:`dure.sim.golden_tflite_params.fully_connected_scales`.
    weights_zero_point : int
        In [-128, 127]; 0 in every int8 model the converter writes.

    Returns
    -------
    numpy.ndarray
        int8, (B, units).
    """
    acc, units = _fc_acc(x, w, bias, input_zero_point, weights_zero_point)
    zo = zero_point_arg("output_zero_point", output_zero_point)
    lo, hi = _clamp_bounds(lo, hi)
    sc = np.asarray(scale, np.float64)
    if sc.ndim == 0:
        sc = np.full(units, sc)
    if sc.shape != (units,):
        raise ValueError(f"scale must be a scalar or have shape ({units},), not {sc.shape}")
    y = add_int32_wrapping(scale_round_int32(acc, sc), zo).astype(np.int64)
    return np.minimum(np.maximum(y, lo), hi).astype(np.int8)


def fully_connected_int8_fixed(x, w, bias, *, input_zero_point, output_zero_point, multiplier,
                               shift, weights_zero_point=0, lo=-128, hi=127):
    """FULLY_CONNECTED with the single-rounding fixed-point multiply: what the NPU's
    ``TFLITE_SINGLE_ROUNDING`` STORE and the dot-unit firmware compute for the compiler's
    FULLY_CONNECTED layers (and this golden model's rule up to session 19).

    The accumulator as in :func:`fully_connected_int8`, then
    ``clamp(MultiplyByQuantizedMultiplierSingleRounding(acc, m_o, shift_o) + output_zero_point,
    lo, hi)`` with ``(m_o, shift_o)`` from
    :func:`dure.sim.golden_tflite_params.fully_connected_multipliers`. It equals LiteRT's
    :func:`fully_connected_int8` except where the Q0.31 multiplier's error (relative
    ``2**-31``) moves the scaled accumulator across a rounding boundary or the value is an
    exact negative half (LiteRT rounds it away from zero, this toward +infinity), and where
    the double product overflows int32 (LiteRT then gives ``INT32_MIN``, this wraps).

    Returns
    -------
    numpy.ndarray
        int8, (B, units).
    """
    acc, units = _fc_acc(x, w, bias, input_zero_point, weights_zero_point)
    zo = zero_point_arg("output_zero_point", output_zero_point)
    lo, hi = _clamp_bounds(lo, hi)
    m = _channel_ints("multiplier", multiplier, units)
    s = _channel_ints("shift", shift, units)
    return _requantize(acc, m, s, zo, lo, hi, single_rounding=True)


def _pool_setup(x, filter_size, stride, padding):
    array_arg("x", x, np.int8, 4)
    kh, kw = pair_arg("filter_size", filter_size)
    stride = pair_arg("stride", stride)
    oh, ow, pt, pl = _geometry(x.shape, kh, kw, stride, padding, (1, 1))
    return kh, kw, stride, oh, ow, pt, pl


def average_pool_int8(x, filter_size, *, stride=1, padding="VALID", lo=-128, hi=127):
    """AVERAGE_POOL_2D, INT8 (``reference_integer_ops::AveragePool``).

    For each output and channel: ``sum`` of the raw int8 inputs of the in-bounds taps (int32)
    and their count ``n`` (padding taps are not counted), then
    ``avg = (sum + n/2) / n`` if ``sum > 0`` else ``(sum - n/2) / n`` with C truncating integer
    division (round half away from zero), then ``min(max(avg, lo), hi)``. Zero points and
    scales do not enter (TFLite requires the input and output quantization to be equal).

    Parameters
    ----------
    x : numpy.ndarray
        int8, (N, H, W, C).
    filter_size, stride : int or (int, int)
        (height, width).
    padding : {'SAME', 'VALID'}
    lo, hi : int
        Clamp from the fused activation and the output quantization.

    Returns
    -------
    numpy.ndarray
        int8, (N, OH, OW, C).
    """
    kh, kw, stride, oh, ow, pt, pl = _pool_setup(x, filter_size, stride, padding)
    lo, hi = _clamp_bounds(lo, hi)
    xp = _pad(x.astype(np.int64), pt, pl, oh, ow, kh, kw, stride, (1, 1), 0)
    inside = _pad(np.ones((1,) + x.shape[1:3] + (1,), np.int64), pt, pl, oh, ow, kh, kw,
                  stride, (1, 1), 0)
    total = np.zeros((x.shape[0], oh, ow, x.shape[3]), np.int64)
    count = np.zeros((1, oh, ow, 1), np.int64)
    for (_, _, v), (_, _, c) in zip(_taps(xp, kh, kw, oh, ow, stride, (1, 1)),
                                    _taps(inside, kh, kw, oh, ow, stride, (1, 1)), strict=True):
        total = total + v
        count = count + c
    if count.min() == 0:
        raise ValueError("a pooling window lies entirely in the padding")
    half = count // 2
    # C division truncates toward zero: both branches below divide a value of known sign.
    avg = np.where(total > 0, (total + half) // count, -((half - total) // count))
    return np.minimum(np.maximum(avg, lo), hi).astype(np.int8)


def max_pool_int8(x, filter_size, *, stride=1, padding="VALID", lo=-128, hi=127):
    """MAX_POOL_2D, INT8 (``reference_integer_ops::MaxPool``).

    Maximum of the in-bounds taps (starting from -128; padding taps are skipped), then
    ``min(max(v, lo), hi)``.

    Parameters and return as :func:`average_pool_int8`.
    """
    kh, kw, stride, oh, ow, pt, pl = _pool_setup(x, filter_size, stride, padding)
    lo, hi = _clamp_bounds(lo, hi)
    xp = _pad(x, pt, pl, oh, ow, kh, kw, stride, (1, 1), -128)
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -128, np.int8)
    for _, _, v in _taps(xp, kh, kw, oh, ow, stride, (1, 1)):
        out = np.maximum(out, v)
    return np.minimum(np.maximum(out, lo), hi).astype(np.int8)


def add_int8(x1, x2, params, *, input1_zero_point, input2_zero_point, output_zero_point,
             lo=-128, hi=127):
    """ADD of two int8 tensors of the same shape (``reference_integer_ops::AddFunc``).

    Element by element, all int32::

        v1 = (x1 - input1_zero_point) * 2**left_shift
        v2 = (x2 - input2_zero_point) * 2**left_shift
        s1 = MultiplyByQuantizedMultiplierSmallerThanOneExp(v1, input1_multiplier, input1_shift)
        s2 = MultiplyByQuantizedMultiplierSmallerThanOneExp(v2, input2_multiplier, input2_shift)
        y = MultiplyByQuantizedMultiplierSmallerThanOneExp(s1 + s2, output_multiplier,
                                                           output_shift) + output_zero_point
        out = min(max(y, lo), hi)

    (``|v| <= 255 * 2**20`` and ``|s1 + s2| < 2**29``: nothing wraps.)

    Parameters
    ----------
    x1, x2 : numpy.ndarray
        int8, same shape (broadcasting is not modelled).
    params : AddParams
        From :func:`dure.sim.golden_tflite_params.add_params`.
    input1_zero_point, input2_zero_point, output_zero_point : int
        In [-128, 127].
    lo, hi : int
        Activation clamp.

    Returns
    -------
    numpy.ndarray
        int8, the common shape.
    """
    if not isinstance(x1, np.ndarray) or not isinstance(x2, np.ndarray):
        raise TypeError("x1 and x2 must be numpy int8 arrays")
    if x1.dtype != np.int8 or x2.dtype != np.int8:
        raise TypeError(f"x1 and x2 must be int8, not {x1.dtype} and {x2.dtype}")
    if x1.shape != x2.shape:
        raise ValueError(f"x1 {x1.shape} and x2 {x2.shape} must have the same shape")
    if not isinstance(params, AddParams):
        raise TypeError("params must be an AddParams (see add_params)")
    z1 = zero_point_arg("input1_zero_point", input1_zero_point)
    z2 = zero_point_arg("input2_zero_point", input2_zero_point)
    zo = zero_point_arg("output_zero_point", output_zero_point)
    lo, hi = _clamp_bounds(lo, hi)
    shift = 1 << params.left_shift
    v1 = (x1.astype(np.int64) - z1) * shift
    v2 = (x2.astype(np.int64) - z2) * shift
    s1 = multiply_by_quantized_multiplier_smaller_than_one_exp(
        v1, params.input1_multiplier, params.input1_shift).astype(np.int64)
    s2 = multiply_by_quantized_multiplier_smaller_than_one_exp(
        v2, params.input2_multiplier, params.input2_shift).astype(np.int64)
    y = multiply_by_quantized_multiplier_smaller_than_one_exp(
        wrap_int32(s1 + s2), params.output_multiplier, params.output_shift).astype(np.int64)
    return np.minimum(np.maximum(y + zo, lo), hi).astype(np.int8)
