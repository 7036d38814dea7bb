"""Default responder: answers every request with a bus error.

The address decoder routes every address that no region claims here, so a stray access never
hangs the initiator; the SoC also puts it behind regions that exist but are not implemented yet
(the NPU register block).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from .signature import BusSignature

__all__ = ["ErrorResponder"]


class ErrorResponder(wiring.Component):
    """A bus target that grants every request and answers it with ``err``.

    Parameters
    ----------
    addr_width : int
        Word-address width of the target port.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Target port. Writes change nothing; reads return 0.

    Latency
    -------
    Grants every cycle; the response (``rvalid`` with ``err = 1``) comes one cycle after the
    grant, so back-to-back requests are answered back to back.
    """

    def __init__(self, addr_width=30):
        super().__init__({"bus": In(BusSignature(addr_width))})

    def elaborate(self, platform):
        m = Module()
        rvalid = Signal()
        m.d.comb += self.bus.gnt.eq(1)
        m.d.sync += rvalid.eq(self.bus.req)
        m.d.comb += [
            self.bus.rvalid.eq(rvalid),
            self.bus.err.eq(rvalid),
            self.bus.rdata.eq(0),
        ]
        return m
