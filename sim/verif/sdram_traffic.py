"""Bus traffic against the SDRAM controller and the chip model: run, check, measure.

:func:`simulate` runs a list of bus requests through a controller wired to an
:class:`~dure.sim.verif.sdram_chip.SdramChip`; :func:`expected_reads` replays them on a shadow
memory; :func:`random_requests` makes mixed traffic; :func:`bench` measures bandwidth and
latency for the README and the report.
"""

import random
from dataclasses import dataclass

from amaranth.sim import Simulator

from .bus import BusInitiator, Request, Response
from .sdram_chip import SdramChip, SdramViolation

__all__ = ["Request", "Traffic", "simulate", "expected_reads", "check_responses",
           "random_requests", "sequential_requests", "bench"]


@dataclass
class Traffic:
    """What one simulation saw: grant cycles, responses, and the chip model."""
    grants: list
    responses: list
    chip: SdramChip


def simulate(controller, requests, *, clk_freq, datasheet, extra_cycles=0, timeout=1_000_000,
             clock_inverted=False, vcd=None):
    """Runs ``requests`` through ``controller`` with a chip model on its pins.

    ``extra_cycles`` keeps the simulation going after the last response (refreshes while
    idle); ``clock_inverted`` goes to the chip model. Raises
    :class:`~dure.sim.verif.sdram_chip.SdramViolation` on a timing violation.
    """
    chip = SdramChip(controller.pins, clk_period=1 / clk_freq, datasheet=datasheet,
                     clock_inverted=clock_inverted)
    initiator = BusInitiator(controller.bus)
    violations = []
    bus = controller.bus

    async def issue(ctx):
        await initiator.issue(ctx, requests)

    async def run_chip(ctx):
        # The violation ends the simulation from `collect`: an exception raised inside the
        # simulator would leave the other testbenches' coroutines unfinished.
        try:
            await chip.run(ctx)
        except SdramViolation as violation:
            violations.append(violation)

    async def collect(ctx):
        cycle = last = 0
        while not violations and (len(initiator.responses) < len(requests)
                                  or cycle <= last + extra_cycles):
            *_, rvalid, rdata, err = await ctx.tick().sample(bus.rvalid, bus.rdata, bus.err)
            if rvalid:
                initiator.responses.append(Response(cycle, rdata, err))
                last = cycle
            cycle += 1
            assert cycle < timeout, (f"only {len(initiator.responses)} of {len(requests)} "
                                     f"responses in {timeout} cycles")

    sim = Simulator(controller)
    sim.add_clock(1 / clk_freq)
    sim.add_testbench(issue, background=True)
    sim.add_testbench(run_chip, background=True)
    sim.add_testbench(collect)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    if violations:
        raise violations[0]
    return Traffic(initiator.grants, initiator.responses, chip)


def expected_reads(requests):
    """For each request, the word a read returns after all earlier requests (None for a
    write), as a ``(value, mask)`` pair: ``mask`` has the bits of bytes ever written."""
    shadow = {}
    expected = []
    for r in requests:
        value, mask = shadow.get(r.addr, (0, 0))
        if r.we:
            bits = sum(0xFF << (8 * i) for i in range(4) if r.be >> i & 1)
            shadow[r.addr] = ((value & ~bits) | (r.wdata & bits), mask | bits)
            expected.append(None)
        else:
            expected.append((value, mask))
    return expected


def check_responses(requests, traffic):
    """Asserts one error-free response per request and read data equal to the shadow
    memory's in every byte written before."""
    assert len(traffic.responses) == len(requests)
    for i, (r, want, got) in enumerate(zip(requests, expected_reads(requests),
                                           traffic.responses, strict=True)):
        assert got.err == 0, f"request {i} answered err"
        if want is not None:
            value, mask = want
            assert got.rdata & mask == value, (
                f"request {i} (read of word {r.addr:#x}, granted at cycle {traffic.grants[i]}):"
                f" {got.rdata:#010x} & {mask:#010x} != {value:#010x}")


def random_requests(rng, count, words, *, write_fraction=0.5, idle_max=3, idle_fraction=0.3,
                    run_fraction=0.5, hot_words=64):
    """Mixed traffic: random and sequential runs of reads and writes with random byte
    enables and idle gaps, over ``words`` words, half the addresses from a small hot set (so
    reads find earlier writes)."""
    hot = [rng.randrange(words) for _ in range(hot_words)]
    requests = []
    addr = 0
    while len(requests) < count:
        if rng.random() < run_fraction:
            addr = (addr + 1) % words
        else:
            addr = rng.choice(hot) if rng.random() < 0.5 else rng.randrange(words)
        we = rng.random() < write_fraction
        be = rng.choice([0xF, 0xF, 0x1, 0x2, 0x4, 0x8, 0x3, 0xC, 0x6]) if we else 0xF
        idle = rng.randint(1, idle_max) if rng.random() < idle_fraction else 0
        requests.append(Request(addr, we=int(we), wdata=rng.getrandbits(32), be=be, idle=idle))
    return requests


def sequential_requests(start, count, *, we, first_idle=0):
    """``count`` back-to-back reads or writes of consecutive words."""
    return [Request(start + i, we=int(we), wdata=(0x1234_0000 + i) if we else 0,
                    idle=first_idle if i == 0 else 0) for i in range(count)]


def _stream_rate(traffic, first):
    """Bytes per cycle over the responses from ``first`` on."""
    responses = traffic.responses[first:]
    return 4 * (len(responses) - 1) / (responses[-1].cycle - responses[0].cycle)


def bench(timing, *, clk_freq, datasheet, count=1024, seed=1, clock_inverted=False, **kwargs):
    """Measures the controller for ``timing`` at ``clk_freq``: sustained bytes per cycle of
    ``count`` back-to-back sequential and random reads and writes (the random ones over the
    whole part, so nearly every one misses its bank's open row), and the read latency (grant
    to response) of a lone read to a closed bank, to the open row, and to another row of an
    open bank. ``clock_inverted``: the chip on the inverted clock, as on the boards (the
    controller is built for it: ``chip_clock_inverted``). ``kwargs`` go to the controller.
    Returns a dict of numbers."""
    from dure.rtl.soc.sdram import SdramController

    rng = random.Random(seed)
    start = timing.cycles(clk_freq).init + 100
    word_bits = timing.row_bits + timing.bank_bits + timing.col_bits - 1

    def run(requests):
        controller = SdramController(timing, clk_freq=clk_freq,
                                     chip_clock_inverted=clock_inverted, **kwargs)
        return simulate(controller, requests, clk_freq=clk_freq, datasheet=datasheet,
                        clock_inverted=clock_inverted)

    results = {}
    for name, we in (("read", 0), ("write", 1)):
        traffic = run(sequential_requests(0, count, we=we, first_idle=start))
        results[f"sequential {name} B/cycle"] = _stream_rate(traffic, 0)
        traffic = run([Request(rng.getrandbits(word_bits), we=we, wdata=rng.getrandbits(32),
                               idle=start if i == 0 else 0) for i in range(count)])
        results[f"random {name} B/cycle"] = _stream_rate(traffic, 0)
    other_row = 1 << (word_bits - 1)
    traffic = run([Request(5, idle=start), Request(6, idle=40), Request(other_row + 5, idle=40)])
    closed, hit, miss = (r.cycle - g for r, g in zip(traffic.responses, traffic.grants,
                                                     strict=True))
    results["read latency, closed bank (cycles)"] = closed
    results["read latency, open row (cycles)"] = hit
    results["read latency, row miss (cycles)"] = miss
    return results
