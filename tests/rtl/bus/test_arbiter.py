# amaranth: UnusedElaboratable=no
"""Arbiter: round-robin fairness, responses routed to the right initiator in order."""

import random

import pytest
from dure.rtl.bus.arbiter import Arbiter
from dure.sim.verif.bus import BusTarget, Request, run_requests


def _run(n, requests_per_initiator, latency=1, gnt_probability=1.0, parked=False):
    dut = Arbiter(n, max_outstanding=8, parked=parked)
    target = BusTarget(dut.bus, latency=latency, gnt_probability=gnt_probability, seed=3)
    streams = {k: (dut.port(k), requests_per_initiator(k)) for k in range(n)}
    initiators = run_requests(dut, streams, [target.serve, _never_withdrawn(dut.bus)])
    return [initiators[k] for k in range(n)], target


def _never_withdrawn(bus):
    """A monitor: a request the target saw and refused is presented unchanged next cycle."""
    async def watch(ctx):
        refused = None
        async for _, _, req, gnt, *fields in ctx.tick().sample(
                bus.req, bus.gnt, bus.addr, bus.we, bus.be, bus.wdata):
            if refused is not None:
                assert req and tuple(fields) == refused, "a refused request was withdrawn"
            refused = tuple(fields) if req and not gnt else None
    return watch


@pytest.mark.parametrize("parked", [False, True])
def test_round_robin_alternates_under_full_load(parked):
    initiators, target = _run(3, lambda k: [Request((k << 8) | i) for i in range(10)],
                              parked=parked)
    owners = [addr >> 8 for _, addr, *_ in target.log]
    assert owners == [0, 1, 2] * 10
    # The target is busy every cycle: 30 grants in cycles 0..29.
    assert [cycle for cycle, *_ in target.log] == list(range(30))
    for k, initiator in enumerate(initiators):
        assert [r.rdata for r in initiator.responses] == [(k << 8) | i for i in range(10)]
        assert initiator.grants == [3 * i + k for i in range(10)]


@pytest.mark.parametrize("parked", [False, True])
@pytest.mark.parametrize("latency, gnt_probability", [(1, 0.6), (4, 1.0), (3, 0.4)])
def test_responses_routed_in_order_with_stalls(latency, gnt_probability, parked):
    def requests(k):
        return [Request((k << 8) | i, idle=(i * (k + 1)) % 3) for i in range(12)]

    initiators, target = _run(2, requests, latency, gnt_probability, parked=parked)
    for k, initiator in enumerate(initiators):
        assert [r.rdata for r in initiator.responses] == [(k << 8) | i for i in range(12)]
        for grant, response in zip(initiator.grants, initiator.responses, strict=True):
            assert response.cycle >= grant + latency
    owners = [addr >> 8 for _, addr, *_ in target.log]
    assert sorted(owners) == [0] * 12 + [1] * 12


def test_bad_count_is_refused():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        Arbiter(0)


@pytest.mark.parametrize("seed", [5])
def test_parked_random_traffic_is_served_in_order(seed):
    rng = random.Random(seed)

    def requests(k):
        return [Request((k << 8) | i, idle=rng.randrange(4)) for i in range(16)]

    initiators, target = _run(3, requests, latency=2, gnt_probability=0.7, parked=True)
    for k, initiator in enumerate(initiators):
        assert [r.rdata for r in initiator.responses] == [(k << 8) | i for i in range(16)]


def test_parked_costs_a_cycle_only_when_the_bus_changes_hands():
    # Initiator 0 (home) alone: granted at once. Initiator 1 alone: one cycle to take the
    # bus, then back to back. Initiator 0 right after it: one cycle to take it back; after
    # an idle cycle the bus is home again.
    def requests(k, back):
        if k == 0:
            return [Request(0), Request(1, idle=back), Request(2, idle=2)]
        return [Request(0x100, idle=2), Request(0x101)]  # asks at 2, 3

    initiators, _ = _run(2, lambda k: requests(k, 4), parked=True)   # 0 asks at 5
    assert initiators[0].grants == [0, 6, 9]
    assert initiators[1].grants == [3, 4]
    initiators, _ = _run(2, lambda k: requests(k, 5), parked=True)   # 0 asks at 6
    assert initiators[0].grants == [0, 6, 9]
    initiators, _ = _run(2, lambda k: requests(k, 4))       # round robin: no cycle lost
    assert initiators[0].grants == [0, 5, 8]
    assert initiators[1].grants == [2, 3]
