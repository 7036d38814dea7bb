"""Grant buffer: the initiator's grant from a register, its requests passed on at once."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .signature import BusSignature

__all__ = ["GrantBuffer"]


class GrantBuffer(wiring.Component):
    """A one-entry skid buffer between an initiator (``up``) and the fabric (``down``).

    The protocol lets ``gnt`` depend combinationally on ``req`` and the address, so an
    initiator whose state follows ``gnt`` (the core: its stall, its fetch address) ends a
    path that runs from its own request logic through every decoder and arbiter behind it
    and back. The buffer ends that path at one register: ``up.gnt`` is 1 exactly while the
    buffer is empty (a flip-flop), whatever the fabric does.

    A request offered while the buffer is empty is granted on ``up`` and presented on
    ``down`` in the same cycle (combinationally: no cycle added). If ``down`` grants it too,
    nothing is kept; if not, the buffer keeps it and presents it from its register until
    ``down`` grants it, refusing ``up`` meanwhile. Responses pass through unchanged (every
    request granted on ``up`` reaches ``down`` once, in order).

    Unlike :class:`.register_slice.RegisterSlice` the request path stays combinational
    (``up``'s request logic still reaches the fabric); only the grant is cut.

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
    None while ``down`` grants at once: one request per cycle passes, each presented on
    ``down`` in the cycle ``up`` offers it. A request ``down`` refuses waits in the buffer
    (``up.gnt`` is 0 from the next cycle until the cycle after ``down`` grants it).
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
        held = Signal(len(fields))
        held_valid = Signal()
        m.d.comb += [
            up.gnt.eq(~held_valid),
            down.req.eq(held_valid | up.req),
            Cat(down.addr, down.we, down.be, down.wdata).eq(Mux(held_valid, held, fields)),
            up.rvalid.eq(down.rvalid),
            up.rdata.eq(down.rdata),
            up.err.eq(down.err),
        ]
        with m.If(held_valid):
            with m.If(down.gnt):
                m.d.sync += held_valid.eq(0)
        with m.Else():
            # The fields are copied in every cycle the buffer is empty, so only `held_valid`
            # (not the fields' enables) waits for the fabric's grant.
            m.d.sync += [held.eq(fields), held_valid.eq(up.req & ~down.gnt)]
        return m
