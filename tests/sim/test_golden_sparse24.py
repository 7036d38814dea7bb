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


# Skipping the zero MACs: the compressed pair times the gathered activations.

@pytest.mark.parametrize("seed", range(4))
def test_skip_int8_is_the_dense_gemm_of_the_expanded_weights(seed):
    rng = np.random.default_rng(4800 + seed)
    m, k, n = int(rng.integers(1, 5)), 4 * int(rng.integers(1, 40)), int(rng.integers(1, 20))
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = _sparse(rng, k, n, np.int8)
    if seed % 2:                                    # int4 values (W4A8 2:4)
        w = np.clip(w, -8, 7).astype(np.int8)
    bias = rng.integers(-2**31, 2**31, n).astype(np.int32)   # wraps modulo 2**32 in both
    values, meta = gs.compress_24(w)
    got = gs.gemm_sparse24_skip_int8(a, values, meta, bias)
    np.testing.assert_array_equal(got, golden.gemm_int8(a, w, bias))
    np.testing.assert_array_equal(gs.gemm_sparse24_skip_int8(a, values, meta),
                                  golden.gemm_int8(a, w))


def test_skip_int8_by_hand():
    # Column 0: group [0, 5, 0, -2] keeps 5 at 1 and -2 at 3: a[1] * 5 + a[3] * -2 only.
    w = np.array([[0, 0], [5, 0], [0, 3], [-2, 0], [1, 0], [0, 0], [0, -4], [0, 0]], np.int8)
    a = np.array([[100, 7, -9, 11, -128, 127, 6, 42]], np.int8)
    values, meta = gs.compress_24(w)
    p0, p1 = gs.kept_positions(values, meta)
    assert p0.tolist() == [[1, 0], [4, 4]] and p1.tolist() == [[3, 2], [5, 6]]
    want = [7 * 5 + 11 * -2 + -128 * 1, -9 * 3 + 6 * -4]
    assert gs.gemm_sparse24_skip_int8(a, values, meta).tolist() == [want]


def _finite_fp16(rng, shape):
    bits = rng.integers(0, 0x7C00, shape).astype(np.uint16)     # every finite magnitude
    bits |= (rng.integers(0, 2, shape) << 15).astype(np.uint16)  # signed zeros included
    return bits.view(np.float16)


@pytest.mark.parametrize("seed", range(4))
def test_skip_fp16_equals_dense_for_finite_activations(seed):
    rng = np.random.default_rng(4900 + seed)
    m, k, n = int(rng.integers(1, 4)), 4 * int(rng.integers(1, 20)), int(rng.integers(1, 12))
    a = _finite_fp16(rng, (m, k))
    w = _sparse(rng, k, n, np.float16)
    kept = w.view(np.uint16) != 0
    w[kept & (rng.random(w.shape) < 0.1)] = np.float16(-0.0)   # -0 is a kept value
    bias = rng.normal(0, 4, n).astype(np.float32) if seed % 2 else None
    values, meta = gs.compress_24(w)
    got = gs.gemm_sparse24_skip_fp16(a, values, meta, bias)
    want = golden.gemm_fp16(a, gs.expand_24(values, meta), bias)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_skip_fp16_differs_only_where_a_skipped_term_decides():
    # One group of zeros (kept at 0 and 1), k = 2 and 3 skipped.
    w = np.zeros((4, 1), np.float16)
    values, meta = gs.compress_24(w)
    # An Inf at a skipped position: dense Inf * 0 = NaN, the skipped sum never sees it.
    a = np.array([[1, 2, np.inf, 3]], np.float16)
    assert golden.gemm_fp16(a, w).view(np.uint32).tolist() == [[0x7FC00000]]
    assert gs.gemm_sparse24_skip_fp16(a, values, meta).view(np.uint32).tolist() == [[0]]
    # A -0 start: kept products -0 keep it -0, the dense sum's skipped +0 products make +0.
    a = np.array([[-1, -1, 1, 1]], np.float16)
    bias = np.array([-0.0], np.float32)
    assert golden.gemm_fp16(a, w, bias).view(np.uint32).tolist() == [[0]]
    assert gs.gemm_sparse24_skip_fp16(a, values, meta, bias).view(np.uint32).tolist() == \
        [[0x80000000]]


def test_skip_refuses_bad_operands():
    values, meta = gs.compress_24(np.zeros((8, 3), np.int8))
    with pytest.raises(ValueError, match="K=4 columns"):
        gs.gemm_sparse24_skip_int8(np.zeros((1, 4), np.int8), values, meta)
    with pytest.raises(TypeError, match="a must be a 2-D numpy int8"):
        gs.gemm_sparse24_skip_int8(np.zeros((1, 8), np.float16), values, meta)
    with pytest.raises(TypeError, match="values must be float16"):
        gs.gemm_sparse24_skip_fp16(np.zeros((1, 8), np.float16), values, meta)
    bad = meta.copy()
    bad[1, 0] = 0x11                                     # p0 = p1 = 1 in column 0
    with pytest.raises(ValueError, match="group 1, column 0"):
        gs.gemm_sparse24_skip_int8(np.zeros((1, 8), np.int8), values, bad)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        gs.gemm_sparse24_skip_int8(np.zeros((1, 8), np.int8), values, meta,
                                   np.zeros(2, np.int32))


# Base-6 position codes: three groups per byte.

@pytest.mark.parametrize("seed", range(3))
def test_pair_codes_round_trip(seed):
    rng = np.random.default_rng(5000 + seed)
    k, n = 4 * int(rng.integers(1, 30)), int(rng.integers(1, 11))
    values, meta = gs.compress_24(_sparse(rng, k, n, np.int8))
    packed = gs.pack_pair_codes(meta, n)
    assert packed.shape == (-(-(k // 4) // 3), n) and packed.max() <= 215
    np.testing.assert_array_equal(gs.unpack_pair_codes(packed, k, n), meta)


def test_pair_codes_by_hand():
    # Groups of column 0: pairs (1, 3), (0, 1), (2, 3) -> indices 4, 0, 5 -> 4 + 0 + 180.
    w = np.zeros((12, 1), np.int8)
    w[[1, 3, 4, 5, 10, 11], 0] = [1, 2, 3, 4, 5, 6]
    _, meta = gs.compress_24(w)
    assert gs.pack_pair_codes(meta, 1).tolist() == [[184]]
    assert gs.PAIRS[4] == (1, 3) and gs.PAIRS[5] == (2, 3)
    # 1024 k of a column: 256 bytes of int4 kept values and 86 of codes (4-bit codes: 128).
    assert gs.pack_pair_codes(np.zeros((256, 1), np.uint8) | 0x4, 1).shape == (86, 1)


def test_pair_codes_refuse_bad_input():
    with pytest.raises(ValueError, match="group 0, column 1"):
        gs.pack_pair_codes(np.array([[0x04 | 0x50]], np.uint8), 2)   # column 1: p0 = p1 = 1
    with pytest.raises(ValueError, match="above 215"):
        gs.unpack_pair_codes(np.array([[216]], np.uint8), 12, 1)
    with pytest.raises(ValueError, match=r"shape \(1, 1\)"):
        gs.unpack_pair_codes(np.zeros((2, 1), np.uint8), 12, 1)
