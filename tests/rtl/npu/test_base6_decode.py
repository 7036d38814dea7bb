"""Base6Decoder: all 256 code bytes against the golden model's base-6 codes (216 legal bytes
decode to the pairs ``unpack_pair_codes`` gives; 216..255 are illegal: ``legal`` 0, pairs 0)."""

import numpy as np
from amaranth.sim import Simulator
from dure.rtl.npu.base6_decode import PAIRS, Base6Decoder
from dure.sim import golden_sparse24
from dure.sim.golden_sparse24 import unpack_pair_codes


def decode_all():
    dut = Base6Decoder()
    out = []

    async def bench(ctx):
        for byte in range(256):
            ctx.set(dut.code, byte)
            pairs = ctx.get(dut.pairs)
            out.append(([int(pairs[t]) for t in range(3)], ctx.get(dut.legal)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_pairs_are_the_golden_models():
    assert PAIRS == golden_sparse24.PAIRS


def test_every_code_byte():
    got = decode_all()
    # The golden model's decoding of each byte as one column of K = 12 (three groups): their
    # 4-bit codes p0 | p1 << 2.
    for byte in range(216):
        codes = unpack_pair_codes(np.array([[byte]], np.uint8), 12, 1)[:, 0] & 0xF
        assert got[byte] == ([int(c) for c in codes], 1), byte
    assert {tuple(p) for p, _ in got[:216]} == {
        tuple(a | b << 2 for a, b in (PAIRS[i0], PAIRS[i1], PAIRS[i2]))
        for i0 in range(6) for i1 in range(6) for i2 in range(6)}
    for byte in range(216, 256):
        assert got[byte] == ([0, 0, 0], 0), byte
