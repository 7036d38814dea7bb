# amaranth: UnusedElaboratable=no
"""ShiftRightSticky: exhaustive over value and amount, both with and without amount clamping."""

import pytest
from amaranth.sim import Simulator
from dure.rtl.npu.fp.shift import ShiftRightSticky


@pytest.mark.parametrize(("width", "amount_width"), [(8, 3), (8, 4), (6, 5)])
def test_exhaustive(width, amount_width):
    dut = ShiftRightSticky(width, amount_width)
    errors = []

    async def bench(ctx):
        for value in range(1 << width):
            ctx.set(dut.i, value)
            for amount in range(1 << amount_width):
                ctx.set(dut.amount, amount)
                want = (value >> amount, int(value & ((1 << amount) - 1) != 0))
                got = (ctx.get(dut.o), ctx.get(dut.sticky))
                if got != want:
                    errors.append(f"{value:#x} >> {amount}: {got}, expected {want}")

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, "; ".join(errors[:5])


def test_bad_arguments():
    with pytest.raises(TypeError, match="width must be a positive integer"):
        ShiftRightSticky(0, 3)
    with pytest.raises(TypeError, match="amount_width must be a positive integer"):
        ShiftRightSticky(8, 0)
