"""Convolution and pooling geometry as TFLite computes it (``kernels/padding.h``).

Shared by the INT8 and FP16 operator golden models and by the compiler: output size and the
padding before/after each spatial axis for SAME and VALID. All divisions are C integer divisions
(truncating toward zero), as in the reference code.
"""

import enum
import numbers

__all__ = ["Padding", "conv_output_size", "conv_padding"]


class Padding(enum.Enum):
    """TFLite padding scheme; the values are the schema's ``tflite.Padding`` codes."""

    SAME = 0
    VALID = 1


def _padding(padding):
    if isinstance(padding, Padding):
        return padding
    if isinstance(padding, str) and padding.upper() in Padding.__members__:
        return Padding[padding.upper()]
    raise ValueError(f"padding must be 'SAME' or 'VALID' (or a Padding), not {padding!r}")


def _c_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _check_positive(**kw):
    for name, v in kw.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, not {v!r}")


def conv_output_size(in_size, kernel, stride, padding, dilation=1):
    """Output length along one spatial axis (``tflite::ComputeOutSize``).

    With ``k = (kernel - 1) * dilation + 1`` (the dilated extent): SAME gives
    ``(in_size + stride - 1) / stride`` (= ceil(in_size / stride)), VALID gives
    ``(in_size + stride - k) / stride`` with C truncating division.

    Parameters
    ----------
    in_size, kernel, stride, dilation : int
        Positive.
    padding : {'SAME', 'VALID'} or Padding

    Returns
    -------
    int
        The output length.

    Raises
    ------
    ValueError
        If the result is below 1 (a VALID window larger than the input): TFLite fails such a
        model at preparation.
    """
    _check_positive(in_size=in_size, kernel=kernel, stride=stride, dilation=dilation)
    in_size, kernel, stride, dilation = int(in_size), int(kernel), int(stride), int(dilation)
    k = (kernel - 1) * dilation + 1
    if _padding(padding) is Padding.SAME:
        out = _c_div(in_size + stride - 1, stride)
    else:
        out = _c_div(in_size + stride - k, stride)
    if out < 1:
        raise ValueError(f"no output: a {padding} window of extent {k} does not fit an input of "
                         f"{in_size}")
    return out


def conv_padding(in_size, kernel, stride, padding, dilation=1):
    """Output length and padding along one axis (``tflite::ComputePaddingHeightWidth``).

    ``total = max(0, (out - 1) * stride + k - in_size)`` with ``k`` the dilated extent;
    ``before = total / 2`` (the reference kernels' ``padding_values``; the odd element goes
    after); ``after = (out - 1) * stride + k - in_size - before``. VALID gives ``before = 0``.

    Output ``o`` reads input positions ``o * stride - before + t * dilation`` for taps
    ``t = 0 .. kernel-1``; positions outside ``[0, in_size)`` are padding (skipped by the integer
    reference kernels, which equals reading the input zero point). ``after`` may be negative:
    then the last ``-after`` input positions are never read (VALID with a stride that does not
    divide, or SAME with ``stride > kernel``).

    Parameters
    ----------
    in_size, kernel, stride, dilation : int
        Positive.
    padding : {'SAME', 'VALID'} or Padding

    Returns
    -------
    (int, int, int)
        ``(out, before, after)``.
    """
    out = conv_output_size(in_size, kernel, stride, padding, dilation)
    in_size, kernel, stride, dilation = int(in_size), int(kernel), int(stride), int(dilation)
    k = (kernel - 1) * dilation + 1
    need = (out - 1) * stride + k - in_size
    before = max(need, 0) // 2
    return out, before, need - before
