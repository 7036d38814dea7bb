"""AddressSums: the forwarded base plus the offset, from the three sources' own adders."""

import random

from amaranth.sim import Simulator
from dure.rtl.core.address_sums import AddressSums

M = 0xFFFF_FFFF
CORNERS = [0, 1, 3, 4, 0x7FF, 0xFFFF_F800, M, 0x7FFF_FFFF, 0x8000_0000, 0x8000_FFFC]


def test_address_is_the_selected_source_plus_the_offset():
    rng = random.Random(17)
    cases = [(rng.choice(CORNERS + [rng.getrandbits(32)]) for _ in range(4))
             for _ in range(300)]
    cases = [tuple(c) + (rng.getrandbits(1), rng.getrandbits(1)) for c in cases]
    dut = AddressSums()

    async def bench(ctx):
        for held, m_result, w_result, offset, sel_m, sel_w in cases:
            ctx.set(dut.held, held)
            ctx.set(dut.m_result, m_result)
            ctx.set(dut.w_result, w_result)
            ctx.set(dut.offset, offset)
            ctx.set(dut.sel_m, sel_m)
            ctx.set(dut.sel_w, sel_w)
            base = m_result if sel_m else w_result if sel_w else held
            assert ctx.get(dut.addr) == (base + offset) & M, (held, m_result, w_result,
                                                              offset, sel_m, sel_w)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
