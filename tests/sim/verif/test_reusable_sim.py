# amaranth: UnusedElaboratable=no
"""A reusable simulation restarts from reset: every run sees a freshly built simulator's signals,
memories and time; builds happen once per key; a run that raised is not reused."""

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory
from dure.sim.verif import reusable_sim
from dure.sim.verif.reusable_sim import ReusableSimulation, reusable


class Counter(Elaboratable):
    """A free-running counter and a memory written with it at address 1 when ``we`` is high."""

    def __init__(self):
        self.count = Signal(8, init=3)
        self.we = Signal()
        self.rdata = Signal(8)
        self.mem = Memory(shape=8, depth=4, init=[7, 7, 7, 7])

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = self.mem
        write = self.mem.write_port()
        read = self.mem.read_port(domain="comb")
        m.d.comb += [write.addr.eq(1), write.data.eq(self.count), write.en.eq(self.we),
                     read.addr.eq(1), self.rdata.eq(read.data)]
        m.d.sync += self.count.eq(self.count + 1)
        return m


def _observe(dut, seen, *, write):
    async def bench(ctx):
        seen.append((ctx.get(dut.count), ctx.get(dut.rdata)))
        if write:
            ctx.set(dut.we, 1)
        await ctx.tick().repeat(5)
        ctx.set(dut.we, 0)
        seen.append((ctx.get(dut.count), ctx.get(dut.rdata)))
    return bench


def test_every_run_starts_from_reset():
    sim = ReusableSimulation(Counter())
    first, second = [], []
    sim.run([_observe(sim.design, first, write=True)])
    sim.run([_observe(sim.design, second, write=False)])
    assert first == [(3, 7), (8, 7)]       # the memory took count 7 at the fifth edge
    assert second == [(3, 7), (8, 7)]      # count and memory back to their initial values


def test_background_testbenches_stop_and_restart():
    sim = ReusableSimulation(Counter())
    ticks = []

    async def background(ctx):
        while True:
            await ctx.tick()
            ticks.append(ctx.get(sim.design.count))

    for _ in range(2):
        ticks.clear()
        sim.run([_observe(sim.design, [], write=False)], [background])
        assert ticks[:5] == [4, 5, 6, 7, 8]


def test_processes_run_beside_the_testbenches():
    sim = ReusableSimulation(Counter(), processes=1)
    seen = []

    async def process(ctx):
        async for _, _, count in ctx.tick().sample(sim.design.count):
            seen.append(count)

    for _ in range(2):
        seen.clear()
        sim.run([_observe(sim.design, [], write=False)], processes=[process])
        assert seen[:3] == [3, 4, 5]


def test_too_many_testbenches_are_refused():
    sim = ReusableSimulation(Counter(), critical=1, background=0)
    bench = _observe(sim.design, [], write=False)
    with pytest.raises(ValueError, match="2 critical testbenches given, but this simulation "
                                         "has slots for 1"):
        sim.run([bench] * 2)
    with pytest.raises(ValueError, match="1 background testbenches given, .* slots for 0"):
        sim.run([], [bench])
    with pytest.raises(ValueError, match="1 processes given, .* slots for 0"):
        sim.run([], [], [bench])


def test_built_once_per_key_and_anew_after_a_failed_run(monkeypatch):
    monkeypatch.setattr(reusable_sim, "_CACHE", type(reusable_sim._CACHE)())
    builds = []

    def build():
        builds.append(Counter())
        return builds[-1]

    one = reusable("counter", build)
    assert reusable("counter", build) is one and len(builds) == 1

    async def failing(ctx):
        await ctx.tick()
        raise RuntimeError("a failing check")

    with pytest.raises(RuntimeError, match="a failing check"):
        one.run([failing])
    again = reusable("counter", build)
    assert again is not one and len(builds) == 2
    seen = []
    again.run([_observe(again.design, seen, write=False)])
    assert seen == [(3, 7), (8, 7)]


def test_least_recently_used_is_dropped(monkeypatch):
    monkeypatch.setattr(reusable_sim, "_CACHE", type(reusable_sim._CACHE)())
    monkeypatch.setattr(reusable_sim, "CACHE_SIZE", 2)
    def build():
        return Counter()

    first = reusable("a", build)
    reusable("b", build)
    assert reusable("a", build) is first         # used again: now the most recent
    reusable("c", build)                         # drops "b"
    assert set(reusable_sim._CACHE) == {"a", "c"}


def test_design_holds_more_than_the_toplevel(monkeypatch):
    monkeypatch.setattr(reusable_sim, "_CACHE", type(reusable_sim._CACHE)())
    top = Counter()
    sim = reusable("with parts", lambda: (top, {"top": top, "note": "parts"}))
    assert sim.design == {"top": top, "note": "parts"}
