# amaranth: UnusedElaboratable=no
"""Arbiter: round-robin fairness, responses routed to the right initiator in order."""

import pytest
from dure.rtl.bus.arbiter import Arbiter
from dure.sim.verif.bus import BusInitiator, BusTarget, Request, simulate


def _run(n, requests_per_initiator, latency=1, gnt_probability=1.0):
    dut = Arbiter(n, max_outstanding=8)
    target = BusTarget(dut.bus, latency=latency, gnt_probability=gnt_probability, seed=3)
    initiators = [BusInitiator(dut.port(k)) for k in range(n)]
    benches = []
    for k, initiator in enumerate(initiators):
        requests = requests_per_initiator(k)

        async def issue(ctx, initiator=initiator, requests=requests):
            await initiator.issue(ctx, requests)

        async def collect(ctx, initiator=initiator, requests=requests):
            await initiator.collect(ctx, len(requests))

        benches += [issue, collect]
    simulate(dut, benches, [target.serve])
    return initiators, target


def test_round_robin_alternates_under_full_load():
    initiators, target = _run(3, lambda k: [Request((k << 8) | i) for i in range(10)])
    owners = [addr >> 8 for _, addr, *_ in target.log]
    assert owners == [0, 1, 2] * 10
    # The target is busy every cycle: 30 grants in cycles 0..29.
    assert [cycle for cycle, *_ in target.log] == list(range(30))
    for k, initiator in enumerate(initiators):
        assert [r.rdata for r in initiator.responses] == [(k << 8) | i for i in range(10)]
        assert initiator.grants == [3 * i + k for i in range(10)]


@pytest.mark.parametrize("latency, gnt_probability", [(1, 0.6), (4, 1.0), (3, 0.4)])
def test_responses_routed_in_order_with_stalls(latency, gnt_probability):
    def requests(k):
        return [Request((k << 8) | i, idle=(i * (k + 1)) % 3) for i in range(12)]

    initiators, target = _run(2, requests, latency, gnt_probability)
    for k, initiator in enumerate(initiators):
        assert [r.rdata for r in initiator.responses] == [(k << 8) | i for i in range(12)]
        for grant, response in zip(initiator.grants, initiator.responses, strict=True):
            assert response.cycle >= grant + latency
    owners = [addr >> 8 for _, addr, *_ in target.log]
    assert sorted(owners) == [0] * 12 + [1] * 12


def test_bad_count_is_refused():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        Arbiter(0)
