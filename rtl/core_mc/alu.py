"""Compact ALU of the multi-cycle core: one adder for add, subtract, compares and branches."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..core.decoder import AluOp

__all__ = ["CompactALU"]


class CompactALU(wiring.Component):
    """Combinational 32-bit ALU built around a single 33-bit adder.

    ADD uses the adder as ``a + b``; SUB, SLT, SLTU and every comparison use it as
    ``a + ~b + 1``. Shift operations are not handled here (the result is unspecified for
    them).

    Members
    -------
    op : In(AluOp)
        Operation (ADD, SUB, SLT, SLTU, XOR, OR, AND).
    compare : In(1)
        Force the adder to subtract (branch comparisons); ``eq``, ``lt`` and ``ltu`` are only
        valid while the adder subtracts (``compare`` set, or op SUB / SLT / SLTU).
    a, b : In(32)
    result : Out(32)
        ``a op b``; SLT / SLTU give 0 or 1.
    eq : Out(1)
        ``a == b``.
    lt : Out(1)
        ``a < b`` signed.
    ltu : Out(1)
        ``a < b`` unsigned.
    """

    op: In(AluOp)
    compare: In(1)
    a: In(32)
    b: In(32)
    result: Out(32)
    eq: Out(1)
    lt: Out(1)
    ltu: Out(1)

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        sub = Signal()
        m.d.comb += sub.eq(self.compare | (self.op == AluOp.SUB) | (self.op == AluOp.SLT) |
                           (self.op == AluOp.SLTU))
        total = Signal(33)
        m.d.comb += total.eq(Cat(a, 0) + Cat(Mux(sub, ~b, b), 0) + sub)
        m.d.comb += [
            self.eq.eq(total[:32] == 0),
            self.ltu.eq(~total[32]),
            self.lt.eq(Mux(a[31] == b[31], total[31], a[31])),
        ]
        with m.Switch(self.op):
            with m.Case(AluOp.SLT):
                m.d.comb += self.result.eq(self.lt)
            with m.Case(AluOp.SLTU):
                m.d.comb += self.result.eq(self.ltu)
            with m.Case(AluOp.XOR):
                m.d.comb += self.result.eq(a ^ b)
            with m.Case(AluOp.OR):
                m.d.comb += self.result.eq(a | b)
            with m.Case(AluOp.AND):
                m.d.comb += self.result.eq(a & b)
            with m.Default():
                m.d.comb += self.result.eq(total[:32])
        return m
