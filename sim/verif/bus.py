"""Bus models for Amaranth-simulator testbenches: an initiator and a target.

Both models read the bus only through values sampled at the clock edge
(``ctx.tick().sample(...)``) and drive it right after an edge, so they are independent of the
order in which testbenches run within a cycle. Cycle numbers count clock edges from the start
of the simulation: a value sampled at edge ``k`` belongs to cycle ``k - 1`` (the first cycle is 0).
"""

import random
from dataclasses import dataclass, field

from amaranth.sim import Simulator

__all__ = ["Request", "Response", "BusInitiator", "BusTarget", "transact", "simulate",
           "run_stage", "mixed_requests", "check_stage_in_order"]


@dataclass
class Request:
    """One bus request; ``addr`` is the word address."""
    addr: int
    we: int = 0
    wdata: int = 0
    be: int = 0xF
    idle: int = 0           # cycles to wait (req = 0) before presenting it


@dataclass
class Response:
    """One bus response and the cycle it arrived in."""
    cycle: int
    rdata: int
    err: int


@dataclass
class BusInitiator:
    """Issues requests back to back (or with ``Request.idle`` gaps) and collects responses.

    Run :meth:`issue` and :meth:`collect` as two testbenches of the same simulation.
    ``grants[i]`` is the cycle request ``i`` was granted in, ``responses[i]`` its response.
    """
    bus: object
    grants: list = field(default_factory=list)
    responses: list = field(default_factory=list)

    async def issue(self, ctx, requests):
        cycle = 0
        for request in requests:
            ctx.set(self.bus.req, 0)
            for _ in range(request.idle):
                await ctx.tick()
                cycle += 1
            ctx.set(self.bus.req, 1)
            ctx.set(self.bus.addr, request.addr)
            ctx.set(self.bus.we, request.we)
            ctx.set(self.bus.be, request.be)
            ctx.set(self.bus.wdata, request.wdata)
            while True:
                *_, gnt = await ctx.tick().sample(self.bus.gnt)
                cycle += 1
                if gnt:
                    self.grants.append(cycle - 1)
                    break
        ctx.set(self.bus.req, 0)

    async def collect(self, ctx, count, timeout=10_000):
        cycle = 0
        while len(self.responses) < count:
            *_, rvalid, rdata, err = await ctx.tick().sample(
                self.bus.rvalid, self.bus.rdata, self.bus.err)
            cycle += 1
            if rvalid:
                self.responses.append(Response(cycle - 1, rdata, err))
            assert cycle < timeout, f"only {len(self.responses)} of {count} responses arrived"


async def transact(ctx, bus, addr, *, we=0, wdata=0, be=0xF):
    """One blocking access; returns ``(rdata, err)``. Use it alone on its bus."""
    initiator = BusInitiator(bus)
    await initiator.issue(ctx, [Request(addr, we, wdata, be)])
    # The response comes at the earliest in the cycle after the grant.
    while True:
        *_, rvalid, rdata, err = await ctx.tick().sample(bus.rvalid, bus.rdata, bus.err)
        if rvalid:
            return rdata, err


@dataclass
class BusTarget:
    """A memory target with a fixed response latency and a random grant pattern.

    ``log`` receives ``(cycle, addr, we, wdata, be)`` for each granted request; reads return
    ``memory.get(addr, addr ^ tag)``; word addresses in ``errors`` answer ``err`` (a write
    there changes nothing). Run :meth:`serve` as a testbench (it never returns).
    """
    bus: object
    latency: int = 1
    gnt_probability: float = 1.0
    seed: int = 0
    tag: int = 0
    memory: dict = field(default_factory=dict)
    log: list = field(default_factory=list)
    errors: set = field(default_factory=set)

    async def serve(self, ctx):
        rng = random.Random(self.seed)
        pending = []                                # (due cycle, rdata, err)
        cycle = 0
        gnt = rng.random() < self.gnt_probability
        ctx.set(self.bus.gnt, gnt)
        while True:
            if pending and pending[0][0] <= cycle:
                _, rdata, err = pending.pop(0)
                ctx.set(self.bus.rvalid, 1)
                ctx.set(self.bus.rdata, rdata)
                ctx.set(self.bus.err, err)
            else:
                ctx.set(self.bus.rvalid, 0)
                ctx.set(self.bus.err, 0)
            ctx.set(self.bus.gnt, gnt)
            *_, req, addr, we, wdata, be = await ctx.tick().sample(
                self.bus.req, self.bus.addr, self.bus.we, self.bus.wdata, self.bus.be)
            if req and gnt:
                self.log.append((cycle, addr, we, wdata, be))
                rdata = self.memory.get(addr, addr ^ self.tag)
                err = addr in self.errors
                if we and not err:
                    self.memory[addr] = wdata
                due = max(cycle + self.latency, pending[-1][0] + 1 if pending else 0)
                pending.append((due, rdata, int(err)))
            cycle += 1
            gnt = rng.random() < self.gnt_probability


