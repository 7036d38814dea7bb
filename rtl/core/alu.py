"""Integer ALU (X stage): add, subtract, set-less-than, bitwise logic and comparisons."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp

__all__ = ["ALU"]


class ALU(wiring.Component):
    """Combinational 32-bit ALU.

    Shift operations (``AluOp.SLL/SRL/SRA``) belong to :class:`~.shifter.Shifter` (or the
    multiplier); for them the ALU output is unspecified.

    Parameters
    ----------
    single_adder : bool
        ``False`` (the five-stage core): separate adder, subtractor and comparators, the
        shortest paths. ``True`` (the multi-cycle core): one 33-bit adder used as ``a + b``
        for ADD and as ``a + ~b + 1`` for SUB, SLT, SLTU and every comparison, the least
        logic; ``eq``, ``lt`` and ``ltu`` are then valid only while the adder subtracts
        (``compare`` set, or op SUB / SLT / SLTU).

    Members
    -------
    op : In(AluOp)
        Operation (ADD, SUB, SLT, SLTU, XOR, OR, AND).
    compare : In(1)
        Branch comparison: with ``single_adder``, force the adder to subtract. Ignored
        otherwise.
    a, b : In(32)
        Operands.
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

    def __init__(self, *, single_adder=False):
        self._single_adder = bool(single_adder)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        if self._single_adder:
            sub = Signal()
            m.d.comb += sub.eq(self.compare | (self.op == AluOp.SUB) | (self.op == AluOp.SLT) |
                               (self.op == AluOp.SLTU))
            total = Signal(33)
            m.d.comb += [
                total.eq(Cat(a, 0) + Cat(Mux(sub, ~b, b), 0) + sub),
                self.eq.eq(total[:32] == 0),
                self.ltu.eq(~total[32]),
                self.lt.eq(Mux(a[31] == b[31], total[31], a[31])),
            ]
            add, diff = total[:32], total[:32]
        else:
            m.d.comb += [
                self.eq.eq(a == b),
                self.lt.eq(a.as_signed() < b.as_signed()),
                self.ltu.eq(a < b),
            ]
            add, diff = a + b, a - b
        with m.Switch(self.op):
            with m.Case(AluOp.ADD):
                m.d.comb += self.result.eq(add)
            with m.Case(AluOp.SUB):
                m.d.comb += self.result.eq(diff)
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
            if self._single_adder:
                with m.Default():   # shifts: unspecified
                    m.d.comb += self.result.eq(add)
        return m
