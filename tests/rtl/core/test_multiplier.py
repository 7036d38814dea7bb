"""Multiplier (both ``x_products`` settings): every operation on corner-value pairs and random
values, one per cycle; operands at the partial products' split; the hold while ``x_en`` is
low; the formal-only stand-in mode. One check (:func:`mismatches`) serves the real unit, the
stand-in and the planted bug."""

import random

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.altops import ALT_SUBTRACT, ALT_XOR
from dure.rtl.core.isa import Funct3MulDiv
from dure.rtl.core.multiplier import Multiplier
from dure.sim.verif.formal_muldiv import AsMulh

M = 0xFFFF_FFFF
CORNERS = [0, 1, M, 0x8000_0000, 0x7FFF_FFFF, 2, M - 1, 0x8000_0001, 0x1234_5678]


def s32(v):
    return v - (1 << 32) if v >> 31 else v


MUL_OPS = [Funct3MulDiv.MUL, Funct3MulDiv.MULH, Funct3MulDiv.MULHSU, Funct3MulDiv.MULHU]


def alt_model(op, a, b):
    """The formal stand-in as dure.rtl.core.altops documents it."""
    return ((a - b if op in ALT_SUBTRACT else a + b) & M) ^ ALT_XOR[op]


def model(op, a, b):
    return {
        Funct3MulDiv.MUL: a * b,
        Funct3MulDiv.MULH: (s32(a) * s32(b)) >> 32,
        Funct3MulDiv.MULHSU: (s32(a) * b) >> 32,
        Funct3MulDiv.MULHU: (a * b) >> 32,
    }[op] & M


def products(dut, cases):
    """``m_result`` of each ``(op, a, b)`` on multiplier instance ``dut``, one case per cycle
    with ``x_en`` high (the product of the operands presented in a cycle is there after the
    next clock edge)."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = []

    async def bench(ctx):
        ctx.set(dut.x_en, 1)
        for op, a, b in cases:
            ctx.set(dut.x_op, op)
            ctx.set(dut.x_a, a)
            ctx.set(dut.x_b, b)
            await ctx.tick()
            out.append(ctx.get(dut.m_result))

    sim.add_testbench(bench)
    sim.run()
    return out


def mismatches(dut, cases, expect=model):
    """``(op, a, b, got, wanted)`` of every case that unit ``dut`` gets wrong."""
    return [(op, a, b, got, expect(op, a, b))
            for (op, a, b), got in zip(cases, products(dut, cases), strict=True)
            if got != expect(op, a, b)]


CORNER_CASES = [(op, a, b) for op in MUL_OPS for a in CORNERS for b in CORNERS]


X_PRODUCTS = pytest.mark.parametrize("x_products", [False, True],
                                     ids=["operands_registered", "x_products"])


@X_PRODUCTS
def test_multiplier_corners_exact(x_products):
    assert mismatches(Multiplier(x_products=x_products), CORNER_CASES) == []


@X_PRODUCTS
def test_multiplier_random(x_products):
    rng = random.Random(3)
    cases = [(rng.choice(MUL_OPS), rng.getrandbits(32), rng.getrandbits(32)) for _ in range(200)]
    assert mismatches(Multiplier(x_products=x_products), cases) == []


def test_x_products_split_boundaries():
    """``x_products``: operands whose halves sit at the split (bit 17) extremes, where the
    signed high halves and the unsigned low halves meet (each of the 2**17 - 1, 2**17,
    2**16 patterns, their negations and sign bits), every operation."""
    edges = [(1 << 17) - 1, 1 << 17, 1 << 16, (1 << 17) + 1, 0xFFFE_0000, 0xFFFD_FFFF,
             0x7FFE_0000, 0x8001_FFFF, 0x0001_FFFF, 0xFFFF_0000]
    values = [v & M for e in edges for v in (e, -e)]
    cases = [(op, a, b) for op in MUL_OPS for a in values for b in values]
    assert mismatches(Multiplier(x_products=True), cases) == []


@pytest.mark.parametrize("alt_ops", [False, True], ids=["real", "alt_ops"])
@X_PRODUCTS
def test_multiplier_holds_without_enable(alt_ops, x_products):
    """``x_en`` low holds the operands (and the operation): register a product whose low and
    high words are both non-zero, then present other operands and another operation with
    ``x_en`` low for several cycles; the M stage must keep the registered product. Raising
    ``x_en`` again takes the waiting operands. The same with the formal stand-in results."""
    dut = Multiplier(alt_ops=alt_ops, x_products=x_products)
    expect = alt_model if alt_ops else model
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        held = (Funct3MulDiv.MULHU, 0x9876_5432, 0xFEDC_BA98)
        ctx.set(dut.x_en, 1)
        ctx.set(dut.x_op, held[0])
        ctx.set(dut.x_a, held[1])
        ctx.set(dut.x_b, held[2])
        await ctx.tick()
        expected = expect(*held)
        assert expected not in (0, expect(Funct3MulDiv.MUL, 7, 3))
        assert ctx.get(dut.m_result) == expected
        ctx.set(dut.x_en, 0)
        ctx.set(dut.x_op, Funct3MulDiv.MUL)
        ctx.set(dut.x_a, 7)
        ctx.set(dut.x_b, 3)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.m_result) == expected
        ctx.set(dut.x_en, 1)
        await ctx.tick()
        assert ctx.get(dut.m_result) == expect(Funct3MulDiv.MUL, 7, 3)

    sim.add_testbench(bench)
    sim.run()


def test_planted_mulhsu_sign_bug_caught():
    """The corner check of the real unit catches a MULHSU that treats rs2 as signed, and only
    MULHSU cases fail (the formal pipeline check runs on stand-in results and cannot see
    signedness: the unit is where it is checked)."""
    wrong = mismatches(AsMulh(Funct3MulDiv.MULHSU), CORNER_CASES)
    assert wrong, "the planted MULHSU sign bug was not caught"
    assert {case[0] for case in wrong} == {Funct3MulDiv.MULHSU}
    assert any(a == 0x8000_0000 and b == M for _, a, b, _, _ in wrong)


def test_alt_ops_stand_in():
    """``alt_ops=True`` (formal builds only): the documented stand-in of dure.rtl.core.altops
    with the product's latency (the hold behaviour: test_multiplier_holds_without_enable);
    the real unit fails this check."""
    rng = random.Random(5)
    cases = [(op, rng.choice(CORNERS + [rng.getrandbits(32)]), rng.getrandbits(32))
             for op in MUL_OPS for _ in range(6)]
    assert mismatches(Multiplier(alt_ops=True), cases, alt_model) == []
    assert mismatches(Multiplier(), cases, alt_model)
