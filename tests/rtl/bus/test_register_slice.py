# amaranth: UnusedElaboratable=no
"""Register slice: every request reaches the target once, in order, responses come back in
order, one request per cycle passes, and the initiator's grant comes from the slice alone."""

import pytest
from dure.rtl.bus.register_slice import RegisterSlice
from dure.sim.verif.bus import Request, check_stage_in_order, mixed_requests, run_stage, simulate


def _run(requests, latency=1, gnt_probability=1.0, seed=5):
    return run_stage(RegisterSlice(), requests, latency=latency, gnt_probability=gnt_probability,
                     seed=seed)


@pytest.mark.parametrize("latency, gnt_probability", [(1, 1.0), (1, 0.5), (4, 0.3), (2, 0.8)])
def test_requests_pass_once_in_order(latency, gnt_probability):
    requests = mixed_requests()
    initiator, target = _run(requests, latency, gnt_probability)
    # Taken by the target one cycle after the grant at the earliest (the slice's register).
    check_stage_in_order(requests, initiator, target, latency=latency, added=1)


def test_one_request_per_cycle_with_a_target_granting_every_cycle():
    requests = [Request(i) for i in range(20)]
    initiator, target = _run(requests)
    assert initiator.grants == list(range(20))
    assert [cycle for cycle, *_ in target.log] == list(range(1, 21))


def test_grant_held_off_when_two_requests_wait():
    """With the target not granting, the slice takes two requests and then holds ``up.gnt``
    low; the target's grant reaches ``up.gnt`` only through the slice's registers."""
    dut = RegisterSlice()
    seen = []

    async def bench(ctx):
        ctx.set(dut.up.req, 1)
        ctx.set(dut.down.gnt, 0)
        for i in range(4):
            ctx.set(dut.up.addr, i)
            seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req)))
            await ctx.tick()
        ctx.set(dut.down.gnt, 1)            # the target grants: up.gnt follows a cycle later
        seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req), ctx.get(dut.down.addr)))
        await ctx.tick()
        seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req), ctx.get(dut.down.addr)))

    simulate(dut, [bench])
    assert seen == [(1, 0), (1, 1), (0, 1), (0, 1), (0, 1, 0), (1, 1, 1)]
