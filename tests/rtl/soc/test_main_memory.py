# amaranth: UnusedElaboratable=no
"""Main-memory model: measured latency, bandwidth and pipelining."""

import pytest
from dure.rtl.soc.main_memory import MainMemory
from dure.sim.verif.bus import BusInitiator, Request, run_ports, run_requests, simulate


def _stream(dut, requests):
    return run_ports(dut, {"bus": requests})["bus"]


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


def test_ports_each_have_the_full_bandwidth_and_share_the_words():
    """Scaled bandwidth of a multi-tile SoC: every port grants at its own rate, all at once;
    a port reads what another one wrote in an earlier cycle."""
    n = 16
    dut = MainMemory(1024, latency=3, bytes_per_cycle=2, ports=3,
                     init=[0x7000 + i for i in range(3 * n)])
    streams = [[Request(p * n + i) for i in range(n)] for p in range(2)]
    streams.append([Request(100, we=1, wdata=0xCAFE), *[Request(p) for p in range(n - 1)]])
    initiators = list(run_requests(dut, {p: (dut.port(p), requests)
                                         for p, requests in enumerate(streams)}).values())
    for initiator in initiators:
        assert initiator.grants == [2 * i for i in range(n)]
    assert [r.rdata for r in initiators[1].responses] == [0x7000 + n + i for i in range(n)]
    dut2 = MainMemory(1024, latency=3, bytes_per_cycle=4, ports=2)
    writer, reader = BusInitiator(dut2.port(1)), BusInitiator(dut2.port(0))

    async def write(ctx):
        await writer.issue(ctx, [Request(9, we=1, wdata=0xBEEF)])
        await ctx.tick()
        await reader.issue(ctx, [Request(9)])

    async def collect_w(ctx):
        await writer.collect(ctx, 1)

    async def collect_r(ctx):
        await reader.collect(ctx, 1)
    simulate(dut2, [write, collect_w, collect_r])
    assert reader.responses[0].rdata == 0xBEEF


def test_ports_are_checked():
    with pytest.raises(ValueError, match="ports must be an integer in 1..8"):
        MainMemory(1024, latency=1, bytes_per_cycle=4, ports=9)
