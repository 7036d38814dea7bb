"""INT8 mode of the golden model, its helpers and its input checks, against independent references.

- gemm_int8 against Python integers with an explicit modulo-2**32 wrap;
- requantize against an exact rational reference (int -> binary32 RNE, binary32 product RNE,
  round-half-even to integer, all done on Fractions in dure.sim.verif.ieee_exact);
- requantize / gemm_int8 / dequantize against onnxruntime: see test_golden_onnx.py.
"""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.verif import ieee_exact as ref

SEEDS = list(range(20))


def _wrap32(x):
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def _gemm_int8_reference(a, b, bias):
    a, b = a.tolist(), b.tolist()
    m, k_len, n = len(a), len(b), len(b[0]) if b else 0
    start = bias.tolist() if bias is not None else [0] * n
    return [[_wrap32(start[j] + sum(a[i][k] * b[k][j] for k in range(k_len))) for j in range(n)]
            for i in range(m)]


@pytest.mark.parametrize("seed", SEEDS)
def test_gemm_int8_matches_python_integers(seed):
    rng = np.random.default_rng(seed)
    m, n = (int(x) for x in rng.integers(1, 7, 2))
    k = int(rng.integers(0, 300))
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    if seed % 3 == 1:                      # extremes only
        a = rng.choice(np.array([-128, 127], np.int8), (m, k))
        b = rng.choice(np.array([-128, 127], np.int8), (k, n))
    bias = None
    if seed % 2 == 0:                      # full-range bias, including values near the edges
        bias = rng.integers(-2**31, 2**31, n).astype(np.int32)
        bias[0] = np.int32(2**31 - 1 if seed % 4 == 0 else -2**31)
    got = golden.gemm_int8(a, b, bias)
    assert got.dtype == np.int32 and got.shape == (m, n)
    assert got.tolist() == _gemm_int8_reference(a, b, bias)


def test_gemm_int8_wraps_modulo_2_32():
    k = 140_000                            # 140000 * 16384 > 2**31: the accumulator wraps
    a = np.full((2, k), -128, np.int8)
    b = np.full((k, 3), -128, np.int8)
    b[::7, 1] = 127
    bias = np.array([2**31 - 1, -2**31, 5], np.int32)
    assert golden.gemm_int8(a, b, bias).tolist() == _gemm_int8_reference(a, b, bias)
    assert int(golden.gemm_int8(a, b)[0, 0]) == _wrap32(k * 16384)
    assert int(golden.gemm_int8(a[:, :131071], b[:131071])[0, 0]) == 131071 * 16384  # no wrap


def test_gemm_int8_bias_wraps():
    a = np.array([[1]], np.int8)
    b = np.array([[1]], np.int8)
    assert golden.gemm_int8(a, b, np.array([2**31 - 1], np.int32)).tolist() == [[-2**31]]
    empty = golden.gemm_int8(np.zeros((2, 0), np.int8), np.zeros((0, 2), np.int8),
                             np.array([7, -7], np.int32))
    assert empty.tolist() == [[7, -7], [7, -7]]


# --- requantize against the exact rational reference -----------------------------------------

def _requantize_reference(acc, scale_bits, zp, lo, hi):
    product = ref.decode(ref.f32_mul(ref.int_to_f32(acc), scale_bits), ref.F32)
    assert product.kind != "nan"
    if product.kind == "inf":
        rounded = -(1 << 40) if product.sign else 1 << 40
    else:
        rounded = ref.rne_int(product.q)
    return min(max(rounded + zp, lo), hi)


def _accumulators(rng, shape):
    """int32 values of every size, with many exact binary32 / half-integer ties."""
    size = int(np.prod(shape))
    pick = rng.integers(0, 4, size)
    full = rng.integers(-2**31, 2**31, size)
    small = rng.integers(-3000, 3000, size)
    above24 = rng.choice([-1, 1], size) * rng.integers(2**24, 2**31, size)   # f32() rounds
    edges = rng.choice(np.array([0, 1, -1, 2**31 - 1, -2**31, 2**24 + 1, -(2**24 + 3)]), size)
    out = np.where(pick == 0, full, np.where(pick == 1, small, np.where(pick == 2, above24, edges)))
    return out.astype(np.int32).reshape(shape)


def _scales(rng, n):
    """float32 scales: typical, exact powers of two (ties), huge (Inf), tiny, subnormal, zero."""
    pick = rng.integers(0, 6, n)
    typical = rng.uniform(0.5, 1.0, n) * np.exp2(rng.integers(-24, -2, n))
    pow2 = np.exp2(rng.integers(-12, 1, n)) * rng.choice([1.0, 1.5, 2.5], n)
    huge = rng.uniform(1, 3, n) * 1e38
    tiny = np.exp2(rng.integers(-149, -120, n))
    zero = np.zeros(n)
    scale = np.select([pick == 0, pick == 1, pick == 2, pick == 3, pick == 4],
                      [typical, pow2, huge, tiny, zero], typical)
    sign = rng.choice([1.0, 1.0, 1.0, -1.0], n)
    return (scale * sign).astype(np.float32)


