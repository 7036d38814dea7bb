"""Fp32ToInt8Rne against np.clip(np.rint(x) + zp, lo, hi) (ties to even, NaN as 0)."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp32ToInt8Rne


def reference(x, zp, lo, hi):
    with np.errstate(invalid="ignore"):          # signalling NaNs
        f = x.astype(np.uint32).view(np.float32).astype(np.float64)
    r = np.rint(np.nan_to_num(f, nan=0.0, posinf=1e9, neginf=-1e9))
    return np.minimum(np.maximum(r + zp, lo), hi).astype(np.int64)


def operands(fpv, rng, n):
    """Values up to a few hundred with many exact halves, rare huge ones; random parameters."""
    halves = (rng.integers(-600, 600, n) + 0.5).astype(np.float32).view(np.uint32)
    near = rng.normal(0, 150, n).astype(np.float32).view(np.uint32)
    exp = np.where(rng.random(n) < 0.8, rng.integers(118, 140, n), fpv.exponents(rng, n, 8))
    wide = fpv.pack(rng.integers(0, 2, n), exp, fpv.fractions(rng, n, 23), 8, 23)
    pick = rng.integers(0, 3, n)
    x = np.where(pick == 0, halves, np.where(pick == 1, near, wide)).astype(np.uint64)
    zp = rng.integers(-128, 128, n)
    lo = rng.integers(-128, 128, n)
    hi = rng.integers(-128, 128, n)
    full = rng.random(n) < 0.3                      # the usual int8 range, ReLU at zp
    lo = np.where(full, np.where(rng.random(n) < 0.5, -128, zp), lo)
    hi = np.where(full, 127, hi)
    ordered = rng.random(n) < 0.9                   # lo <= hi, as configurations should be
    lo, hi = np.where(ordered, np.minimum(lo, hi), lo), np.where(ordered, np.maximum(lo, hi), hi)
    return x, zp, lo, hi


def check(model, x, zp, lo, hi, **kwargs):
    out = model.run(i_x=x, i_zp=zp, i_lo=lo, i_hi=hi, **kwargs)
    got = out["o_y"].astype(np.uint8).view(np.int8).astype(np.int64)
    want = reference(x, zp, lo, hi)
    bad = np.flatnonzero(got != want)
    detail = ", ".join(f"x={int(x[k]):#010x} zp={zp[k]} [{lo[k]}, {hi[k]}] -> {got[k]} "
                       f"(numpy {want[k]})" for k in bad[:8])
    assert not len(bad), f"{len(bad)} of {len(x)} wrong: {detail}"
    assert np.all(out["latency"] == Fp32ToInt8Rne.LATENCY)


def test_classes(fpv, vector_model):
    x = np.array(fpv.FP32_CLASSES + [0x3F000000, 0xBF000000, 0x3FC00000, 0xC0200000,
                                     0x43000000, 0xC3000000, 0x447FC000, 0x44800000], np.uint64)
    x, zp = np.repeat(x, 3), np.tile(np.array([0, 5, -3]), len(x))
    check(vector_model(Fp32ToInt8Rne), x, zp, np.full(len(x), -128), np.full(len(x), 127))


def test_million_random(fpv, vector_model):
    rng = np.random.default_rng(20260526)
    check(vector_model(Fp32ToInt8Rne), *operands(fpv, rng, 1_000_000), stall_per_mille=100,
          gap_per_mille=100, seed=8)


def test_pipeline_contract(fpv, check_contract):
    x, zp, lo, hi = operands(fpv, np.random.default_rng(11), 24)
    want = reference(x, zp, lo, hi)
    check_contract(Fp32ToInt8Rne(),
                   [{"i_x": int(a), "i_zp": int(b), "i_lo": int(c), "i_hi": int(d)}
                    for a, b, c, d in zip(x, zp, lo, hi, strict=True)],
                   [{"o_y": int(y)} for y in want], Fp32ToInt8Rne.LATENCY)


@pytest.mark.slow
def test_ten_million_random(fpv, vector_model):
    rng = np.random.default_rng(94)
    for _ in range(10):
        check(vector_model(Fp32ToInt8Rne), *operands(fpv, rng, 1_000_000))
