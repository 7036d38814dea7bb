"""Fp32Mul against numpy float32 multiplication (RNE, subnormals), NaNs canonical."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp32Mul


def reference(fpv, a, b):
    with np.errstate(all="ignore"):
        return fpv.canon32(a.astype(np.uint32).view(np.float32) * b.astype(np.uint32).view(
            np.float32))


def check(fpv, model, a, b, **kwargs):
    fpv.check_binary(model, Fp32Mul.LATENCY, a, b, reference(fpv, a, b), "*",
                     **kwargs)


def test_class_pairs(fpv, vector_model):
    a, b = fpv.class_pairs(fpv.FP32_CLASSES)
    check(fpv, vector_model(Fp32Mul), a, b)


def test_million_random(fpv, vector_model):
    rng = np.random.default_rng(20260522)
    a, b = fpv.mul_pairs(rng, 1_000_000, 8, 23)
    check(fpv, vector_model(Fp32Mul), a, b, stall_per_mille=100, gap_per_mille=100, seed=4)


def test_pipeline_contract(fpv, check_contract):
    rng = np.random.default_rng(8)
    a, b = fpv.mul_pairs(rng, 24, 8, 23)
    want = reference(fpv, a, b)
    check_contract(Fp32Mul(), [{"i_a": int(x), "i_b": int(y)} for x, y in zip(a, b, strict=True)],
                   [{"o_z": int(z)} for z in want], Fp32Mul.LATENCY)


@pytest.mark.slow
def test_ten_million_random(fpv, vector_model):
    rng = np.random.default_rng(98)
    for _ in range(10):
        a, b = fpv.mul_pairs(rng, 1_000_000, 8, 23)
        check(fpv, vector_model(Fp32Mul), a, b)
