"""ErrorResponder: every request is granted and answered with err, back to back."""

from dure.rtl.bus.error import ErrorResponder
from dure.sim.verif.bus import BusInitiator, Request, simulate


def test_every_request_answers_err_one_cycle_later():
    dut = ErrorResponder(12)
    initiator = BusInitiator(dut.bus)
    requests = [Request(i, we=i & 1, wdata=0xFFFF_FFFF) for i in range(6)]

    async def issue(ctx):
        await initiator.issue(ctx, requests)

    async def collect(ctx):
        await initiator.collect(ctx, len(requests))

    simulate(dut, [issue, collect])
    assert initiator.grants == list(range(6))
    assert [(r.cycle, r.rdata, r.err) for r in initiator.responses] == \
        [(c, 0, 1) for c in range(1, 7)]