def simulate(dut, testbenches, background=(), vcd=None):
    """Runs ``dut`` with a 100 MHz clock until every testbench in ``testbenches`` returns;
    ``background`` testbenches (bus targets, stimuli) are stopped then."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in testbenches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


def run_requests(dut, streams, background=()):
    """Runs ``dut`` with one :class:`BusInitiator` per entry of ``streams`` (``{key: (bus,
    requests)}``), all issuing concurrently, until every initiator has its responses back;
    ``background`` testbenches (bus targets) run beside them. Returns ``{key: initiator}``:
    the grants and responses each one saw."""
    initiators = {key: BusInitiator(bus) for key, (bus, _) in streams.items()}
    benches = []
    for key, (_, requests) in streams.items():
        initiator = initiators[key]

        async def issue(ctx, initiator=initiator, requests=requests):
            await initiator.issue(ctx, requests)

        async def collect(ctx, initiator=initiator, requests=requests):
            await initiator.collect(ctx, len(requests))

        benches += [issue, collect]
    simulate(dut, benches, background)
    return initiators


def run_ports(dut, per_port, background=()):
    """:func:`run_requests` on ``dut``'s bus ports named by ``per_port``'s keys (``{"a":
    requests, "b": requests}``); returns ``{name: initiator}``."""
    return run_requests(dut, {name: (getattr(dut, name), requests)
                              for name, requests in per_port.items()}, background)


def run_stage(dut, requests, *, latency=1, gnt_probability=1.0, seed=5, tag=0x5A5A):
    """Pass ``requests`` through ``dut``, a bus stage between an initiator on ``dut.up`` and a
    :class:`BusTarget` on ``dut.down`` (``latency``, ``gnt_probability``, ``seed``; reads answer
    ``addr ^ tag`` unless written before), until every response is back. Returns
    ``(initiator, target)``: the grants and responses the initiator saw, the target's log."""
    target = BusTarget(dut.down, latency=latency, gnt_probability=gnt_probability, seed=seed,
                       tag=tag)
    initiator = run_requests(dut, {"up": (dut.up, requests)}, [target.serve])["up"]
    return initiator, target


def mixed_requests(count=40):
    """``count`` requests to distinct words: every third a write (byte enables cycling through
    1..15), every fourth with an idle cycle before it."""
    return [Request(0x100 + i, we=i % 3 == 0, wdata=0x1000 + i, be=(i % 15) + 1,
                    idle=i % 4 == 1) for i in range(count)]


def check_stage_in_order(requests, initiator, target, *, latency, added, tag=0x5A5A):
    """Assert what :func:`run_stage` returned for ``requests`` to distinct words: each reached
    the target once, in order, at least ``added`` cycles after the initiator's grant; each got
    one response, at least ``latency`` cycles after the target took it; reads answered
    ``addr ^ tag``."""
    assert [(addr, we, wdata, be) for _, addr, we, wdata, be in target.log] == \
        [(r.addr, r.we, r.wdata, r.be) for r in requests]
    assert len(initiator.responses) == len(requests)
    for grant, (cycle, *_), response in zip(initiator.grants, target.log,
                                           initiator.responses, strict=True):
        assert cycle >= grant + added
        assert response.cycle >= cycle + latency
    for request, response in zip(requests, initiator.responses, strict=True):
        if not request.we:
            assert response.rdata == request.addr ^ tag
