"""random_operands: the shared random GEMM operands of the NPU benches and their product."""

import numpy as np
import pytest
from dure.sim.verif.npu_control import random_operands


def test_int8_operands_and_product():
    a, b, expect = random_operands("int8", 5, 7, 3, seed=1)
    assert a.dtype == b.dtype == np.int8 and a.shape == (5, 7) and b.shape == (7, 3)
    want = a.astype(np.int64) @ b.astype(np.int64)
    np.testing.assert_array_equal(expect.view(np.int32), want)
    again = random_operands("int8", 5, 7, 3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(again, (a, b, expect), strict=True))


def test_fp16_operands_and_product():
    a, b, expect = random_operands("fp16", 4, 6, 2, seed=2)
    assert a.dtype == b.dtype == np.float16 and expect.dtype == np.uint32
    # fp16 x fp16 products are exact in fp32; the sum is fp32, rounded per step, in k order.
    acc = np.zeros((4, 2), np.float32)
    for kk in range(6):
        acc = acc + a[:, kk:kk + 1].astype(np.float32) * b[kk].astype(np.float32)
    np.testing.assert_array_equal(expect, acc.view(np.uint32))


def test_unknown_kind_refused():
    with pytest.raises(ValueError, match="int8' or 'fp16"):
        random_operands("int4", 1, 1, 1, seed=0)
