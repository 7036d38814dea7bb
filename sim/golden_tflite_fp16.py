"""Golden model of the float operators run in FP16 (NHWC): the project's FP16 contract applied to
convolution, depthwise convolution, fully connected, pooling and add.

These define what the NPU computes for a float model; they are the contract, not a copy of a
runtime (agreement with the float32 runtime is reported, not asserted). Common rules:

- operands are IEEE binary16 (subnormals kept); every fp16 x fp16 product is exact in binary32;
- accumulation is binary32 round-to-nearest-even in ONE fixed sequential order, starting from the
  fp32 bias (or +0.0);
- the output stage is :func:`dure.sim.golden.fp16_postprocess`: optional per-channel fp32 scale
  (one binary32 multiply), optional clamp with IEEE comparisons (ReLU is ``lo=0``, ReLU6
  ``lo=0, hi=6``), then binary32 -> binary16 RNE with overflow to +/-Inf;
- every NaN result is the canonical quiet NaN (0x7E00); Inf propagates; Inf - Inf and 0 * Inf
  are NaN.

Order of accumulation
    CONV_2D: k runs over (kh, kw, cin) in that nesting order (kh outermost, cin innermost): the
    order of an implicit GEMM over the taps, ``A[m, (kh*KW + kw)*Cin + c]``. A padded tap is an
    operand equal to +0.0 (so the product is +0 * w: +/-0 for finite w, NaN for infinite w),
    exactly as if the input were padded with +0.0 and fed to :func:`dure.sim.golden.gemm_fp16`.
    DEPTHWISE_CONV_2D: per output channel, k runs over (kh, kw); padded taps as above.
    FULLY_CONNECTED: k = 0 .. K-1, i.e. ``gemm_fp16(x, w.T, bias)``.
"""


import numpy as np

from .golden import fp16_postprocess, gemm_fp16
from .golden_args import array_arg, pair_arg, vector_arg
from .golden_bits import canonicalize_nan, check_fpu
from .golden_padding import conv_padding

__all__ = [
    "conv2d_fp16", "depthwise_conv2d_fp16", "fully_connected_fp16",
    "average_pool_fp16", "max_pool_fp16", "add_fp16", "im2col_fp16",
]


def _bias(bias, n):
    if bias is None:
        return None
    return vector_arg("bias", bias, np.float32, n)


