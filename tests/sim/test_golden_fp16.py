"""FP16 mode of the golden model against the exact rational reference (dure.sim.verif.ieee_exact).

The reference decodes every bit pattern into a Fraction, forms each exact product and exact sum
and rounds it to binary32 with its own round-to-nearest-even, in the contract's order (starting
value, then k = 0 .. K-1). Inputs are drawn to hit the hard cases: ties (small-integer-times-
power-of-two grids), cancellation (paired opposite products), fp16 subnormals, float32 subnormal
and huge starting values, Inf and NaN.
"""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.verif import ieee_exact as ref

SEEDS = list(range(24))


def _fp16_values(rng, shape, specials=False):
    """fp16 arrays mixing several stress distributions element by element."""
    size = int(np.prod(shape))
    kind = rng.integers(0, 5 if specials else 4, size)
    out = np.empty(size, np.uint16)
    # 0: any finite pattern
    finite = rng.integers(0, 0x7C00, size) | (rng.integers(0, 2, size) << 15)
    # 1: grid m * 2**e, few significant bits: sums land on ties often
    grid = (rng.integers(-7, 8, size) * np.exp2(rng.integers(-6, 5, size))).astype(np.float16)
    # 2: subnormals and the smallest normals
    sub = rng.integers(0, 0x0800, size) | (rng.integers(0, 2, size) << 15)
    # 3: values near 1, the usual case
    near = rng.uniform(-2, 2, size).astype(np.float16)
    # 4: Inf, -Inf, NaNs with payloads
    special = rng.choice(np.array([0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55], np.uint16), size)
    out[kind == 0] = finite[kind == 0]
    out[kind == 1] = grid.view(np.uint16)[kind == 1]
    out[kind == 2] = sub[kind == 2]
    out[kind == 3] = near.view(np.uint16)[kind == 3]
    out[kind == 4] = special[kind == 4]
    return out.view(np.float16).reshape(shape)


def _cancelling(rng, m, k, n):
    """a, b where consecutive k pairs give exactly opposite products, plus a small remainder."""
    a = _fp16_values(rng, (m, k))
    b = _fp16_values(rng, (k, n))
    for kk in range(0, k - 1, 2):
        a[:, kk + 1] = a[:, kk]
        b[kk + 1, :] = -b[kk, :]
    return a, b


def _start(rng, m, n, how):
    """Starting values as (bias, init, start_bits for the reference)."""
    if how == "zero":
        return None, None, np.zeros((m, n), np.uint32)
    if how == "bias":
        pick = rng.integers(0, 4, n)
        bias = np.where(pick == 0, rng.integers(0, 0x0080_0000, n),            # subnormal
               np.where(pick == 1, rng.integers(0x7F00_0000, 0x7F80_0000, n),  # huge
               np.where(pick == 2, 0x8000_0000,                              # -0
                        rng.integers(0x3000_0000, 0x5000_0000, n))))         # moderate
        bias = (bias | (rng.integers(0, 2, n) << 31)).astype(np.uint32)
        return bias.view(np.float32), None, np.repeat(bias[None, :], m, axis=0)
    init = rng.integers(0, 0x7F80_0000, (m, n)) | (rng.integers(0, 2, (m, n)) << 31)
    init = init.astype(np.uint32)
    return None, init.view(np.float32), init


def _check_against_reference(a, b, bias, init, start_bits):
    got = golden.bits(golden.gemm_fp16(a, b, bias=bias, init=init))
    want = ref.gemm_fp16_reference(golden.bits(a).tolist(), golden.bits(b).tolist(),
                                   start_bits.tolist())
    assert got.tolist() == want


@pytest.mark.parametrize("seed", SEEDS)
def test_gemm_fp16_matches_exact_reference(seed):
    rng = np.random.default_rng(seed)
    m, n = (int(x) for x in rng.integers(1, 5, 2))
    k = int(rng.integers(0, 48))
    how = ("zero", "bias", "init")[seed % 3]
    bias, init, start = _start(rng, m, n, how)
    if seed % 4 == 3:
        a, b = _cancelling(rng, m, k, n)
    else:
        a, b = _fp16_values(rng, (m, k)), _fp16_values(rng, (k, n))
    _check_against_reference(a, b, bias, init, start)


@pytest.mark.parametrize("seed", SEEDS[:8])
def test_gemm_fp16_specials_match_exact_reference(seed):
    rng = np.random.default_rng(1000 + seed)
    m, n, k = 3, 3, int(rng.integers(1, 12))
    bias, init, start = _start(rng, m, n, ("zero", "bias", "init")[seed % 3])
    a = _fp16_values(rng, (m, k), specials=True)
    b = _fp16_values(rng, (k, n), specials=True)
    _check_against_reference(a, b, bias, init, start)


