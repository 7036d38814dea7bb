"""Golden model of 2:4 structured-sparse weights: compression, expansion and the sparse GEMM.

Format (the contract the NPU's expansion follows):

- The weights are the K x N matrix ``B`` of a GEMM with K a multiple of 4. Along K, every group
  of 4 consecutive weights of a column (rows ``4g .. 4g+3``) holds at most 2 non-zero values.
  "Zero" means all bits zero (int 0 or +0.0); -0.0 is a value like any other and is kept.
- Compressed form: ``values`` (K/2, N), same dtype as the weights: rows ``2g`` and ``2g + 1``
  are the group's two kept values in increasing position order; ``meta`` (K/4, ceil(N/2))
  uint8: the group's two positions ``p0 < p1`` (each 0..3) as the 4-bit code ``p0 | p1 << 2``,
  two columns per byte, the even column in bits 3:0 (the int4 packing of
  :mod:`dure.sim.golden_int4`). A group with fewer than two non-zeros keeps zeros at the lowest
  unused positions (so the code is always a pair of distinct, increasing positions).
  Int4 sparse weights pack ``values`` with :func:`dure.sim.golden_int4.pack_int4`.
- Expansion puts each kept value back at its position and +0 / 0 elsewhere; it is exact, so a
  sparse GEMM is by definition the dense GEMM of the expanded weights, bit for bit
  (:func:`gemm_sparse24_int8`, :func:`gemm_sparse24_fp16`). Main-memory bytes of int8 weights
  drop from K N to K N / 2 values plus K / 4 x ceil(N / 2) metadata bytes (1 bit per dense
  weight).
- Skipping the zero MACs (:func:`gemm_sparse24_skip_int8`, :func:`gemm_sparse24_skip_fp16`):
  the product is computed from the compressed pair itself, K / 2 products per output instead
  of K: kept value ``2g + s`` of column n (slot s = 0, 1) multiplies the activation at its
  position, ``A[:, 4g + p_s]`` (the activation is *gathered* by the 2-bit positions), and the
  products are summed in the order g = 0, 1, ..., slot 0 before slot 1 (increasing k, since
  ``p0 < p1``); the other two positions of each group do not take part at all. INT8: equal to
  the dense GEMM of the expanded weights bit for bit (the skipped products are exact zeros and
  int32 addition is modular). FP16: the sequential sum over the kept terms only, which equals
  the dense sequential sum bit for bit except in two cases the skipped terms decide: an Inf or
  NaN activation at a skipped position (dense: ``Inf * 0`` = NaN, skip: not involved), and a
  ``-0.0`` starting value still ``-0.0`` when a skipped ``+0`` product would have come (dense:
  ``-0 + +0`` = ``+0``). With finite activations and a starting value other than ``-0.0`` the
  two are identical (a sum starting at +0 or non-zero is never ``-0`` and adding ``+/-0`` to
  it changes nothing).
- Dense position codes (:func:`pack_pair_codes`, a candidate format, no NPU LOAD reads it yet):
  a group's two positions are one of the 6 pairs of :data:`PAIRS`, so three groups fit in one
  byte as ``i0 + 6 i1 + 36 i2`` (pair indices of groups 3j, 3j + 1, 3j + 2 of a column; at
  most 215): 2.67 bits per group instead of 4, 0.333 instead of 0.375 bytes per weight for
  int4 values (docs/sparse_skip.md: what the 3x GEMV target needs).
"""

import numpy as np

from .golden import gemm_fp16, gemm_int8
from .golden_bits import canonicalize_nan, check_fpu, require_array

__all__ = ["compress_24", "expand_24", "is_sparse_24", "gemm_sparse24_int8",
           "gemm_sparse24_fp16", "kept_positions", "gemm_sparse24_skip_int8",
           "gemm_sparse24_skip_fp16", "PAIRS", "pack_pair_codes", "unpack_pair_codes"]

_DTYPES = (np.int8, np.float16)


