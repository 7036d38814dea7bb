# amaranth: UnusedElaboratable=no
"""The INT8 dot-product unit against numpy: streams read from a memory model by the unit itself
(random grant patterns and latencies, pointers wrapping), register writes waiting for the
stream, the accumulator's byte-enabled writes and reads, bus errors."""

import numpy as np
import pytest
from dure.rtl.soc.dot_unit import LANES, DotUnit
from dure.rtl.soc.registers import offset
from dure.sim.verif.bus import BusInitiator, BusTarget, Request, simulate

ACC = offset("dot", "acc") // 4
XADDR = offset("dot", "xaddr") // 4
WADDR = offset("dot", "waddr") // 4
COUNT = offset("dot", "count") // 4
MEM_WORDS = 1 << 10


def _word(lanes):
    return int.from_bytes(np.asarray(lanes, np.int8).tobytes(), "little")


def _i32(value):
    return int(np.array(value & 0xFFFF_FFFF, np.uint32).view(np.int32))


def _run(requests, memory=(), **target):
    """Issue ``requests`` back to back through the bus initiator model with ``memory``
    ({word address: word}) behind the unit's memory port; (responses, initiator, target)."""
    dut = DotUnit(mem_addr_width=MEM_WORDS.bit_length() - 1)
    init = BusInitiator(dut.bus)
    mem = BusTarget(dut.mem, memory=dict(memory), **target)

    async def bench(ctx):
        await init.issue(ctx, requests)

    async def collect(ctx):
        await init.collect(ctx, len(requests))

    simulate(dut, [bench, collect], background=[mem.serve])
    return init.responses, init, mem


def _reads(requests, responses):
    assert all(not r.err for r in responses)
    return [r.rdata for q, r in zip(requests, responses, strict=True) if not q.we]


@pytest.mark.parametrize(("latency", "gnt_probability"), [(1, 1.0), (3, 0.5), (6, 1.0)])
def test_streams_from_memory_match_numpy(latency, gnt_probability):
    """Streams of word pairs read by the unit (pointers wrapping at the end of memory, extreme
    operands, a bias that makes the sum wrap), each started right after its registers are
    set; the write after each stream waits for it, count then reads 0, the accumulator
    holds bias + the whole dot product."""
    rng = np.random.default_rng(latency)
    data = rng.integers(-128, 128, (MEM_WORDS, LANES))
    data[200:300] = -128                                # largest products: 2**14 each
    memory = {i: _word(data[i]) for i in range(MEM_WORDS)}
    requests, expected = [], []
    for n, x, w, bias in ((1, 0, 5, 3), (37, 100, 700, None), (9, 1020, 3, None),
                          (64, 512, 512, None), (100, 200, 200, 2**31 - 1)):
        bias = int(rng.integers(-2**31, 2**31)) if bias is None else bias
        requests += [Request(ACC, we=1, wdata=bias & 0xFFFF_FFFF),
                     Request(XADDR, we=1, wdata=4 * x), Request(WADDR, we=1, wdata=4 * w),
                     Request(COUNT, we=1, wdata=n),
                     Request(XADDR, we=1, wdata=4 * x),           # waits for the stream
                     Request(COUNT), Request(ACC)]
        xs = data[[(x + i) % MEM_WORDS for i in range(n)]].astype(np.int64)
        ws = data[[(w + i) % MEM_WORDS for i in range(n)]]
        expected.append((0, _i32(bias + int((xs * ws).sum()))))
    responses, init, mem = _run(requests, memory, latency=latency,
                                gnt_probability=gnt_probability, seed=latency)
    reads = _reads(requests, responses)
    assert [(reads[i], _i32(reads[i + 1])) for i in range(0, len(reads), 2)] == expected
    assert all(not we for _, _, we, _, _ in mem.log)
    assert len(mem.log) == 2 * (1 + 37 + 9 + 64 + 100)
    # The write after each COUNT was granted after the stream's last memory request.
    starts = [i for i, q in enumerate(requests) if q.addr == COUNT and q.we]
    ends = np.cumsum([2 * requests[i].wdata for i in starts])
    for i, end in zip(starts, ends, strict=True):
        assert init.grants[i + 1] > mem.log[end - 1][0]


def test_stream_rate_is_two_cycles_per_pair():
    """With a memory that grants every cycle (latency 1) a stream of n pairs is 2n requests
    back to back, x and w alternating from their pointers."""
    memory = {i: i * 0x01010101 & 0x7F7F7F7F for i in range(64)}
    requests = [Request(XADDR, we=1, wdata=0), Request(WADDR, we=1, wdata=128),
                Request(COUNT, we=1, wdata=32), Request(ACC, we=1, wdata=0)]
    _, _, mem = _run(requests, memory)
    cycles = [c for c, *_ in mem.log]
    assert cycles == list(range(cycles[0], cycles[0] + 64))
    assert [addr for _, addr, *_ in mem.log] == [a for i in range(32) for a in (i, 32 + i)]


def test_acc_byte_enables_reads_and_errors():
    """acc: byte-enabled writes merge over the current sum; waddr reads 0 (write-only); unmapped
    offsets answer with a bus error and change nothing."""
    memory = {0: _word([1, 2, 3, 4]), 1: _word([-1, -1, -1, -1])}
    requests = [Request(ACC, we=1, wdata=0x1234_5678),
                Request(ACC, we=1, wdata=0xAB00_0000, be=0b1000), Request(ACC),
                Request(XADDR, we=1, wdata=0), Request(WADDR, we=1, wdata=4),
                Request(ACC, we=1, wdata=0), Request(COUNT, we=1, wdata=1),
                Request(ACC, we=1, wdata=0x0100_0000, be=0b1000),   # waits, merges over -10
                Request(ACC), Request(WADDR), Request(8), Request(8, we=1, wdata=1)]
    responses, _, _ = _run(requests, memory)
    assert [r.err for r in responses] == [0] * 10 + [1, 1]
    rdata = [r.rdata for q, r in zip(requests, responses, strict=True) if not q.we]
    assert rdata[:3] == [0xAB34_5678, (-10 & 0x00FF_FFFF) | 0x0100_0000, 0]


def test_count_reads_one_while_streaming():
    memory = {i: 0x01010101 for i in range(16)}
    requests = [Request(ACC, we=1, wdata=0), Request(COUNT, we=1, wdata=8), Request(COUNT),
                Request(ACC, we=1, wdata=1, be=0), Request(COUNT), Request(ACC)]
    responses, _, _ = _run(requests, memory, latency=2)
    assert _reads(requests, responses) == [1, 0, 32]


def test_zero_count_streams_nothing():
    responses, _, mem = _run([Request(ACC, we=1, wdata=5), Request(COUNT, we=1, wdata=0),
                              Request(COUNT), Request(ACC)], {})
    assert [r.rdata for r in responses[2:]] == [0, 5] and not mem.log
