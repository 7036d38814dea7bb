"""INT8 dot-product unit: four signed 8 x 8 products per write, summed into an int32.

A board-sized INT8 accelerator for SoCs that have no room for the NPU (the iCEBreaker,
``SoCConfig.dot_unit``): the core streams operands into two registers and the unit does the
multiply-accumulate; requantization stays in software (firmware/include/dot_unit.h).

Register map (byte offsets from ``DURE_DOT_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ====  ====  ==========================================================================
offset  name  acc.  meaning
======  ====  ====  ==========================================================================
0x0     a     R/W   four int8 operands, lane i in bits ``8i..8i+7``; honours byte enables
0x4     b     W     four int8 operands; a write does ``acc += sum_i a[i] * b[i]`` (products
                    exact, the sum wraps modulo 2**32) with ``a`` as it is when the write is
                    granted (disabled bytes of the write are 0). Reads return 0.
0x8     acc   R/W   the int32 accumulator; a write sets it (bias, or 0), honouring byte
                    enables; a read returns it with every earlier write to ``b`` included
======  ====  ====  ==========================================================================

Accesses take effect in the order they are granted, so a program may write ``a``, ``b`` and
``acc`` and read ``acc`` back to back, one access per cycle, with no waits. Any other offset
answers with a bus error.

The four products are ``*`` of 8-bit signed values: Yosys's ``synth_ice40 -dsp`` maps each onto
one ``SB_MAC16``; the sum and accumulator are in logic.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import registers

__all__ = ["DotUnit", "LANES"]

#: Products per write to ``b``.
LANES = 4


class DotUnit(wiring.Component):
    """The INT8 dot-product unit.

    Parameters
    ----------
    addr_width : int
        Word-address width of the bus port (the region's size).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.

    Latency
    -------
    Grants every request; responds one cycle after the grant. A write to ``b`` is registered
    when granted and its products reach the accumulator at the end of the next cycle; a read
    of ``acc`` granted in that cycle returns the updated value (the read data includes the
    pending sum), so no access ever waits. Peak rate: one write to ``b`` (4 MACs)
    per cycle.
    """

    def __init__(self, addr_width=10):
        self._addr_width = addr_width
        super().__init__({"bus": In(BusSignature(addr_width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(registers("dot"), addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)

        # Stage 1: the operands of a granted write to b.
        a_q = Signal(32)
        b_q = Signal(32)
        go = Signal()
        m.d.sync += go.eq(regs.b.w_stb)
        with m.If(regs.b.w_stb):
            m.d.sync += [a_q.eq(regs.a.data), b_q.eq(regs.b.w_data)]

        # Stage 2: four products, their sum, the accumulator.
        products = [a_q.word_select(i, 8).as_signed() * b_q.word_select(i, 8).as_signed()
                    for i in range(LANES)]
        pair0 = Signal(17)
        pair1 = Signal(17)
        total = Signal(18)
        m.d.comb += [pair0.eq(products[0] + products[1]), pair1.eq(products[2] + products[3]),
                     total.eq(pair0.as_signed() + pair1.as_signed())]
        acc = Signal(32)
        acc_sum = Signal(32)        # acc with the write to b of the last cycle added
        m.d.comb += acc_sum.eq(acc)
        with m.If(go):
            m.d.comb += acc_sum.eq(acc + total.as_signed())
        # A read is never granted in the cycle of a write, so r_data is the next value of a
        # read's cycle; a write's byte enables merge over the same up-to-date value.
        m.d.comb += regs.acc.r_data.eq(acc_sum)
        with m.If(regs.acc.w_stb):
            m.d.sync += acc.eq(regs.acc.w_data)
        with m.Else():
            m.d.sync += acc.eq(acc_sum)
        return m
