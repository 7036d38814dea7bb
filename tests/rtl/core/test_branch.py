"""``branch.py``'s ``branch_condition``: every condition against Python's comparisons on
corner and random operand pairs, with a comparator each and with ``one_subtractor`` (the
form D uses for ``early_branch``)."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from dure.rtl.core.branch import branch_condition
from dure.rtl.core.isa import Funct3Branch

CORNERS = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF,
           0x1234_5678, 0xEDCB_A988]


def _signed(v):
    return v - (1 << 32) if v >> 31 else v


def _expected(funct3, a, b):
    """Taken or not for the ``funct3`` number; the two unused encodings never branch."""
    table = {Funct3Branch.BEQ: a == b, Funct3Branch.BNE: a != b,
             Funct3Branch.BLT: _signed(a) < _signed(b),
             Funct3Branch.BGE: _signed(a) >= _signed(b),
             Funct3Branch.BLTU: a < b, Funct3Branch.BGEU: a >= b}
    return {k.value: v for k, v in table.items()}.get(funct3, False)


@pytest.mark.parametrize("one_subtractor", [False, True], ids=["comparators", "subtractor"])
def test_branch_condition(one_subtractor):
    m = Module()
    funct3, a, b = Signal(3), Signal(32), Signal(32)
    cond = branch_condition(m, funct3, a, b, one_subtractor=one_subtractor)
    rng = random.Random(3)
    pairs = [(x, y) for x in CORNERS for y in CORNERS]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(200)]
    pairs += [(x, x ^ (1 << rng.randrange(32))) for x in CORNERS]

    async def bench(ctx):
        for f in range(8):
            ctx.set(funct3, f)
            for x, y in pairs:
                ctx.set(a, x)
                ctx.set(b, y)
                assert ctx.get(cond) == _expected(f, x, y), (f, hex(x), hex(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
