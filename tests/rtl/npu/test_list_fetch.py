# amaranth: UnusedElaboratable=no
"""The LIST entry fetcher: descriptors in order with ``last`` on the final one, under random
grants, memory latency and consumer back-pressure, with and without ``bypass``; prefetch bounded
by its buffer (and, with ``defer``, to one descriptor); a read answered err ends the list with a
``fault`` entry and no further reads; back-to-back lists; with ``bypass`` an entry is offered
in the cycle its last word arrives; ``abort`` drops a list mid-fetch (nothing more offered, no
new read, busy until the responses are in) and the next list runs."""

import random

import pytest
from dure.rtl.npu.list_fetch import ListFetcher
from dure.sim.verif.bus import BusTarget, simulate

BASE = 0x1000_0000 // 4          # word address of the list


def memory_for(lists):
    mem = {}
    for addr, count in lists:
        for i in range(count * 8):
            mem[addr + i] = (addr + i) * 2654435761 & 0xFFFF_FFFF
    return mem


def run(lists, *, entries=4, latency=3, gnt=1.0, ready=1.0, errors=(), seed=0, hold=0,
        defer=0, bypass=False):
    """Starts each (word address, count) list when the fetcher is idle; returns the entries
    taken [(words, fault, last)] per list, the bus log and the most words in flight.
    ``defer``: the fetcher's ``defer`` input throughout."""
    dut = ListFetcher(entries=entries, bypass=bypass)
    target = BusTarget(dut.bus, latency=latency, gnt_probability=gnt, seed=seed,
                       memory=memory_for(lists), errors=set(errors))
    got = [[] for _ in lists]
    seen = {"ahead": 0}

    async def bench(ctx):
        rng = random.Random(seed + 1)
        ctx.set(dut.defer, defer)
        for index, (addr, count) in enumerate(lists):
            ctx.set(dut.start.valid, 1)
            ctx.set(dut.start.payload.addr, addr)
            ctx.set(dut.start.payload.count, count)
            while True:
                *_, rdy = await ctx.tick().sample(dut.start.ready)
                if rdy:
                    break
            ctx.set(dut.start.valid, 0)
            for _ in range(hold):                     # consumer asleep: prefetch fills up
                await ctx.tick()
            seen["ahead"] = max(seen["ahead"], len(target.log))
            while True:
                take = rng.random() < ready
                ctx.set(dut.o.ready, take)
                *_, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
                if valid and take:
                    words = [int(payload.words[i]) for i in range(8)]
                    got[index].append((words, int(payload.fault), int(payload.last)))
                    if payload.last:
                        break
            ctx.set(dut.o.ready, 0)
        while ctx.get(dut.busy):
            await ctx.tick()

    simulate(dut, [bench], [target.serve])
    return got, target.log, seen["ahead"]


def expected(addr, count):
    mem = memory_for([(addr, count)])
    return [([mem[addr + 8 * e + i] for i in range(8)], 0, int(e == count - 1))
            for e in range(count)]


@pytest.mark.parametrize("bypass", [False, True])
@pytest.mark.parametrize("latency,gnt,ready", [(1, 1.0, 1.0), (10, 1.0, 1.0), (4, 0.5, 0.3)])
def test_entries_in_order(latency, gnt, ready, bypass):
    lists = [(BASE, 5), (BASE + 400, 1), (BASE + 1000, 9)]
    got, log, _ = run(lists, latency=latency, gnt=gnt, ready=ready, seed=latency,
                      bypass=bypass)
    for (addr, count), entries in zip(lists, got, strict=True):
        assert entries == expected(addr, count)
    assert [addr for _, addr, *_ in log] == [a + i for a, c in lists for i in range(8 * c)]
    assert all(we == 0 for _, _, we, *_ in log)


def test_full_rate_and_bounded_prefetch():
    """With the consumer asleep the fetcher reads exactly its buffer (2 entries) ahead; once it
    takes every cycle the words stream at one per cycle."""
    got, log, ahead = run([(BASE, 12)], entries=2, latency=6, hold=60)
    assert got[0] == expected(BASE, 12)
    assert ahead == 16
    cycles = [c for c, *_ in log]
    assert cycles[-1] - cycles[16] <= 12 * 8 - 16 + 8 * 3


@pytest.mark.parametrize("bypass", [False, True])
def test_fault_ends_the_list_and_next_list_runs(bypass):
    """Word 3 of entry 2 answers err: entries 0 and 1 come out, then entry 2 with fault and
    last; nothing past the buffer is read; the next list is fetched normally."""
    bad = BASE + 2 * 8 + 3
    got, log, _ = run([(BASE, 50), (BASE + 800, 3)], entries=3, latency=5, errors={bad},
                      ready=0.7, seed=5, bypass=bypass)
    assert got[0][:2] == expected(BASE, 50)[:2]
    assert len(got[0]) == 3 and got[0][2][1:] == (1, 1)
    assert got[1] == expected(BASE + 800, 3)
    first = [addr for _, addr, *_ in log if addr < BASE + 800]
    assert max(first) < bad + 3 * 8                  # stopped within the buffer's reach


