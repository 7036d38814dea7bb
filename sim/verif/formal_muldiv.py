"""Formal check of the core's real multiplier at unit level, one operand narrowed.

The pipeline checks of :mod:`dure.sim.verif.formal_core` run the M extension on stand-in
results (``alt_ops``): an SMT solver does not follow a real 32 x 32 multiplier through the
pipeline. Here the real :class:`~dure.rtl.core.multiplier.Multiplier` stands alone: whatever
operation (MUL, MULH, MULHSU, MULHU) and operands enter with ``x_en``, the result one cycle
later must be the RISC-V M extension's (chapter 7: the low word of the product, or the high
word of the 64-bit product of the operands taken signed x signed, signed x unsigned, unsigned
x unsigned). The products are written here as the integer products the specification
names; nothing of the unit's 33-bit signed trick is reused.

``narrow``: rs2 is assumed to fit in ``narrow`` signed bits (its 32-bit value is the sign
extension of its low ``narrow`` bits: small non-negative values, or for the unsigned
operations values near 2**32); rs1 stays arbitrary. At full width the solver does not finish
in reasonable time; at 8 bits it does (docs/verification.md has the times). Each such
run is a proof for that input subset, not for all inputs; the unit-level simulation
(tests/rtl/core/test_multiplier.py) covers the corner values at full width.
"""

from amaranth.hdl import Assert, Assume, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from dure.rtl.core.multiplier import Multiplier

__all__ = ["MultiplierHarness", "AsMulh", "MUL", "MULH", "MULHSU", "MULHU"]

# funct3 of the M extension's multiplications (RV32M, table 24.2 of the unprivileged spec).
MUL, MULH, MULHSU, MULHU = 0b000, 0b001, 0b010, 0b011


class MultiplierHarness(wiring.Component):
    """The multiplier (``unit_cls()``) with ``x_en`` high and arbitrary operation / operands
    (``op`` one of the four multiplications), its result asserted against the specification
    one cycle after the operands entered.

    Parameters
    ----------
    narrow : int
        rs2 fits in this many signed bits (1..32; 32: no restriction).
    sign : None, 0 or 1
        With 0 (1), rs2 is also assumed non-negative (negative): its bits ``narrow - 1`` and
        up are constant zeros (ones), which the solver simplifies far better than bits that
        merely equal each other; run both to cover the narrow range.
    unit_cls : callable
        Builds the unit (default :class:`Multiplier`; a test passes a broken one).
    """

    def __init__(self, narrow=8, *, sign=None, unit_cls=Multiplier):
        if not isinstance(narrow, int) or not 1 <= narrow <= 32:
            raise ValueError(f"narrow must be an integer in 1..32, not {narrow!r}")
        if sign not in (None, 0, 1):
            raise ValueError(f"sign must be None, 0 or 1, not {sign!r}")
        self._narrow = narrow
        self._sign = sign
        self._unit_cls = unit_cls
        super().__init__({"op": In(3), "a": In(32), "b": In(32)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._unit_cls()
        m.d.comb += [dut.x_en.eq(1), dut.x_op.eq(self.op), dut.x_a.eq(self.a),
                     dut.x_b.eq(self.b)]
        m.d.comb += Assume(self.op[2] == 0)          # the four multiplications
        if self._narrow < 32:
            top = self.b[self._narrow - 1:]
            ones = (1 << (33 - self._narrow)) - 1
            if self._sign is None:
                m.d.comb += Assume((top == 0) | (top == ones))
            else:
                m.d.comb += Assume(top == (ones if self._sign else 0))

        op, a, b, valid = Signal(3), Signal(32), Signal(32), Signal()
        m.d.sync += [op.eq(self.op), a.eq(self.a), b.eq(self.b), valid.eq(1)]
        # The products as shift-and-add over the narrow rs2 (so that the solver compares one
        # multiplier with sums, not two multipliers): rs2 as a signed integer is
        # bs = sum_{i < n-1} b_i 2^i - b_{n-1} 2^(n-1); as unsigned it is bs + 2^32 when
        # negative. a * bs for a taken signed (sa) and unsigned (ua), 64 bits:
        n = self._narrow
        sa, ua = Signal(signed(64)), Signal(64)    # rs1 extended to 64 bits, both ways
        m.d.comb += [sa.eq(a.as_signed()), ua.eq(a)]

        def times_bs(x):
            total = 0
            for i in range(n):
                term = Mux(b[i], x << i, 0)
                total = (total - term) if i == n - 1 else (total + term)
            return total[:64]

        neg = b[31]
        ss = times_bs(sa)                                    # signed x signed
        su = (times_bs(sa) + Mux(neg, sa << 32, 0))[:64]     # signed x unsigned
        uu = (times_bs(ua) + Mux(neg, ua << 32, 0))[:64]     # unsigned x unsigned
        want = Mux(op == MUL, uu[:32],
                   Mux(op == MULH, ss[32:64], Mux(op == MULHSU, su[32:64], uu[32:64])))
        with m.If(valid):
            m.d.comb += Assert(dut.m_result == want, "MUL*: m_result")
        return m


class AsMulh(wiring.Component):
    """A planted bug for the checks to catch: the real :class:`Multiplier` with operation
    ``op`` computed as MULH (``op`` = MULHSU: rs2 taken as signed; MULHU: both taken as
    signed); every other operation untouched. Used by the formal check and by the unit's
    corner-value simulation."""

    def __init__(self, op):
        self._op = op
        super().__init__(wiring.Signature(Multiplier.__annotations__))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Multiplier()
        m.d.comb += [inner.x_en.eq(self.x_en), inner.x_a.eq(self.x_a), inner.x_b.eq(self.x_b),
                     inner.x_op.eq(Mux(self.x_op == self._op, MULH, self.x_op)),
                     self.m_result.eq(inner.m_result)]
        return m