@pytest.mark.parametrize("seed", SEEDS)
def test_requantize_matches_exact_reference(seed):
    rng = np.random.default_rng(seed)
    m, n = 12, 8
    acc = _accumulators(rng, (m, n))
    scale = _scales(rng, n)
    zp = int(rng.integers(-128, 128)) if seed % 2 else rng.integers(-128, 128, n).astype(np.int8)
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if seed % 3 else (-128, 127)
    got = golden.requantize(acc, scale, zp, lo, hi)
    assert got.dtype == np.int8 and got.shape == acc.shape
    scale_bits = golden.bits(scale).tolist()
    zps = np.broadcast_to(np.asarray(zp, np.int64), (n,)).tolist()
    want = [[_requantize_reference(int(acc[i, j]), scale_bits[j], zps[j], lo, hi)
             for j in range(n)] for i in range(m)]
    assert got.tolist() == want


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_requantize_near_ties_matches_exact_reference(seed):
    """Scales aimed at (t + 0.5) / acc: the binary32 roundings of acc and of the product decide.

    Rounding acc or the product in higher precision would move many of these off the tie.
    """
    rng = np.random.default_rng(500 + seed)
    n = 400
    big = rng.choice([-1, 1], n) * rng.integers(2**24, 2**31, n)
    acc = np.where(rng.integers(0, 2, n) == 0, rng.integers(-5000, 5000, n), big).astype(np.int32)
    acc[acc == 0] = 1
    target = rng.integers(-140, 140, n) + 0.5
    scale = (target / acc.astype(np.float64)).astype(np.float32)
    zp = int(rng.integers(-20, 20))
    got = golden.requantize(acc, scale, zp)
    scale_bits = golden.bits(scale).tolist()
    want = [_requantize_reference(int(acc[j]), scale_bits[j], zp, -128, 127) for j in range(n)]
    assert got.tolist() == want


def test_requantize_rounds_acc_and_product_to_binary32():
    # f32(2**24 + 1) = 2**24 (tie to even), and 2**24 * (129 * 2**-25) = 64.5 -> 64; the exact
    # (2**24 + 1) * 129 * 2**-25 would give 65.
    assert golden.requantize(np.array([2**24 + 1], np.int32), 129 * 2.0**-25, 0).tolist() == [64]
    # 3 * f32(21.5 / 3) is 21.5 - 2**-21 exactly but rounds to 21.5 in binary32 -> 22 (even).
    s = np.float32(21.5 / 3)
    assert 3 * float(s) != 21.5 and float(np.float32(3) * s) == 21.5
    assert golden.requantize(np.array([3], np.int32), s, 0).tolist() == [22]


def test_requantize_ties_to_even():
    acc = np.array([1, 3, 5, 7, -1, -3, -5, 0], np.int32)
    assert golden.requantize(acc, 0.5, 0).tolist() == [0, 2, 2, 4, 0, -2, -2, 0]
    assert golden.requantize(acc, 0.5, 1).tolist() == [1, 3, 3, 5, 1, -1, -1, 1]
    assert golden.requantize(acc, 1.5, 0).tolist() == [2, 4, 8, 10, -2, -4, -8, 0]


def test_requantize_saturates_and_clamps():
    acc = np.array([[2**31 - 1, -2**31, 100, -100, 0]], np.int32)
    assert golden.requantize(acc, 1.0, 0).tolist() == [[127, -128, 100, -100, 0]]
    assert golden.requantize(acc, 3e38, -128).tolist() == [[127, -128, 127, -128, -128]]
    assert golden.requantize(acc, 1.0, 120).tolist() == [[127, -128, 127, 20, 120]]  # no wrap
    assert golden.requantize(acc, 1.0, -10, lo=-10, hi=6).tolist() == [[6, -10, 6, -10, -10]]
    per_channel = golden.requantize(acc, np.array([1, 1, 1, -1, 1], np.float32),
                                    np.array([0, 0, 0, 0, 5], np.int8))
    assert per_channel.tolist() == [[127, -128, 100, 100, 5]]


def test_requantize_accepts_one_dimensional_acc_and_scalar_forms():
    acc = np.array([10, 11, 25], np.int32)
    for scale in (0.1, np.float32(0.1), np.array(0.1, np.float32), np.full(3, 0.1, np.float32)):
        for zp in (2, np.int8(2), np.array([2, 2, 2], np.int32)):
            assert golden.requantize(acc, scale, zp).tolist() == [3, 3, 4]   # 2.5 -> 2


