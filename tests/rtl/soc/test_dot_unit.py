# amaranth: UnusedElaboratable=no
"""The INT8 dot-product unit against numpy: random operands written back to back, reads of
the accumulator right after the writes they depend on, byte-enabled writes, bus errors; streams
read from a memory model by the unit itself (random grant patterns and latencies), with
register writes waiting for the stream."""

import numpy as np
import pytest
from dure.rtl.soc.dot_unit import LANES, DotUnit
from dure.rtl.soc.registers import offset
from dure.sim.verif.bus import BusInitiator, BusTarget, Request, simulate, transact

A = offset("dot", "a") // 4
B = offset("dot", "b") // 4
ACC = offset("dot", "acc") // 4
XADDR = offset("dot", "xaddr") // 4
WADDR = offset("dot", "waddr") // 4
COUNT = offset("dot", "count") // 4


def _word(lanes):
    return int.from_bytes(np.asarray(lanes, np.int8).tobytes(), "little")


def _i32(value):
    return int(np.array(value & 0xFFFF_FFFF, np.uint32).view(np.int32))


def _run(requests, memory=None, **target):
    """Issue ``requests`` back to back through the bus initiator model, with ``memory``
    ({word address: word}) behind the unit's memory port; the responses."""
    dut = DotUnit(mem_addr_width=10)
    init = BusInitiator(dut.bus)
    mem = BusTarget(dut.mem, memory=dict(memory or {}), **target)

    async def bench(ctx):
        await init.issue(ctx, requests)

    async def collect(ctx):
        await init.collect(ctx, len(requests))

    simulate(dut, [bench, collect], background=[mem.serve])
    if memory is None:
        assert init.grants == list(range(len(requests)))      # one access per cycle, no waits
        assert not mem.log
    _run.last = init, mem
    return init.responses


@pytest.mark.parametrize("seed", [1, 2])
def test_back_to_back_stream_matches_numpy(seed):
    """Dot products of random length with random biases, every access back to back (reads of
    acc right after the last b), extreme operands included: bit-exact with numpy."""
    rng = np.random.default_rng(seed)
    requests, expected = [], []
    for case in range(12):
        words = int(rng.integers(1, 9))
        a = rng.integers(-128, 128, (words, LANES))
        b = rng.integers(-128, 128, (words, LANES))
        if case == 0:
            a[:], b[:] = -128, -128            # largest products: 4 * 2**14 per write
        bias = int(rng.integers(-2**31, 2**31))
        if case == 1:
            bias = 2**31 - 1                    # the sum wraps modulo 2**32
        requests.append(Request(ACC, we=1, wdata=bias & 0xFFFF_FFFF))
        for i in range(words):
            if i == 0 or rng.random() < 0.7:
                requests.append(Request(A, we=1, wdata=_word(a[i])))
            else:
                a[i] = a[i - 1]                 # a stays: only b is written
            requests.append(Request(B, we=1, wdata=_word(b[i])))
        requests.append(Request(ACC))
        total = bias + int((a.astype(np.int64) * b).sum())
        expected.append(_i32(total))
    responses = _run(requests)
    reads = [r for q, r in zip(requests, responses, strict=True) if not q.we]
    assert all(not r.err for r in responses)
    assert [_i32(r.rdata) for r in reads] == expected


def test_registers_byte_enables_and_errors():
    results = []
    dut = DotUnit()

    async def bench(ctx):
        await transact(ctx, dut.bus, ACC, we=1, wdata=0x1234_5678)
        await transact(ctx, dut.bus, ACC, we=1, wdata=0xAB00_0000, be=0b1000)
        results.append(await transact(ctx, dut.bus, ACC))
        await transact(ctx, dut.bus, A, we=1, wdata=_word([1, 2, 3, 4]))
        await transact(ctx, dut.bus, A, we=1, wdata=0x0000_FF00, be=0b0010)   # lane 1 = -1
        results.append(await transact(ctx, dut.bus, A))
        await transact(ctx, dut.bus, ACC, we=1, wdata=0)
        # Only lanes 0 and 3 enabled: lanes 1 and 2 of b are 0.
        await transact(ctx, dut.bus, B, we=1, wdata=_word([5, 6, 7, -8]), be=0b1001)
        results.append(await transact(ctx, dut.bus, ACC))
        results.append(await transact(ctx, dut.bus, B))                       # reads 0
        results.append(await transact(ctx, dut.bus, 6))                       # unmapped
        results.append(await transact(ctx, dut.bus, 6, we=1, wdata=1))

    simulate(dut, [bench])
    assert results == [(0xAB34_5678, 0), (_word([1, -1, 3, 4]), 0),
                       (1 * 5 + 4 * -8 & 0xFFFF_FFFF, 0), (0, 0), (0, 1), (0, 1)]


