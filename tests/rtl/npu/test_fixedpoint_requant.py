"""FixedPointRequant on Amaranth's simulator against golden_fixedpoint (both roundings)."""

import numpy as np
from amaranth.sim import Simulator
from dure.rtl.npu.fixedpoint_requant import OUT_BITS, FixedPointRequant
from dure.sim.golden_fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
)


def vectors(rng, n):
    x = rng.integers(INT32_MIN, INT32_MAX + 1, n)
    small = rng.random(n) < 0.4
    x[small] = rng.integers(-70000, 70000, small.sum())
    x[:6] = [INT32_MIN, INT32_MAX, 0, -1, 1, INT32_MIN]
    m = rng.integers(INT32_MIN, INT32_MAX + 1, n)
    typical = rng.random(n) < 0.5
    m[typical] = rng.integers(1 << 30, INT32_MAX + 1, typical.sum())
    m[:6] = [INT32_MIN, INT32_MAX, 1 << 30, 1 << 30, 1 << 30, INT32_MIN]
    shift = rng.integers(-31, 31, n)
    shift[:6] = [0, 30, -31, -1, -1, 0]
    single = rng.integers(0, 2, n)
    return x, m, shift, single


def expect(x, m, shift, single):
    lim = 1 << (OUT_BITS - 1)
    d = multiply_by_quantized_multiplier(x, m, shift).astype(np.int64)
    s = multiply_by_quantized_multiplier_single_rounding(x, m, shift).astype(np.int64)
    return np.clip(np.where(single == 1, s, d), -lim, lim - 1)


def test_against_golden_amaranth():
    rng = np.random.default_rng(11)
    x, m, shift, single = vectors(rng, 1500)
    # Out-of-range shift lanes saturate to [-31, 30].
    raw_shift = shift.copy()
    raw_shift[6:10] = [31, -32, INT32_MAX, INT32_MIN]
    shift[6:10] = [30, -31, 30, -31]
    want = expect(x, m, shift, single)
    dut = FixedPointRequant()
    got = []

    async def bench(ctx):
        n = len(x)
        for k in range(n + dut.LATENCY):
            if k < n:
                ctx.set(dut.x, int(x[k]) & 0xFFFF_FFFF)
                ctx.set(dut.m, int(m[k]) & 0xFFFF_FFFF)
                ctx.set(dut.shift, int(raw_shift[k]) & 0xFFFF_FFFF)
                ctx.set(dut.single, int(single[k]))
            await ctx.tick()
            if k + 1 >= dut.LATENCY:
                got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    got = np.array(got[:len(x)])
    bad = np.flatnonzero(got != want)
    assert not len(bad), [(int(x[k]), int(m[k]), int(shift[k]), int(single[k]), int(got[k]),
                           int(want[k])) for k in bad[:6]]
