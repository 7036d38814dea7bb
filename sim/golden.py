"""Golden model of the NPU numerics (plain numpy, bit-exact to the contract in docs/numerics.md).

The hardware is checked against these functions bit for bit; they know nothing about arrays,
tiles or cycles beyond what the numeric contract says.

INT8 mode
    :func:`gemm_int8` (int32 accumulation, wrapping modulo 2**32, optional int32 bias as the
    starting value), then one of: raw int32, :func:`requantize` (int8, ONNX QLinearMatMul
    convention) or :func:`dequantize_fp16` (fp16 with the same scale).

FP16 mode
    :func:`gemm_fp16` (exact fp16 products, binary32 RNE accumulation sequentially over k from a
    starting value), then :func:`fp16_postprocess` (optional per-channel fp32 scale and clamp,
    then :func:`to_fp16`).

Helpers: :func:`bits` (raw bit patterns), :func:`canonicalize_nan`, :func:`to_fp16`.

Decisions where the contract is silent
    - ``zero_point`` is an int8 value (scalar or per channel), as ONNX's ``y_zero_point``; a scale
      must be finite (any sign, zero and subnormals allowed); Python scalars for scales and float
      clamp bounds are rounded to float32 (RNE), numpy arrays must already be float32.
    - Products overflowing to Inf in requantization saturate to ``lo``/``hi``.
    - The fp16 GEMM starts from +0.0 without a bias, so it never returns -0.0 then; ``bias`` and
      ``init`` are mutually exclusive (the bias is the first K tile's starting value).
    - NaN payloads are canonicalised on output only (NaN stays NaN through every later step, so
      this equals canonicalising at every step).
    - The fp16 output clamp uses IEEE comparisons (``y < lo``), so -0.0 survives ReLU as -0.0.
    - K = 0 is allowed and returns the starting value.

Every floating-point function first checks that the FPU keeps subnormals (no FTZ/DAZ) and
raises RuntimeError otherwise. Bad input raises TypeError (wrong type or dtype) or ValueError
(wrong shape, mismatched K, bias length, out-of-range parameters) with a one-line message.
"""

import numpy as np

from .golden_bits import (
    F16_CANONICAL_NAN,
    F32_CANONICAL_NAN,
    F64_CANONICAL_NAN,
    bits,
    canonicalize_nan,
    channel_vector,
    check_fpu,
    float_bound,
    int_bound,
    require_array,
    to_fp16,
)

__all__ = [
    "gemm_int8", "requantize", "dequantize_fp16",
    "gemm_fp16", "lanes_mac_fp16", "fp16_postprocess",
    "to_fp16", "canonicalize_nan", "bits",
    "F16_CANONICAL_NAN", "F32_CANONICAL_NAN", "F64_CANONICAL_NAN",
]


def _check_gemm_operands(a, b, dtype):
    require_array("a", a, dtype, (2,))
    require_array("b", b, dtype, (2,))
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"K mismatch: a is {a.shape} (K={a.shape[1]}) but b is {b.shape} "
                         f"(K={b.shape[0]})")
    return a.shape[0], a.shape[1], b.shape[1]


def _check_bias(bias, n, dtype):
    if bias is None:
        return None
    require_array("bias", bias, dtype, (1,))
    if bias.shape[0] != n:
        raise ValueError(f"bias has length {bias.shape[0]} but the output has N={n} columns")
    return bias


def gemm_int8(a, b, bias=None):
    """INT8 matrix product with int32 accumulation.

    ``C[i, j] = bias[j] + sum_k a[i, k] * b[k, j]`` modulo 2**32, as a two's complement int32.
    Products are exact (at most 2**14 in magnitude); the accumulator wraps modulo 2**32, so the
    result is exact for K up to 131071 and well defined (wrapped) beyond. Because modular
    addition is associative, the order of accumulation does not matter in this mode.

    Parameters
    ----------
    a : numpy.ndarray
        int8, shape (M, K).
    b : numpy.ndarray
        int8, shape (K, N).
    bias : numpy.ndarray, optional
        int32, shape (N,): the accumulator's starting value per output column (0 if omitted).

    Returns
    -------
    numpy.ndarray
        int32, shape (M, N). K = 0 gives the bias (or zeros).
    """
    _, _, n = _check_gemm_operands(a, b, np.int8)
    bias = _check_bias(bias, n, np.int32)
    # int64 holds the exact sum for any K below 2**48; the wrap is applied once at the end.
    acc = np.matmul(a.astype(np.int64), b.astype(np.int64))
    if bias is not None:
        acc += bias.astype(np.int64)
    return (acc & 0xFFFF_FFFF).astype(np.uint32).view(np.int32)


def _check_acc_int32(acc):
    require_array("acc", acc, np.int32, (1, 2))
    return acc.shape[-1]