# --- helpers -----------------------------------------------------------------------------------

def test_bits_and_canonicalize_nan():
    x = np.array([0x7C01, 0xFE00, 0x8000, 0x3C00], np.uint16).view(np.float16)
    assert golden.bits(x).tolist() == [0x7C01, 0xFE00, 0x8000, 0x3C00]
    assert golden.bits(golden.canonicalize_nan(x)).tolist() == [0x7E00, 0x7E00, 0x8000, 0x3C00]
    y = np.array([0xFF80_0001, 0x7F80_0000], np.uint32).view(np.float32)
    assert golden.bits(golden.canonicalize_nan(y)).tolist() == [0x7FC0_0000, 0x7F80_0000]
    assert golden.bits(np.array([-1], np.int8)).tolist() == [0xFF]
    assert golden.bits(np.array([-1], np.int32)).tolist() == [0xFFFF_FFFF]
    assert int(golden.bits(np.float32(-0.0))) == 0x8000_0000


# --- input validation --------------------------------------------------------------------------

I8 = np.zeros((2, 3), np.int8)
I8B = np.zeros((3, 4), np.int8)
F16A = np.zeros((2, 3), np.float16)
F16B = np.zeros((3, 4), np.float16)
ACC = np.zeros((2, 4), np.int32)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: golden.gemm_int8(I8.astype(np.int16), I8B), TypeError, "a must have dtype int8"),
    (lambda: golden.gemm_int8([[1]], I8B), TypeError, "a must be a numpy int8 array"),
    (lambda: golden.gemm_int8(I8, I8B[:2]), ValueError, "K mismatch"),
    (lambda: golden.gemm_int8(I8[0], I8B), ValueError, "a must be 2-D"),
    (lambda: golden.gemm_int8(I8, I8B, np.zeros(3, np.int32)), ValueError, "bias has length"),
    (lambda: golden.gemm_int8(I8, I8B, np.zeros(4, np.int64)), TypeError, "bias must have"),
    (lambda: golden.gemm_fp16(F16A, F16B.astype(np.float32)), TypeError, "b must have dtype"),
    (lambda: golden.gemm_fp16(F16A, F16B[:1]), ValueError, "K mismatch"),
    (lambda: golden.gemm_fp16(F16A, F16B, np.zeros(4, np.float16)), TypeError, "bias"),
    (lambda: golden.gemm_fp16(F16A, F16B, init=np.zeros((4, 2), np.float32)), ValueError,
     "init must have the output shape"),
    (lambda: golden.gemm_fp16(F16A, F16B, np.zeros(4, np.float32), np.zeros((2, 4), np.float32)),
     ValueError, "bias or init"),
    (lambda: golden.requantize(ACC.astype(np.int64), 1.0, 0), TypeError, "acc must have"),
    (lambda: golden.requantize(ACC, np.ones(3, np.float32), 0), ValueError, "scale must be"),
    (lambda: golden.requantize(ACC, np.ones(4), 0), TypeError, "scale must be float32"),
    (lambda: golden.requantize(ACC, np.float32(np.inf), 0), ValueError, "finite"),
    (lambda: golden.requantize(ACC, float("nan"), 0), ValueError, "finite"),
    (lambda: golden.requantize(ACC, 1.0, 200), ValueError, "zero_point must lie"),
    (lambda: golden.requantize(ACC, 1.0, 0.5), TypeError, "zero_point must be an integer"),
    (lambda: golden.requantize(ACC, 1.0, 0, lo=5, hi=4), ValueError, "must not exceed"),
    (lambda: golden.requantize(ACC, 1.0, 0, lo=-129), ValueError, "lo must lie"),
    (lambda: golden.requantize(ACC, 1.0, 0, hi=1.5), TypeError, "hi must be an integer"),
    (lambda: golden.dequantize_fp16(ACC, np.ones(5, np.float32)), ValueError, "scale must be"),
    (lambda: golden.to_fp16(np.zeros(3)), TypeError, "x must be float32"),
    (lambda: golden.fp16_postprocess(ACC, None), TypeError, "acc_f32 must have dtype float32"),
    (lambda: golden.fp16_postprocess(ACC.astype(np.float32), lo=1.0, hi=0.0), ValueError,
     "must not exceed"),
    (lambda: golden.fp16_postprocess(ACC.astype(np.float32), lo=float("nan")), ValueError,
     "lo must not be NaN"),
    (lambda: golden.bits([1.0]), TypeError, "numpy array"),
    (lambda: golden.canonicalize_nan(np.zeros(2, np.int32)), TypeError, "float16/32/64"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
