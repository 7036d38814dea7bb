"""Int4Dequant (W4A16 lane) against the command model's numpy dequantization, bit for bit:
every q with scales around every rounding regime (subnormal, ties, overflow, specials);
combinational, and pipelined (the result one enabled cycle later, held while ``en`` is low)."""

import numpy as np
from amaranth.sim import Simulator
from dure.rtl.npu.commands import WeightFormat
from dure.rtl.npu.int4_dequant import Int4Dequant
from dure.sim.npu_model_weights import unpack_rows


def _scales():
    rng = np.random.default_rng(4)
    special = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x07FF, 0x3C00, 0x3C01, 0x3E00,
               0x3FFF, 0x7BFF, 0x7800, 0x77FF, 0x5BFF, 0x5C00, 0x6000, 0x7C00, 0xFC00, 0x7C01,
               0xFE00, 0x7E00, 0x0200, 0x0155, 0x2AAB, 0x2555, 0x1249, 0x6FFF, 0x7000, 0x73FF]
    return np.array(special + list(rng.integers(0, 1 << 16, 200)), np.uint16)


def test_against_model():
    scales = _scales()
    qs = np.arange(-8, 8, dtype=np.int8)
    # The model's unpacking of one INT4_FP16 row per scale: lanes = the 16 q values.
    packed = np.array([[(int(qs[2 * i]) & 0xF) | ((int(qs[2 * i + 1]) & 0xF) << 4)
                        for i in range(8)]], np.uint8)
    want = {int(s): unpack_rows(WeightFormat.INT4_FP16, packed, 1, 16,
                                np.full(16, s, np.uint16))[0] for s in scales}
    dut = Int4Dequant()
    bad = []

    async def bench(ctx):
        for s in scales:
            for i, q in enumerate(qs):
                ctx.set(dut.q, int(q) & 0xF)
                ctx.set(dut.s, int(s))
                got = ctx.get(dut.out)
                if got != int(want[int(s)][i]):
                    bad.append((int(q), hex(int(s)), hex(got), hex(int(want[int(s)][i]))))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:10]


def test_pipelined_against_model():
    scales = _scales()[::3]
    qs = np.arange(-8, 8, dtype=np.int8)
    packed = np.array([[(int(qs[2 * i]) & 0xF) | ((int(qs[2 * i + 1]) & 0xF) << 4)
                        for i in range(8)]], np.uint8)
    want = {int(s): unpack_rows(WeightFormat.INT4_FP16, packed, 1, 16,
                                np.full(16, s, np.uint16))[0] for s in scales}
    dut = Int4Dequant(pipelined=True)
    cases = [(int(s), i) for s in scales for i in range(16)]
    bad = []

    async def bench(ctx):
        prev = None
        for n, (s, i) in enumerate(cases):
            ctx.set(dut.q, int(qs[i]) & 0xF)
            ctx.set(dut.s, s)
            ctx.set(dut.en, 1)
            await ctx.tick()
            ctx.set(dut.en, 0)                       # held: the output stays
            ctx.set(dut.s, s ^ 0x1234)
            if n % 7 == 0:
                await ctx.tick()
            got = ctx.get(dut.out)
            if got != int(want[s][i]):
                bad.append((int(qs[i]), hex(s), hex(got), hex(int(want[s][i]))))
            prev = got
        assert prev is not None

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:10]


def test_pipelined_is_a_bool():
    import pytest

    with pytest.raises(TypeError, match="pipelined must be a bool"):
        Int4Dequant(pipelined=1)
