"""Iterative divider on one shared subtractor, for small cores (X stage)."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .altops import alt_result

__all__ = ["SerialDivider"]


class _State(enum.Enum, shape=3):
    IDLE = 0
    NEG_A = 1    # dividend magnitude
    NEG_B = 2    # divisor magnitude
    ITER = 3     # one quotient bit per cycle
    FIX = 4      # result sign
    DONE = 5


class SerialDivider(wiring.Component):
    """Restoring divider on magnitudes with one 33-bit subtractor for every step.

    A drop-in for :class:`~.divider.Divider` (same ports, same results) that takes three more
    cycles: the magnitudes of the operands and the sign of the result are formed on the same
    subtractor as the quotient bits. Results follow the RISC-V spec exactly: division by zero
    gives a quotient of all ones and a remainder equal to the dividend; signed overflow
    (``INT_MIN / -1``) gives ``INT_MIN`` and a remainder of 0.

    Members
    -------
    start : In(1)
        The X stage holds a division whose operands are valid. Sampled while the divider is
        idle; the operands are captured then.
    op : In(3)
        ``funct3``: DIV (0b100), DIVU (0b101), REM (0b110), REMU (0b111).
    a, b : In(32)
        Dividend (rs1) and divisor (rs2).
    abort : In(1)
        The X stage changes instruction next cycle (it moves on or is flushed): return to idle.
        Takes priority over ``start``.
    done : Out(1)
        ``result`` is valid; stays high until ``abort``.
    result : Out(32)

    Latency
    -------
    ``done`` rises 36 cycles after ``start`` is first seen.

    Parameters
    ----------
    alt_ops : bool
        Formal checks only: ``result`` is the stand-in of :mod:`.altops` of the operation and
        operands captured at the start instead of the quotient / remainder; the state machine
        and so ``done`` keep the latency above (the quotient datapath runs unused).
    """

    start: In(1)
    op: In(3)
    a: In(32)
    b: In(32)
    abort: In(1)
    done: Out(1)
    result: Out(32)

    def __init__(self, *, alt_ops=False):
        self._alt_ops = bool(alt_ops)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        alt = self._alt_ops
        alt_op, alt_a, alt_b = Signal(3), Signal(32), Signal(32)
        state = Signal(_State)
        quotient = Signal(32)     # dividend, shifting left; quotient bits enter at the bottom
        remainder = Signal(32)
        divisor = Signal(32)
        count = Signal(range(32))
        rem = Signal()
        neg_a = Signal()
        neg_b = Signal()
        neg_q = Signal()

        # The one subtractor: minuend - subtrahend, 33 bits.
        iterating = state == _State.ITER
        trial = Cat(quotient[31], remainder)
        minuend = Mux(iterating, trial, 0)
        subtrahend = Signal(32)
        with m.Switch(state):
            with m.Case(_State.NEG_A):
                m.d.comb += subtrahend.eq(quotient)
            with m.Case(_State.FIX):
                m.d.comb += subtrahend.eq(Mux(rem, remainder, quotient))
            with m.Default():
                m.d.comb += subtrahend.eq(divisor)
        diff = Signal(33)
        m.d.comb += diff.eq(minuend - subtrahend)
        fits = ~diff[32]

        signed = ~self.op[0]
        m.d.comb += [
            self.done.eq(state == _State.DONE),
            self.result.eq(alt_result(alt_op, alt_a, alt_b) if alt else quotient),
        ]
        with m.If(self.abort):
            m.d.sync += state.eq(_State.IDLE)
        with m.Else():
            with m.Switch(state):
                with m.Case(_State.IDLE):
                    with m.If(self.start):
                        if alt:
                            m.d.sync += [alt_op.eq(self.op), alt_a.eq(self.a),
                                         alt_b.eq(self.b)]
                        m.d.sync += [
                            state.eq(_State.NEG_A),
                            quotient.eq(self.a),
                            divisor.eq(self.b),
                            remainder.eq(0),
                            rem.eq(self.op[1]),
                            neg_a.eq(signed & self.a[31]),
                            neg_b.eq(signed & self.b[31]),
                            neg_q.eq(signed & (self.a[31] ^ self.b[31]) & (self.b != 0)),
                        ]
                with m.Case(_State.NEG_A):
                    with m.If(neg_a):
                        m.d.sync += quotient.eq(diff[:32])
                    m.d.sync += state.eq(_State.NEG_B)
                with m.Case(_State.NEG_B):
                    with m.If(neg_b):
                        m.d.sync += divisor.eq(diff[:32])
                    m.d.sync += [state.eq(_State.ITER), count.eq(31)]
                with m.Case(_State.ITER):
                    m.d.sync += [
                        remainder.eq(Mux(fits, diff[:32], trial[:32])),
                        quotient.eq(Cat(fits, quotient[:31])),
                        count.eq(count - 1),
                    ]
                    with m.If(count == 0):
                        m.d.sync += state.eq(_State.FIX)
                with m.Case(_State.FIX):
                    negate = Mux(rem, neg_a, neg_q)
                    m.d.sync += [
                        quotient.eq(Mux(negate, diff[:32], Mux(rem, remainder, quotient))),
                        state.eq(_State.DONE),
                    ]
        return m
