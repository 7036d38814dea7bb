"""Pipelined multiplier for MUL, MULH, MULHSU, MULHU (X and M stages)."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .altops import alt_result
from .isa import Funct3MulDiv

__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """Two-stage multiplier, one operation accepted per cycle.

    The X stage presents the operands (sign-extended to 33 bits according to the operation);
    what is registered when ``x_en`` is high depends on ``x_products``. The M stage reads the
    selected word of the product on ``m_result`` (the pipeline registers it at the M/W edge).

    - ``x_products=False``: the operands are registered, and M forms the product as a single
      33 x 33 signed multiply of registered inputs (synthesis maps it onto DSP blocks and sums
      their partial products in carry chains).
    - ``x_products=True``: the operands are split at bit 17 (``a = a_hi * 2**17 + a_lo``,
      ``a_lo`` unsigned 17 bits, ``a_hi`` signed 16 bits; the same for ``b``), X multiplies
      the four pairs (each fits one 18 x 18 signed DSP multiplier) and registers the partial
      products; M adds them (``a_lo b_lo + (a_hi b_lo + a_lo b_hi) * 2**17 + a_hi b_hi *
      2**34``, where the first and last terms do not overlap: one concatenation, two
      additions). The DSP delay moves from M's path into X's; the same value in the same
      cycle. Not used by the cores: measured slower on the ECP5 (54.3 / 54.4 / 54.0 MHz
      routed, seeds 1-3, against 56.9 / 57.2 for the core alone; X's operand muxes, which
      now also feed the DSP blocks, were placed towards them: rtl/core/README.md, Clock,
      round 7).

    Members
    -------
    x_en : In(1)
        Register the X-stage operands (the X stage hands over to M this cycle).
    x_op : In(3)
        ``funct3`` of the M extension (MUL, MULH, MULHSU, MULHU).
    x_a, x_b : In(32)
        rs1 and rs2.
    m_result : Out(32)
        Low word (MUL) or high word (MULH*) of the product of the operands registered last.

    Latency
    -------
    Operands in the X stage, result in the M stage (one cycle later).

    Parameters
    ----------
    x_products : bool
        The partial products are formed in X and registered (above); off: the operands.
    alt_ops : bool
        Formal checks only: ``m_result`` is the stand-in of :mod:`.altops` of the registered
        operation and operands instead of the product (same registers, same latency).
    """

    x_en: In(1)
    x_op: In(3)
    x_a: In(32)
    x_b: In(32)
    m_result: Out(32)

    def __init__(self, *, x_products=False, alt_ops=False):
        self._x_products = bool(x_products)
        self._alt_ops = bool(alt_ops)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self._alt_ops:
            op, a, b = Signal(3), Signal(32), Signal(32)
            with m.If(self.x_en):
                m.d.sync += [op.eq(self.x_op), a.eq(self.x_a), b.eq(self.x_b)]
            m.d.comb += self.m_result.eq(alt_result(op, a, b))
            return m
        a_signed = (self.x_op == Funct3MulDiv.MULH) | (self.x_op == Funct3MulDiv.MULHSU)
        b_signed = self.x_op == Funct3MulDiv.MULH
        x_a = Signal(33)
        x_b = Signal(33)
        m.d.comb += [x_a.eq(Cat(self.x_a, a_signed & self.x_a[31])),
                     x_b.eq(Cat(self.x_b, b_signed & self.x_b[31]))]
        high = Signal()
        product = Signal(66)
        with m.If(self.x_en):
            m.d.sync += high.eq(self.x_op != Funct3MulDiv.MUL)
        if self._x_products:
            # Each product fits one 18 x 18 signed multiplier: the low halves are 17-bit
            # unsigned values (zero-extended to 18-bit signed), the high halves 16-bit signed.
            def low(v):
                return Cat(v[0:17], C(0, 1)).as_signed()

            def hi(v):
                return v[17:33].as_signed()

            p_ll = Signal(34)            # a_lo * b_lo, unsigned
            p_lh = Signal(signed(35))    # a_lo * b_hi
            p_hl = Signal(signed(35))    # a_hi * b_lo
            p_hh = Signal(signed(32))    # a_hi * b_hi
            with m.If(self.x_en):
                m.d.sync += [p_ll.eq(x_a[0:17] * x_b[0:17]),
                             p_lh.eq(low(x_a) * hi(x_b)),
                             p_hl.eq(hi(x_a) * low(x_b)),
                             p_hh.eq(hi(x_a) * hi(x_b))]
            middle = Signal(signed(36))
            m.d.comb += [middle.eq(p_lh + p_hl),
                         product.eq(Cat(p_ll, p_hh).as_signed() + (middle << 17))]
        else:
            a = Signal(33)
            b = Signal(33)
            with m.If(self.x_en):
                m.d.sync += [a.eq(x_a), b.eq(x_b)]
            m.d.comb += product.eq(a.as_signed() * b.as_signed())
        m.d.comb += self.m_result.eq(Mux(high, product[32:64], product[0:32]))
        return m
