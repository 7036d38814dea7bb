"""Barrel shifter (X stage): SLL, SRL, SRA."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp

__all__ = ["Shifter"]


class Shifter(wiring.Component):
    """Combinational 32-bit shifter.

    Members
    -------
    op : In(AluOp)
        ``SLL``, ``SRL`` or ``SRA``; any other value gives an unspecified result.
    a : In(32)
        Value shifted.
    shamt : In(5)
        Shift amount (the low five bits of rs2 or of the immediate).
    result : Out(32)
    """

    op: In(AluOp)
    a: In(32)
    shamt: In(5)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.op):
            with m.Case(AluOp.SLL):
                m.d.comb += self.result.eq(self.a << self.shamt)
            with m.Case(AluOp.SRA):
                m.d.comb += self.result.eq(self.a.as_signed() >> self.shamt)
            with m.Default():
                m.d.comb += self.result.eq(self.a >> self.shamt)
        return m
