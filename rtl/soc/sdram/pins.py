"""The SDRAM pins: their signature (controller side) and the board I/O block.

The controller drives logical, active-high command signals (``cs``, ``ras``, ``cas``, ``we``),
as amaranth-boards' ``SDRAMResource`` presents them (its ``PinsN`` invert the active-low pins).
The data bus is split into ``dq_o`` / ``dq_oe`` / ``dq_i`` so that simulation models connect to
plain signals; :class:`SdramIO` joins them to the board's tri-state pins.
"""

from amaranth.hdl import Const, Module
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SdramPinSignature", "SdramIO"]


class SdramPinSignature(wiring.Signature):
    """Pins of a x16 SDR SDRAM, from the controller's side.

    Parameters
    ----------
    addr_pins : int
        Width of the address bus A.
    bank_bits : int
        Width of the bank address BA.

    Members
    -------
    clk_en : Out(1)
        CKE.
    cs, ras, cas, we : Out(1)
        Chip select and command strobes, active high (the pins are active low).
    ba : Out(bank_bits)
        Bank address.
    a : Out(addr_pins)
        Row address with ACTIVE, column address with READ / WRITE, A10 = all banks with
        PRECHARGE, op code with LOAD MODE REGISTER.
    dqm : Out(2)
        Byte masks (bit 0: DQ[7:0], bit 1: DQ[15:8]); active high, as on the pins.
    dq_o, dq_oe : Out(16), Out(1)
        Data the controller drives and its output enable.
    dq_i : In(16)
        Data on the pins.
    """

    def __init__(self, *, addr_pins=13, bank_bits=2):
        self.addr_pins, self.bank_bits = addr_pins, bank_bits
        super().__init__({
            "clk_en": Out(1),
            "cs":     Out(1),
            "ras":    Out(1),
            "cas":    Out(1),
            "we":     Out(1),
            "ba":     Out(bank_bits),
            "a":      Out(addr_pins),
            "dqm":    Out(2),
            "dq_o":   Out(16),
            "dq_oe":  Out(1),
            "dq_i":   In(16),
        })

    def __eq__(self, other):
        return (isinstance(other, SdramPinSignature) and other.addr_pins == self.addr_pins
                and other.bank_bits == self.bank_bits)

    def __hash__(self):
        return hash((SdramPinSignature, self.addr_pins, self.bank_bits))


class SdramIO(wiring.Component):
    """Joins the controller's pin signals to the board's SDRAM resource.

    Parameters
    ----------
    resource : object
        ``platform.request("sdram", 0, dir="-")``: the ports ``clk``, ``clk_en``, ``cs``,
        ``ras``, ``cas``, ``we``, ``ba``, ``a``, ``dq``, ``dqm``.
    addr_pins, bank_bits : int
        As in :class:`SdramPinSignature`.

    Members
    -------
    pins : In(SdramPinSignature(addr_pins, bank_bits))
        From the controller.

    The controller registers every output, so the buffers here are plain (no added latency).
    The SDRAM clock is the system clock inverted (a DDR output driving 0 then 1): the chip
    samples commands and write data half a cycle after the controller launches them (half a
    cycle of setup and of hold), and its read data, valid from ``tAC`` (<= 6 ns) after one
    chip edge until ``tOH`` (>= 2.5 ns) after the next, is caught by the controller's edge in
    the middle of that window, one cycle earlier than with a common edge: build the
    controller with ``chip_clock_inverted=True``. At 20 MHz that leaves about 19 ns of setup
    and 27 ns of hold at the capture register, less board and buffer delays.
    """

    def __init__(self, resource, *, addr_pins=13, bank_bits=2):
        self._resource = resource
        super().__init__({"pins": In(SdramPinSignature(addr_pins=addr_pins,
                                                       bank_bits=bank_bits))})

    def elaborate(self, platform):
        m = Module()
        res, pins = self._resource, self.pins
        m.submodules.clk = clk = io.DDRBuffer("o", res.clk)
        m.d.comb += [clk.o[0].eq(Const(0)), clk.o[1].eq(Const(1))]
        for name in ("clk_en", "cs", "ras", "cas", "we", "ba", "a", "dqm"):
            buffer = io.Buffer("o", getattr(res, name))
            m.submodules[name] = buffer
            m.d.comb += buffer.o.eq(getattr(pins, name))
        m.submodules.dq = dq = io.Buffer("io", res.dq)
        m.d.comb += [dq.o.eq(pins.dq_o), dq.oe.eq(pins.dq_oe), pins.dq_i.eq(dq.i)]
        return m
