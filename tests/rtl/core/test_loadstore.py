"""Load/store unit: byte enables, split detection and store-data lanes for every size and
offset; load alignment, merge of a split load's two words and sign / zero extension."""

import random

from amaranth.sim import Simulator
from dure.rtl.core.isa import Funct3Mem
from dure.rtl.core.loadstore import LoadStoreUnit

SIZES = {Funct3Mem.B: 1, Funct3Mem.BU: 1, Funct3Mem.H: 2, Funct3Mem.HU: 2, Funct3Mem.W: 4}


def expected_request(size, addr, data):
    """(mask, mask_hi, split, wdata lanes) from the byte addresses the access touches."""
    offset = addr & 3
    lanes = [offset + i for i in range(size)]
    mask = sum(1 << lane for lane in lanes if lane < 4)
    mask_hi = sum(1 << (lane - 4) for lane in lanes if lane >= 4)
    wbytes = {lane % 4: data >> (8 * i) & 0xFF for i, lane in enumerate(lanes)}
    return mask, mask_hi, mask_hi != 0, wbytes


def expected_load(funct3, offset, lo, hi):
    """Value of a load at ``offset`` within the word ``lo``, continuing into ``hi``."""
    size = SIZES[funct3]
    memory = lo.to_bytes(4, "little") + hi.to_bytes(4, "little")
    value = int.from_bytes(memory[offset:offset + size], "little")
    if funct3 in (Funct3Mem.B, Funct3Mem.H) and value >> (8 * size - 1):
        value -= 1 << (8 * size)
    return value & 0xFFFF_FFFF


def test_requests_every_size_and_offset():
    dut = LoadStoreUnit()
    sim = Simulator(dut)
    rng = random.Random(7)

    async def bench(ctx):
        for funct3, size in SIZES.items():
            for offset in range(4):
                base = 0x8000_1000 + rng.randrange(0, 256, 4)
                data = rng.getrandbits(32)
                ctx.set(dut.x_funct3, funct3)
                ctx.set(dut.x_base, base)
                ctx.set(dut.x_offset, offset)
                ctx.set(dut.x_store_data, data)
                mask, mask_hi, split, wbytes = expected_request(size, base + offset, data)
                assert ctx.get(dut.x_addr) == base + offset
                assert ctx.get(dut.x_mask) == mask, (funct3, offset)
                assert ctx.get(dut.x_mask_hi) == mask_hi, (funct3, offset)
                assert ctx.get(dut.x_split) == split, (funct3, offset)
                wdata = ctx.get(dut.x_wdata)
                for lane, byte in wbytes.items():
                    assert wdata >> (8 * lane) & 0xFF == byte, (funct3, offset, lane)

    sim.add_testbench(bench)
    sim.run()


def test_loads_every_size_offset_and_sign():
    dut = LoadStoreUnit()
    sim = Simulator(dut)
    rng = random.Random(8)
    words = [(0x8382_8180, 0x0706_0504), (0x7F00_FF80, 0x80FF_017F)] + \
        [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(6)]

    async def bench(ctx):
        for lo, hi in words:
            for funct3, size in SIZES.items():
                for offset in range(4):
                    split = offset + size > 4
                    ctx.set(dut.m_funct3, funct3)
                    ctx.set(dut.m_offset, offset)
                    ctx.set(dut.m_merge, split)
                    ctx.set(dut.m_lo, lo if split else rng.getrandbits(32))
                    ctx.set(dut.m_rdata, hi if split else lo)
                    want = expected_load(funct3, offset, lo, hi)
                    assert ctx.get(dut.m_result) == want, (funct3, offset, hex(lo), hex(hi))
                    word = ctx.get(dut.m_word)
                    for i in range(size):   # wrap-around lanes
                        lane = (offset + i) % 4
                        src = lo if offset + i < 4 else hi
                        assert word >> (8 * lane) & 0xFF == src >> (8 * lane) & 0xFF

    sim.add_testbench(bench)
    sim.run()