def test_acc_write_after_b_replaces_the_sum():
    """A write to acc granted in the cycle that a b write's products are added wins (program
    order), and a byte-enabled acc write merges over the sum already taken."""
    ops = [Request(ACC, we=1, wdata=0), Request(A, we=1, wdata=_word([2, 2, 2, 2])),
           Request(B, we=1, wdata=_word([3, 3, 3, 3])), Request(ACC, we=1, wdata=7),
           Request(ACC),
           Request(B, we=1, wdata=_word([1, 0, 0, 0])),
           Request(ACC, we=1, wdata=0x0100_0000, be=0b1000), Request(ACC)]
    responses = _run(ops)
    reads = [r.rdata for q, r in zip(ops, responses, strict=True) if not q.we]
    assert reads == [7, 0x0100_0000 + 9]


@pytest.mark.parametrize(("latency", "gnt_probability"), [(1, 1.0), (3, 0.5)])
def test_streams_from_memory_match_numpy(latency, gnt_probability):
    """Streams of word pairs read by the unit (pointers wrapping at the end of memory), each
    started right after the registers are set; writes wait for the running stream, the count
    read back falls to 0, the accumulator then holds bias + the whole dot product."""
    rng = np.random.default_rng(latency)
    words = 1 << 10
    data = rng.integers(-128, 128, (words, LANES))
    memory = {i: _word(data[i]) for i in range(words)}
    requests, expected = [], []
    for n, x, w in ((1, 0, 5), (37, 100, 700), (9, 1020, 3), (64, 512, 512)):
        bias = int(rng.integers(-2**31, 2**31))
        requests += [Request(ACC, we=1, wdata=bias & 0xFFFF_FFFF),
                     Request(XADDR, we=1, wdata=4 * x), Request(WADDR, we=1, wdata=4 * w),
                     Request(COUNT, we=1, wdata=n),
                     Request(A, we=1, wdata=_word([0, 0, 0, 0])),     # waits for the stream
                     Request(COUNT), Request(ACC)]
        xs = data[[(x + i) % words for i in range(n)]].astype(np.int64)
        ws = data[[(w + i) % words for i in range(n)]]
        expected.append((0, _i32(bias + int((xs * ws).sum()))))
    responses = _run(requests, memory, latency=latency, gnt_probability=gnt_probability,
                     seed=latency)
    assert all(not r.err for r in responses)
    reads = [r.rdata for q, r in zip(requests, responses, strict=True) if not q.we]
    assert [(reads[i], _i32(reads[i + 1])) for i in range(0, len(reads), 2)] == expected
    init, mem = _run.last
    assert all(not we for _, _, we, _, _ in mem.log)
    assert len(mem.log) == 2 * (1 + 37 + 9 + 64)
    # The write after each COUNT waited for its stream (granted after the last memory request).
    counts = [i for i, q in enumerate(requests) if q.addr == COUNT and q.we]
    assert all(init.grants[i + 1] > init.grants[i] + 2 * requests[i].wdata for i in counts)


def test_stream_rate_is_two_cycles_per_pair():
    """With a memory that grants every cycle (latency 1) a stream of n pairs takes 2n cycles
    of requests, back to back."""
    memory = {i: i * 0x01010101 & 0x7F7F7F7F for i in range(64)}
    _run([Request(XADDR, we=1, wdata=0), Request(WADDR, we=1, wdata=128),
          Request(COUNT, we=1, wdata=32), Request(A, we=1), Request(COUNT)], memory)
    _, mem = _run.last
    cycles = [c for c, *_ in mem.log]
    assert len(cycles) == 64 and cycles == list(range(cycles[0], cycles[0] + 64))
