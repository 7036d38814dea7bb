"""fp32 + fp32 -> fp32, round to nearest even."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib.wiring import In, Out

from .decode import decode
from .lzc import LeadingZeroCount
from .pipeline import Pipeline
from .rne import RoundNearestEven
from .shift import ShiftRightSticky
from .unit import PipelinedUnit

__all__ = ["Fp32Add"]


class Fp32Add(PipelinedUnit):
    """Adds two IEEE binary32 values with round-to-nearest-even.

    Subnormal inputs and results are kept. An exact zero sum of operands with opposite signs is
    +0 (so ``x + (-x) = +0`` and ``(+0) + (-0) = +0``), ``(-0) + (-0) = -0``. Overflow gives
    +/-Inf. NaN inputs and Inf + (-Inf) give ``0x7FC00000``.

    Latency
    -------
    6 enabled cycles: (1) decode, magnitude compare and swap, exponent difference; (2) align the
    smaller significand (shift with sticky); (3) add or subtract; (4) leading-zero count,
    normalisation distance limited by the exponent; (5) normalising shift; (6) round, pack,
    special cases.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_a, i_b : In(32)
        Operands (binary32 bit patterns).
    o_z : Out(32)
        Sum (binary32 bit pattern).
    """

    LATENCY = 6

    i_a: In(32)
    i_b: In(32)
    o_z: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        a = decode(self.i_a, 8, 23)
        b = decode(self.i_b, 8, 23)

        # Stage 1: order by magnitude (x = larger, y = smaller), exponent difference.
        a_ge = self.i_a[:31] >= self.i_b[:31]
        d_ab = a.exp_eff - b.exp_eff
        d_ba = b.exp_eff - a.exp_eff
        d = Mux(a_ge, d_ab, d_ba)[:8]
        nan = a.is_nan | b.is_nan | (a.is_inf & b.is_inf & (a.sign != b.sign))
        v1 = p.reg(self.i_valid, name="s1_valid", reset=True)
        nan1 = p.reg(nan, name="s1_nan")
        inf1 = p.reg(a.is_inf | b.is_inf, name="s1_inf")
        inf_sign1 = p.reg(Mux(a.is_inf, a.sign, b.sign), name="s1_inf_sign")
        sub1 = p.reg(a.sign ^ b.sign, name="s1_sub")
        sx1 = p.reg(Mux(a_ge, a.sign, b.sign), name="s1_sx")
        ex1 = p.reg(Mux(a_ge, a.exp_eff, b.exp_eff), name="s1_ex")
        mx1 = p.reg(Mux(a_ge, a.mant, b.mant), name="s1_mx")
        my1 = p.reg(Mux(a_ge, b.mant, a.mant), name="s1_my")
        # Differences of 27 or more shift everything into the sticky bit; 31 stands for all.
        d1 = p.reg(Mux(d[5:] != 0, 31, d[:5]), name="s1_d")

        # Stage 2: align y to x; three extra bits below the significand: guard, round, sticky.
        m.submodules.align = align = ShiftRightSticky(27, 5)
        m.d.comb += [align.i.eq(Cat(Const(0, 3), my1)), align.amount.eq(d1)]
        v2 = p.reg(v1, name="s2_valid", reset=True)
        nan2 = p.reg(nan1, name="s2_nan")
        inf2 = p.reg(inf1, name="s2_inf")
        inf_sign2 = p.reg(inf_sign1, name="s2_inf_sign")
        sub2 = p.reg(sub1, name="s2_sub")
        sx2 = p.reg(sx1, name="s2_sx")
        ex2 = p.reg(ex1, name="s2_ex")
        mx2 = p.reg(mx1, name="s2_mx")
        my2 = p.reg(Cat(align.o[0] | align.sticky, align.o[1:]), name="s2_my")

        # Stage 3: x + y or x - y (never negative: |x| >= |y|), one carry chain with carry-in.
        y = Cat(my2, Const(0, 1))
        y_op = Mux(sub2, ~y, y)
        total = (Cat(sub2, Const(0, 3), mx2, Const(0, 1)) + Cat(sub2, y_op))[1:29]
        v3 = p.reg(v2, name="s3_valid", reset=True)
        nan3 = p.reg(nan2, name="s3_nan")
        inf3 = p.reg(inf2, name="s3_inf")
        inf_sign3 = p.reg(inf_sign2, name="s3_inf_sign")
        sub3 = p.reg(sub2, name="s3_sub")
        sx3 = p.reg(sx2, name="s3_sx")
        ex3 = p.reg(ex2, name="s3_ex")
        sum3 = p.reg(total, name="s3_sum")

        # Stage 4: leading zeros; a left shift may not take the exponent below 1 (subnormal).
        m.submodules.lzc = lzc = LeadingZeroCount(27)
        m.d.comb += lzc.i.eq(sum3[:27])
        ex_m1 = ex3 - 1
        v4 = p.reg(v3, name="s4_valid", reset=True)
        nan4 = p.reg(nan3, name="s4_nan")
        inf4 = p.reg(inf3, name="s4_inf")
        inf_sign4 = p.reg(inf_sign3, name="s4_inf_sign")
        # An exact zero from opposite signs is +0 under round-to-nearest-even.
        sign4 = p.reg(sx3 & ~(sub3 & (sum3 == 0)), name="s4_sign")
        ex4 = p.reg(ex3, name="s4_ex")
        sum4 = p.reg(sum3, name="s4_sum")
        shl4 = p.reg(Mux(lzc.count > ex_m1, ex_m1, lzc.count)[:5], name="s4_shl")

        # Stage 5: normalise: right by one on carry-out, else left by shl4.
        carry = sum4[27]
        norm = Mux(carry, Cat(sum4[0] | sum4[1], sum4[2:28]), (sum4[:27] << shl4)[:27])
        exp_r = Mux(carry, ex4 + 1, ex4 - shl4)[:9]
        # norm[26] low means a subnormal (or zero) result: exponent field 0.
        efield = Mux(norm[26], exp_r, 0)
        v5 = p.reg(v4, name="s5_valid", reset=True)
        nan5 = p.reg(nan4, name="s5_nan")
        inf5 = p.reg(inf4, name="s5_inf")
        inf_sign5 = p.reg(inf_sign4, name="s5_inf_sign")
        sign5 = p.reg(sign4, name="s5_sign")
        ovf5 = p.reg(exp_r >= 255, name="s5_ovf")
        packed5 = p.reg(Cat(norm[3:26], efield[:8]), name="s5_packed")
        guard5 = p.reg(norm[2], name="s5_guard")
        sticky5 = p.reg(norm[1] | norm[0], name="s5_sticky")

        # Stage 6: round (a carry into the exponent field is correct, up to Inf), specials.
        m.submodules.rne = rne = RoundNearestEven(31)
        m.d.comb += [rne.i.eq(packed5), rne.guard.eq(guard5), rne.sticky.eq(sticky5)]
        result = Mux(nan5, 0x7FC00000,
                     Mux(inf5, Cat(Const(0x7F800000, 31), inf_sign5),
                         Mux(ovf5, Cat(Const(0x7F800000, 31), sign5),
                             Cat(rne.o[:31], sign5))))
        m.d.comb += [
            self.o_valid.eq(p.reg(v5, name="s6_valid", reset=True)),
            self.o_z.eq(p.reg(result, name="s6_z")),
        ]
        return m