def requantize(acc, scale, zero_point, lo=-128, hi=127):
    """Requantize int32 accumulators to int8 (ONNX QLinearMatMul / onnxruntime convention).

    Per output column j: ``y = clamp(rne(f32(acc) * scale[j]) + zero_point[j], lo, hi)`` where

    - ``f32(acc)`` converts int32 to binary32 with round to nearest, ties to even (exact for
      ``|acc| <= 2**24``);
    - the product is one binary32 multiply, RNE (it may overflow to +/-Inf for huge scales,
      which then saturates; it cannot be NaN because the scale is finite);
    - ``rne`` rounds to the nearest integer, ties to even (2.5 -> 2, -0.5 -> 0, 3.5 -> 4);
    - the zero point is added in wide integer arithmetic (no int8 overflow), then the result
      is clamped to ``[lo, hi]``. ReLU is ``lo = zero_point``.

    Parameters
    ----------
    acc : numpy.ndarray
        int32, shape (M, N) or (N,); the last axis is the output channel.
    scale : numpy.ndarray or float
        float32 of shape (N,), or a scalar (numpy float32, or a Python int/float which is
        rounded to float32 RNE) used for every channel. Must be finite; any sign.
    zero_point : int or numpy.ndarray
        Output zero point in [-128, 127]: a scalar or an integer array of shape (N,).
    lo, hi : int
        Clamp bounds with ``-128 <= lo <= hi <= 127``.

    Returns
    -------
    numpy.ndarray
        int8, same shape as ``acc``.
    """
    n = _check_acc_int32(acc)
    scale = channel_vector("scale", scale, n, "scale")
    zp = channel_vector("zero_point", zero_point, n, "int8")
    lo = int_bound("lo", lo)
    hi = int_bound("hi", hi)
    if lo > hi:
        raise ValueError(f"lo ({lo}) must not exceed hi ({hi})")
    check_fpu()
    with np.errstate(all="ignore"):      # overflow to Inf is part of the contract
        y = np.rint(acc.astype(np.float32) * scale)
    # Anything beyond +/-1024 saturates whatever the zero point, so clipping here (in float, which
    # also tames +/-Inf) before the integer conversion changes no result.
    y = np.clip(y, -1024.0, 1024.0).astype(np.int32) + zp
    return np.clip(y, lo, hi).astype(np.int8)


def dequantize_fp16(acc, scale):
    """Dequantize int32 accumulators to fp16 with the requantization scale.

    Per output column j: ``to_fp16(f32(acc) * scale[j])``: int32 to binary32 RNE, one binary32
    multiply RNE, then :func:`to_fp16` (RNE, overflow to +/-Inf, subnormals kept).

    Parameters
    ----------
    acc : numpy.ndarray
        int32, shape (M, N) or (N,).
    scale : numpy.ndarray or float
        Finite float32 of shape (N,) or a scalar, as in :func:`requantize`.

    Returns
    -------
    numpy.ndarray
        float16, same shape as ``acc``.
    """
    n = _check_acc_int32(acc)
    scale = channel_vector("scale", scale, n, "scale")
    check_fpu()
    with np.errstate(all="ignore"):
        y = acc.astype(np.float32) * scale
    return to_fp16(y)


def gemm_fp16(a, b, bias=None, init=None):
    """FP16 matrix product with binary32 accumulation in one fixed order.

    ``C`` starts from ``init`` (the partial sum of earlier K tiles), or ``bias`` broadcast over
    the rows, or +0.0; then for k = 0 .. K-1 in order ``C = C + A[:, k] * B[k, :]`` where each
    product is exact in binary32 (fp16 x fp16 needs at most 22 significant bits and exponents in
    [-48, 32]) and each addition is binary32 round-to-nearest-even with subnormals kept.

    Special values follow IEEE 754: Inf propagates, Inf * 0 and Inf + (-Inf) are NaN, and every
    NaN result is the canonical ``0x7FC00000`` (whatever the input payloads). Signed zeros:
    ``x + y`` that is exactly zero is +0 unless both operands are -0, so a -0.0 bias plus +0
    products gives +0, -0.0 plus -0 products stays -0, and the default +0 start never yields -0.
    With K = 0 the result is the starting value itself (a -0.0 bias stays -0.0).

    Tiling over K: because the partial sum is the next tile's starting value,
    ``gemm_fp16(a[:, k1:], b[k1:], init=gemm_fp16(a[:, :k1], b[:k1], bias))`` equals
    ``gemm_fp16(a, b, bias)`` bit for bit (NaN canonicalisation in between changes nothing, since
    NaN stays NaN).

    Parameters
    ----------
    a : numpy.ndarray
        float16, shape (M, K).
    b : numpy.ndarray
        float16, shape (K, N).
    bias : numpy.ndarray, optional
        float32, shape (N,): starting value per output column.
    init : numpy.ndarray, optional
        float32, shape (M, N): starting value per output element (partial sum of earlier K
        tiles). Give at most one of ``bias`` and ``init``: a bias belongs to the first tile.

    Returns
    -------
    numpy.ndarray
        float32, shape (M, N).

    Notes
    -----
    ``a @ b``, ``np.dot`` and ``np.sum`` use other summation orders (pairwise, blocked, FMA)
    and differ from this for large K; only the explicit k loop reproduces the contract.
    """
    m, k_len, n = _check_gemm_operands(a, b, np.float16)
    bias = _check_bias(bias, n, np.float32)
    if init is not None:
        if bias is not None:
            raise ValueError("give bias or init, not both: the bias is the first K tile's "
                             "starting value, init the running partial sum")
        require_array("init", init, np.float32, (2,))
        if init.shape != (m, n):
            raise ValueError(f"init must have the output shape ({m}, {n}), not {init.shape}")
        c = init.copy()
    elif bias is not None:
        c = np.repeat(bias[np.newaxis, :], m, axis=0)
    else:
        c = np.zeros((m, n), dtype=np.float32)
    check_fpu()
    a32 = a.astype(np.float32)   # exact, subnormals included
    b32 = b.astype(np.float32)
    with np.errstate(all="ignore"):   # Inf - Inf and Inf * 0 are NaN by contract, not warnings
        for k in range(k_len):
            c = c + a32[:, k:k + 1] * b32[k:k + 1, :]
    return canonicalize_nan(c)


