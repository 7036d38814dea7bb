# amaranth: UnusedElaboratable=no
"""The LIST entry fetcher: descriptors in order with ``last`` on the final one, under random
grants, memory latency and consumer back-pressure; prefetch bounded by its buffer (and, with
``defer``, to one descriptor); a read answered err ends the list with a ``fault`` entry and no
further reads; back-to-back lists."""

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
        defer=0):
    """Starts each (word address, count) list when the fetcher is idle; returns the entries
    taken [(words, fault, last)] per list, the bus log and the most words in flight.
    ``defer``: the fetcher's ``defer`` input throughout."""
    dut = ListFetcher(entries=entries)
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


@pytest.mark.parametrize("latency,gnt,ready", [(1, 1.0, 1.0), (10, 1.0, 1.0), (4, 0.5, 0.3)])
def test_entries_in_order(latency, gnt, ready):
    lists = [(BASE, 5), (BASE + 400, 1), (BASE + 1000, 9)]
    got, log, _ = run(lists, latency=latency, gnt=gnt, ready=ready, seed=latency)
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


def test_fault_ends_the_list_and_next_list_runs():
    """Word 3 of entry 2 answers err: entries 0 and 1 come out, then entry 2 with fault and
    last; nothing past the buffer is read; the next list is fetched normally."""
    bad = BASE + 2 * 8 + 3
    got, log, _ = run([(BASE, 50), (BASE + 800, 3)], entries=3, latency=5, errors={bad},
                      ready=0.7, seed=5)
    assert got[0][:2] == expected(BASE, 50)[:2]
    assert len(got[0]) == 3 and got[0][2][1:] == (1, 1)
    assert got[1] == expected(BASE + 800, 3)
    first = [addr for _, addr, *_ in log if addr < BASE + 800]
    assert max(first) < bad + 3 * 8                  # stopped within the buffer's reach


@pytest.mark.parametrize("latency,gnt,ready", [(1, 1.0, 1.0), (6, 0.5, 0.4)])
def test_defer_prefetches_one_descriptor_and_keeps_order(latency, gnt, ready):
    """With ``defer`` held (the port wanted by the data) a new read is raised only while no
    whole descriptor waits: with the consumer asleep the fetcher stops one descriptor (plus
    the read in flight when it completed) ahead instead of its buffer's four; the entries are
    the same, in order, and a fault still ends the list."""
    lists = [(BASE, 7), (BASE + 400, 2)]
    got, log, _ = run(lists, latency=latency, gnt=gnt, ready=ready, seed=latency, defer=1)
    for (addr, count), entries in zip(lists, got, strict=True):
        assert entries == expected(addr, count)
    assert [addr for _, addr, *_ in log] == [a + i for a, c in lists for i in range(8 * c)]
    _, _, ahead = run([(BASE, 12)], entries=4, latency=6, hold=60, defer=1)
    assert 8 <= ahead < 16
    _, _, free = run([(BASE, 12)], entries=4, latency=6, hold=60)
    assert free == 32
    bad = BASE + 2 * 8 + 3
    got, _, _ = run([(BASE, 50)], entries=3, latency=5, errors={bad}, seed=5, defer=1)
    assert len(got[0]) == 3 and got[0][2][1:] == (1, 1)
