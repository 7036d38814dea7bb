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
The decoding is the ``clint`` table of :mod:`.registers` through
:class:`~..bus.regbank.RegisterBank` (which holds msip and mtimecmp; mtime counts here).

With ``bits=32`` (a small board's option, ``SoCConfig.clint_bits``) the counter and the compare
value are 32 bits: ``mtimeh`` and ``mtimecmph`` read 0 and ignore writes, ``mtime`` wraps to 0
after 2**32 cycles and ``irq_timer`` is ``mtime >= mtimecmp`` on the 32-bit values.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import registers, with_changes

__all__ = ["Clint"]


class Clint(wiring.Component):
    """The timer block.

    Parameters
    ----------
    addr_width : int
        Word-address width of the bus port (14 for the 64 KiB region).
    bits : int
        64 (the CLINT layout) or 32 (see the module docstring).

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

    def __init__(self, addr_width=14, *, bits=64):
        if addr_width < 14:
            raise ValueError(f"the CLINT layout needs addr_width >= 14, not {addr_width!r}")
        if bits not in (32, 64):
            raise ValueError(f"bits must be 32 or 64, not {bits!r}")
        self._addr_width = addr_width
        self._bits = bits
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "mtime": Out(64),
            "irq_timer": Out(1),
            "irq_software": Out(1),
        })

    def elaborate(self, platform):
        if self._bits == 32:
            return self._elaborate_32()
        m = Module()
        m.submodules.regs = regs = RegisterBank(registers("clint"),
                                                addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        mtime = self.mtime
        mtimecmp = Cat(regs.mtimecmp.data, regs.mtimecmph.data)

        # The counter runs every cycle; a write replaces the written bytes instead.
        m.d.sync += mtime.eq(mtime + 1)
        for port, half in ((regs.mtime, mtime[:32]), (regs.mtimeh, mtime[32:])):
            m.d.comb += port.r_data.eq(half)
            with m.If(port.w_stb):
                m.d.sync += half.eq(port.w_data)
        m.d.comb += [
            self.irq_timer.eq(mtime >= mtimecmp),
            self.irq_software.eq(regs.msip.data),
        ]
        return m

    def _elaborate_32(self):
        m = Module()
        table = with_changes("clint", mtimecmph={"access": "r", "storage": False})
        m.submodules.regs = regs = RegisterBank(table, addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        mtime = self.mtime[:32]
        m.d.sync += mtime.eq(mtime + 1)
        m.d.comb += [regs.mtime.r_data.eq(mtime), regs.mtimeh.r_data.eq(0),
                     regs.mtimecmph.r_data.eq(0)]
        with m.If(regs.mtime.w_stb):
            m.d.sync += mtime.eq(regs.mtime.w_data)
        m.d.comb += [
            self.irq_timer.eq(mtime >= regs.mtimecmp.data),
            self.irq_software.eq(regs.msip.data),
        ]
        return m
