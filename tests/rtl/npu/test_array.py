"""SystolicArray in the Amaranth simulator against the golden model (small arrays)."""

import numpy as np
import pytest
from dure.rtl.npu.array import SystolicArray
from dure.rtl.npu.testing import GemmJob, run_job
from dure.sim import golden


def int8_reference(a, b, init):
    acc = a.astype(np.int64) @ b.astype(np.int64) + init.astype(np.int64)
    return (acc & 0xFFFF_FFFF).astype(np.uint32).view(np.int32)


def random_int8(rng, m, k, n):
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    init = rng.integers(-2**31, 2**31, (m, n), dtype=np.int64).astype(np.int32)
    return a, b, init


@pytest.mark.parametrize("rows,cols", [(2, 2), (4, 4)])
@pytest.mark.parametrize("m,k,n", [(3, 1, 1), (5, 4, 4), (4, 9, 5)])
def test_int8_random_gemm(rows, cols, m, k, n):
    rng = np.random.default_rng(rows * 1000 + m * 100 + k * 10 + n)
    a, b, init = random_int8(rng, m, k, n)
    job = GemmJob(a, b, init, rows, cols)
    run_job(SystolicArray(rows, cols, fp16=False), [job], seed=k, idle=0.3, stall=0.3)
    np.testing.assert_array_equal(job.result(), int8_reference(a, b, init))


def test_int8_extremes_wrap():
    rows = cols = 2
    k = 7
    a = np.full((3, k), -128, np.int8)
    b = np.full((k, 3), -128, np.int8)
    init = np.array([[2**31 - 1, -2**31, 0]] * 3, np.int32)
    job = GemmJob(a, b, init, rows, cols)
    run_job(SystolicArray(rows, cols, fp16=False), [job])
    np.testing.assert_array_equal(job.result(), int8_reference(a, b, init))
    np.testing.assert_array_equal(job.result()[:, 2], golden.gemm_int8(a, b)[:, 2])
