# amaranth: UnusedElaboratable=no
"""Main-memory model: measured latency, bandwidth and pipelining."""

import pytest
from dure.rtl.soc.main_memory import MainMemory
from dure.sim.verif.bus import BusInitiator, Request, simulate


def _stream(dut, requests):
    initiator = BusInitiator(dut.bus)

    async def issue(ctx):
        await initiator.issue(ctx, requests)

    async def collect(ctx):
        await initiator.collect(ctx, len(requests))

    simulate(dut, [issue, collect])
    return initiator


@pytest.mark.parametrize("latency, bytes_per_cycle", [(1, 4), (10, 4), (10, 2), (7, 1)])
def test_latency_and_bandwidth(latency, bytes_per_cycle):
    n = 24
    dut = MainMemory(1024, latency=latency, bytes_per_cycle=bytes_per_cycle,
                     init=[0x5000 + i for i in range(n)])
    initiator = _stream(dut, [Request(i) for i in range(n)])
    interval = 4 // bytes_per_cycle
    # Grants: one per 4 / bytes_per_cycle cycles, every request granted as soon as allowed.
    assert initiator.grants == [interval * i for i in range(n)]
    # Every response exactly `latency` cycles after its grant: many requests in flight.
    assert [r.cycle - g for r, g in zip(initiator.responses, initiator.grants, strict=True)] \
        == [latency] * n
    assert [r.rdata for r in initiator.responses] == [0x5000 + i for i in range(n)]
    # Measured bandwidth over the stream: bytes moved / cycles between first and last grant.
    cycles = initiator.grants[-1] - initiator.grants[0] + interval
    assert 4 * n / cycles == bytes_per_cycle
    in_flight = max(sum(1 for g, r in zip(initiator.grants, initiator.responses, strict=True)
                        if g <= c < r.cycle) for c in range(initiator.responses[-1].cycle))
    assert in_flight == -(-latency // interval)


def test_writes_then_reads_with_byte_enables():
    dut = MainMemory(1024, latency=5, bytes_per_cycle=4)
    requests = [Request(7, we=1, wdata=0x1122_3344), Request(7, we=1, wdata=0xAABB_CCDD, be=0b0011),
                Request(7), Request(8, we=1, wdata=1), Request(8)]
    initiator = _stream(dut, requests)
    assert [r.rdata for r in initiator.responses][2::2] == [0x1122_CCDD, 1]
    assert all(r.err == 0 for r in initiator.responses)


@pytest.mark.parametrize("kwargs, message", [
    ({"latency": 0, "bytes_per_cycle": 4}, "latency must be an integer >= 1"),
    ({"latency": 2, "bytes_per_cycle": 3}, "bytes_per_cycle must be 1, 2 or 4"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MainMemory(1024, **kwargs)
