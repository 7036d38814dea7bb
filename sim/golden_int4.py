"""Golden model of 4-bit weights: packing, W4A8 and W4A16 (per-group FP16 scales).

Format (the contract the NPU's unpacking follows):

- An int4 weight is a two's complement value in [-8, 7]. Weights are the K x N matrix ``B`` of
  a GEMM, stored row by row (one row per k). Two weights share a byte: within a row, the weight
  of the even column ``2j`` is in bits 3:0 of byte ``j`` and the odd column ``2j + 1`` in bits
  7:4 (low nibble first). A row of odd length N ends with a byte whose high nibble is 0.
  :func:`pack_int4` / :func:`unpack_int4`.
- **W4A8**: int8 activations times int4 weights into int32, exactly :func:`dure.sim.golden.
  gemm_int8` of the unpacked weights (sign-extended to int8); requantization as for INT8.
- **W4A16**: each weight has an fp16 scale shared by a group of ``G`` consecutive k (G = 32, 64
  or 128) within its column: ``scales`` is (ceil(K / G), N) float16 and weight (k, n) uses
  ``scales[k // G, n]``. The dequantized weight is
  ``w = to_fp16(float32(q) * float32(s))``: the product of a 4-bit integer and an fp16 value
  is exact in binary32 (at most 15 significant bits), so this is the correctly rounded fp16 of
  ``q * s`` (RNE, subnormals kept, overflow to +/-Inf); ``q = 0`` gives +0.0 for a positive
  scale and -0.0 for a negative one (IEEE). Scales must be finite. Then the FP16 contract:
  :func:`dure.sim.golden.gemm_fp16` of the activations and ``w``.
"""

import numpy as np

from .golden import gemm_fp16, gemm_int8, to_fp16
from .golden_bits import check_fpu, require_array

__all__ = ["GROUP_SIZES", "pack_int4", "unpack_int4", "dequantize_w4a16", "gemm_w4a8",
           "gemm_w4a16"]

#: Group sizes along K that W4A16 accepts.
GROUP_SIZES = (32, 64, 128)


def _int4_values(name, q):
    require_array(name, q, np.int8, (2,))
    if q.size and (q.min() < -8 or q.max() > 7):
        bad = np.argwhere((q < -8) | (q > 7))[0]
        raise ValueError(f"{name} must hold int4 values in [-8, 7]; {name}[{bad[0]}, {bad[1]}] "
                         f"= {q[tuple(bad)]}")
    return q


def pack_int4(q):
    """Pack a (K, N) int8 array of int4 values into (K, ceil(N / 2)) uint8, low nibble first."""
    q = _int4_values("q", q)
    k, n = q.shape
    nib = (q.astype(np.int16) & 0xF).astype(np.uint8)
    if n % 2:
        nib = np.concatenate([nib, np.zeros((k, 1), np.uint8)], axis=1)
    return (nib[:, 0::2] | (nib[:, 1::2] << 4)).astype(np.uint8)


def unpack_int4(packed, n):
    """The (K, n) int8 values of a packed array (inverse of :func:`pack_int4`).

    Raises ``ValueError`` if ``packed`` does not have ceil(n / 2) columns or, for odd ``n``, a
    last byte whose high nibble is not zero.
    """
    require_array("packed", packed, np.uint8, (2,))
    if n < 1 or packed.shape[1] != (n + 1) // 2:
        raise ValueError(f"packed has {packed.shape[1]} bytes per row; {n} int4 columns need "
                         f"{(n + 1) // 2}")
    if n % 2 and (packed[:, -1] >> 4).any():
        raise ValueError("the unused high nibble of each row's last byte must be zero")
    nib = np.empty((packed.shape[0], packed.shape[1] * 2), np.int16)
    nib[:, 0::2] = packed & 0xF
    nib[:, 1::2] = packed >> 4
    nib = np.where(nib >= 8, nib - 16, nib)
    return nib[:, :n].astype(np.int8)


def _scales(scales, k, n, group_size):
    if group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be one of {GROUP_SIZES}, not {group_size!r}")
    require_array("scales", scales, np.float16, (2,))
    groups = -(-k // group_size)
    if scales.shape != (groups, n):
        raise ValueError(f"scales must have shape ({groups}, {n}) for K={k}, N={n}, "
                         f"group_size={group_size}; not {scales.shape}")
    if not np.isfinite(scales).all():
        raise ValueError("scales must be finite")
    return scales


def dequantize_w4a16(q, scales, group_size):
    """The fp16 weights ``to_fp16(float32(q) * float32(scales[k // G, n]))``, shape (K, N)."""
    q = _int4_values("q", q)
    k, n = q.shape
    scales = _scales(scales, k, n, group_size)
    per_k = np.repeat(scales, group_size, axis=0)[:k].astype(np.float32)
    check_fpu()
    return to_fp16(q.astype(np.float32) * per_k)


def gemm_w4a8(a, q, bias=None):
    """int32 ``a @ q (+ bias)`` for int8 activations ``a`` (M, K) and int4 weights ``q`` (K, N)
    given as int8 values in [-8, 7]: :func:`dure.sim.golden.gemm_int8` of the same values."""
    return gemm_int8(a, _int4_values("q", q), bias)


def gemm_w4a16(a, q, scales, group_size, bias=None):
    """fp32 accumulators of fp16 activations ``a`` (M, K) times the dequantized int4 weights
    (:func:`dequantize_w4a16`), in the FP16 contract's order (:func:`dure.sim.golden.gemm_fp16`).
    """
    return gemm_fp16(a, dequantize_w4a16(q, scales, group_size), bias)
