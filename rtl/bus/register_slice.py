"""Register slice: cuts the combinational request / grant path between an initiator and the
fabric behind it."""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .signature import BusSignature

__all__ = ["RegisterSlice"]


class RegisterSlice(wiring.Component):
    """A two-entry request buffer between an initiator (``up``) and a target (``down``).

    The protocol allows ``gnt`` to depend combinationally on ``req`` and the address, so a
    chain of arbiters and decoders forms one long path from an initiator's request logic
    through every arbitration stage to the target's grant and back into the initiator's state.
    The slice ends that path at its registers on both sides: ``up.gnt`` depends only on how
    many requests it holds, and ``down`` sees requests from its registers. Responses pass
    through unchanged (every request granted on ``up`` is presented on ``down`` in order, so
    the responses arrive in ``up``'s request order).

    Parameters
    ----------
    addr_width : int
        Word-address width of both ports.

    Members
    -------
    up : In(BusSignature(addr_width))
        From the initiator.
    down : Out(BusSignature(addr_width))
        To the fabric / target.

    Latency
    -------
    A request granted on ``up`` is presented on ``down`` the next cycle (one cycle added to
    each access). ``up.gnt`` is high while at most one request is held, so with a target that
    grants every cycle one request per cycle passes (the slice holds one, takes one and hands
    one on). Responses: no cycles added.
    """

    def __init__(self, addr_width=30):
        self._addr_width = addr_width
        super().__init__({
            "up": In(BusSignature(addr_width)),
            "down": Out(BusSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        up, down = self.up, self.down
        fields = Cat(up.addr, up.we, up.be, up.wdata)
        m.submodules.queue = queue = SyncFIFO(width=len(fields), depth=2)
        m.d.comb += [
            up.gnt.eq(queue.w_rdy),
            queue.w_en.eq(up.req),
            queue.w_data.eq(fields),
            down.req.eq(queue.r_rdy),
            Cat(down.addr, down.we, down.be, down.wdata).eq(queue.r_data),
            queue.r_en.eq(down.gnt),
            up.rvalid.eq(down.rvalid),
            up.rdata.eq(down.rdata),
            up.err.eq(down.err),
        ]
        return m
