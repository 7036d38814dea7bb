"""External-interrupt controller: level-sensitive sources, a pending and an enable register.

Register map (byte offsets from ``DURE_IRQ_BASE``, see :mod:`.registers`)
-------------------------------------------------------------------------
======  =======  ====  =======================================================================
offset  name     acc.  meaning
======  =======  ====  =======================================================================
0x0     pending  R     bit i = level of source i now (writes ignored: clear the cause in the
                       peripheral, e.g. drain the UART RX FIFO)
0x4     enable   R/W   bit i enables source i onto ``irq_external`` (reset: 0)
======  =======  ====  =======================================================================

Sources (:data:`.registers.IRQ_SOURCES`): bit 0 UART, bit 1 NPU (tied to 0 until the NPU
exists). ``irq_external = |(pending & enable)``. Any other offset answers with a bus error.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.bytes import merge_bytes
from ..bus.signature import BusSignature
from .registers import offset

__all__ = ["IrqController"]


class IrqController(wiring.Component):
    """The external-interrupt controller.

    Parameters
    ----------
    n_sources : int
        Number of interrupt sources, 1..32.
    addr_width : int
        Word-address width of the bus port.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    sources : In(n_sources)
        Level-sensitive interrupt requests, active high.
    irq_external : Out(1)
        Any enabled source is active (combinational from ``sources``).

    Latency
    -------
    Grants every cycle; responds one cycle after the grant.
    """

    def __init__(self, n_sources=2, *, addr_width=10):
        if not isinstance(n_sources, int) or not 1 <= n_sources <= 32:
            raise ValueError(f"n_sources must be 1..32, not {n_sources!r}")
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "sources": In(n_sources),
            "irq_external": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        enable = Signal.like(self.sources)
        rvalid = Signal()
        rdata = Signal(32)
        err = Signal()
        m.d.comb += bus.gnt.eq(1)
        m.d.sync += rvalid.eq(bus.req)
        with m.If(bus.req):
            m.d.sync += [rdata.eq(0), err.eq(0)]
            with m.Switch(bus.addr):
                with m.Case(offset("irq", "pending") // 4):
                    m.d.sync += rdata.eq(self.sources)
                with m.Case(offset("irq", "enable") // 4):
                    m.d.sync += rdata.eq(enable)
                    with m.If(bus.we):
                        m.d.sync += enable.eq(merge_bytes(enable, bus.wdata, bus.be))
                with m.Default():
                    m.d.sync += err.eq(1)
        m.d.comb += [
            bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.err.eq(err),
            self.irq_external.eq((self.sources & enable).any()),
        ]
        return m