@pytest.mark.parametrize("bypass", [False, True])
@pytest.mark.parametrize("latency,gnt,ready", [(1, 1.0, 1.0), (6, 0.5, 0.4)])
def test_defer_prefetches_one_descriptor_and_keeps_order(latency, gnt, ready, bypass):
    """With ``defer`` held (the port wanted by the data) a new read is raised only while no
    whole descriptor waits: with the consumer asleep the fetcher stops one descriptor (plus
    the read in flight when it completed) ahead instead of its buffer's four; the entries are
    the same, in order, and a fault still ends the list."""
    lists = [(BASE, 7), (BASE + 400, 2)]
    got, log, _ = run(lists, latency=latency, gnt=gnt, ready=ready, seed=latency, defer=1,
                      bypass=bypass)
    for (addr, count), entries in zip(lists, got, strict=True):
        assert entries == expected(addr, count)
    assert [addr for _, addr, *_ in log] == [a + i for a, c in lists for i in range(8 * c)]
    _, _, ahead = run([(BASE, 12)], entries=4, latency=6, hold=60, defer=1, bypass=bypass)
    assert 8 <= ahead < 16
    _, _, free = run([(BASE, 12)], entries=4, latency=6, hold=60, bypass=bypass)
    assert free == 32
    bad = BASE + 2 * 8 + 3
    got, _, _ = run([(BASE, 50)], entries=3, latency=5, errors={bad}, seed=5, defer=1,
                    bypass=bypass)
    assert len(got[0]) == 3 and got[0][2][1:] == (1, 1)


def _offer_cycles(bypass, latency):
    """One list of 3 entries with the consumer always ready: the cycle each entry is offered
    and the cycle the response to its last word arrived (grant + latency)."""
    dut = ListFetcher(entries=4, bypass=bypass)
    target = BusTarget(dut.bus, latency=latency, memory=memory_for([(BASE, 3)]))
    offered, responses = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.start.valid, 1)
        ctx.set(dut.start.payload.addr, BASE)
        ctx.set(dut.start.payload.count, 3)
        await ctx.tick()
        ctx.set(dut.start.valid, 0)
        for cycle in range(1, 80):
            *_, valid, rvalid = await ctx.tick().sample(dut.o.valid, dut.bus.rvalid)
            if rvalid:
                responses.append(cycle)
            if valid:
                offered.append(cycle)

    simulate(dut, [bench], [target.serve])
    return offered, responses[7::8]


@pytest.mark.parametrize("latency", [1, 3])
def test_bypass_offers_an_entry_with_its_last_word(latency):
    """Cycle-exact: with ``bypass`` each entry is offered in the cycle the response to its
    last word arrives (the consumer taking it at once), two cycles later without."""
    offered, last_words = _offer_cycles(True, latency)
    assert offered == last_words and len(offered) == 3
    offered, last_words = _offer_cycles(False, latency)
    assert offered == [cycle + 2 for cycle in last_words]


@pytest.mark.parametrize("bypass", [False, True])
@pytest.mark.parametrize("abort_at", [1, 5, 12, 40])
def test_abort_drops_the_list_and_the_next_runs(bypass, abort_at):
    """``abort`` ``abort_at`` cycles after the start of a 20-entry list (latency 6, the
    consumer asleep, so requests, responses and buffered entries are all in flight): nothing
    is offered from then on, no read is raised after it, ``busy`` falls once the last
    response is in, and the next list is fetched exactly."""
    dut = ListFetcher(entries=3, bypass=bypass)
    second = (BASE + 1000, 4)
    target = BusTarget(dut.bus, latency=6, gnt_probability=0.8, seed=abort_at,
                       memory=memory_for([(BASE, 20), second]))
    seen = {"offered_after": 0, "raised_after": 0}
    got = []

    async def bench(ctx):
        ctx.set(dut.start.valid, 1)
        ctx.set(dut.start.payload.addr, BASE)
        ctx.set(dut.start.payload.count, 20)
        await ctx.tick()
        ctx.set(dut.start.valid, 0)
        for _ in range(abort_at - 1):
            await ctx.tick()
        waiting = ctx.get(dut.bus.req) and not ctx.get(dut.bus.gnt)
        ctx.set(dut.abort, 1)
        await ctx.tick()
        ctx.set(dut.abort, 0)
        ctx.set(dut.o.ready, 1)
        aborted_at = len(target.log)
        while ctx.get(dut.busy):
            seen["offered_after"] += ctx.get(dut.o.valid)
            await ctx.tick()
        # at most the request that was up and not granted when abort came
        seen["raised_after"] = len(target.log) - aborted_at - waiting
        ctx.set(dut.start.valid, 1)
        ctx.set(dut.start.payload.addr, second[0])
        ctx.set(dut.start.payload.count, second[1])
        await ctx.tick()
        ctx.set(dut.start.valid, 0)
        while len(got) < second[1]:
            *_, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                got.append(([int(payload.words[i]) for i in range(8)], int(payload.fault),
                            int(payload.last)))

    simulate(dut, [bench], [target.serve])
    assert seen == {"offered_after": 0, "raised_after": 0}
    assert got == expected(*second)
