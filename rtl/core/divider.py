"""Iterative radix-2 divider for DIV, DIVU, REM, REMU (X stage)."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .altops import alt_result

__all__ = ["Divider"]


class Divider(wiring.Component):
    """Restoring divider on magnitudes, one quotient bit per cycle, skipping the dividend's
    leading zero bytes (early out).

    Results follow the RISC-V spec exactly: division by zero gives a quotient of all ones and a
    remainder equal to the dividend; signed overflow (``INT_MIN / -1``) gives ``INT_MIN`` and a
    remainder of 0.

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
    ``done`` rises ``33 - 8 * z`` cycles after ``start`` is first seen, where ``z`` (0..3) is
    the number of leading zero bytes of the dividend's magnitude (``|a|`` for DIV / REM, ``a``
    for DIVU / REMU) among its top three, and ``z`` = 0 when the divisor is 0: 33 cycles for
    a dividend of 2**24 or more, 9 below 256. One cycle more with ``registered_start``.

    Parameters
    ----------
    alt_ops : bool
        Formal checks only: ``result`` is the stand-in of :mod:`.altops` of the operation and
        operands captured at the start instead of the quotient / remainder; ``done`` keeps the
        latency above (the quotient datapath is left out).
    registered_start : bool
        Capture the operands' magnitudes first and count the dividend's leading zero bytes
        (and shift them out) in the next cycle, from the registers: the operand bypass ->
        negation -> zero-byte count -> shifted dividend path is cut in two, for one more
        cycle per division.
    """

    start: In(1)
    op: In(3)
    a: In(32)
    b: In(32)
    abort: In(1)
    done: Out(1)
    result: Out(32)

    def __init__(self, *, alt_ops=False, registered_start=False):
        self._alt_ops = bool(alt_ops)
        self._registered_start = bool(registered_start)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        alt = self._alt_ops
        alt_op, alt_a, alt_b = Signal(3), Signal(32), Signal(32)
        signed = ~self.op[0]
        rem = Signal()
        neg_q = Signal()
        neg_r = Signal()
        dividend = Signal(32)   # shifts left; quotient bits enter at the bottom
        divisor = Signal(32)
        remainder = Signal(32)
        count = Signal(range(33))
        busy = Signal()

        a_neg = signed & self.a[31]
        b_neg = signed & self.b[31]

        trial = Cat(dividend[31], remainder).as_unsigned()   # 33 bits
        fits = trial >= divisor
        diff = (trial - divisor)[0:32]

        # Early out: the quotient bits of the dividend's leading zero bytes are 0 (for a
        # divisor that is not 0): start with those bytes shifted out. With
        # `registered_start`, counted from the captured magnitude (`dividend`) one cycle later.
        mag_a = Signal(32)
        skip = Signal(2)
        prep = Signal()          # registered_start: the magnitudes are captured, count next
        b_zero = Signal()
        m.d.comb += mag_a.eq(Mux(a_neg, -self.a, self.a))
        reg = self._registered_start
        counted = dividend if reg else mag_a
        with m.If(b_zero if reg else self.b == 0):
            m.d.comb += skip.eq(0)
        with m.Elif(counted[8:32] == 0):
            m.d.comb += skip.eq(3)
        with m.Elif(counted[16:32] == 0):
            m.d.comb += skip.eq(2)
        with m.Elif(counted[24:32] == 0):
            m.d.comb += skip.eq(1)
        with m.If(self.abort):
            m.d.sync += [busy.eq(0), prep.eq(0), self.done.eq(0)]
        with m.Elif(prep):
            m.d.sync += [prep.eq(0), busy.eq(1), count.eq(32 - 8 * skip),
                         dividend.eq(dividend << (8 * skip))]
        with m.Elif(busy):
            m.d.sync += count.eq(count - 1)
            if not alt:
                m.d.sync += [
                    remainder.eq(Mux(fits, diff, trial[0:32])),
                    dividend.eq(Cat(fits, dividend[0:31])),
                ]
            with m.If(count == 1):
                m.d.sync += [busy.eq(0), self.done.eq(1)]
        with m.Elif(self.start & ~self.done):
            if reg:
                m.d.sync += [prep.eq(1), dividend.eq(mag_a), b_zero.eq(self.b == 0)]
            else:
                m.d.sync += [busy.eq(1), count.eq(32 - 8 * skip)]
            if alt:
                m.d.sync += [alt_op.eq(self.op), alt_a.eq(self.a), alt_b.eq(self.b)]
            else:
                m.d.sync += [
                    dividend.eq(mag_a if reg else mag_a << (8 * skip)),
                    divisor.eq(Mux(b_neg, -self.b, self.b)),
                    remainder.eq(0),
                    rem.eq(self.op[1]),
                    neg_q.eq((a_neg ^ b_neg) & (self.b != 0)),
                    neg_r.eq(a_neg),
                ]

        quotient = Mux(neg_q, -dividend, dividend)
        remainder_out = Mux(neg_r, -remainder, remainder)
        if alt:
            m.d.comb += self.result.eq(alt_result(alt_op, alt_a, alt_b))
        else:
            m.d.comb += self.result.eq(Mux(rem, remainder_out, quotient))
        return m