def _weights(name, w):
    if not isinstance(w, np.ndarray) or w.dtype not in _DTYPES:
        raise TypeError(f"{name} must be a numpy int8 or float16 array")
    require_array(name, w, w.dtype, (2,))
    if w.shape[0] % 4:
        raise ValueError(f"{name} has K={w.shape[0]} rows; 2:4 sparsity needs K % 4 == 0")
    return w


def _nonzero(w):
    return w.view(np.uint8 if w.dtype == np.int8 else np.uint16) != 0


def is_sparse_24(w):
    """True if every group of 4 along K of every column has at most 2 non-zero values."""
    w = _weights("w", w)
    count = _nonzero(w).reshape(w.shape[0] // 4, 4, w.shape[1]).sum(axis=1)
    return bool((count <= 2).all())


def compress_24(w):
    """``(values, meta)`` of 2:4-sparse weights ``w`` (K, N); ``ValueError`` names the first
    group with more than two non-zeros."""
    w = _weights("w", w)
    k, n = w.shape
    nz = _nonzero(w).reshape(k // 4, 4, n)
    count = nz.sum(axis=1)
    if (count > 2).any():
        g, col = np.argwhere(count > 2)[0]
        raise ValueError(f"w is not 2:4 sparse: column {col}, rows {4 * g}..{4 * g + 3} hold "
                         f"{count[g, col]} non-zero values")
    # Rank positions: non-zeros first (in order), then zeros (in order); keep the first two and
    # sort them, which gives the non-zeros plus the lowest unused positions.
    pos = np.arange(4)[None, :, None]
    key = np.where(nz, pos, pos + 4)
    order = np.sort(np.argsort(key, axis=1, kind="stable")[:, :2, :], axis=1)   # (K/4, 2, N)
    groups = w.reshape(k // 4, 4, n)
    values = np.take_along_axis(groups, order, axis=1).reshape(k // 2, n)
    codes = (order[:, 0, :] | (order[:, 1, :] << 2)).astype(np.uint8)            # (K/4, N)
    if n % 2:
        codes = np.concatenate([codes, np.zeros((k // 4, 1), np.uint8)], axis=1)
    meta = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    return values, meta


def expand_24(values, meta, n=None):
    """The dense (K, N) weights of a compressed pair; ``ValueError`` for a malformed code
    (positions not strictly increasing) or mismatched shapes."""
    if not isinstance(values, np.ndarray) or values.dtype not in _DTYPES or values.ndim != 2:
        raise TypeError("values must be a 2-D numpy int8 or float16 array")
    half, cols = values.shape
    n = cols if n is None else n
    if half % 2 or n != cols:
        raise ValueError(f"values must be (K/2, N) with K % 4 == 0; got {values.shape}")
    require_array("meta", meta, np.uint8, (2,))
    if meta.shape != (half // 2, (n + 1) // 2):
        raise ValueError(f"meta must have shape ({half // 2}, {(n + 1) // 2}), not {meta.shape}")
    codes = np.empty((meta.shape[0], meta.shape[1] * 2), np.uint8)
    codes[:, 0::2] = meta & 0xF
    codes[:, 1::2] = meta >> 4
    codes = codes[:, :n]
    p0, p1 = codes & 3, codes >> 2
    if (p0 >= p1).any():
        g, col = np.argwhere(p0 >= p1)[0]
        raise ValueError(f"meta code {codes[g, col]:#x} of group {g}, column {col} does not name "
                         f"two increasing positions")
    k = half * 2
    dense = np.zeros((k // 4, 4, n), values.dtype)
    v = values.reshape(k // 4, 2, n)
    np.put_along_axis(dense, p0[:, None, :].astype(np.intp), v[:, 0:1, :], axis=1)
    np.put_along_axis(dense, p1[:, None, :].astype(np.intp), v[:, 1:2, :], axis=1)
    return dense.reshape(k, n)


def gemm_sparse24_int8(a, values, meta, bias=None):
    """int32 accumulators of ``a`` (M, K) int8 times the expanded weights
    (:func:`dure.sim.golden.gemm_int8`); int4 sparse weights are int8 values in [-8, 7]."""
    return gemm_int8(a, expand_24(values, meta), bias)


def gemm_sparse24_fp16(a, values, meta, bias=None):
    """fp32 accumulators of ``a`` (M, K) fp16 times the expanded weights
    (:func:`dure.sim.golden.gemm_fp16`, the FP16 contract's order, zeros included)."""
    return gemm_fp16(a, expand_24(values, meta), bias)


def kept_positions(values, meta):
    """``(p0, p1)``: the dense row index in K of every kept value, each (K/4, N) intp: kept
    value ``2g + s`` of column n sits at row ``4g + p_s[g, n]``. ``ValueError`` for a malformed
    code (positions not strictly increasing) or mismatched shapes, as :func:`expand_24`."""
    if not isinstance(values, np.ndarray) or values.dtype not in _DTYPES or values.ndim != 2:
        raise TypeError("values must be a 2-D numpy int8 or float16 array")
    half, n = values.shape
    if half % 2:
        raise ValueError(f"values must be (K/2, N) with K % 4 == 0; got {values.shape}")
    require_array("meta", meta, np.uint8, (2,))
    if meta.shape != (half // 2, (n + 1) // 2):
        raise ValueError(f"meta must have shape ({half // 2}, {(n + 1) // 2}), not {meta.shape}")
    codes = np.stack([meta & 0xF, meta >> 4], axis=2).reshape(meta.shape[0], -1)[:, :n]
    p0, p1 = (codes & 3).astype(np.intp), (codes >> 2).astype(np.intp)
    if (p0 >= p1).any():
        g, col = np.argwhere(p0 >= p1)[0]
        raise ValueError(f"meta code {codes[g, col]:#x} of group {g}, column {col} does not name "
                         f"two increasing positions")
    base = 4 * np.arange(half // 2, dtype=np.intp)[:, None]
    return base + p0, base + p1


def _skip_operands(a, values, meta, dtype):
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != 2:
        raise TypeError(f"a must be a 2-D numpy {np.dtype(dtype).name} array")
    if values.dtype != dtype:
        raise TypeError(f"values must be {np.dtype(dtype).name} like a, not {values.dtype}")
    rows = kept_positions(values, meta)
    if a.shape[1] != 2 * values.shape[0]:
        raise ValueError(f"a has K={a.shape[1]} columns; the compressed weights have "
                         f"K={2 * values.shape[0]} rows")
    return rows


def gemm_sparse24_skip_int8(a, values, meta, bias=None):
    """int32 accumulators of ``a`` (M, K) int8 times the compressed 2:4 weights, computed with
    the K / 2 kept values only (the activation gathered by the positions; the module's
    "Skipping the zero MACs"). Wraps modulo 2**32 like :func:`dure.sim.golden.gemm_int8`, to
    which it is equal bit for bit on the expanded weights."""
    p0, p1 = _skip_operands(a, values, meta, np.int8)
    n = values.shape[1]
    if bias is not None:
        require_array("bias", bias, np.int32, (1,))
        if bias.shape != (n,):
            raise ValueError(f"bias must have shape ({n},), not {bias.shape}")
    acc = np.zeros((a.shape[0], n), np.int64) if bias is None else \
        np.repeat(bias.astype(np.int64)[None, :], a.shape[0], axis=0)
    a64, v = a.astype(np.int64), values.astype(np.int64)
    cols = np.arange(n)
    for g in range(p0.shape[0]):
        for s, rows in enumerate((p0[g], p1[g])):
            acc += a64[:, rows] * v[2 * g + s, cols][None, :]
    return (acc & 0xFFFF_FFFF).astype(np.uint32).view(np.int32)


def gemm_sparse24_skip_fp16(a, values, meta, bias=None):
    """fp32 accumulators of ``a`` (M, K) fp16 times the compressed 2:4 weights with only the
    kept values taking part: from ``bias`` (float32 per column) or +0, ``C = C + A[:, 4g + p_s]
    * values[2g + s]`` for g = 0 .. K/4 - 1, s = 0, 1 in that order (products exact in fp32,
    sums RNE, canonical NaN). Equal to :func:`gemm_sparse24_fp16` bit for bit except where a
    skipped term decides (the module's "Skipping the zero MACs")."""
    p0, p1 = _skip_operands(a, values, meta, np.float16)
    m, n = a.shape[0], values.shape[1]
    if bias is not None:
        require_array("bias", bias, np.float32, (1,))
        if bias.shape != (n,):
            raise ValueError(f"bias must have shape ({n},), not {bias.shape}")
        c = np.repeat(bias[None, :], m, axis=0)
    else:
        c = np.zeros((m, n), np.float32)
    check_fpu()
    a32, v32 = a.astype(np.float32), values.astype(np.float32)
    cols = np.arange(n)
    with np.errstate(all="ignore"):
        for g in range(p0.shape[0]):
            for s, rows in enumerate((p0[g], p1[g])):
                c = c + a32[:, rows] * v32[2 * g + s, cols][None, :]
    return canonicalize_nan(c)


#: The six position pairs ``(p0, p1)``, ``p0 < p1``, of a group in the order of their index.
PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))

_PAIR_INDEX = {p0 | p1 << 2: i for i, (p0, p1) in enumerate(PAIRS)}


def pack_pair_codes(meta, n):
    """The position codes of :func:`compress_24`'s ``meta`` (K/4, ceil(N/2)) for ``n`` columns
    as base-6 bytes, three groups per byte along K: (ceil(K / 12), N) uint8, byte j of column
    c = ``i(3j) + 6 i(3j + 1) + 36 i(3j + 2)`` with ``i(g)`` the :data:`PAIRS` index of group
    g (0 beyond the last group). ``ValueError`` for a code that is no pair."""
    require_array("meta", meta, np.uint8, (2,))
    if meta.shape[1] != (n + 1) // 2:
        raise ValueError(f"meta has {meta.shape[1]} bytes per row, not {(n + 1) // 2} for "
                         f"N={n}")
    codes = np.stack([meta & 0xF, meta >> 4], axis=2).reshape(meta.shape[0], -1)[:, :n]
    index = np.full(16, 255, np.uint8)
    for code, i in _PAIR_INDEX.items():
        index[code] = i
    idx = index[codes]
    if (idx == 255).any():
        g, col = np.argwhere(idx == 255)[0]
        raise ValueError(f"meta code {codes[g, col]:#x} of group {g}, column {col} does not name "
                         f"two increasing positions")
    groups = idx.shape[0]
    padded = np.zeros((-(-groups // 3) * 3, n), np.uint16)
    padded[:groups] = idx
    trip = padded.reshape(-1, 3, n)
    return (trip[:, 0] + 6 * trip[:, 1] + 36 * trip[:, 2]).astype(np.uint8)


def unpack_pair_codes(packed, k, n):
    """The ``meta`` (K/4, ceil(N/2)) of :func:`compress_24` back from :func:`pack_pair_codes`'
    bytes for K rows and N columns; ``ValueError`` for a byte above 215 or a wrong shape."""
    require_array("packed", packed, np.uint8, (2,))
    if k % 4 or packed.shape != (-(-(k // 4) // 3), n):
        raise ValueError(f"packed must have shape ({-(-(k // 4) // 3)}, {n}) for K={k} "
                         f"(K % 4 == 0), not {packed.shape}")
    if (packed > 215).any():
        j, col = np.argwhere(packed > 215)[0]
        raise ValueError(f"byte {packed[j, col]} of row {j}, column {col} is above 215")
    b = packed.astype(np.uint16)
    idx = np.stack([b % 6, b // 6 % 6, b // 36], axis=1).reshape(-1, n)[:k // 4]
    code_of = np.array([p0 | p1 << 2 for p0, p1 in PAIRS], np.uint8)
    codes = code_of[idx]
    if n % 2:
        codes = np.concatenate([codes, np.zeros((codes.shape[0], 1), np.uint8)], axis=1)
    return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
