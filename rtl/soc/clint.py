"""CLINT-compatible timer for one hart: msip, mtimecmp and mtime (the SiFive CLINT layout).

Register map (byte offsets from ``DURE_CLINT_BASE``, see :mod:`.registers`)
---------------------------------------------------------------------------
=======  =========  ====  =====================================================================
offset   name       acc.  meaning
=======  =========  ====  =====================================================================
0x0000   msip       R/W   bit 0 drives ``irq_software``; other bits read 0
0x4000   mtimecmp   R/W   low word of the 64-bit compare value (reset: all ones)
0x4004   mtimecmph  R/W   high word of the compare value
0xBFF8   mtime      R/W   low word of the 64-bit cycle counter (reset: 0)
0xBFFC   mtimeh     R/W   high word of the counter
=======  =========  ====  =====================================================================

``mtime`` counts every clock cycle; a write replaces the written bytes (byte enables honoured)
and the counter continues from the new value in the next cycle. ``irq_timer`` is
``mtime >= mtimecmp`` (unsigned, combinational from the registers, so it follows a write of
``mtimecmp`` or ``mtime`` one cycle after the grant). Any other offset answers with a bus error.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.bytes import merge_bytes
from ..bus.signature import BusSignature
from .registers import offset

__all__ = ["Clint"]


class Clint(wiring.Component):
    """The timer block.

    Parameters
    ----------
    addr_width : int
        Word-address width of the bus port (14 for the 64 KiB region).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    mtime : Out(64)
        The counter (for the core's ``time`` / ``timeh`` CSRs).
    irq_timer : Out(1)
        ``mtime >= mtimecmp``.
    irq_software : Out(1)
        ``msip[0]``.

    Latency
    -------
    Grants every cycle; responds one cycle after the grant.
    """

    def __init__(self, addr_width=14):
        if addr_width < 14:
            raise ValueError(f"the CLINT layout needs addr_width >= 14, not {addr_width!r}")
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "mtime": Out(64),
            "irq_timer": Out(1),
            "irq_software": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        msip = Signal()
        mtimecmp = Signal(64, init=(1 << 64) - 1)
        mtime = self.mtime

        rvalid = Signal()
        rdata = Signal(32)
        err = Signal()
        m.d.comb += bus.gnt.eq(1)
        m.d.sync += [rvalid.eq(bus.req), mtime.eq(mtime + 1)]

        words = {
            "msip": None,
            "mtimecmp": mtimecmp[:32], "mtimecmph": mtimecmp[32:],
            "mtime": mtime[:32], "mtimeh": mtime[32:],
        }
        with m.If(bus.req):
            m.d.sync += [rdata.eq(0), err.eq(0)]
            with m.Switch(bus.addr):
                for name, reg in words.items():
                    with m.Case(offset("clint", name) // 4):
                        if reg is None:
                            m.d.sync += rdata.eq(msip)
                            with m.If(bus.we & bus.be[0]):
                                m.d.sync += msip.eq(bus.wdata[0])
                        else:
                            m.d.sync += rdata.eq(reg)
                            with m.If(bus.we):
                                m.d.sync += reg.eq(merge_bytes(reg, bus.wdata, bus.be))
                with m.Default():
                    m.d.sync += err.eq(1)
        m.d.comb += [
            bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.err.eq(err),
            self.irq_timer.eq(mtime >= mtimecmp),
            self.irq_software.eq(msip),
        ]
        return m
