"""Divider: DIV/DIVU/REM/REMU on all pairs of corner values (0, 1, -1, INT_MIN, ...) and random
values, including division by zero and signed overflow, and abort in the middle. Both
dividers: the fast one and the small core's serial one (same contract, other latency), and
their formal-only stand-in mode. One check (:func:`mismatches`) serves the real units, the
stand-ins and the planted bug."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from dure.rtl.core.altops import ALT_SUBTRACT, ALT_XOR
from dure.rtl.core.divider import Divider
from dure.rtl.core.divider_serial import SerialDivider
from dure.rtl.core.isa import Funct3MulDiv


def s32(v):
    return v - (1 << 32) if v >> 31 else v


def early_out_latency(op, a, b):
    """The fast divider's cycles: 33 less 8 per leading zero byte of the dividend's magnitude
    (top three bytes; none skipped for a zero divisor)."""
    signed = op in (Funct3MulDiv.DIV, Funct3MulDiv.REM)
    mag = abs(s32(a)) if signed else a
    if b == 0:
        return 33
    zero_bytes = next(z for z in (3, 2, 1, 0) if mag < 1 << (32 - 8 * z))
    return 33 - 8 * zero_bytes


def serial_latency(op, a, b):
    return 36


def registered_latency(op, a, b):
    return early_out_latency(op, a, b) + 1


DIVIDERS = [pytest.param((Divider, early_out_latency), id="fast"),
            pytest.param((lambda **kw: Divider(registered_start=True, **kw), registered_latency),
                         id="fast-registered"),
            pytest.param((SerialDivider, serial_latency), id="serial")]
M = 0xFFFF_FFFF
CORNERS = [0, 1, M, 0x8000_0000, 0x7FFF_FFFF, 2, M - 1, 7, 0xFFFF_FFF9]
OPS = [Funct3MulDiv.DIV, Funct3MulDiv.DIVU, Funct3MulDiv.REM, Funct3MulDiv.REMU]
CORNER_CASES = [(op, a, b) for op in OPS for a in CORNERS for b in CORNERS]


def model(op, a, b):
    """Written from the spec's table (independent of the RTL's magnitude method)."""
    signed = op in (Funct3MulDiv.DIV, Funct3MulDiv.REM)
    rem = op in (Funct3MulDiv.REM, Funct3MulDiv.REMU)
    if b == 0:
        return a if rem else M
    if signed:
        sa, sb = s32(a), s32(b)
        if sa == -2**31 and sb == -1:
            return 0 if rem else a
        q = abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1)
        return (sa - q * sb if rem else q) & M
    return a % b if rem else a // b


def alt_model(op, a, b):
    """The formal stand-in as dure.rtl.core.altops documents it."""
    return ((a - b if op in ALT_SUBTRACT else a + b) & M) ^ ALT_XOR[op]


def outcomes(dut, cases, limit=40):
    """``(result, cycles)`` of each ``(op, a, b)`` on divider instance ``dut``: start with the
    operands, present other operands from the next cycle on (they are captured at the start),
    wait up to ``limit`` cycles for ``done`` (``(None, None)`` if it never rises), check that
    ``abort`` clears ``done``, go on with the next case."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = []

    async def bench(ctx):
        for op, a, b in cases:
            ctx.set(dut.op, op)
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.start, 1)
            ctx.set(dut.abort, 0)
            cycles = 0
            while not ctx.get(dut.done) and cycles < limit:
                await ctx.tick()
                ctx.set(dut.a, 0x5A5A_5A5A)
                ctx.set(dut.b, 0xA5A5_A5A5)
                cycles += 1
            done = ctx.get(dut.done)
            out.append((ctx.get(dut.result), cycles) if done else (None, None))
            ctx.set(dut.start, 0)
            ctx.set(dut.abort, 1)
            await ctx.tick()
            assert not ctx.get(dut.done), "abort did not clear done"

    sim.add_testbench(bench)
    sim.run()
    return out


def mismatches(dut, cases, expect=model, latency=early_out_latency):
    """``(op, a, b, got, wanted)`` of every case where unit ``dut`` does not give
    ``(expect(op, a, b), latency(op, a, b))`` as ``(result, cycles)``."""
    wrong = []
    for (op, a, b), got in zip(cases, outcomes(dut, cases), strict=True):
        wanted = (expect(op, a, b), latency(op, a, b))
        if got != wanted:
            wrong.append((op, a, b, got, wanted))
    return wrong


