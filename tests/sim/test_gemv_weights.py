"""The transposed GEMV plan's weight layouts (sim/gemv_weights.py), decoded by hand from the
bytes: every record holds exactly its channel's k tile, in the LOAD formats' bit order."""

import numpy as np
import pytest
from dure.sim.gemv_weights import FORMATS, eb_w, transposed_weights, w4a16_rows


def _int4(byte, high):
    """The sign-extended int4 in the low (``high`` False) or high nibble of ``byte``."""
    v = (byte >> 4) & 0xF if high else byte & 0xF
    return v - 16 if v & 8 else v


def _sparse_weights(rng, k, n, lo, hi):
    """K x N int8 values in [lo, hi] with at most 2 non-zeros in every group of 4 k."""
    b = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    for g in range(0, k, 4):
        for col in range(n):
            b[g + rng.choice(4, 2, replace=False), col] = 0
    return b


def _expand_lanes(record, lanes, int4):
    """The ``lanes`` dense k of one lane-grouped 2:4 record (``SPARSE24_LANES`` /
    ``SPARSE24_INT4_LANES``): the kept values group by group, then a 4-bit code per group."""
    g = lanes // 4
    if int4:
        values = [_int4(record[j], s) for j in range(g) for s in (0, 1)]
        codes_at = g
    else:
        values = [int(np.int8(np.uint8(x))) for x in record[:2 * g]]
        codes_at = 2 * g
    out = [0] * lanes
    for j in range(g):
        code = (record[codes_at + j // 2] >> (4 * (j % 2))) & 0xF
        p0, p1 = code & 3, code >> 2
        for p in range(4):
            out[4 * j + p] = values[2 * j] if p == p0 else values[2 * j + 1] if p == p1 else 0
    return out


@pytest.mark.parametrize("dtype", [np.int8, np.float16])
def test_dense_rows_are_the_transpose(dtype):
    rng = np.random.default_rng(1)
    b = rng.integers(-100, 100, (13, 5)).astype(dtype)
    data, stride, offset = transposed_weights(b)
    assert data == np.ascontiguousarray(b.T).tobytes()
    assert stride == 13 * eb_w(b) and eb_w(b) == np.dtype(dtype).itemsize
    assert [offset(k0) for k0 in (0, 4, 8)] == [0, 4 * eb_w(b), 8 * eb_w(b)]


@pytest.mark.parametrize("tile", [4, 8])
def test_int4_records_are_tile_major(tile):
    rng = np.random.default_rng(2)
    k, n = 21, 6
    b = rng.integers(-8, 8, (k, n)).astype(np.int8)
    data, stride, offset = transposed_weights(b, "int4", tile)
    assert stride == (tile + 1) // 2
    assert len(data) == -(-k // tile) * n * stride
    for k0 in range(0, k, tile):
        for col in range(n):
            rec = data[offset(k0) + col * stride:][:stride]
            got = [_int4(rec[i // 2], i % 2) for i in range(tile)]
            want = list(b[k0:k0 + tile, col]) + [0] * (k0 + tile - k if k0 + tile > k else 0)
            assert got == want


@pytest.mark.parametrize("fmt, lo, hi, tile, stride", [
    ("int8-sparse24", -128, 127, 8, 5),      # 4 values + 1 code byte
    ("int8-sparse24", -128, 127, 4, 3),      # 3-byte records, padded to a bus word
    ("int4-sparse24", -8, 7, 8, 3),          # 2 value bytes + 1 code byte, padded
    ("int4-sparse24", -8, 7, 16, 6),         # 4 value bytes + 2 code bytes
])
def test_lane_sparse_records_expand_to_the_weights(fmt, lo, hi, tile, stride):
    rng = np.random.default_rng(3)
    k, n = 32, 7
    b = _sparse_weights(rng, k, n, lo, hi)
    data, per, offset = transposed_weights(b, fmt, tile)
    assert per == (4 if stride == 3 else stride)
    assert transposed_weights(b, fmt, tile, word_records=False)[1] == stride
    for k0 in range(0, k, tile):
        for col in range(n):
            rec = data[offset(k0) + col * per:][:per]
            assert _expand_lanes(rec, tile, "int4" in fmt) == list(b[k0:k0 + tile, col])
            assert not any(rec[stride:]), "padding bytes are zero"


def test_w4a16_rows_hold_scale_then_values():
    rng = np.random.default_rng(4)
    r, k, n, group = 4, 40, 3, 32
    q = rng.integers(-8, 8, (k, n)).astype(np.int8)
    scales = rng.uniform(-2, 2, (-(-k // group), n)).astype(np.float16)
    data, per = w4a16_rows(q, scales, group, r)
    span = 4 * r
    assert per == 2 + 2 * r
    steps = -(-k // span)
    assert len(data) == steps * n * per
    for t in range(steps):
        for col in range(n):
            rec = data[(t * n + col) * per:][:per]
            assert rec[:2] == scales[(t * span) // group, col].tobytes()
            got = [_int4(rec[2 + i // 2], i % 2) for i in range(span)]
            want = [int(q[kk, col]) if kk < k else 0 for kk in range(t * span, (t + 1) * span)]
            assert got == want


def test_bad_weights_are_refused():
    b = np.zeros((8, 4), np.int8)
    with pytest.raises(ValueError, match="takes weights"):
        transposed_weights(b, "int2")
    with pytest.raises(ValueError, match="tile must be >= 1"):
        transposed_weights(b, "int4", 0)
    with pytest.raises(ValueError, match="K % 4 == 0"):
        transposed_weights(np.zeros((6, 4), np.int8), "int8-sparse24", 4)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        transposed_weights(np.full((8, 4), 9, np.int8), "int4-sparse24", 8)
    with pytest.raises(ValueError, match="group size"):
        w4a16_rows(b, np.ones((1, 4), np.float16), 32, 6)
    assert set(FORMATS) == {"dense", "int4", "int8-sparse24", "int4-sparse24"}
