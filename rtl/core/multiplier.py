"""Pipelined multiplier for MUL, MULH, MULHSU, MULHU (X and M stages)."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .altops import alt_result
from .isa import Funct3MulDiv

__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """Two-stage multiplier, one operation accepted per cycle.

    The X stage presents the operands; they are registered (sign-extended to 33 bits according
    to the operation) when ``x_en`` is high. The M stage reads the product of the registered
    operands on ``m_result`` (a single 33 x 33 signed multiply of registered inputs, which
    synthesis maps onto DSP blocks; the pipeline registers the selected half at the M/W edge).

    Members
    -------
    x_en : In(1)
        Register the X-stage operands (the X stage hands over to M this cycle).
    x_op : In(3)
        ``funct3`` of the M extension (MUL, MULH, MULHSU, MULHU).
    x_a, x_b : In(32)
        rs1 and rs2.
    m_result : Out(32)
        Low word (MUL) or high word (MULH*) of the product of the operands registered last.

    Latency
    -------
    Operands in the X stage, result in the M stage (one cycle later).

    Parameters
    ----------
    alt_ops : bool
        Formal checks only: ``m_result`` is the stand-in of :mod:`.altops` of the registered
        operation and operands instead of the product (same registers, same latency).
    """

    x_en: In(1)
    x_op: In(3)
    x_a: In(32)
    x_b: In(32)
    m_result: Out(32)

    def __init__(self, *, alt_ops=False):
        self._alt_ops = bool(alt_ops)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self._alt_ops:
            op, a, b = Signal(3), Signal(32), Signal(32)
            with m.If(self.x_en):
                m.d.sync += [op.eq(self.x_op), a.eq(self.x_a), b.eq(self.x_b)]
            m.d.comb += self.m_result.eq(alt_result(op, a, b))
            return m
        a_signed = (self.x_op == Funct3MulDiv.MULH) | (self.x_op == Funct3MulDiv.MULHSU)
        b_signed = self.x_op == Funct3MulDiv.MULH
        a = Signal(33)
        b = Signal(33)
        high = Signal()
        with m.If(self.x_en):
            m.d.sync += [
                a.eq(Cat(self.x_a, a_signed & self.x_a[31])),
                b.eq(Cat(self.x_b, b_signed & self.x_b[31])),
                high.eq(self.x_op != Funct3MulDiv.MUL),
            ]
        product = Signal(66)
        m.d.comb += product.eq(a.as_signed() * b.as_signed())
        m.d.comb += self.m_result.eq(Mux(high, product[32:64], product[0:32]))
        return m
