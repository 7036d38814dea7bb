"""ALU and shifter against Python arithmetic on corner and random values."""

import random

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.alu import ALU
from dure.rtl.core.decoder import AluOp
from dure.rtl.core.shifter import Shifter

M = 0xFFFF_FFFF
CORNERS = [0, 1, 2, M, M - 1, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 31, 32, 0x5555_5555]


def s32(v):
    return v - (1 << 32) if v >> 31 else v


def alu_model(op, a, b):
    return {
        AluOp.ADD: a + b, AluOp.SUB: a - b, AluOp.SLT: int(s32(a) < s32(b)),
        AluOp.SLTU: int(a < b), AluOp.XOR: a ^ b, AluOp.OR: a | b, AluOp.AND: a & b,
        AluOp.SLL: a << (b & 31), AluOp.SRL: a >> (b & 31), AluOp.SRA: s32(a) >> (b & 31),
    }[op] & M


def vectors(seed):
    rng = random.Random(seed)
    pairs = [(a, b) for a in CORNERS for b in CORNERS]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(100)]
    return pairs


@pytest.mark.parametrize("single_adder", [False, True], ids=["two_adders", "single_adder"])
def test_alu(single_adder):
    dut = ALU(single_adder=single_adder)
    sim = Simulator(dut)
    ops = [AluOp.ADD, AluOp.SUB, AluOp.SLT, AluOp.SLTU, AluOp.XOR, AluOp.OR, AluOp.AND]

    async def bench(ctx):
        for a, b in vectors(1):
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            for op in ops:
                ctx.set(dut.op, op)
                assert ctx.get(dut.result) == alu_model(op, a, b), (op, hex(a), hex(b))
            # Branch comparisons (valid while the single adder subtracts).
            ctx.set(dut.compare, 1)
            for op in ops:
                ctx.set(dut.op, op)
                assert ctx.get(dut.eq) == int(a == b), (op, hex(a), hex(b))
                assert ctx.get(dut.lt) == int(s32(a) < s32(b)), (op, hex(a), hex(b))
                assert ctx.get(dut.ltu) == int(a < b), (op, hex(a), hex(b))
            ctx.set(dut.compare, 0)

    sim.add_testbench(bench)
    sim.run()


def test_shifter():
    dut = Shifter()
    sim = Simulator(dut)

    async def bench(ctx):
        for a, b in vectors(2):
            ctx.set(dut.a, a)
            ctx.set(dut.shamt, b & 31)
            for op in (AluOp.SLL, AluOp.SRL, AluOp.SRA):
                ctx.set(dut.op, op)
                assert ctx.get(dut.result) == alu_model(op, a, b), (op, hex(a), b & 31)

    sim.add_testbench(bench)
    sim.run()
