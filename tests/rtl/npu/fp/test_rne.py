# amaranth: UnusedElaboratable=no
"""RoundNearestEven: exhaustive over a 4-bit value, guard and sticky."""

import pytest
from amaranth.sim import Simulator
from dure.rtl.npu.fp.rne import RoundNearestEven


def test_exhaustive():
    dut = RoundNearestEven(4)
    errors = []

    async def bench(ctx):
        for value in range(16):
            for guard in range(2):
                for sticky in range(2):
                    ctx.set(dut.i, value)
                    ctx.set(dut.guard, guard)
                    ctx.set(dut.sticky, sticky)
                    # value + guard/2 + (something below 1/4 if sticky) to the nearest integer,
                    # ties (guard and no sticky) to even.
                    exact2 = 4 * value + 2 * guard + sticky
                    want = value + (exact2 % 4 > 2 or (exact2 % 4 == 2 and value % 2 == 1))
                    if ctx.get(dut.o) != want:
                        errors.append(f"{value}, g={guard}, s={sticky}: {ctx.get(dut.o)}")

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, "; ".join(errors)


def test_bad_width():
    with pytest.raises(TypeError, match="width must be a positive integer"):
        RoundNearestEven(0)
