"""The 2:4-sparse golden model (sim/golden_sparse24.py): compression is lossless, the format is
the documented one, malformed input is refused with a message naming the place."""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim import golden_sparse24 as gs


def _sparse(rng, k, n, dtype):
    w = (rng.integers(-128, 128, (k, n)).astype(np.int8) if dtype == np.int8
         else rng.normal(0, 2, (k, n)).astype(np.float16))
    keep = np.zeros((k // 4, 4, n), bool)
    for g in range(k // 4):
        for c in range(n):
            count = int(rng.integers(0, 3))
            keep[g, rng.choice(4, count, replace=False), c] = True
    return np.where(keep.reshape(k, n), w, np.zeros((), dtype)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.float16])
@pytest.mark.parametrize("seed", range(4))
def test_expand_of_compress_is_identity(dtype, seed):
    rng = np.random.default_rng(4700 + seed)
    k, n = 4 * int(rng.integers(1, 12)), int(rng.integers(1, 13))
    w = _sparse(rng, k, n, dtype)
    values, meta = gs.compress_24(w)
    assert values.shape == (k // 2, n) and meta.shape == (k // 4, (n + 1) // 2)
    back = gs.expand_24(values, meta)
    np.testing.assert_array_equal(back.view(np.uint8 if dtype == np.int8 else np.uint16),
                                  w.view(np.uint8 if dtype == np.int8 else np.uint16))


def test_the_documented_layout():
    # Column 0: group [0, 5, 0, -2] -> values 5, -2 at positions 1, 3 (code 1 | 3 << 2 = 0xD).
    # Column 1: group [0, 0, 0, 0] -> zeros at positions 0, 1 (code 0 | 1 << 2 = 0x4).
    # Column 2: group [7, 0, 0, 0] -> 7 at 0 and a zero at 1 (code 0x4).
    w = np.array([[0, 0, 7], [5, 0, 0], [0, 0, 0], [-2, 0, 0]], np.int8)
    values, meta = gs.compress_24(w)
    assert values.tolist() == [[5, 0, 7], [-2, 0, 0]]
    assert meta.tolist() == [[0x4D, 0x04]]


def test_negative_zero_is_kept():
    w = np.zeros((4, 1), np.float16)
    w[2, 0] = -0.0
    values, meta = gs.compress_24(w)
    assert gs.expand_24(values, meta).view(np.uint16)[2, 0] == 0x8000


def test_dense_groups_and_bad_codes_are_refused():
    w = np.zeros((8, 3), np.int8)
    w[4:7, 2] = 1
    with pytest.raises(ValueError, match="column 2, rows 4..7 hold 3"):
        gs.compress_24(w)
    with pytest.raises(ValueError, match="K % 4"):
        gs.compress_24(np.zeros((6, 1), np.int8))
    values = np.zeros((2, 1), np.int8)
    with pytest.raises(ValueError, match="two increasing positions"):
        gs.expand_24(values, np.array([[0x5]], np.uint8))     # p0 = p1 = 1


@pytest.mark.parametrize("seed", range(3))
def test_sparse_gemm_is_the_dense_gemm(seed):
    rng = np.random.default_rng(4800 + seed)
    w8 = _sparse(rng, 32, 7, np.int8)
    a8 = rng.integers(-128, 128, (5, 32)).astype(np.int8)
    np.testing.assert_array_equal(gs.gemm_sparse24_int8(a8, *gs.compress_24(w8)),
                                  golden.gemm_int8(a8, w8))
    w16 = _sparse(rng, 32, 7, np.float16)
    a16 = rng.normal(0, 1, (5, 32)).astype(np.float16)
    np.testing.assert_array_equal(gs.gemm_sparse24_fp16(a16, *gs.compress_24(w16)).view(np.uint32),
                                  golden.gemm_fp16(a16, w16).view(np.uint32))
