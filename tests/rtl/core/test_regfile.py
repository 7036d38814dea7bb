"""Register file options: read ports, write-first (transparent) or old-value reads, x0."""

import gc
import random
import warnings

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.regfile import RegisterFile


@pytest.mark.parametrize("transparent", [True, False], ids=["write_first", "read_first"])
@pytest.mark.parametrize("read_ports", [1, 2, 3])
def test_regfile(read_ports, transparent):
    dut = RegisterFile(read_ports=read_ports, transparent=transparent)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rng = random.Random(read_ports)
    raddr = [getattr(dut, f"raddr{i}") for i in range(1, read_ports + 1)]
    rdata = [getattr(dut, f"rdata{i}") for i in range(1, read_ports + 1)]

    async def bench(ctx):
        regs = [0] * 32
        for _ in range(300):
            addrs = [rng.randrange(32) for _ in raddr]
            waddr, wdata, we = rng.randrange(32), rng.getrandbits(32), rng.random() < 0.7
            for port, addr in zip(raddr, addrs, strict=True):
                ctx.set(port, addr)
            ctx.set(dut.waddr, waddr)
            ctx.set(dut.wdata, wdata)
            ctx.set(dut.we, we)
            before = list(regs)
            if we and waddr:
                regs[waddr] = wdata
            await ctx.tick()
            seen = regs if transparent else before
            for port, addr in zip(rdata, addrs, strict=True):
                assert ctx.get(port) == seen[addr], (addr, waddr, we)

    sim.add_testbench(bench)
    sim.run()


def test_bad_read_ports():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built register file is never elaborated
        with pytest.raises(ValueError, match="read_ports must be a positive integer") as info:
            RegisterFile(read_ports=0)
        del info
        gc.collect()
