# amaranth: UnusedElaboratable=no
"""GPIO: output register with byte enables, synchronised inputs, errors elsewhere."""

import pytest
from dure.rtl.soc.gpio import Gpio
from dure.rtl.soc.registers import offset
from dure.sim.verif.bus import simulate, transact

OUT = offset("gpio", "out") // 4
IN = offset("gpio", "in") // 4


def test_out_in_and_errors():
    dut = Gpio(12)
    results = []

    async def bench(ctx):
        await transact(ctx, dut.bus, OUT, we=1, wdata=0xFFFF_FABC)
        results.append(ctx.get(dut.gpio_out))
        await transact(ctx, dut.bus, OUT, we=1, wdata=0x0000_0100, be=0b0010)
        results.append(await transact(ctx, dut.bus, OUT))
        ctx.set(dut.gpio_in, 0x5A5)
        await ctx.tick().repeat(2)                              # two-flop synchroniser
        results.append(await transact(ctx, dut.bus, IN))
        results.append(await transact(ctx, dut.bus, IN, we=1, wdata=0))  # ignored
        results.append(await transact(ctx, dut.bus, 2))
        results.append(ctx.get(dut.gpio_out))

    simulate(dut, [bench])
    assert results == [0xABC, (0x1BC, 0), (0x5A5, 0), (0x5A5, 0), (0, 1), 0x1BC]


def test_width_is_checked():
    with pytest.raises(ValueError, match="width must be 1..32"):
        Gpio(33)