@pytest.mark.parametrize("divider", DIVIDERS)
def test_divider_corners(divider):
    cls, latency = divider
    assert mismatches(cls(), CORNER_CASES, model, latency) == []


@pytest.mark.parametrize("divider", DIVIDERS)
def test_divider_random(divider):
    cls, latency = divider
    rng = random.Random(4)
    cases = [(rng.choice(OPS), rng.getrandbits(rng.choice([7, 8, 9, 16, 24, 25, 32])),
              rng.getrandbits(rng.choice([4, 16, 32]))) for _ in range(80)]
    assert mismatches(cls(), cases, model, latency) == []


@pytest.mark.parametrize("divider", DIVIDERS)
def test_divider_abort_restarts(divider):
    cls, latency = divider
    dut = cls()
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.op, Funct3MulDiv.DIVU)
        ctx.set(dut.a, 100)
        ctx.set(dut.b, 7)
        ctx.set(dut.start, 1)
        for _ in range(10):
            await ctx.tick()
        ctx.set(dut.abort, 1)          # the instruction was flushed
        await ctx.tick()
        ctx.set(dut.abort, 0)
        ctx.set(dut.a, 1000)           # a new division starts from scratch
        await ctx.tick()
        ctx.set(dut.a, 0)
        for _ in range(latency(Funct3MulDiv.DIVU, 1000, 7) - 1):
            assert not ctx.get(dut.done)
            await ctx.tick()
        assert ctx.get(dut.done) and ctx.get(dut.result) == 1000 // 7

    sim.add_testbench(bench)
    sim.run()


class SwappedDivider(wiring.Component):
    """Planted bug: dividend and divisor swapped on their way into the divider."""

    def __init__(self):
        super().__init__(wiring.Signature(Divider.__annotations__))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Divider()
        m.d.comb += [inner.start.eq(self.start), inner.op.eq(self.op), inner.a.eq(self.b),
                     inner.b.eq(self.a), inner.abort.eq(self.abort),
                     self.done.eq(inner.done), self.result.eq(inner.result)]
        return m


SPECIAL = [(Funct3MulDiv.DIV, 0x8000_0000, M), (Funct3MulDiv.REM, 0x8000_0000, M),
           (Funct3MulDiv.DIV, 7, 0), (Funct3MulDiv.REMU, 7, 0), (Funct3MulDiv.DIVU, 0, 0),
           (Funct3MulDiv.DIV, M, 2), (Funct3MulDiv.REM, 0xFFFF_FFF9, 2)]


def test_divider_special_cases():
    """INT_MIN / -1, division by zero, negative dividends: the spec's table, exactly (the
    model pinned to literal values, then both units against it)."""
    assert [model(*case) for case in SPECIAL] == [0x8000_0000, 0, M, 7, M, 0, M]
    assert mismatches(Divider(), SPECIAL) == []
    assert mismatches(SerialDivider(), SPECIAL, latency=serial_latency) == []


def test_planted_operand_swap_caught():
    """The check of the real dividers, run on a divider with swapped operands, fails on
    results (not only on latency): 7 / 0 computed as 0 / 7, among others."""
    wrong = mismatches(SwappedDivider(), CORNER_CASES)
    assert wrong, "the planted operand swap was not caught"
    assert (Funct3MulDiv.DIV, 7, 0, (0, 9), (M, 33)) in wrong
    assert any(got[0] != wanted[0] for *_, got, wanted in wrong)


@pytest.mark.parametrize("divider", DIVIDERS)
def test_alt_ops_stand_in(divider):
    """``alt_ops=True`` (formal builds only): the documented stand-in of dure.rtl.core.altops
    of the operands captured at the start, with the real divider's latency."""
    cls, latency = divider
    rng = random.Random(6)
    cases = [(op, rng.choice(CORNERS), rng.choice(CORNERS + [rng.getrandbits(32)]))
             for op in OPS for _ in range(5)]
    assert mismatches(cls(alt_ops=True), cases, alt_model, latency) == []
    # ... and the stand-in check is not satisfied by the real unit.
    assert mismatches(cls(), cases, alt_model, latency)