def test_gemm_fp16_large_k_order_matters():
    """Large K: the sequential order is reproduced, and it differs from numpy's matmul."""
    rng = np.random.default_rng(7)
    a = rng.uniform(-4, 4, (2, 600)).astype(np.float16)
    b = rng.uniform(-4, 4, (600, 2)).astype(np.float16)
    start = np.zeros((2, 2), np.uint32)
    _check_against_reference(a, b, None, None, start)
    sequential = golden.gemm_fp16(a, b)
    blas = a.astype(np.float32) @ b.astype(np.float32)
    assert not np.array_equal(golden.bits(sequential), golden.bits(blas.astype(np.float32)))


@pytest.mark.parametrize("seed", SEEDS[:8])
def test_gemm_fp16_tiling_over_k_is_exact(seed):
    rng = np.random.default_rng(2000 + seed)
    m, n, k = 4, 5, 40
    a, b = _fp16_values(rng, (m, k)), _fp16_values(rng, (k, n))
    bias = rng.uniform(-100, 100, n).astype(np.float32)
    whole = golden.gemm_fp16(a, b, bias=bias)
    cuts = sorted(int(c) for c in rng.integers(0, k + 1, 3))
    part = golden.gemm_fp16(a[:, :cuts[0]], b[:cuts[0]], bias=bias)
    for lo, hi in zip(cuts, [*cuts[1:], k], strict=True):
        part = golden.gemm_fp16(a[:, lo:hi], b[lo:hi], init=part)
    assert golden.bits(part).tolist() == golden.bits(whole).tolist()


# --- IEEE special values and signed zeros ------------------------------------------------------

def _f16(*values):
    return np.array(values, np.float16)


def _one_dot(a_row, b_col, bias=None):
    a = _f16(*a_row)[None, :]
    b = _f16(*b_col)[:, None]
    bias = None if bias is None else np.array([bias], np.float32)
    return int(golden.bits(golden.gemm_fp16(a, b, bias=bias))[0, 0])


def test_nan_inputs_give_canonical_nan():
    nan_payload = np.array([0x7C01, 0xFE55, 0x7E00], np.uint16).view(np.float16)
    for x in nan_payload:
        assert _one_dot([x, 1.0], [1.0, 1.0]) == golden.F32_CANONICAL_NAN
    neg_nan = np.array([0xFFC0_0001], np.uint32).view(np.float32)
    assert int(golden.bits(golden.gemm_fp16(_f16(1.0)[None, :], _f16(2.0)[:, None],
                                            bias=neg_nan))[0, 0]) == golden.F32_CANONICAL_NAN


def test_inf_rules():
    assert _one_dot([np.inf, 1.0], [1.0, 1.0]) == 0x7F80_0000
    assert _one_dot([-np.inf, 1.0], [1.0, 1e4]) == 0xFF80_0000
    assert _one_dot([np.inf, np.inf], [1.0, -1.0]) == golden.F32_CANONICAL_NAN   # Inf - Inf
    assert _one_dot([np.inf], [0.0]) == golden.F32_CANONICAL_NAN                 # Inf * 0
    assert _one_dot([1.0], [1.0], bias=-np.inf) == 0xFF80_0000
    assert _one_dot([np.inf], [1.0], bias=-np.inf) == golden.F32_CANONICAL_NAN


def test_signed_zeros():
    assert _one_dot([-0.0], [0.0], bias=-0.0) == 0x8000_0000     # -0 + -0 = -0
    assert _one_dot([0.0], [0.0], bias=-0.0) == 0x0000_0000      # -0 + +0 = +0 (RNE)
    assert _one_dot([-0.0], [0.0]) == 0x0000_0000                # default start is +0
    assert _one_dot([1.0, -1.0], [1.0, 1.0], bias=-0.0) == 0     # exact cancellation: +0
    empty = golden.gemm_fp16(np.zeros((2, 0), np.float16), np.zeros((0, 1), np.float16),
                             bias=np.array([-0.0], np.float32))
    assert golden.bits(empty).tolist() == [[0x8000_0000], [0x8000_0000]]   # K = 0: bias kept


def test_no_overflow_from_products_near_max():
    top = np.array([[np.finfo(np.float32).max]], np.float32)
    out = golden.gemm_fp16(_f16(65504.0)[None, :], _f16(65504.0)[:, None], init=top)
    assert int(golden.bits(out)[0, 0]) == 0x7F7F_FFFF   # +2**32 is far below half an ulp


def test_subnormal_bias_is_kept():
    sub = np.array([0x0000_0001, 0x8000_0003], np.uint32).view(np.float32)
    out = golden.gemm_fp16(np.zeros((1, 3), np.float16), np.zeros((3, 2), np.float16), bias=sub)
    assert golden.bits(out).tolist() == [[0x0000_0001, 0x8000_0003]]


