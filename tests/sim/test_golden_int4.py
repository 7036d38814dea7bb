"""The 4-bit weight golden model (sim/golden_int4.py) against independent per-element code."""

from fractions import Fraction

import numpy as np
import pytest
from dure.sim import golden
from dure.sim import golden_int4 as g4


def _int4(rng, shape):
    return rng.integers(-8, 8, shape).astype(np.int8)


def test_packing_is_low_nibble_first():
    q = np.array([[1, -1, 7], [-8, 0, 3]], np.int8)
    packed = g4.pack_int4(q)
    assert packed.tolist() == [[0xF1, 0x07], [0x08, 0x03]]
    np.testing.assert_array_equal(g4.unpack_int4(packed, 3), q)


@pytest.mark.parametrize("seed", range(5))
def test_pack_unpack_round_trip(seed):
    rng = np.random.default_rng(4400 + seed)
    q = _int4(rng, (int(rng.integers(1, 20)), int(rng.integers(1, 40))))
    packed = g4.pack_int4(q)
    assert packed.shape == (q.shape[0], (q.shape[1] + 1) // 2)
    np.testing.assert_array_equal(g4.unpack_int4(packed, q.shape[1]), q)


def test_bad_int4_input_is_named():
    with pytest.raises(ValueError, match=r"q\[0, 1\] = 8"):
        g4.pack_int4(np.array([[0, 8]], np.int8))
    with pytest.raises(ValueError, match="high nibble"):
        g4.unpack_int4(np.array([[0x10]], np.uint8), 1)
    with pytest.raises(ValueError, match="group_size"):
        g4.dequantize_w4a16(np.zeros((4, 1), np.int8), np.ones((1, 1), np.float16), 16)
    with pytest.raises(ValueError, match="finite"):
        g4.dequantize_w4a16(np.zeros((4, 1), np.int8), np.full((1, 1), np.inf, np.float16), 32)


def _fp16_rne(value):
    """binary16 bits of an exact rational, by hand (RNE, subnormals, overflow to Inf)."""
    if value == 0:
        return None
    sign = 0x8000 if value < 0 else 0
    mag = abs(value)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    while Fraction(2) ** e > mag:
        e -= 1
    while Fraction(2) ** (e + 1) <= mag:
        e += 1
    e = max(e, -14)                               # subnormal range shares the -14 exponent
    ulp = Fraction(2) ** (e - 10)
    steps = mag / ulp
    r = int(steps)
    rem = steps - r
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and r % 2):
        r += 1
    if r == 2048:
        r, e = 1024, e + 1
    if e > 15:
        return sign | 0x7C00
    if r < 1024:                                  # subnormal (e == -14)
        return sign | r
    return sign | ((e + 15) << 10) | (r - 1024)


@pytest.mark.parametrize("seed", range(4))
def test_w4a16_dequantization_rounds_the_exact_product_once(seed):
    rng = np.random.default_rng(4500 + seed)
    k, n, gsize = 96, 5, 32
    q = _int4(rng, (k, n))
    raw = rng.integers(0, 0x7C00, (k // gsize, n), dtype=np.uint16)   # finite, any magnitude
    raw |= (rng.random(raw.shape) < 0.5).astype(np.uint16) << 15
    scales = raw.view(np.float16)
    w = g4.dequantize_w4a16(q, scales, gsize).view(np.uint16)
    for kk in range(k):
        for nn in range(n):
            s = scales[kk // gsize, nn]
            exact = Fraction(int(q[kk, nn])) * Fraction(float(s))
            want = _fp16_rne(exact)
            if want is None:      # a zero: the IEEE sign of float32(q) * s (q = 0 is +0.0)
                want = 0x8000 if (q[kk, nn] < 0) != bool(np.signbit(s)) else 0
            assert w[kk, nn] == want, (kk, nn, q[kk, nn], s)


def test_w4a8_and_w4a16_are_the_dense_contract():
    rng = np.random.default_rng(4600)
    a8 = rng.integers(-128, 128, (3, 70)).astype(np.int8)
    q = _int4(rng, (70, 9))
    bias = rng.integers(-1000, 1000, 9).astype(np.int32)
    want = (a8.astype(np.int64) @ q.astype(np.int64) + bias).astype(np.int32)
    np.testing.assert_array_equal(g4.gemm_w4a8(a8, q, bias), want)
    a16 = rng.normal(0, 1, (3, 70)).astype(np.float16)
    scales = rng.uniform(0.01, 0.1, (3, 9)).astype(np.float16)
    w = g4.dequantize_w4a16(q, scales, 32)
    np.testing.assert_array_equal(g4.gemm_w4a16(a16, q, scales, 32).view(np.uint32),
                                  golden.gemm_fp16(a16, w).view(np.uint32))
