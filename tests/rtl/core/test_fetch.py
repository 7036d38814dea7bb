"""The fetch unit's direction tables (``rtl/core/fetch.py``, ``dir_entries``): a conditional
branch in the branch target buffer is followed to its target only once the tables say taken,
they learn from X's training (per-branch counter, then the global history through the
chooser), and an unconditional entry is always followed; plus the parameter checks."""

import gc
import warnings

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.fetch import Fetch

BASE = 0x8000_0000
BRANCH = BASE + 0x10          # the branch the buffer holds
TARGET = BASE + 0x40


class Bench:
    """A one-cycle instruction memory (grant every cycle, answer next cycle, the word = its
    byte address) in front of :class:`Fetch`; D always ready."""

    def __init__(self, **kw):
        self.dut = Fetch(reset_vector=BASE, depth=3, btb_entries=4, **kw)

    async def memory(self, ctx):
        bus = self.dut.ibus
        ctx.set(bus.gnt, 1)
        async for _, _, req, addr in ctx.tick().sample(bus.req, bus.addr):
            ctx.set(bus.rvalid, req)
            ctx.set(bus.rdata, addr * 4 if req else 0)

    async def redirect(self, ctx, target):
        ctx.set(self.dut.redirect, 1)
        ctx.set(self.dut.target, target)
        ctx.set(self.dut.target_next, target + 4)
        await ctx.tick()
        ctx.set(self.dut.redirect, 0)

    async def after_branch(self, ctx, count=12):
        """The pc that follows BRANCH on ``out`` within ``count`` instructions, and the
        branch's ``btb_known`` / ``dir``."""
        dut = self.dut
        ctx.set(dut.out.ready, 1)
        seen = None
        for _ in range(4 * count):
            await ctx.tick().sample(dut.out.valid, dut.out.payload)
            valid, payload = ctx.get(dut.out.valid), ctx.get(dut.out.payload)
            if not valid:
                continue
            if seen is not None:
                return payload.pc, seen
            if payload.pc == BRANCH:
                seen = (payload.btb_known, payload.btb_taken, payload.dir.look,
                        payload.dir.index)
        raise AssertionError("the branch did not come out of fetch")

    async def train(self, ctx, look, index, taken):
        dut = self.dut
        ctx.set(dut.x_dir_update, 1)
        ctx.set(dut.x_dir_pc, BRANCH)
        ctx.set(dut.x_dir_state.look, look)
        ctx.set(dut.x_dir_state.index, index)
        ctx.set(dut.x_dir_taken, taken)
        await ctx.tick()
        ctx.set(dut.x_dir_update, 0)

    async def write_branch(self, ctx, cond):
        """D writes BRANCH -> TARGET into the buffer, conditional (``cond`` = 1) or not."""
        dut = self.dut
        ctx.set(dut.btb_we, 1)
        ctx.set(dut.btb_pc, BRANCH)
        ctx.set(dut.btb_valid, 1)
        ctx.set(dut.btb_cond, cond)
        ctx.set(dut.btb_target, TARGET)
        await ctx.tick()
        ctx.set(dut.btb_we, 0)

    def run(self, testbench):
        """Simulate the unit with the memory answering and ``testbench`` driving it."""
        sim = Simulator(self.dut)
        sim.add_clock(1e-8)
        sim.add_process(self.memory)
        sim.add_testbench(testbench)
        sim.run()


@pytest.fixture
def bench():
    """The bench with an 8-entry direction table."""
    return Bench(dir_entries=8)


def test_conditional_entry_follows_the_tables(bench):
    log = []

    async def testbench(ctx):
        await bench.write_branch(ctx, cond=1)   # as a conditional branch
        for _ in range(4):
            await bench.redirect(ctx, BASE)
            nxt, (known, taken, look, index) = await bench.after_branch(ctx)
            log.append((nxt, known, taken))
            assert known == 1 and look == 1
            assert nxt == (TARGET if taken else BRANCH + 4)
            # X trains the branch as taken (one cycle after it left X).
            await bench.train(ctx, look, index, 1)

    bench.run(testbench)
    # Initial counter weakly not taken: sequential once, then taken to the target.
    assert [n for n, _, _ in log] == [BRANCH + 4, TARGET, TARGET, TARGET]


def test_unlooked_branch_does_not_train(bench):
    """A branch fetched at a redirect target was not looked up (``look`` = 0): its training
    moves the history only, so the branch stays predicted not taken."""
    log = []

    async def testbench(ctx):
        await bench.write_branch(ctx, cond=1)
        for _ in range(3):
            await bench.redirect(ctx, BASE)
            nxt, (_, _, look, index) = await bench.after_branch(ctx)
            log.append(nxt)
            await bench.train(ctx, 0, index, 1)

    bench.run(testbench)
    assert log == [BRANCH + 4] * 3


def test_alternating_branch_learned_from_history(bench):
    """A branch trained taken / not taken in turn: the per-branch counter cannot follow it, the
    global-history counter (through the chooser) can; once learned every prediction is
    right."""
    right = []

    async def testbench(ctx):
        await bench.write_branch(ctx, cond=1)
        for step in range(24):
            outcome = step % 2
            await bench.redirect(ctx, BASE)
            nxt, (_, taken, look, index) = await bench.after_branch(ctx)
            right.append(taken == outcome)
            await bench.train(ctx, look, index, outcome)

    bench.run(testbench)
    assert all(right[-8:]), right
    assert not all(right[:8]), right


def test_unconditional_entry_always_taken(bench):
    log = []

    async def testbench(ctx):
        await bench.write_branch(ctx, cond=0)   # a JAL
        await bench.redirect(ctx, BASE)
        log.append(await bench.after_branch(ctx))

    bench.run(testbench)
    (nxt, (known, taken, _, _)), = log
    assert (nxt, known, taken) == (TARGET, 0, 1)


@pytest.mark.parametrize("kw, msg", [
    (dict(btb_entries=4, dir_entries=6), "dir_entries must be 0 or a power of two"),
    (dict(btb_entries=4, dir_entries=4096), "up to 2048"),
    (dict(btb_entries=0, dir_entries=8), "dir_entries needs btb_entries"),
    (dict(btb_entries=4, dir_entries=8, btb_known=True), "excludes btb_known"),
])
def test_bad_parameters(kw, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built unit is never elaborated
        with pytest.raises(ValueError, match=msg) as info:
            Fetch(**kw)
        del info
        gc.collect()
