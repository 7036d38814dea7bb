"""Operand selection (X stage): the two ALU operands from registers, pc and immediate."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import ASel, BSel

__all__ = ["OperandSelect"]


class OperandSelect(wiring.Component):
    """Chooses the ALU operands as the decoder's ``a_sel`` / ``b_sel`` say.

    Members
    -------
    a_sel : In(ASel)
        ``RS1``, ``PC`` or zero.
    b_sel : In(BSel)
        ``RS2``, ``IMM`` or the constant 4 (link address).
    rs1, rs2 : In(32)
        Register operands (forwarded where the core forwards).
    pc, imm : In(32)
        Address and immediate of the instruction.
    a, b : Out(32)
        The operands.
    """

    a_sel: In(ASel)
    b_sel: In(BSel)
    rs1: In(32)
    rs2: In(32)
    pc: In(32)
    imm: In(32)
    a: Out(32)
    b: Out(32)

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.b_sel):
            with m.Case(BSel.RS2):
                m.d.comb += self.b.eq(self.rs2)
            with m.Case(BSel.IMM):
                m.d.comb += self.b.eq(self.imm)
            with m.Default():
                m.d.comb += self.b.eq(4)
        with m.Switch(self.a_sel):
            with m.Case(ASel.RS1):
                m.d.comb += self.a.eq(self.rs1)
            with m.Case(ASel.PC):
                m.d.comb += self.a.eq(self.pc)
            with m.Default():
                m.d.comb += self.a.eq(0)
        return m
