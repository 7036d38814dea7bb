"""AccessCheck (X's checks of a data access), Amaranth simulator: nothing to check -> ``go``
one cycle after the state allows it (``unchecked`` is a register); an armed load trigger ->
two cycles (addresses, then checks registered) before ``go`` or ``trap`` with mtval; a
locked PMP entry denying the second word of a split access -> mtval of that word; ``clear``
forgets the registered checks; ``hold_off`` drops ``unchecked`` for one cycle."""

from amaranth.sim import Simulator
from dure.rtl.core.access_check import AccessCheck
from dure.rtl.core.pmp import napot_care

NAPOT, LOCKED = 0b11 << 3, 1 << 7


def run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def outputs(ctx, dut):
    return {name: ctx.get(getattr(dut, name)) for name in ("go", "trap", "watch", "denied")}


def test_unchecked_goes_at_once_after_one_cycle():
    dut = AccessCheck(pmp_entries=1, triggers=1)

    async def bench(ctx):
        ctx.set(dut.prot.priv_m, 1)
        ctx.set(dut.prot.dpriv_m, 1)
        ctx.set(dut.load, 1)
        ctx.set(dut.start, 1)
        assert ctx.get(dut.go) == 0          # the register starts at 0
        await ctx.tick()
        assert outputs(ctx, dut) == {"go": 1, "trap": 0, "watch": 0, "denied": 0}
        ctx.set(dut.hold_off, 1)
        await ctx.tick()
        assert ctx.get(dut.go) == 0          # hold_off: no request in the next cycle
        ctx.set(dut.hold_off, 0)
        await ctx.tick()
        assert ctx.get(dut.go) == 1

    run(dut, bench)


def test_armed_load_trigger_takes_two_cycles_then_traps():
    dut = AccessCheck(pmp_entries=0, triggers=1)

    async def bench(ctx):
        ctx.set(dut.prot.priv_m, 1)
        ctx.set(dut.prot.dpriv_m, 1)
        ctx.set(dut.prot.mte, 1)
        ctx.set(dut.prot.trig_ctrl[0], 0b10001)     # M, LOAD
        ctx.set(dut.prot.trig_addr[0], 0x8000_0104)
        await ctx.tick()                            # ``unchecked`` registered: 0
        ctx.set(dut.load, 1)
        ctx.set(dut.addr, 0x8000_0104)
        ctx.set(dut.base, 0x8000_0100)
        ctx.set(dut.offset, 4)
        ctx.set(dut.start, 1)
        assert ctx.get(dut.go) == 0
        await ctx.tick()                            # addresses registered
        assert outputs(ctx, dut) == {"go": 0, "trap": 0, "watch": 0, "denied": 0}
        await ctx.tick()                            # checks registered
        assert outputs(ctx, dut) == {"go": 0, "trap": 1, "watch": 1, "denied": 0}
        assert ctx.get(dut.tval) == 0x8000_0104
        ctx.set(dut.clear, 1)                       # the instruction leaves X
        await ctx.tick()
        assert outputs(ctx, dut) == {"go": 0, "trap": 0, "watch": 0, "denied": 0}
        # A store to the same address: the trigger is for loads only -> allowed.
        ctx.set(dut.clear, 0)
        ctx.set(dut.load, 0)
        await ctx.tick()
        await ctx.tick()
        assert outputs(ctx, dut) == {"go": 1, "trap": 0, "watch": 0, "denied": 0}

    run(dut, bench)


def test_locked_entry_denies_the_second_word_of_a_split_access():
    dut = AccessCheck(pmp_entries=1, triggers=0)

    async def bench(ctx):
        # Entry 0: NAPOT 0x1000..0x1fff, locked, no permissions: binds M-mode.
        ctx.set(dut.prot.priv_m, 1)
        ctx.set(dut.prot.dpriv_m, 1)
        ctx.set(dut.prot.pmp_cfg[0], NAPOT | LOCKED)
        pmpaddr = (0x1000 >> 2) | 0x1FF
        ctx.set(dut.prot.pmp_addr[0], pmpaddr)
        ctx.set(dut.prot.pmp_care[0], napot_care(pmpaddr))
        await ctx.tick()
        # A word load at 0x0ffe: its first word (0x0ffc) is outside, its second (0x1000)
        # inside the denied region.
        ctx.set(dut.load, 1)
        ctx.set(dut.addr, 0x0FFE)
        ctx.set(dut.base, 0x0FF0)
        ctx.set(dut.offset, 0xE)
        ctx.set(dut.split, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        await ctx.tick()
        assert outputs(ctx, dut) == {"go": 0, "trap": 1, "watch": 0, "denied": 1}
        assert ctx.get(dut.tval) == 0x1000
        # The same first word without the split: allowed.
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        ctx.set(dut.addr, 0x0FFC)
        ctx.set(dut.split, 0)
        await ctx.tick()
        await ctx.tick()
        assert outputs(ctx, dut) == {"go": 1, "trap": 0, "watch": 0, "denied": 0}

    run(dut, bench)
