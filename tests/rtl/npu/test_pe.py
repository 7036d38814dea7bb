"""ProcessingElement alone: psum_out = psum_in + a * w with the documented latencies."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from dure.rtl.npu.isa import Precision
from dure.rtl.npu.pe import ProcessingElement
from dure.sim import golden


def f32_add_product(psum_bits, a_bits, w_bits):
    a = np.array([a_bits], np.uint16).view(np.float16).astype(np.float32)
    w = np.array([w_bits], np.uint16).view(np.float16).astype(np.float32)
    p = np.array([psum_bits], np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        return int(golden.canonicalize_nan(p + a * w).view(np.uint32)[0])


@pytest.mark.parametrize("column", [None, 2, 5])
@pytest.mark.parametrize("fp16", [False, True])
def test_pe_stream_of_rows(fp16, column):
    """One row per cycle, precision changing every row, one weight swap halfway; random
    ``gather`` rows, which (with the gate built for ``column``) take part only when bits 9:8 of
    the activation equal the column (never for column 5), and otherwise pass psum through."""
    dut = ProcessingElement(fp16=fp16, column=column)
    rng = random.Random(5)
    lm, la = dut.mul_latency, dut.add_latency
    n = 40
    weights = [(rng.getrandbits(16), 1), (rng.getrandbits(16), rng.getrandbits(1))]
    rows = []
    for t in range(n):
        prec = Precision.FP16 if (fp16 and rng.getrandbits(1)) else Precision.INT8
        rows.append((rng.getrandbits(16), prec, int(t in (0, n // 2)), rng.getrandbits(32),
                     rng.getrandbits(1)))
    expect = []
    for t, (a, prec, _, psum, gather) in enumerate(rows):
        w, active = weights[0 if t < n // 2 else 1]
        if gather and column is not None and (a >> 8) & 3 != column:
            expect.append(psum)
        elif not active:
            expect.append(psum)
        elif prec == Precision.INT8:
            prod = ((a & 0xFF) ^ 0x80) - 0x80
            prod *= ((w & 0xFF) ^ 0x80) - 0x80
            expect.append((psum + prod) & 0xFFFF_FFFF)
        else:
            expect.append(f32_add_product(psum, a, w))
    got = {}

    async def bench(ctx):
        for data, active in weights[:1]:
            ctx.set(dut.w_in, {"data": data, "active": active})
            ctx.set(dut.w_shift, 1)
            await ctx.tick()
        ctx.set(dut.w_shift, 0)
        for t in range(n + lm + la + 2):
            if t < n:
                a, prec, swap, _, gather = rows[t]
                ctx.set(dut.a_in, a)
                ctx.set(dut.tok_in, {"valid": 1, "precision": prec, "swap": swap,
                                     "gather": gather})
            else:
                ctx.set(dut.tok_in, {"valid": 0, "precision": Precision.INT8, "swap": 0})
            if t == 1:   # load the second weight into the shadow after the first swap
                ctx.set(dut.w_in, {"data": weights[1][0], "active": weights[1][1]})
                ctx.set(dut.w_shift, 1)
            else:
                ctx.set(dut.w_shift, 0)
            s = t - 1 - lm   # the row whose product meets psum_in in this cycle
            if 0 <= s < n:
                ctx.set(dut.psum_in, rows[s][3])
            r = t - 1 - lm - la
            if 0 <= r < n:
                got[r] = ctx.get(dut.psum_out)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert [got[t] for t in range(n)] == expect
