"""Fp32Add against numpy float32 addition (RNE, subnormals), NaNs canonical."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp32Add


def reference(fpv, a, b):
    with np.errstate(all="ignore"):
        return fpv.canon32(a.astype(np.uint32).view(np.float32) + b.astype(np.uint32).view(
            np.float32))


def check(fpv, model, a, b, **kwargs):
    fpv.check_binary(model, Fp32Add.LATENCY, a, b, reference(fpv, a, b), "+",
                     **kwargs)


def test_class_pairs(fpv, vector_model):
    a, b = fpv.class_pairs(fpv.FP32_CLASSES)
    check(fpv, vector_model(Fp32Add), a, b)


def test_signed_zero_results(fpv, vector_model):
    # x + (-x) = +0, (-0) + (-0) = -0, (+0) + (-0) = +0 under round to nearest even.
    a = np.array([0x3F800000, 0xBF800000, 0x80000000, 0x00000000, 0x80000000, 0x00000001],
                 np.uint64)
    b = np.array([0xBF800000, 0x3F800000, 0x80000000, 0x80000000, 0x00000000, 0x80000001],
                 np.uint64)
    out = vector_model(Fp32Add).run(i_a=a, i_b=b)["o_z"]
    assert [int(v) for v in out] == [0, 0, 0x80000000, 0, 0, 0]


def test_million_random(fpv, vector_model):
    rng = np.random.default_rng(20260521)
    a, b = fpv.add_pairs(rng, 1_000_000, 8, 23)
    check(fpv, vector_model(Fp32Add), a, b, stall_per_mille=100, gap_per_mille=100, seed=3)


def test_pipeline_contract(fpv, check_contract):
    rng = np.random.default_rng(7)
    a, b = fpv.add_pairs(rng, 24, 8, 23)
    want = reference(fpv, a, b)
    check_contract(Fp32Add(), [{"i_a": int(x), "i_b": int(y)} for x, y in zip(a, b, strict=True)],
                   [{"o_z": int(z)} for z in want], Fp32Add.LATENCY)


@pytest.mark.slow
def test_ten_million_random(fpv, vector_model):
    rng = np.random.default_rng(99)
    for _ in range(10):
        a, b = fpv.add_pairs(rng, 1_000_000, 8, 23)
        check(fpv, vector_model(Fp32Add), a, b)