def lanes_mac_fp16(init, x, w, x2=None, w2=None):
    """FP16 lane-wise multiply-accumulate (the element-wise unit's FP16 ``MAC``).

    Per row i and lane j: ``c = init[i, j] + x[i, j] * w[j]``, then with the second operand
    pair ``c = c + x2[i, j] * w2[j]``: each product exact in binary32, each addition binary32
    round-to-nearest-even with subnormals kept, in that order (two sequential additions, the
    FP16 contract's fixed order with the first pair's term first). Special values as
    :func:`gemm_fp16`: Inf propagates, Inf * 0 and Inf + (-Inf) are NaN, every NaN result is
    ``0x7FC00000``; ``x + y`` exactly zero is +0 unless both are -0.

    Parameters
    ----------
    init : numpy.ndarray
        float32, (M, N): the starting values.
    x, x2 : numpy.ndarray
        float16, (M, N).
    w, w2 : numpy.ndarray
        float16, (N,): one weight per lane. Give both of ``x2`` and ``w2`` or neither.

    Returns
    -------
    numpy.ndarray
        float32, (M, N).
    """
    require_array("init", init, np.float32, (2,))
    m, n = init.shape
    terms = [(x, w)] + ([] if x2 is None and w2 is None else [(x2, w2)])
    for xs, ws in terms:
        require_array("x", xs, np.float16, (2,))
        require_array("w", ws, np.float16, (1,))
        if xs.shape != (m, n) or ws.shape != (n,):
            raise ValueError(f"x must be ({m}, {n}) and w ({n},), not {xs.shape} and "
                             f"{ws.shape}")
    check_fpu()
    c = init.copy()
    with np.errstate(all="ignore"):
        for xs, ws in terms:
            c = c + xs.astype(np.float32) * ws.astype(np.float32)[np.newaxis, :]
    return canonicalize_nan(c)


def fp16_postprocess(acc_f32, scale=None, lo=None, hi=None):
    """FP16-mode output stage: optional per-channel scale, optional clamp, then fp16.

    Per output column j: ``y = acc * scale[j]`` (one binary32 multiply, RNE; skipped when
    ``scale`` is None), then the clamp ``y = lo if y < lo else (hi if y > hi else y)`` with IEEE
    comparisons in binary32 (skipped for a missing bound), then :func:`to_fp16`.

    Consequences of the comparison-based clamp: ReLU is ``lo=0.0``; a -0.0 input stays -0.0
    (``-0 < +0`` is false); NaN passes through the clamp and comes out as ``0x7E00``; +/-Inf is
    clamped to a finite bound when one is given on its side. Bounds may be +/-Inf.

    Parameters
    ----------
    acc_f32 : numpy.ndarray
        float32, shape (M, N) or (N,).
    scale : numpy.ndarray or float, optional
        Finite float32 of shape (N,) or a scalar, as in :func:`requantize`.
    lo, hi : float, optional
        Clamp bounds, rounded to float32 (RNE); not NaN; ``lo <= hi`` when both are given.

    Returns
    -------
    numpy.ndarray
        float16, same shape as ``acc_f32``.
    """
    require_array("acc_f32", acc_f32, np.float32, (1, 2))
    lo = float_bound("lo", lo)
    hi = float_bound("hi", hi)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"lo ({lo}) must not exceed hi ({hi})")
    check_fpu()
    y = acc_f32.copy()
    if scale is not None:
        scale = channel_vector("scale", scale, acc_f32.shape[-1], "scale")
        with np.errstate(all="ignore"):
            y = y * scale
    if lo is not None:
        y = np.where(y < lo, lo, y).astype(np.float32)
    if hi is not None:
        y = np.where(y > hi, hi, y).astype(np.float32)
    return to_fp16(y)
