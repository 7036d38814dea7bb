# amaranth: UnusedElaboratable=no
"""LeadingZeroCount: exhaustive on small widths (powers of two and not)."""

import pytest
from amaranth.sim import Simulator
from dure.rtl.npu.fp.lzc import LeadingZeroCount


@pytest.mark.parametrize("width", [1, 4, 7, 11])
def test_exhaustive(width):
    dut = LeadingZeroCount(width)
    errors = []

    async def bench(ctx):
        for value in range(1 << width):
            ctx.set(dut.i, value)
            want = width - value.bit_length()
            if ctx.get(dut.count) != want:
                errors.append(f"{value:#x}: {ctx.get(dut.count)}, expected {want}")

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, "; ".join(errors[:5])


def test_bad_width():
    with pytest.raises(TypeError, match="width must be a positive integer"):
        LeadingZeroCount(0)
