"""Branch unit (X stage): resolves branches and jumps and detects mispredictions."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Funct3Branch

__all__ = ["BranchUnit", "branch_condition"]


def branch_condition(m, funct3, a, b, *, one_subtractor=False):
    """A signal that is 1 when the conditional branch ``funct3`` (BEQ ... BGEU) is taken for
    the operands ``a``, ``b`` (32-bit values); 0 for the unused encodings. Adds its logic to
    the module ``m``. ``one_subtractor``: the four orderings from one 33-bit subtraction
    (unsigned less-than is its borrow; signed less-than is ``a``'s sign when the signs
    differ, else the unsigned one) instead of a comparator each; the same values."""
    cond = Signal()
    if one_subtractor:
        diff = Signal(33)
        ltu = Signal()
        lt = Signal()
        eq = Signal()
        m.d.comb += [
            diff.eq(Cat(a, 0) - Cat(b, 0)),
            ltu.eq(diff[32]),
            lt.eq(Mux(a[31] ^ b[31], a[31], ltu)),
            eq.eq(a == b),
        ]
        with m.Switch(funct3):
            for case, value in ((Funct3Branch.BEQ, eq), (Funct3Branch.BNE, ~eq),
                                (Funct3Branch.BLT, lt), (Funct3Branch.BGE, ~lt),
                                (Funct3Branch.BLTU, ltu), (Funct3Branch.BGEU, ~ltu)):
                with m.Case(case):
                    m.d.comb += cond.eq(value)
        return cond
    with m.Switch(funct3):
        with m.Case(Funct3Branch.BEQ):
            m.d.comb += cond.eq(a == b)
        with m.Case(Funct3Branch.BNE):
            m.d.comb += cond.eq(a != b)
        with m.Case(Funct3Branch.BLT):
            m.d.comb += cond.eq(a.as_signed() < b.as_signed())
        with m.Case(Funct3Branch.BGE):
            m.d.comb += cond.eq(a.as_signed() >= b.as_signed())
        with m.Case(Funct3Branch.BLTU):
            m.d.comb += cond.eq(a < b)
        with m.Case(Funct3Branch.BGEU):
            m.d.comb += cond.eq(a >= b)
    return cond


class BranchUnit(wiring.Component):
    """Resolves the control flow of the instruction in the X stage.

    Members
    -------
    branch, jal, jalr : In(1)
        Kind of control-flow instruction (at most one set).
    funct3 : In(3)
        Branch condition.
    pc : In(32)
    imm : In(32)
    rs1 : In(32)
        Forwarded ``rs1``: a JALR's base.
    cmp_a, cmp_b : In(32)
        The operands of a conditional branch's comparison (``rs1``, ``rs2``; X may forward
        a load's answer into these only).
    predicted_taken : In(1)
        The D stage already redirected fetch (to ``target`` for a branch or JAL, to its
        predicted target for a JALR).
    predicted_rs1 : In(32)
        For a predicted JALR: predicted target - ``imm``, the ``rs1`` (bits 31:1) for which
        the prediction is right (only predicted with an even ``imm``, so the check compares
        ``rs1`` directly, without the target adder).
    taken : Out(1)
        Control leaves sequential order (always for JAL / JALR).
    target : Out(32)
        ``pc + imm`` (branch, JAL) or ``(rs1 + imm) & ~1`` (JALR).
    next_pc : Out(32)
        ``target`` if taken, else ``pc + 4``.
    misaligned : Out(1)
        Taken with a target that is not 4-byte aligned: instruction-address-misaligned.
    mispredict : Out(1)
        Fetch went the wrong way: the X stage must redirect fetch to ``next_pc`` (never set
        together with ``misaligned``).
    """

    branch: In(1)
    jal: In(1)
    jalr: In(1)
    funct3: In(3)
    pc: In(32)
    imm: In(32)
    rs1: In(32)
    cmp_a: In(32)
    cmp_b: In(32)
    predicted_taken: In(1)
    predicted_rs1: In(32)
    taken: Out(1)
    target: Out(32)
    next_pc: Out(32)
    misaligned: Out(1)
    mispredict: Out(1)

    def elaborate(self, platform):
        m = Module()
        cond = branch_condition(m, self.funct3, self.cmp_a, self.cmp_b)

        base = Mux(self.jalr, self.rs1, self.pc)
        total = Signal(32)
        target = Signal(32)
        m.d.comb += [
            total.eq(base + self.imm),
            target.eq(Cat(total[0] & ~self.jalr, total[1:])),
            self.target.eq(target),
            self.taken.eq(self.jal | self.jalr | (self.branch & cond)),
            self.next_pc.eq(Mux(self.taken, target, self.pc + 4)),
            self.misaligned.eq(self.taken & target[1]),
            self.mispredict.eq(~self.misaligned & (self.branch | self.jal | self.jalr) &
                               ((self.taken != self.predicted_taken) |
                                (self.jalr & (self.rs1[1:] != self.predicted_rs1[1:])))),
        ]
        return m
