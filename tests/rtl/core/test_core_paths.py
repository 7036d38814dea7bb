"""No combinational path from a grant to a request: an interconnect may make ``gnt`` depend on
either port's ``req`` (arbitration) without creating a loop."""

import random

import pytest
from amaranth.sim import Simulator
from dure.rtl.soc.cpu import CORE_VARIANTS, make_core
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, MemoryModel
from dure.sim.verif.core_random import ERR_RANGES, random_program


def memory_loop():
    """Stores next to predicted-taken jumps and branches: X waits for a grant while D
    redirects fetch."""
    p = Program()
    p.li(10, RAM_BASE + 0x8000)
    p.li(1, 40)
    p.label("loop")
    p.sw(1, 10, 0)
    p.jal(0, "next")
    p.label("next")
    p.lw(2, 10, 0)
    p.addi(1, 1, -1)
    p.sw(2, 10, 4)
    p.bne(1, 0, "loop")
    p.halt()
    return p.assemble()


@pytest.mark.parametrize("program", [memory_loop, lambda: random_program(11)],
                         ids=["loop", "random"])
@pytest.mark.parametrize("core", list(CORE_VARIANTS))
def test_grants_do_not_reach_requests(program, core):
    words = program()
    mem = MemoryModel(words, err_ranges=ERR_RANGES)
    dut = make_core(core, reset_vector=RAM_BASE)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rng = random.Random(12)
    ports = (dut.ibus, dut.dbus)
    probes = [s for p in ports for s in (p.req, p.addr, p.we, p.be, p.wdata)]
    checked = []

    async def bench(ctx):
        pending = {p: [] for p in ports}
        for cycle in range(400):
            for port in ports:
                q = pending[port]
                resp = q.pop(0) if q and q[0][0] <= cycle else None
                ctx.set(port.rvalid, resp is not None)
                ctx.set(port.rdata, resp[1] if resp else 0)
                ctx.set(port.err, resp[2] if resp else 0)
            seen = set()
            for gi in (0, 1):
                for gd in (0, 1):
                    ctx.set(dut.ibus.gnt, gi)
                    ctx.set(dut.dbus.gnt, gd)
                    seen.add(tuple(ctx.get(s) for s in probes))
            assert len(seen) == 1, f"cycle {cycle}: a request depends on a grant"
            gnts = [rng.random() < 0.7 for _ in ports]
            for port, g in zip(ports, gnts, strict=True):
                ctx.set(port.gnt, g)
            for port, g in zip(ports, gnts, strict=True):
                if ctx.get(port.req) and g:
                    addr = ctx.get(port.addr)
                    if ctx.get(port.we):
                        err = mem.write(addr, ctx.get(port.be), ctx.get(port.wdata))
                        pending[port].append((cycle + 1 + rng.randint(0, 1), 0, err))
                    else:
                        pending[port].append((cycle + 1 + rng.randint(0, 1), *mem.read(addr)))
                    if len(pending[port]) > 1:   # keep answers in order
                        pending[port][-1] = (max(pending[port][-1][0], pending[port][-2][0] + 1),
                                             *pending[port][-1][1:])
            checked.append(cycle)
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert len(checked) == 400
