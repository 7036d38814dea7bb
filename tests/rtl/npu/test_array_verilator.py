"""SystolicArray on Verilator: many random GEMMs in both precisions, backpressure, long K.

`make test` runs the 4x4 array (a quarter of the 8x8's build time); the shipped 8x8 is built
and run the same way under `make fuzz` (slow). The 8x8 array is also in every `make test` run
inside the shipped NPU: tests/rtl/npu/test_npu.py::test_shipped_npu_gemm (Amaranth simulator)
and the NPU firmware on the 8x8 `sim` SoC (tests/firmware/test_npu_soc.py)."""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.verif.array_jobs import GemmJob
from dure.sim.verif.array_model import build

F16_SPECIALS = np.array([0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x7BFF, 0xFBFF,
                         0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00], np.uint16)
F32_SPECIALS = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
                         0x7F7FFFFF, 0x00000001, 0x80000001], np.uint32)


@pytest.fixture(scope="module", params=[4, pytest.param(8, marks=pytest.mark.slow)],
                ids=["4x4", "8x8"])
def array(request):
    """(Verilator model of the size x size array, size)."""
    return build(request.param, request.param), request.param


def random_fp16(rng, shape, special):
    x = (rng.standard_normal(shape) * 4 * 2.0 ** rng.integers(-8, 9, shape)).astype(np.float16)
    bits = x.view(np.uint16).copy()
    mask = rng.random(shape) < special
    bits[mask] = rng.choice(F16_SPECIALS, mask.sum())
    return bits.view(np.float16)


def random_init32(rng, shape, special):
    bits = (rng.standard_normal(shape) * 1000).astype(np.float32).view(np.uint32).copy()
    mask = rng.random(shape) < special
    bits[mask] = rng.choice(F32_SPECIALS, mask.sum())
    return bits.view(np.float32)


def make_jobs(rng, count, rows, cols):
    """Random GEMMs of random shapes (K up to 3 tiles, N up to 2 tiles), both precisions."""
    jobs, refs = [], []
    for n_job in range(count):
        m = int(rng.integers(1, 20))
        k = int(rng.integers(1, 3 * rows + 2))
        n = int(rng.integers(1, 2 * cols + 1))
        if n_job % 2:
            a = rng.integers(-128, 128, (m, k), dtype=np.int8)
            b = rng.integers(-128, 128, (k, n), dtype=np.int8)
            init = rng.integers(-2**31, 2**31, (m, n), dtype=np.int64).astype(np.int32)
            ref = golden.gemm_int8(a, b).astype(np.int64) + init
            ref = (ref & 0xFFFF_FFFF).astype(np.uint32)
        else:
            special = [0.0, 0.02, 0.2][n_job % 3]
            a, b = random_fp16(rng, (m, k), special), random_fp16(rng, (k, n), special)
            init = random_init32(rng, (m, n), special)
            ref = golden.gemm_fp16(a, b, init=init).view(np.uint32)
        jobs.append(GemmJob(a, b, init, rows, cols))
        refs.append(ref)
    return jobs, refs


@pytest.mark.parametrize("ops_idle,weights_idle,stall", [
    (0.0, 0.0, 0.0), (0.3, 0.0, 0.0), (0.0, 0.5, 0.0), (0.0, 0.0, 0.4), (0.4, 0.4, 0.4),
])
def test_random_gemms(array, ops_idle, weights_idle, stall):
    model, size = array
    rng = np.random.default_rng(int(ops_idle * 10 + weights_idle * 100 + stall * 1000))
    jobs, refs = make_jobs(rng, 40, size, size)
    model.run(jobs, seed=7, ops_idle=ops_idle, weights_idle=weights_idle, stall=stall)
    for job, ref in zip(jobs, refs, strict=True):
        np.testing.assert_array_equal(job.result().view(np.uint32), ref)


def test_int8_long_k_wraps(array):
    """-128 * -128 repeated over K = 300 (38 tiles of 8, 75 of 4): the int32 sum wraps past
    2**31."""
    k = 300
    a = np.full((4, k), -128, np.int8)
    b = np.full((k, 8), -128, np.int8)
    b[:, 1] = 127
    init = np.full((4, 8), 2**31 - 2**20, np.int32)
    model, size = array
    job = GemmJob(a, b, init, size, size)
    model.run([job], stall=0.2)
    expect = (golden.gemm_int8(a, b).astype(np.int64) + init) & 0xFFFF_FFFF
    np.testing.assert_array_equal(job.result().view(np.uint32), expect.astype(np.uint32))


def test_fp16_long_k_order(array):
    """K = 200 with mixed magnitudes: the sequential order differs from a @ b and must hold."""
    rng = np.random.default_rng(3)
    a = random_fp16(rng, (6, 200), 0.0)
    b = random_fp16(rng, (200, 5), 0.0)
    model, size = array
    job = GemmJob(a, b, None, size, size)
    model.run([job], ops_idle=0.1, stall=0.1)
    ref = golden.gemm_fp16(a, b)
    reverse = golden.gemm_fp16(a[:, ::-1].copy(), b[::-1].copy())
    assert (ref.view(np.uint32) != reverse.view(np.uint32)).any(), \
        "test data does not distinguish summation orders"
    np.testing.assert_array_equal(job.result().view(np.uint32), ref.view(np.uint32))
