# amaranth: UnusedElaboratable=no
"""Register-bank builder: reads, byte-enable storage, strobes, write-1-to-clear data, a write
held off until ready, errors at unlisted offsets, and the table checks."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from dure.rtl.bus.regbank import Register, RegisterBank
from dure.rtl.bus.signature import BusSignature
from dure.sim.verif.bus import BusInitiator, Request, simulate, transact

TABLE = (
    Register("ident", 0x0, "r"),
    Register("ctrl", 0x4, "rw", width=12, reset=0x5A5, storage=True),
    Register("flags", 0x8, "rw1c"),
    Register("stage", 0xC, "w", storage=True),
    Register("kick", 0x10, "w", stall=True),
    Register("mirror", 0x14, "rw"),
)


class Bench(wiring.Component):
    """The bank with a few behaviours behind it: ``mirror`` is held outside the bank; ``flags``
    counts the cleared bits; ``kick`` writes are granted while ``ready``; strobes are counted."""

    def __init__(self):
        super().__init__({"bus": In(BusSignature(8)), "ready": In(1)})
        self.bank = RegisterBank(TABLE, addr_width=8)
        self.mirror = Signal(32)
        self.cleared = Signal(32)
        self.kicks = Signal(8)
        self.ident_reads = Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = self.bank
        wiring.connect(m, wiring.flipped(self.bus), bank.bus)
        m.d.comb += [bank.ident.r_data.eq(0xD00D_F00D), bank.mirror.r_data.eq(self.mirror),
                     bank.flags.r_data.eq(0xFF), bank.kick.w_ready.eq(self.ready)]
        with m.If(bank.mirror.w_stb):
            m.d.sync += self.mirror.eq(bank.mirror.w_data)
        with m.If(bank.flags.w_stb):
            m.d.sync += self.cleared.eq(self.cleared | bank.flags.w_data)
        with m.If(bank.kick.w_stb):
            m.d.sync += self.kicks.eq(self.kicks + 1)
        with m.If(bank.ident.r_stb):
            m.d.sync += self.ident_reads.eq(self.ident_reads + 1)
        return m


def test_reads_writes_and_errors():
    dut = Bench()
    seen = []

    async def bench(ctx):
        ctx.set(dut.ready, 1)
        seen.append(await transact(ctx, dut.bus, 0))                         # ident
        seen.append(await transact(ctx, dut.bus, 0, we=1, wdata=7))          # ignored
        seen.append(await transact(ctx, dut.bus, 1))                         # ctrl reset
        await transact(ctx, dut.bus, 1, we=1, wdata=0xFFFF_F0FF, be=0b0001)
        seen.append(await transact(ctx, dut.bus, 1))
        await transact(ctx, dut.bus, 2, we=1, wdata=0x0000_8001, be=0b0010)  # w1c
        await transact(ctx, dut.bus, 3, we=1, wdata=0x1234_5678, be=0b1100)  # write-only
        seen.append(await transact(ctx, dut.bus, 3))
        seen.append(ctx.get(dut.bank.stage.data))
        ctx.set(dut.mirror, 0xAABB_CCDD)
        await transact(ctx, dut.bus, 5, we=1, wdata=0x1100_0000, be=0b1000)
        seen.append(await transact(ctx, dut.bus, 5))
        seen.append(await transact(ctx, dut.bus, 6))                         # unlisted
        seen.append(await transact(ctx, dut.bus, 0xFF, we=1))                # unlisted
        seen.append((ctx.get(dut.cleared), ctx.get(dut.ident_reads)))

    simulate(dut, [bench])
    assert seen == [(0xD00D_F00D, 0), (0xD00D_F00D, 0), (0x5A5, 0), (0x5FF, 0), (0, 0),
                    0x1234_0000, (0x11BB_CCDD, 0), (0, 1), (0, 1), (0x8000, 1)]


def test_stalled_write_waits_for_ready():
    dut = Bench()
    initiator = BusInitiator(dut.bus)
    seen = {}

    async def issue(ctx):
        await initiator.issue(ctx, [Request(4, we=1), Request(0), Request(4, we=1)])

    async def collect(ctx):
        await initiator.collect(ctx, 3)
        await ctx.tick()
        seen["kicks_after"] = ctx.get(dut.kicks)

    async def control(ctx):
        await ctx.tick().repeat(5)
        seen["kicks_before"] = ctx.get(dut.kicks)
        ctx.set(dut.ready, 1)

    simulate(dut, [issue, collect, control])
    # The first kick is held until ready rises (cycle 5); every response follows its grant.
    assert initiator.grants == [5, 6, 7]
    assert [r.cycle for r in initiator.responses] == [6, 7, 8]
    assert seen == {"kicks_before": 0, "kicks_after": 2}


@pytest.mark.parametrize("table, message", [
    ((Register("a", 0x2, "r"),), "multiple of 4"),
    ((Register("a", 0x0, "x"),), "access must be one of"),
    ((Register("a", 0x0, "r", width=33),), "width must be 1..32"),
    ((Register("a", 0x0, "r", storage=True),), "storage needs access"),
    ((Register("a", 0x0, "r", stall=True),), "only writable"),
    ((Register("a", 0x0, "r"), Register("a", 0x4, "r")), "used twice or reserved"),
    ((Register("bus", 0x0, "r"),), "used twice or reserved"),
    ((Register("a", 0x0, "r"), Register("b", 0x0, "r")), "offset 0x0 used twice"),
    ((Register("a", 0x400, "r"),), "does not fit"),
])
def test_table_is_checked(table, message):
    with pytest.raises(ValueError, match=message):
        RegisterBank(table, addr_width=8)
