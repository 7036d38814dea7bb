"""SystolicArray in the Amaranth simulator against the golden model (small arrays)."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from dure.rtl.npu.array import SystolicArray
from dure.rtl.npu.isa import Precision
from dure.sim import golden
from dure.sim.verif.array_jobs import GemmJob, run_job


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


F16_SPECIALS = np.array([0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x7BFF, 0xFBFF,
                         0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00], np.uint16)


def random_fp16(rng, shape, special=0.1, scale=4.0):
    """Moderate random fp16 values, a fraction replaced by specials (zeros, Inf, NaN, subnormal)."""
    x = (rng.standard_normal(shape) * scale * 2.0 ** rng.integers(-6, 7, shape)).astype(np.float16)
    bits = x.view(np.uint16).copy()
    mask = rng.random(shape) < special
    bits[mask] = rng.choice(F16_SPECIALS, mask.sum())
    return bits.view(np.float16)


def random_fp32_init(rng, shape, special=0.1):
    x = (rng.standard_normal(shape) * 100).astype(np.float32)
    bits = x.view(np.uint32).copy()
    specials = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
                         0x7F7FFFFF, 0x00000001, 0x80000001], np.uint32)
    mask = rng.random(shape) < special
    bits[mask] = rng.choice(specials, mask.sum())
    return bits.view(np.float32)


def fp_bits(x):
    return golden.canonicalize_nan(x).view(np.uint32)


@pytest.mark.parametrize("m,k,n", [(3, 1, 2), (4, 5, 3)])
def test_fp16_random_gemm(m, k, n):
    rng = np.random.default_rng(100 + m * 100 + k * 10 + n)
    a, b = random_fp16(rng, (m, k)), random_fp16(rng, (k, n))
    init = random_fp32_init(rng, (m, n))
    job = GemmJob(a, b, init, 2, 2)
    run_job(SystolicArray(2, 2), [job], seed=k, idle=0.3, stall=0.3)
    np.testing.assert_array_equal(job.result().view(np.uint32),
                                  fp_bits(golden.gemm_fp16(a, b, init=init)))


def test_fp16_edge_cases():
    """Cancellation, Inf - Inf, overflow to Inf, subnormal sums, signed zeros, over K tiles."""
    f = np.float16
    a = np.array([
        [65504, 65504, -65504, 1],             # overflow of the fp32 sum? no: exact, then cancel
        [np.inf, 1, 1, 1],                     # Inf + ... stays Inf
        [np.inf, 1, -np.inf, 1],               # Inf - Inf = NaN
        [-0.0, -0.0, -0.0, -0.0],              # -0 products keep a -0 start
        [2.0 ** -24, 2.0 ** -24, -2.0 ** -24, 2.0 ** -14],   # subnormal products
        [1, 2.0 ** -11, 1, -1],                # rounding then cancellation: order matters
    ], f)
    b = np.array([
        [65504, 1, 0],
        [65504, -1, 2.0 ** -24],
        [65504, 1, 0.5],
        [2.0 ** -24, 1, -0.0],
    ], f)
    init = np.array([[-0.0, 2.0 ** 24, 0.0]] * a.shape[0], np.float32)
    job = GemmJob(a, b, init, 2, 2)
    run_job(SystolicArray(2, 2), [job], idle=0.2, stall=0.2)
    np.testing.assert_array_equal(job.result().view(np.uint32),
                                  fp_bits(golden.gemm_fp16(a, b, init=init)))


def test_precision_changes_row_by_row():
    """INT8 and FP16 operations back to back share the pipeline without draining it."""
    rng = np.random.default_rng(7)
    a8, b8, i8 = random_int8(rng, 3, 3, 2)
    a16, b16 = random_fp16(rng, (2, 2)), random_fp16(rng, (2, 2))
    i16 = random_fp32_init(rng, (2, 2))
    jobs = [GemmJob(a8, b8, i8, 2, 2), GemmJob(a16, b16, i16, 2, 2), GemmJob(a8, b8, i8, 2, 2)]
    run_job(SystolicArray(2, 2), jobs, stall=0.1)
    np.testing.assert_array_equal(jobs[0].result(), int8_reference(a8, b8, i8))
    np.testing.assert_array_equal(jobs[1].result().view(np.uint32),
                                  fp_bits(golden.gemm_fp16(a16, b16, init=i16)))
    np.testing.assert_array_equal(jobs[2].result(), int8_reference(a8, b8, i8))


def measure_latency(array):
    """Cycles from the accepted ``ops`` beat of a one-row tile to its ``results`` beat, with
    ``results.ready`` high throughout, measured in the simulator."""
    from amaranth.sim import Simulator

    rows, cols = array.rows, array.cols
    seen = {}

    async def bench(ctx):
        ctx.set(array.results.ready, 1)
        for r in range(rows):
            ctx.set(array.weights.payload, {"data": [r + 1] * cols, "active": 1})
            ctx.set(array.weights.valid, 1)
            await ctx.tick().until(array.weights.ready)
        ctx.set(array.weights.valid, 0)
        ctx.set(array.ops.payload, {"a": [1] * rows, "init": [0] * cols,
                                     "precision": Precision.INT8, "swap": 1, "last": 1})
        ctx.set(array.ops.valid, 1)
        await ctx.tick().until(array.ops.ready)
        ctx.set(array.ops.valid, 0)
        for cycle in range(1, 400):
            _, _, valid, payload = await ctx.tick().sample(array.results.valid,
                                                           array.results.payload)
            if valid:
                seen["latency"] = cycle
                seen["data"] = [payload.data[j] for j in range(cols)]
                return

    sim = Simulator(array)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("rows,cols,fp16", [(2, 2, False), (3, 2, False), (2, 4, True),
                                            (3, 3, True)])
def test_latency_property_is_measured_latency(rows, cols, fp16):
    """``latency`` (used by the NPU's pipelining) equals the latency the simulator shows."""
    array = SystolicArray(rows, cols, fp16=fp16)
    seen = measure_latency(array)
    assert seen, "no result beat"
    # Every weight row r is r + 1, every activation 1: the sum is rows * (rows + 1) / 2.
    assert seen["data"] == [rows * (rows + 1) // 2] * cols
    assert seen["latency"] == array.latency


def test_16x16_elaborates():
    from amaranth.hdl import Fragment
    array = SystolicArray(16, 16)
    Fragment.get(array, None)


def test_bad_shape_is_refused():
    with warnings.catch_warnings():
        # The half-built component is garbage; Amaranth would warn that it was never used.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="rows must be an integer >= 1"):
            SystolicArray(0, 4)
        with pytest.raises(TypeError, match="fp16 must be a bool"):
            SystolicArray(2, 2, fp16=1)
        gc.collect()


@pytest.mark.parametrize("banks", [1, 2, 3, 4])
@pytest.mark.parametrize("fp16", [False, True])
def test_weight_banks_bit_exact_under_backpressure(banks, fp16):
    """Every bank count: short tiles (m = 1..3, K and N tiled) back to back with random idle
    cycles on both input streams and a stalling output equal the reference bit for bit (a
    bank reloaded before its swap has passed every PE would mix two tiles' weights)."""
    rows, cols = (3, 3) if fp16 else (2, 3)
    rng = np.random.default_rng(40 + banks + 10 * fp16)
    jobs = []
    for m, k, n in ((1, 5, 7), (3, 2, 9), (2, 6, 3)):
        if fp16:
            a, b = random_fp16(rng, (m, k)), random_fp16(rng, (k, n))
            init = random_fp32_init(rng, (m, n))
        else:
            a, b, init = random_int8(rng, m, k, n)
        jobs.append((GemmJob(a, b, init, rows, cols), a, b, init))
    array = SystolicArray(rows, cols, fp16=fp16, banks=banks)
    run_job(array, [job for job, *_ in jobs], seed=banks, idle=0.3, stall=0.3)
    for job, a, b, init in jobs:
        if fp16:
            expect = fp_bits(golden.gemm_fp16(a, b, init=init))
            np.testing.assert_array_equal(fp_bits(job.result()), expect)
        else:
            np.testing.assert_array_equal(job.result(), int8_reference(a, b, init))


@pytest.mark.parametrize("banks", [1, 2, 4])
def test_weight_banks_tile_period(banks):
    """Twelve one-row tiles (a 1 x 3 x 36 GEMM, N tiles only) on a 3x3 FP16 array, no idle
    cycles: each bank takes ``rows`` weight beats, is swapped in one cycle after its last beat
    at the earliest, then settles ``swap_settle`` cycles; the banks load in turn, so a tile
    costs at most ``ceil((rows + 1 + swap_settle) / banks)`` cycles and never less than
    ``rows`` (one weight beat per cycle). Total bound: that per tile, plus one load and the
    latency. With one bank this is the old ~``swap_settle`` per tile."""
    rows = cols = 3
    rng = np.random.default_rng(9)
    a, b = random_fp16(rng, (1, rows), special=0), random_fp16(rng, (rows, 12 * cols), special=0)
    job = GemmJob(a, b, None, rows, cols)
    array = SystolicArray(rows, cols, banks=banks)
    cycles = run_job(array, [job])
    np.testing.assert_array_equal(fp_bits(job.result()), fp_bits(golden.gemm_fp16(a, b)))
    period = max(rows, -(-(rows + 1 + array.swap_settle) // banks))
    bound = 12 * period + rows + array.latency + 2
    print(f"banks {banks}: {cycles} cycles for 12 tiles (bound {bound})")
    assert cycles <= bound
    if banks > 1:
        assert cycles < 12 * (array.swap_settle + rows)     # faster than one bank can be


def test_default_banks():
    """The shipped 8x8 FP16 array gets the most banks; an int8 2x2 array fewer."""
    from dure.rtl.npu.array import default_banks
    assert default_banks(8, 8) == 4
    assert default_banks(2, 2, fp16=False) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="banks must be None or an integer from 1 to 4"):
            SystolicArray(2, 2, banks=5)
        gc.collect()