# --- to_fp16 and fp16_postprocess --------------------------------------------------------------

def _f32_patterns(rng, count):
    """All classes of binary32: random bits, binary16 ties, the overflow edge, NaN payloads."""
    raw = rng.integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32)
    narrow = (rng.integers(0x3300_0000, 0x4780_0000, count)).astype(np.uint32)  # fp16 range
    ties = []
    for h in rng.integers(0, 0x7C00, count // 2):
        lo = int(golden.bits(np.array([h], np.uint16).view(np.float16).astype(np.float32))[0])
        e = max(((lo >> 23) & 0xFF) - 127, -14)
        mid = ref.round_bits(0, ref.decode(lo, ref.F32).mag + ref.pow2(e - 11), ref.F32)
        ties.append(mid | (int(rng.integers(0, 2)) << 31))
    edges = [0x477F_F000, 0x477F_EFFF, 0x477F_E000, 0x3300_0000, 0x3300_0001, 0x3340_0000,
             0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0xFFC1_2345, 0x8000_0000, 0x0000_0001]
    return np.concatenate([raw, narrow, np.array(ties + edges, np.uint32)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_to_fp16_matches_exact_reference_and_numpy(seed):
    pattern = _f32_patterns(np.random.default_rng(seed), 3000)
    x = pattern.view(np.float32)
    got = golden.bits(golden.to_fp16(x))
    want = [ref.f32_to_f16(int(p)) for p in pattern]
    assert got.tolist() == want
    finite = ~np.isnan(x)
    with np.errstate(over="ignore"):
        assert np.array_equal(got[finite], x[finite].astype(np.float16).view(np.uint16))
    assert set(got[~finite].tolist()) == {golden.F16_CANONICAL_NAN}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fp16_postprocess_matches_reference(seed):
    rng = np.random.default_rng(300 + seed)
    m, n = 6, 5
    pool = _f32_patterns(rng, 30)
    acc_bits = pool[rng.integers(0, len(pool), m * n)].reshape(m, n)
    acc = acc_bits.view(np.float32)
    scale = rng.uniform(-3, 3, n).astype(np.float32) * np.float32(2.0 ** int(rng.integers(-8, 9)))
    lo, hi = sorted(float(v) for v in rng.uniform(-5, 5, 2))
    got = golden.bits(golden.fp16_postprocess(acc, scale, lo=lo, hi=hi))
    lo_bits = int(golden.bits(np.float32(lo)))
    hi_bits = int(golden.bits(np.float32(hi)))
    lo_q, hi_q = ref.decode(lo_bits, ref.F32).q, ref.decode(hi_bits, ref.F32).q
    scale_bits = golden.bits(scale).tolist()
    for i in range(m):
        for j in range(n):
            y = ref.f32_mul(int(acc_bits[i, j]), scale_bits[j])
            v = ref.decode(y, ref.F32)
            if v.kind != "nan":
                value = v.q if v.kind == "num" else (-1 if v.sign else 1) * float("inf")
                if value < lo_q:
                    y = lo_bits
                elif value > hi_q:
                    y = hi_bits
            assert int(got[i, j]) == ref.f32_to_f16(y), (i, j)


def test_fp16_postprocess_clamp_rules():
    acc = np.array([[-0.0, -1.0, np.nan, np.inf, -np.inf, 7.0, 3.0]], np.float32)
    relu6 = golden.bits(golden.fp16_postprocess(acc, lo=0.0, hi=6.0)).tolist()
    assert relu6 == [[0x8000, 0x0000, 0x7E00, 0x4600, 0x0000, 0x4600, 0x4200]]
    plain = golden.bits(golden.fp16_postprocess(acc)).tolist()
    assert plain == [[0x8000, 0xBC00, 0x7E00, 0x7C00, 0xFC00, 0x4700, 0x4200]]
    big = golden.fp16_postprocess(np.array([1e30, 65519.0], np.float32), scale=np.float32(1.0))
    assert golden.bits(big).tolist() == [0x7C00, 0x7BFF]


def test_dequantize_fp16_matches_reference():
    rng = np.random.default_rng(11)
    acc = np.concatenate([rng.integers(-2**31, 2**31, 40), [2**31 - 1, -2**31, 16777217, 0, -1]])
    acc = acc.astype(np.int32).reshape(5, 9)
    scale = (rng.uniform(0.5, 1, 9) * np.exp2(rng.integers(-40, 5, 9))).astype(np.float32)
    got = golden.bits(golden.dequantize_fp16(acc, scale))
    scale_bits = golden.bits(scale).tolist()
    for (i, j), value in np.ndenumerate(acc):
        want = ref.f32_to_f16(ref.f32_mul(ref.int_to_f32(int(value)), scale_bits[j]))
        assert int(got[i, j]) == want, (i, j)
