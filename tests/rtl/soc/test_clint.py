# amaranth: UnusedElaboratable=no
"""CLINT: mtime counts every cycle, mtimecmp compare drives irq_timer, msip drives
irq_software, all registers read/write."""

from dure.rtl.soc.clint import Clint
from dure.rtl.soc.registers import offset
from dure.sim.verif.bus import simulate, transact


def _reg(name):
    return offset("clint", name) // 4


def test_mtime_counts_and_compare_fires():
    dut = Clint()
    log = []

    async def bench(ctx):
        assert ctx.get(dut.irq_timer) == 0                       # mtimecmp resets to all ones
        first = await transact(ctx, dut.bus, _reg("mtime"))
        second = await transact(ctx, dut.bus, _reg("mtime"))
        log.append(second[0] - first[0])                         # 2 cycles per transact
        # Set mtime close to a 32-bit carry and check the high word follows.
        await transact(ctx, dut.bus, _reg("mtimeh"), we=1, wdata=0)
        await transact(ctx, dut.bus, _reg("mtime"), we=1, wdata=0xFFFF_FFF0)
        for _ in range(20):
            await ctx.tick()
        log.append(ctx.get(dut.mtime) >> 32)
        # Compare: mtimecmp = mtime + 10.
        now = ctx.get(dut.mtime)
        await transact(ctx, dut.bus, _reg("mtimecmph"), we=1, wdata=(now + 30) >> 32)
        await transact(ctx, dut.bus, _reg("mtimecmp"), we=1, wdata=(now + 30) & 0xFFFF_FFFF)
        log.append(await transact(ctx, dut.bus, _reg("mtimecmp")))
        cycles = 0
        while not ctx.get(dut.irq_timer):
            await ctx.tick()
            cycles += 1
        log.append(ctx.get(dut.mtime) - now)
        # Writing a larger mtimecmp drops the interrupt.
        await transact(ctx, dut.bus, _reg("mtimecmph"), we=1, wdata=0xFFFF_FFFF)
        log.append(ctx.get(dut.irq_timer))

    simulate(dut, [bench])
    assert log[0] == 2
    assert log[1] == 1
    assert log[2][1] == 0
    assert log[3] == 30
    assert log[4] == 0


def test_msip_and_errors():
    dut = Clint()
    log = []

    async def bench(ctx):
        log.append(ctx.get(dut.irq_software))
        await transact(ctx, dut.bus, _reg("msip"), we=1, wdata=0xFFFF_FFFF)
        log.append(ctx.get(dut.irq_software))
        log.append(await transact(ctx, dut.bus, _reg("msip")))
        await transact(ctx, dut.bus, _reg("msip"), we=1, wdata=0)
        log.append(ctx.get(dut.irq_software))
        log.append(await transact(ctx, dut.bus, 0x100))            # byte 0x400: nothing
        log.append((await transact(ctx, dut.bus, _reg("mtimecmp"), we=1, wdata=0x12,
                                    be=0b0001))[1])
        log.append(await transact(ctx, dut.bus, _reg("mtimecmp")))

    simulate(dut, [bench])
    assert log == [0, 1, (1, 0), 0, (0, 1), 0, (0xFFFF_FF12, 0)]


def test_32_bit_timer():
    """bits=32 (the iCEBreaker's trim): mtime wraps at 2**32, mtimeh / mtimecmph read 0 and
    ignore writes, the compare is on 32 bits; bad widths are refused."""
    import pytest

    dut = Clint(bits=32)
    log = []

    async def bench(ctx):
        assert ctx.get(dut.irq_timer) == 0                        # mtimecmp resets to all ones
        await transact(ctx, dut.bus, _reg("mtimeh"), we=1, wdata=5)
        await transact(ctx, dut.bus, _reg("mtimecmph"), we=1, wdata=5)
        log.append(await transact(ctx, dut.bus, _reg("mtimeh")))
        log.append(await transact(ctx, dut.bus, _reg("mtimecmph")))
        await transact(ctx, dut.bus, _reg("mtimecmp"), we=1, wdata=0xFFFF_FFF8)
        await transact(ctx, dut.bus, _reg("mtime"), we=1, wdata=0xFFFF_FFF0)
        cycles = 0
        while not ctx.get(dut.irq_timer):
            await ctx.tick()
            cycles += 1
        log.append(ctx.get(dut.mtime))
        for _ in range(10):
            await ctx.tick()
        log.append(ctx.get(dut.mtime))                             # wrapped, upper half 0
        log.append(ctx.get(dut.irq_timer))

    simulate(dut, [bench])
    assert log[:2] == [(0, 0), (0, 0)]
    assert log[2] == 0xFFFF_FFF8
    assert log[3] < 16 and log[4] == 0
    with pytest.raises(ValueError, match="bits must be 32 or 64"):
        Clint(bits=48)
