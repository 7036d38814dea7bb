"""Hold gate: keeps the core in reset on request, without breaking the bus protocol."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature

__all__ = ["HoldGate"]


class HoldGate(wiring.Component):
    """Sits between the core's two bus ports and the fabric and produces the core's reset.

    A core in reset may still drive ``req`` (its request logic is combinational from state
    being reset), and a core reset while it waits for responses would later receive answers
    it never asked for. The gate prevents both: while ``core_reset`` is 1 no request reaches
    the fabric, and once ``hold`` falls the core stays in reset until every response to a
    request granted before the hold has arrived (and been dropped).

    Parameters
    ----------
    max_outstanding : int
        Most requests the core can have in flight on one port.
    registered : bool
        ``core_reset`` from a flip-flop: the reset the gate decides in a cycle (``hold``,
        stretched) reaches the core in the next one, so neither ``hold`` nor the responses
        that end the stretch reach the core's reset and bus inputs combinationally. ``hold``
        still blocks the core's requests at once (a request the core makes in the first
        cycle of a hold looks granted to it and never reaches the fabric: the core is reset
        at the end of the next cycle). The core leaves reset one cycle later than without
        (the cycle after ``hold`` falls with nothing outstanding, it is still in reset).

    Members
    -------
    hold : In(1)
        Hold the core in reset.
    core_reset : Out(1)
        Reset for the core: ``hold``, stretched until the fabric has no orphan responses.
    ibus, dbus : In(BusSignature())
        From the core.
    ibus_out, dbus_out : Out(BusSignature())
        To the fabric.

    Latency
    -------
    None added: requests and responses pass combinationally (``registered``: the core
    leaves reset one cycle later).
    """

    def __init__(self, *, max_outstanding=15, registered=False):
        self._max_outstanding = max_outstanding
        self._registered = bool(registered)
        super().__init__({
            "hold": In(1),
            "core_reset": Out(1),
            "ibus": In(BusSignature()),
            "dbus": In(BusSignature()),
            "ibus_out": Out(BusSignature()),
            "dbus_out": Out(BusSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        in_reset = Signal(init=1)
        drained = Signal()
        stretch = Signal()          # the reset decided this cycle
        blocked = Signal()          # no request reaches the fabric
        m.d.comb += drained.eq(1)
        for name in ("ibus", "dbus"):
            core, fabric = getattr(self, name), getattr(self, f"{name}_out")
            count = Signal(range(self._max_outstanding + 1), name=f"{name}_outstanding")
            m.d.comb += [
                fabric.req.eq(core.req & ~blocked),
                fabric.addr.eq(core.addr),
                fabric.we.eq(core.we),
                fabric.be.eq(core.be),
                fabric.wdata.eq(core.wdata),
                core.gnt.eq(fabric.gnt & ~self.core_reset),
                core.rvalid.eq(fabric.rvalid & ~self.core_reset),
                core.rdata.eq(fabric.rdata),
                core.err.eq(fabric.err),
            ]
            m.d.sync += count.eq(count + (fabric.req & fabric.gnt) - fabric.rvalid)
            with m.If(count != 0):
                m.d.comb += drained.eq(0)
        m.d.comb += stretch.eq(self.hold | (in_reset & ~drained))
        m.d.sync += in_reset.eq(stretch)
        if self._registered:
            # `in_reset` is last cycle's decision: the core's reset from a flip-flop.
            m.d.comb += [self.core_reset.eq(in_reset), blocked.eq(in_reset | self.hold)]
        else:
            m.d.comb += [self.core_reset.eq(stretch), blocked.eq(stretch)]
        return m
