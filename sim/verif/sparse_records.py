"""2:4-sparse test weights and their lane-grouped LOAD records, written from the documented
source layout of ``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES`` (``LOAD`` in
:mod:`dure.rtl.npu.commands`), not through the GEMV planner, for the tests of the 2:4
MAC-skipping path (LOAD ``keep``, COMPUTE ``gather``, STORE ``lane_sum``)."""

import numpy as np

from ..golden_int4 import pack_int4
from ..golden_sparse24 import compress_24

__all__ = ["sparse_weights", "lane_records", "base6_records"]


def sparse_weights(rng, k, n, lo, hi):
    """(K, N) int8 2:4-sparse weights in [lo, hi], edge values and all-zero groups included."""
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    w[rng.random((k, n)) < 0.1] = rng.choice([lo, hi])
    groups = w.reshape(k // 4, 4, n)
    for g in range(k // 4):
        for c in range(n):
            drop = rng.permutation(4)[:2 + (rng.random() < 0.15) * rng.integers(1, 3)]
            groups[g, drop, c] = 0
    return w


def lane_records(w, tile, int4):
    """Per k tile of ``tile`` dense k, the (N, bytes) lane-grouped 2:4 source records of the
    columns of ``w``: kept values (group j's first then second; int4 two per byte), then the
    4-bit codes two groups per byte (written here from the LOAD's documented layout)."""
    values, meta = compress_24(w)
    k, n = w.shape
    codes = np.empty((k // 4, 2 * meta.shape[1]), np.uint8)
    codes[:, 0::2], codes[:, 1::2] = meta & 0xF, meta >> 4
    out = []
    for k0 in range(0, k, tile):
        g0, g = k0 // 4, tile // 4
        v = np.ascontiguousarray(values[2 * g0:2 * g0 + 2 * g].T)            # (N, 2g)
        c = np.ascontiguousarray(codes[g0:g0 + g, :n].T)                      # (N, g)
        if g % 2:
            c = np.concatenate([c, np.zeros((n, 1), np.uint8)], axis=1)
        vb = pack_int4(v) if int4 else v.view(np.uint8)
        out.append(np.concatenate([vb, c[:, 0::2] | (c[:, 1::2] << 4)], axis=1))
    return out


#: The contract's position pairs by base-6 digit (``LOAD``, tagged lanes with shared codes).
_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def base6_records(w, tile):
    """Per k tile of ``tile`` dense k, the (ceil(N / 3), bytes) source rows of a ``keep``
    LOAD of ``SPARSE24_INT4`` (shared base-6 codes) for int4 2:4 weights ``w``: channels 3 i ..
    3 i + 2 (zero channels beyond N) as ``g`` value bytes each, then ``g`` code bytes ``i0 +
    6 i1 + 36 i2`` (written here from the LOAD's documented layout)."""
    values, meta = compress_24(w)
    k, n = w.shape
    n3 = -(-n // 3) * 3
    codes = np.empty((k // 4, 2 * meta.shape[1]), np.uint8)
    codes[:, 0::2], codes[:, 1::2] = meta & 0xF, meta >> 4
    index = {p0 | p1 << 2: i for i, (p0, p1) in enumerate(_PAIRS)}
    digit = np.zeros((n3, k // 4), np.int64)          # zero channels: pair 0
    for g in range(k // 4):
        for c in range(n):
            digit[c, g] = index[int(codes[g, c])]
    vals = np.zeros((n3, k // 2), np.int8)
    vals[:n] = values.T
    out = []
    for k0 in range(0, k, tile):
        g0, g = k0 // 4, min(tile, k - k0) // 4
        rows = []
        for i in range(n3 // 3):
            row = []
            for t in range(3):
                v = vals[3 * i + t, 2 * g0:2 * g0 + 2 * g].astype(np.int64) & 0xF
                row += [int(v[2 * j] | v[2 * j + 1] << 4) for j in range(g)]
            row += [int(digit[3 * i, g0 + j] + 6 * digit[3 * i + 1, g0 + j]
                        + 36 * digit[3 * i + 2, g0 + j]) for j in range(g)]
            rows.append(row)
        out.append(np.array(rows, np.uint8))
    return out
