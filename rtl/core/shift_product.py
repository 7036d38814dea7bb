"""Multiplier operands for MUL* and for shifts computed as products (no barrel shifter)."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp
from .isa import Funct3MulDiv

__all__ = ["ShiftProduct"]


class ShiftProduct(wiring.Component):
    """Chooses the multiplier's operation and second operand, turning shifts into products.

    SLL by n: low word of ``a * 2**n``. SRL / SRA by n > 0: high word of ``a * 2**(32 - n)``
    (MULHU, or MULHSU for SRA: signed ``a`` by unsigned power). A right shift by 0: low word
    of ``a * 1``. Any other instruction passes its own M-extension ``funct3`` and rs2.

    Members
    -------
    shift : In(1)
        The instruction is SLL / SRL / SRA (or an immediate form).
    alu_op : In(AluOp)
        Which shift.
    shamt : In(5)
        Shift amount.
    funct3 : In(3)
        M-extension operation of a MUL* instruction.
    rs2 : In(32)
    op : Out(3)
        Multiplier operation (``Funct3MulDiv``).
    b : Out(32)
        Second multiplier operand (the first is rs1).
    """

    shift: In(1)
    alu_op: In(AluOp)
    shamt: In(5)
    funct3: In(3)
    rs2: In(32)
    op: Out(3)
    b: Out(32)

    def elaborate(self, platform):
        m = Module()
        right = self.alu_op != AluOp.SLL
        power = Signal(5)
        m.d.comb += power.eq(Mux(right, -self.shamt, self.shamt))
        with m.If(self.shift):
            m.d.comb += self.b.eq(Const(1, 32) << power)
            with m.If(~right | (self.shamt == 0)):
                m.d.comb += self.op.eq(Funct3MulDiv.MUL)
            with m.Elif(self.alu_op == AluOp.SRA):
                m.d.comb += self.op.eq(Funct3MulDiv.MULHSU)
            with m.Else():
                m.d.comb += self.op.eq(Funct3MulDiv.MULHU)
        with m.Else():
            m.d.comb += [self.op.eq(self.funct3), self.b.eq(self.rs2)]
        return m
