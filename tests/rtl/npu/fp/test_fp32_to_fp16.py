"""Fp32ToFp16 against numpy's astype(float16) (RNE, overflow to Inf, subnormals kept)."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp32ToFp16


def values(fpv, rng, n):
    """fp32 patterns with exponents around the fp16 range, fractions set up for ties."""
    exp = np.where(rng.random(n) < 0.7, rng.integers(112 - 14, 112 + 33, n),
                   fpv.exponents(rng, n, 8))
    frac = fpv.fractions(rng, n, 23)
    low = rng.integers(0, 4, n)
    frac = np.where(low == 0, frac & ~0x1FFF | 0x1000, frac)      # exact ties at fp16 normals
    return fpv.pack(rng.integers(0, 2, n), exp, frac, 8, 23)


def reference(fpv, x):
    with np.errstate(invalid="ignore", over="ignore"):   # signalling NaNs, overflow to Inf
        return fpv.canon16(x.astype(np.uint32).view(np.float32).astype(np.float16))


def check(fpv, model, x, **kwargs):
    out = model.run(i_a=x, **kwargs)
    got = out["o_z"].astype(np.uint16)
    want = reference(fpv, x)
    bad = np.flatnonzero(got != want)
    detail = ", ".join(f"{int(x[k]):#010x} -> {int(got[k]):#06x} (numpy {int(want[k]):#06x})"
                       for k in bad[:8])
    assert not len(bad), f"{len(bad)} of {len(x)} wrong: {detail}"
    assert np.all(out["latency"] == Fp32ToFp16.LATENCY)


def test_classes(fpv, vector_model):
    check(fpv, vector_model(Fp32ToFp16), np.array(fpv.FP32_CLASSES, np.uint64))


def test_every_exponent(fpv, vector_model):
    # Every sign and exponent with 4096 fractions: all tie, round and overflow boundaries.
    fracs = np.concatenate([np.arange(0, 1 << 23, 1 << 13),            # exact in fp16 normals
                            np.arange(0, 1 << 23, 1 << 13) + 0x1000,   # ties
                            np.arange(0, 1 << 23, 1 << 13) + 0x0FFF,
                            np.arange(0, 1 << 23, 1 << 13) + 0x1001])
    sign, exp, frac = np.meshgrid(np.arange(2), np.arange(256), fracs, indexing="ij")
    check(fpv, vector_model(Fp32ToFp16), fpv.pack(sign.ravel(), exp.ravel(), frac.ravel(), 8, 23))


def test_million_random(fpv, vector_model):
    rng = np.random.default_rng(20260525)
    check(fpv, vector_model(Fp32ToFp16), values(fpv, rng, 1_000_000), stall_per_mille=100,
          gap_per_mille=100, seed=7)


def test_pipeline_contract(fpv, check_contract):
    x = values(fpv, np.random.default_rng(10), 24)
    want = reference(fpv, x)
    check_contract(Fp32ToFp16(), [{"i_a": int(v)} for v in x], [{"o_z": int(z)} for z in want],
                   Fp32ToFp16.LATENCY)


@pytest.mark.slow
def test_ten_million_random(fpv, vector_model):
    rng = np.random.default_rng(95)
    for _ in range(10):
        check(fpv, vector_model(Fp32ToFp16), values(fpv, rng, 1_000_000))
