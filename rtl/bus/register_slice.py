"""Register slice: cuts the combinational request / grant path between an initiator and the
fabric behind it."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
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

    The two entries are flip-flops: the presented request (``down``'s fields straight from
    its register, no memory read on the path into the fabric) and one behind it.

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
        # `out`: the request presented on `down`; `wait`: the one behind it (only while `out`
        # is held). Two held: `wait` full, so `up.gnt` is `~wait_valid`.
        out, wait = Signal(len(fields)), Signal(len(fields))
        out_valid, wait_valid = Signal(), Signal()
        with m.If(~out_valid | down.gnt):
            # `out` is free or leaves this cycle: the waiting request, else the new one.
            m.d.sync += [out.eq(Mux(wait_valid, wait, fields)),
                         out_valid.eq(wait_valid | up.req), wait_valid.eq(0)]
        with m.Elif(~wait_valid):
            # `out` stays: a new request waits behind it (`up.gnt` is 1).
            m.d.sync += wait_valid.eq(up.req)
        with m.If(~wait_valid):
            # Copied in every cycle `wait` is empty, so the fields' enables come from a
            # register, not from the initiator's request (only `wait_valid` waits for it).
            m.d.sync += wait.eq(fields)
        m.d.comb += [
            up.gnt.eq(~wait_valid),
            down.req.eq(out_valid),
            Cat(down.addr, down.we, down.be, down.wdata).eq(out),
            up.rvalid.eq(down.rvalid),
            up.rdata.eq(down.rdata),
            up.err.eq(down.err),
        ]
        return m
