"""Scratchpad: whole-row writes, two independent read ports, read data held while en is low."""

import random

from amaranth.sim import Simulator
from dure.rtl.npu.spad import Scratchpad


def test_two_read_ports_and_hold():
    dut = Scratchpad(16, 3)
    rng = random.Random(1)
    rows = [[rng.randrange(1 << 16) for _ in range(3)] for _ in range(16)]

    async def bench(ctx):
        ctx.set(dut.w.valid, 1)
        for addr, row in enumerate(rows):
            ctx.set(dut.w.payload, {"addr": addr, "data": row})
            assert ctx.get(dut.w.ready)
            await ctx.tick()
        ctx.set(dut.w.valid, 0)
        for _ in range(40):
            a, b = rng.randrange(16), rng.randrange(16)
            ctx.set(dut.ra.addr, a)
            ctx.set(dut.rw.addr, b)
            ctx.set(dut.ra.en, 1)
            ctx.set(dut.rw.en, 1)
            await ctx.tick()
            assert [ctx.get(dut.ra.data[i]) for i in range(3)] == rows[a]
            assert [ctx.get(dut.rw.data[i]) for i in range(3)] == rows[b]
            ctx.set(dut.ra.en, 0)
            ctx.set(dut.ra.addr, (a + 1) % 16)
            await ctx.tick()
            assert [ctx.get(dut.ra.data[i]) for i in range(3)] == rows[a]   # held

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