def _windows(x, kh, kw, stride, padding, dilation, pad_value):
    """(N, OH, OW, KH, KW, C) view of every tap; out-of-image taps hold ``pad_value``."""
    (sh, sw), (dh, dw) = stride, dilation
    oh, pt, _ = conv_padding(x.shape[1], kh, sh, padding, dh)
    ow, pl, _ = conv_padding(x.shape[2], kw, sw, padding, dw)
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    pb = max(0, need_h - pt - x.shape[1])
    pr = max(0, need_w - pl - x.shape[2])
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    out = np.empty((x.shape[0], oh, ow, kh, kw, x.shape[3]), x.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            out[:, :, :, i, j, :] = xp[:, y0:y0 + (oh - 1) * sh + 1:sh,
                                       x0:x0 + (ow - 1) * sw + 1:sw, :]
    return out


def im2col_fp16(x, kernel, *, stride=1, padding="SAME", dilation=1):
    """The implicit-GEMM operand of a convolution: rows (n, oy, ox), columns (kh, kw, cin).

    Parameters
    ----------
    x : numpy.ndarray
        float16, (N, H, W, C).
    kernel, stride, dilation : int or (int, int)
    padding : {'SAME', 'VALID'}

    Returns
    -------
    numpy.ndarray
        float16, (N * OH * OW, KH * KW * C); padded taps are +0.0.
    """
    array_arg("x", x, np.float16, 4)
    kh, kw = pair_arg("kernel", kernel)
    win = _windows(x, kh, kw, pair_arg("stride", stride), padding, pair_arg("dilation", dilation),
                   np.float16(0.0))
    return win.reshape(-1, kh * kw * x.shape[3])


def conv2d_fp16(x, w, bias=None, *, stride=1, padding="SAME", dilation=1, scale=None, lo=None,
                hi=None):
    """CONV_2D in FP16: ``gemm_fp16(im2col(x), W) `` then the FP16 output stage.

    ``acc[n, y, x, o]`` starts at ``bias[o]`` (or +0.0); then for k over (kh, kw, cin) in that
    nesting order, ``acc = acc + x_tap * w[o, kh, kw, cin]`` (exact product, binary32 RNE sum);
    taps outside the image are +0.0 operands. Then :func:`dure.sim.golden.fp16_postprocess`
    with ``scale``, ``lo``, ``hi``.

    Parameters
    ----------
    x : numpy.ndarray
        float16, (N, H, W, Cin).
    w : numpy.ndarray
        float16, (Cout, KH, KW, Cin) (OHWI, as TFLite stores it).
    bias : numpy.ndarray, optional
        float32, (Cout,).
    stride, dilation : int or (int, int)
    padding : {'SAME', 'VALID'}
        Geometry as TFLite computes it (:mod:`dure.sim.golden_padding`).
    scale, lo, hi : optional
        Output stage (per-channel fp32 scale, clamp bounds) as in ``fp16_postprocess``.

    Returns
    -------
    numpy.ndarray
        float16, (N, OH, OW, Cout).
    """
    array_arg("x", x, np.float16, 4)
    array_arg("w", w, np.float16, 4)
    cout, kh, kw, cin = w.shape
    if x.shape[3] != cin:
        raise ValueError(f"x has {x.shape[3]} channels but w expects {cin}")
    stride, dilation = pair_arg("stride", stride), pair_arg("dilation", dilation)
    bias = _bias(bias, cout)
    win = _windows(x, kh, kw, stride, padding, dilation, np.float16(0.0))
    n, oh, ow = win.shape[:3]
    acc = gemm_fp16(win.reshape(n * oh * ow, kh * kw * cin), w.reshape(cout, -1).T.copy(), bias)
    return fp16_postprocess(acc, scale, lo, hi).reshape(n, oh, ow, cout)


def depthwise_conv2d_fp16(x, w, bias=None, *, stride=1, padding="SAME", dilation=1,
                          depth_multiplier=1, scale=None, lo=None, hi=None):
    """DEPTHWISE_CONV_2D in FP16.

    Output channel ``o = c * depth_multiplier + m`` starts at ``bias[o]`` (or +0.0); then for
    (kh, kw) in that nesting order ``acc = acc + x_tap[c] * w[0, kh, kw, o]`` (exact product,
    binary32 RNE sum; padded taps are +0.0 operands); then the FP16 output stage.

    Parameters
    ----------
    x : numpy.ndarray
        float16, (N, H, W, C).
    w : numpy.ndarray
        float16, (1, KH, KW, C * depth_multiplier).
    Other parameters as :func:`conv2d_fp16`.

    Returns
    -------
    numpy.ndarray
        float16, (N, OH, OW, C * depth_multiplier).
    """
    array_arg("x", x, np.float16, 4)
    array_arg("w", w, np.float16, 4)
    one, kh, kw, cout = w.shape
    if one != 1 or cout != x.shape[3] * depth_multiplier:
        raise ValueError(f"w must have shape (1, KH, KW, {x.shape[3] * depth_multiplier}), "
                         f"not {w.shape}")
    stride, dilation = pair_arg("stride", stride), pair_arg("dilation", dilation)
    bias = _bias(bias, cout)
    xr = np.repeat(x, depth_multiplier, axis=3)
    win = _windows(xr, kh, kw, stride, padding, dilation, np.float16(0.0)).astype(np.float32)
    check_fpu()
    acc = np.zeros(win.shape[:3] + (cout,), np.float32)
    if bias is not None:
        acc[...] = bias           # the starting value is the bias itself, bit for bit
    w32 = w.astype(np.float32)
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                acc = acc + win[:, :, :, i, j, :] * w32[0, i, j, :]
    acc = canonicalize_nan(acc)
    n, oh, ow = acc.shape[:3]
    return fp16_postprocess(acc.reshape(-1, cout), scale, lo, hi).reshape(n, oh, ow, cout)


def fully_connected_fp16(x, w, bias=None, *, scale=None, lo=None, hi=None):
    """FULLY_CONNECTED in FP16: ``fp16_postprocess(gemm_fp16(x, w.T, bias), scale, lo, hi)``.

    Parameters
    ----------
    x : numpy.ndarray
        float16, (B, K).
    w : numpy.ndarray
        float16, (units, K) (TFLite's layout).
    bias : numpy.ndarray, optional
        float32, (units,).

    Returns
    -------
    numpy.ndarray
        float16, (B, units).
    """
    array_arg("x", x, np.float16, 2)
    array_arg("w", w, np.float16, 2)
    return fp16_postprocess(gemm_fp16(x, w.T.copy(), _bias(bias, w.shape[0])), scale, lo, hi)


def _clamp_to_fp16(y, lo, hi):
    """The FP16 output stage without a scale, on any shape."""
    flat = y.reshape(-1, y.shape[-1] if y.ndim else 1)
    return fp16_postprocess(flat, None, lo, hi).reshape(y.shape)


def average_pool_fp16(x, filter_size, *, stride=1, padding="VALID", lo=None, hi=None):
    """AVERAGE_POOL_2D in FP16.

    Per output and channel, with ``n`` the number of in-bounds taps (as TFLite counts them):
    ``sum`` starts at +0.0 and adds the in-bounds taps in (kh, kw) order in binary32 RNE (fp16
    inputs are exact in binary32); then ``avg = sum * r_n`` with ``r_n = float32(1 / n)`` (the
    reciprocal rounded to binary32 RNE, then one binary32 multiply, RNE); then the clamp
    (IEEE comparisons) and binary32 -> binary16 RNE. Because the sum starts at +0.0, adding
    +0.0 for padded taps instead of skipping them changes nothing: the NPU may do either.

    Parameters
    ----------
    x : numpy.ndarray
        float16, (N, H, W, C).
    filter_size, stride : int or (int, int)
    padding : {'SAME', 'VALID'}
    lo, hi : float, optional
        Clamp bounds (fused activation), rounded to float32.

    Returns
    -------
    numpy.ndarray
        float16, (N, OH, OW, C).
    """
    array_arg("x", x, np.float16, 4)
    kh, kw = pair_arg("filter_size", filter_size)
    stride = pair_arg("stride", stride)
    win = _windows(x, kh, kw, stride, padding, (1, 1), np.float16(np.nan)).astype(np.float32)
    inside = _windows(np.ones((1,) + x.shape[1:3] + (1,), np.float16), kh, kw, stride, padding,
                      (1, 1), np.float16(0.0))[0, :, :, :, :, 0] == 1
    check_fpu()
    total = np.zeros(win.shape[:3] + (x.shape[3],), np.float32)
    with np.errstate(all="ignore"):
        for i in range(kh):
            for j in range(kw):
                tap = win[:, :, :, i, j, :]
                total = np.where(inside[None, :, :, i, j, None], total + tap, total)
        count = inside.sum(axis=(2, 3))
        if count.min() == 0:
            raise ValueError("a pooling window lies entirely in the padding")
        recip = (np.float64(1.0) / count).astype(np.float32)    # exact 1/n, rounded once
        avg = canonicalize_nan(total * recip[None, :, :, None])
    return _clamp_to_fp16(avg, lo, hi)


def max_pool_fp16(x, filter_size, *, stride=1, padding="VALID", lo=None, hi=None):
    """MAX_POOL_2D in FP16.

    Per output and channel: the maximum of the in-bounds taps (padded taps are ignored) under
    IEEE ``maximum`` semantics: any NaN tap gives the canonical NaN; -0.0 < +0.0 (so a window of
    -0.0 and +0.0 gives +0.0); +/-Inf compare as usual. Then the clamp (IEEE comparisons in
    binary32) and conversion back to binary16 (exact unless a bound is not an fp16 value, which
    rounds RNE).

    Parameters and return as :func:`average_pool_fp16`.
    """
    array_arg("x", x, np.float16, 4)
    kh, kw = pair_arg("filter_size", filter_size)
    stride = pair_arg("stride", stride)
    win = _windows(x, kh, kw, stride, padding, (1, 1), np.float16(-np.inf)).astype(np.float32)
    inside = _windows(np.ones((1,) + x.shape[1:3] + (1,), np.float16), kh, kw, stride, padding,
                      (1, 1), np.float16(0.0))[0, :, :, :, :, 0] == 1
    flat = win.reshape(win.shape[:3] + (kh * kw, x.shape[3]))
    valid = inside.reshape(inside.shape[:2] + (kh * kw,))[None, :, :, :, None]
    vals = np.where(valid, flat, np.float32(-np.inf))
    best = np.max(vals, axis=3)                      # propagates NaN
    # Signed zeros: +0.0 wins over -0.0 whenever the maximum is a zero.
    any_pos_zero = np.any(valid & (vals == 0) & ~np.signbit(vals), axis=3)
    best = np.where((best == 0) & any_pos_zero, np.float32(0.0), best).astype(np.float32)
    return _clamp_to_fp16(canonicalize_nan(best), lo, hi)


def add_fp16(a, b, *, lo=None, hi=None):
    """ADD of two fp16 tensors of the same shape.

    ``y = float32(a) + float32(b)`` (one binary32 addition, RNE), then the clamp (IEEE
    comparisons) and binary32 -> binary16 RNE. Since binary32 has more than 2 * 11 + 2
    significand bits, this double rounding equals the correctly rounded fp16 sum (``a + b``
    in binary16 RNE) for every pair of fp16 inputs. NaN gives the canonical NaN;
    Inf + (-Inf) is NaN.

    Parameters
    ----------
    a, b : numpy.ndarray
        float16, same shape.
    lo, hi : float, optional
        Clamp bounds (fused activation).

    Returns
    -------
    numpy.ndarray
        float16, same shape.
    """
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError("a and b must be numpy float16 arrays")
    if a.dtype != np.float16 or b.dtype != np.float16:
        raise TypeError(f"a and b must be float16, not {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"a {a.shape} and b {b.shape} must have the same shape")
    check_fpu()
    with np.errstate(all="ignore"):
        y = a.astype(np.float32) + b.astype(np.float32)
    return _clamp_to_fp16(canonicalize_nan(y), lo, hi)
