# amaranth: UnusedElaboratable=no
"""Grant buffer: every request reaches the target once, in order, without a cycle added while
the target grants; the initiator's grant comes from the buffer's register alone."""

import pytest
from dure.rtl.bus.grant_buffer import GrantBuffer
from dure.sim.verif.bus import Request, check_stage_in_order, mixed_requests, run_stage, simulate


def _run(requests, latency=1, gnt_probability=1.0, seed=5):
    return run_stage(GrantBuffer(), requests, latency=latency, gnt_probability=gnt_probability,
                     seed=seed)


@pytest.mark.parametrize("latency, gnt_probability", [(1, 1.0), (1, 0.5), (4, 0.3), (2, 0.8)])
def test_requests_pass_once_in_order(latency, gnt_probability):
    requests = mixed_requests()
    initiator, target = _run(requests, latency, gnt_probability)
    # Taken by the target in the cycle of the grant, or later if the target refused it.
    check_stage_in_order(requests, initiator, target, latency=latency, added=0)


def test_no_cycle_added_with_a_target_granting_every_cycle():
    requests = [Request(i) for i in range(20)]
    initiator, target = _run(requests)
    assert initiator.grants == list(range(20))
    assert [cycle for cycle, *_ in target.log] == list(range(20))
    assert [r.cycle for r in initiator.responses] == list(range(1, 21))


def test_grant_is_the_register_not_the_target():
    """The target refuses: the buffer grants the first request itself, keeps it, presents it
    from its register (fields stable) and refuses the initiator until the target takes it."""
    dut = GrantBuffer()
    seen = []

    async def bench(ctx):
        ctx.set(dut.up.req, 1)
        ctx.set(dut.down.gnt, 0)
        for i in range(3):
            ctx.set(dut.up.addr, 7 + i)
            seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req), ctx.get(dut.down.addr)))
            await ctx.tick()
        ctx.set(dut.down.gnt, 1)              # the target takes the kept request
        seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req), ctx.get(dut.down.addr)))
        await ctx.tick()
        ctx.set(dut.up.addr, 20)
        seen.append((ctx.get(dut.up.gnt), ctx.get(dut.down.req), ctx.get(dut.down.addr)))

    simulate(dut, [bench])
    assert seen == [(1, 1, 7), (0, 1, 7), (0, 1, 7), (0, 1, 7), (1, 1, 20)]
