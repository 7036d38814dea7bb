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
The decoding is the ``irq`` table of :mod:`.registers` through
:class:`~..bus.regbank.RegisterBank`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import with_changes

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
        self._n_sources = n_sources
        self._addr_width = addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "sources": In(n_sources),
            "irq_external": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._n_sources
        table = with_changes("irq", pending={"width": n}, enable={"width": n})
        m.submodules.regs = regs = RegisterBank(table, addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        m.d.comb += [
            regs.pending.r_data.eq(self.sources),
            self.irq_external.eq((self.sources & regs.enable.data).any()),
        ]
        return m
