"""Integer ALU (X stage): add, subtract, set-less-than and bitwise logic."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp

__all__ = ["ALU"]


class ALU(wiring.Component):
    """Combinational 32-bit ALU.

    Shift operations (``AluOp.SLL/SRL/SRA``) belong to :class:`~.shifter.Shifter`; for them the
    ALU output is unspecified.

    Members
    -------
    op : In(AluOp)
    a, b : In(32)
        Operands.
    result : Out(32)
        ``a op b``; SLT / SLTU give 0 or 1.
    """

    op: In(AluOp)
    a: In(32)
    b: In(32)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        with m.Switch(self.op):
            with m.Case(AluOp.ADD):
                m.d.comb += self.result.eq(a + b)
            with m.Case(AluOp.SUB):
                m.d.comb += self.result.eq(a - b)
            with m.Case(AluOp.SLT):
                m.d.comb += self.result.eq(a.as_signed() < b.as_signed())
            with m.Case(AluOp.SLTU):
                m.d.comb += self.result.eq(a < b)
            with m.Case(AluOp.XOR):
                m.d.comb += self.result.eq(a ^ b)
            with m.Case(AluOp.OR):
                m.d.comb += self.result.eq(a | b)
            with m.Case(AluOp.AND):
                m.d.comb += self.result.eq(a & b)
        return m
