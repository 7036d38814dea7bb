"""Quantization parameters of TFLite full-integer operators, computed as the LiteRT kernels do.

From the float32 scales and int zero points stored in a model to the numbers the reference
kernels use: per-channel (multiplier, shift) of convolutions, the double effective scales of
fully connected layers (and their Q0.31 form for the hardware's approximation), the ADD
rescaling, and the int8 clamp range of a fused activation. Each function states the precision of
every intermediate (float32 or double), because that decides the last bit of the multiplier.
"""

import dataclasses
import enum

import numpy as np

from .golden_fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp,
    tflite_round,
)

__all__ = [
    "FusedActivation", "activation_range_int8",
    "conv_multipliers", "fully_connected_multipliers", "fully_connected_scales",
    "AddParams", "add_params", "ADD_LEFT_SHIFT_INT8",
]

#: ADD's left shift of both inputs for 8-bit tensors (``kernels/add.cc``: 20, 15 for int16).
ADD_LEFT_SHIFT_INT8 = 20


class FusedActivation(enum.Enum):
    """Fused activation of an operator; values are the schema's ``ActivationFunctionType``."""

    NONE = 0
    RELU = 1
    RELU_N1_TO_1 = 2
    RELU6 = 3


def _activation(a):
    if isinstance(a, FusedActivation):
        return a
    if isinstance(a, str) and a.upper() in FusedActivation.__members__:
        return FusedActivation[a.upper()]
    if isinstance(a, int) and not isinstance(a, bool):
        return FusedActivation(a)
    raise ValueError(f"unknown fused activation {a!r}")


def _f32(name, x):
    v = np.float32(x)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, not {x!r}")
    return v


def activation_range_int8(activation, output_scale, output_zero_point):
    """Clamp range ``(lo, hi)`` of an int8 output (``CalculateActivationRangeQuantized``).

    ``quantize(f) = zero_point + int32(TfLiteRound(f / scale))`` where ``f`` and ``scale`` are
    float32 and the division is one float32 division (RNE); ``TfLiteRound`` rounds half away
    from zero. Then NONE: ``[-128, 127]``; RELU: ``[max(-128, quantize(0)), 127]``;
    RELU6: ``[max(-128, quantize(0)), min(127, quantize(6))]``;
    RELU_N1_TO_1: ``[max(-128, quantize(-1)), min(127, quantize(1))]``.

    Parameters
    ----------
    activation : FusedActivation, str or int
        ``'NONE'``, ``'RELU'``, ``'RELU6'``, ``'RELU_N1_TO_1'`` or the schema code.
    output_scale : float
        The output tensor's scale (rounded to float32 as the model stores it); positive.
    output_zero_point : int
        In [-128, 127].

    Returns
    -------
    (int, int)
        ``lo``, ``hi``. They can cross (``lo > hi``) for extreme zero points, exactly as in
        TFLite (whose kernels then clamp to ``hi``).

    Raises
    ------
    ValueError
        If ``f / scale`` is not representable in int32 (undefined behaviour in C).
    """
    act = _activation(activation)
    scale = _f32("output_scale", output_scale)
    zp = int(output_zero_point)
    if not -128 <= zp <= 127:
        raise ValueError(f"output_zero_point must lie in [-128, 127], not {zp}")

    def quantize(f):
        with np.errstate(all="ignore"):
            v = np.float32(f) / scale
        if not np.isfinite(v) or not INT32_MIN <= tflite_round(v) <= INT32_MAX:
            raise ValueError(f"{f} / {scale} does not fit int32")
        return zp + tflite_round(v)

    if act is FusedActivation.RELU:
        return max(-128, quantize(0.0)), 127
    if act is FusedActivation.RELU6:
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    if act is FusedActivation.RELU_N1_TO_1:
        return max(-128, quantize(-1.0)), min(127, quantize(1.0))
    return -128, 127


def _multipliers(reals):
    pairs = [quantize_multiplier(r) for r in reals]
    return (np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32))


