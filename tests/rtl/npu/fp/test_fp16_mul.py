"""Fp16Mul against float32(a) * float32(b) (exact for every fp16 pair), NaNs canonical."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp16Mul


def reference(fpv, a, b):
    fa = a.astype(np.uint16).view(np.float16).astype(np.float32)
    fb = b.astype(np.uint16).view(np.float16).astype(np.float32)
    with np.errstate(all="ignore"):
        return fpv.canon32(fa * fb)


def check(fpv, model, a, b, **kwargs):
    fpv.check_binary(model, Fp16Mul.LATENCY, a, b, reference(fpv, a, b), "*", digits=4,
                     **kwargs)


def test_class_pairs(fpv, vector_model):
    a, b = fpv.class_pairs(fpv.FP16_CLASSES)
    check(fpv, vector_model(Fp16Mul), a, b)


def test_every_fp16_times_classes(fpv, vector_model):
    # All 65536 patterns against each special class: 1.2 million products.
    a = np.tile(np.arange(1 << 16, dtype=np.uint64), len(fpv.FP16_CLASSES))
    b = np.repeat(np.array(fpv.FP16_CLASSES, np.uint64), 1 << 16)
    check(fpv, vector_model(Fp16Mul), a, b)


def test_million_random(fpv, vector_model):
    rng = np.random.default_rng(20260523)
    a, b = fpv.mul_pairs(rng, 1_000_000, 5, 10)
    check(fpv, vector_model(Fp16Mul), a, b, stall_per_mille=100, gap_per_mille=100, seed=5)


def test_pipeline_contract(fpv, check_contract):
    rng = np.random.default_rng(9)
    a, b = fpv.mul_pairs(rng, 24, 5, 10)
    want = reference(fpv, a, b)
    check_contract(Fp16Mul(), [{"i_a": int(x), "i_b": int(y)} for x, y in zip(a, b, strict=True)],
                   [{"o_z": int(z)} for z in want], Fp16Mul.LATENCY)


@pytest.mark.slow
def test_every_fp16_times_random_fp16(fpv, vector_model):
    # Every fp16 pattern against 160 random ones: 10.5 million products.
    rng = np.random.default_rng(97)
    model = vector_model(Fp16Mul)
    for _ in range(10):
        b = fpv.floats(rng, 16, 5, 10)
        check(fpv, model, np.tile(np.arange(1 << 16, dtype=np.uint64), 16),
              np.repeat(b, 1 << 16))
