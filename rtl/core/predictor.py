"""Static branch predictor (D stage): JAL always taken, backward branches taken."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StaticPredictor"]


class StaticPredictor(wiring.Component):
    """Backward-taken / forward-not-taken prediction, with JAL redirected in decode.

    JALR is predicted not taken (it is resolved in X). A predicted target that is not 4-byte
    aligned is never predicted (the X stage raises instruction-address-misaligned instead), so
    fetch never runs at a misaligned address.

    Members
    -------
    d_valid : In(1)
        The D stage holds an instruction without a pending exception.
    d_reload : In(1)
        The D stage takes a new instruction next cycle (clears the "already redirected" state).
    branch, jal : In(1)
    pc, imm : In(32)
    taken : Out(1)
        Prediction for the instruction in D (passed on to the X stage).
    target : Out(32)
    redirect : Out(1)
        Redirect fetch to ``target`` now: the first cycle of a predicted-taken instruction in D.
    """

    d_valid: In(1)
    d_reload: In(1)
    branch: In(1)
    jal: In(1)
    pc: In(32)
    imm: In(32)
    taken: Out(1)
    target: Out(32)
    redirect: Out(1)

    def elaborate(self, platform):
        m = Module()
        done = Signal()
        m.d.comb += [
            self.target.eq(self.pc + self.imm),
            self.taken.eq((self.jal | (self.branch & self.imm[31])) & ~self.target[1]),
            self.redirect.eq(self.d_valid & self.taken & ~done),
        ]
        m.d.sync += done.eq(Mux(self.d_reload, 0, done | self.redirect))
        return m