def conv_multipliers(input_scale, filter_scales, output_scale, channels=None):
    """Per-output-channel (multiplier, shift) of CONV_2D and DEPTHWISE_CONV_2D.

    ``PopulateConvolutionQuantizationParams``: for each channel j,
    ``real_j = double(input_scale) * double(filter_scale_j) / double(output_scale)`` (scales
    stored as float32, widened exactly, product and quotient in double), then
    :func:`quantize_multiplier`. A single (per-tensor) filter scale is broadcast to every
    channel.

    Parameters
    ----------
    input_scale, output_scale : float
        Rounded to float32 first (the model stores float32).
    filter_scales : float or sequence of float
        One per output channel, or one for all.
    channels : int, optional
        Number of output channels, needed to broadcast a single scale.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        int32 multipliers and int32 shifts, one per channel.
    """
    s_in = float(_f32("input_scale", input_scale))
    s_out = float(_f32("output_scale", output_scale))
    fs = np.atleast_1d(np.asarray(filter_scales, dtype=np.float32))
    if fs.size == 1 and channels is not None:
        fs = np.repeat(fs, channels)
    return _multipliers([s_in * float(f) / s_out for f in fs])


def fully_connected_scales(input_scale, filter_scales, output_scale, channels=None):
    """Effective output scale of FULLY_CONNECTED per unit, as LiteRT's reference kernel uses it.

    ``scale_j = double(input_scale) * double(filter_scale_j) / double(output_scale)`` (the
    float32 scales widened exactly, product and quotient each rounded to double), the
    ``effective_output_scale`` of ``reference_integer_ops::FullyConnected`` (per tensor: the
    tensor's one filter scale) and ``FullyConnectedPerChannel``. The kernel multiplies the
    accumulator by it in double (:func:`dure.sim.golden_double_rescale.scale_round_int32`);
    it does not use a Q0.31 multiplier.

    Returns
    -------
    numpy.ndarray
        float64, one per unit (length ``channels`` for a single broadcast scale).
    """
    s_in = float(_f32("input_scale", input_scale))
    s_out = float(_f32("output_scale", output_scale))
    fs = np.atleast_1d(np.asarray(filter_scales, dtype=np.float32))
    if fs.size == 1 and channels is not None:
        fs = np.repeat(fs, channels)
    return np.array([s_in * float(f) / s_out for f in fs], np.float64)


def fully_connected_multipliers(input_scale, filter_scales, output_scale, channels=None):
    """(multiplier, shift) of FULLY_CONNECTED: :func:`fully_connected_scales` in Q0.31 form.

    ``quantize_multiplier`` of the same double scales as :func:`conv_multipliers`. LiteRT's
    reference kernel does not use these (it rescales in double, :func:`fully_connected_scales`);
    with them the single-rounding STORE (:func:`dure.sim.golden_tflite.fully_connected_int8_fixed`)
    equals LiteRT's FULLY_CONNECTED except near rounding ties, on exact negative halves and on
    int32 overflow; :mod:`dure.sim.fc_exact_store` starts from them to find parameters that
    are exact on a layer.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        int32 multipliers and int32 shifts (length ``channels``, or the number of scales).
    """
    return conv_multipliers(input_scale, filter_scales, output_scale, channels)


@dataclasses.dataclass(frozen=True)
class AddParams:
    """Integer parameters of an int8 ADD (``tflite::ArithmeticParams`` subset)."""

    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


def add_params(input1_scale, input2_scale, output_scale, left_shift=ADD_LEFT_SHIFT_INT8):
    """ADD's rescaling (``kernels/add.cc`` Prepare, 8-bit general path).

    ``twice_max = double(2 * max(s1, s2))`` (float32 arithmetic, exact);
    ``real1 = double(s1) / twice_max``; ``real2 = double(s2) / twice_max``;
    ``real_out = twice_max / double(float32(2**left_shift * s_out))`` (the product is a float32
    multiply by a power of two, exact unless it overflows); each through
    :func:`quantize_multiplier_smaller_than_one_exp` (so every shift is <= 0, and
    ``real_out < 1`` is required: ``s_out > max(s1, s2) / 2**19``).

    Returns
    -------
    AddParams
    """
    s1 = _f32("input1_scale", input1_scale)
    s2 = _f32("input2_scale", input2_scale)
    so = _f32("output_scale", output_scale)
    twice_max = float(np.float32(2) * max(s1, s2))
    with np.errstate(over="raise"):
        denom = float(np.float32(1 << left_shift) * so)
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(float(s2) / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / denom)
    return AddParams(left_shift, m1, sh1, m2, sh2, mo, sho)
