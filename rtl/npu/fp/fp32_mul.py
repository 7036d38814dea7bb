"""fp32 x fp32 -> fp32, round to nearest even."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib.wiring import In, Out

from .decode import decode
from .lzc import LeadingZeroCount
from .pipeline import Pipeline
from .rne import RoundNearestEven
from .shift import ShiftRightSticky
from .unit import PipelinedUnit

__all__ = ["Fp32Mul"]


class Fp32Mul(PipelinedUnit):
    """Multiplies two IEEE binary32 values with round-to-nearest-even.

    Subnormal inputs are normalised first; subnormal results are kept (denormalised with a
    sticky shift before rounding). Overflow gives +/-Inf, zero and underflowed results carry the
    XOR of the input signs. NaN inputs and 0 x Inf give ``0x7FC00000``.

    Latency
    -------
    7 enabled cycles: (1) decode, leading-zero counts; (2) normalise significands, exponent;
    (3) four 12 x 12 partial products; (4) their sum, and the exponent outcomes for both
    positions of the product's leading one; (5) one-bit normalisation; (6) denormalising shift
    with sticky; (7) round, pack, special cases.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_a, i_b : In(32)
        Operands (binary32 bit patterns).
    o_z : Out(32)
        Product (binary32 bit pattern).
    """

    LATENCY = 7

    i_a: In(32)
    i_b: In(32)
    o_z: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        a = decode(self.i_a, 8, 23)
        b = decode(self.i_b, 8, 23)

        # Stage 1: classify; leading zeros of subnormal significands.
        m.submodules.lzc_a = lzc_a = LeadingZeroCount(24)
        m.submodules.lzc_b = lzc_b = LeadingZeroCount(24)
        m.d.comb += [lzc_a.i.eq(a.mant), lzc_b.i.eq(b.mant)]
        zero = a.is_zero | b.is_zero
        inf = a.is_inf | b.is_inf
        c1 = p.regs({
            "valid": self.i_valid,
            "sign":  a.sign ^ b.sign,
            "nan":   a.is_nan | b.is_nan | (zero & inf),
            "inf":   inf,
            "zero":  zero,
        }, stage=1)
        ma1 = p.reg(a.mant, name="s1_ma")
        mb1 = p.reg(b.mant, name="s1_mb")
        lza1 = p.reg(lzc_a.count, name="s1_lza")
        lzb1 = p.reg(lzc_b.count, name="s1_lzb")
        esum1 = p.reg(a.exp_eff + b.exp_eff, name="s1_esum")
        lzsum1 = p.reg(lzc_a.count + lzc_b.count, name="s1_lzsum")

        # Stage 2: normalised significands (leading one at bit 23); biased product exponent
        # for a product whose leading one is at bit 46, in [-171, 381].
        c2 = p.regs(c1, stage=2)
        na2 = p.reg((ma1 << lza1)[:24], name="s2_na")
        nb2 = p.reg((mb1 << lzb1)[:24], name="s2_nb")
        exp2 = p.reg((esum1 - lzsum1 - 127).as_signed()[:10].as_signed(), name="s2_exp")

        # Stage 3: four 12 x 12 partial products (one DSP multiplier each, no adder after it).
        c3 = p.regs(c2, stage=3)
        ll3 = p.reg(na2[:12] * nb2[:12], name="s3_ll")
        lh3 = p.reg(na2[:12] * nb2[12:], name="s3_lh")
        hl3 = p.reg(na2[12:] * nb2[:12], name="s3_hl")
        hh3 = p.reg(na2[12:] * nb2[12:], name="s3_hh")
        exp3 = p.reg(exp2, name="s3_exp")

        # Stage 4: product in [2**46, 2**48); ll and hh do not overlap. In parallel, the
        # exponent outcomes for both positions of the product's leading one (bit 46 or 47):
        # a result exponent below 1 becomes a right shift by (1 - exponent) into the subnormal
        # range (31 or more shifts everything out).
        c4 = p.regs(c3, stage=4)
        prod4 = p.reg((Cat(ll3, hh3) + ((lh3 + hl3) << 12))[:48], name="s4_prod")
        outcome = {}
        for top in (0, 1):
            exp = (exp3 + top).as_signed()
            rshift = (1 - exp).as_signed()
            outcome[top] = p.regs({
                f"rshift{top}": Mux(exp >= 1, 0, Mux(rshift > 31, 31, rshift[:5])),
                f"efield{top}": Mux(exp >= 1, exp[:8], 0),
                f"ovf{top}":    exp >= 255,
            }, stage=4)

        # Stage 5: leading one to bit 47; keep 24 bits, guard and sticky.
        top = prod4[47]
        q = Mux(top, prod4, prod4 << 1)[:48]
        c5 = p.regs(c4, stage=5)
        kept5 = p.reg(Cat(q[:23] != 0, q[23], q[24:48]), name="s5_kept")
        rshift5, efield5, ovf5 = (
            p.reg(Mux(top, outcome[1][f"{key}1"], outcome[0][f"{key}0"]), name=f"s5_{key}")
            for key in ("rshift", "efield", "ovf"))

        # Stage 6: denormalise with sticky.
        m.submodules.denorm = denorm = ShiftRightSticky(26, 5)
        m.d.comb += [denorm.i.eq(kept5), denorm.amount.eq(rshift5)]
        c6 = p.regs(c5, stage=6)
        ovf6 = p.reg(ovf5, name="s6_ovf")
        # A denormalised value has bit 25 clear, so the exponent field 0 is right for it.
        packed6 = p.reg(Cat(denorm.o[2:25], efield5), name="s6_packed")
        guard6 = p.reg(denorm.o[1], name="s6_guard")
        sticky6 = p.reg(denorm.o[0] | denorm.sticky, name="s6_sticky")

        # Stage 7: round, pack, special cases.
        m.submodules.rne = rne = RoundNearestEven(31)
        m.d.comb += [rne.i.eq(packed6), rne.guard.eq(guard6), rne.sticky.eq(sticky6)]
        sign = c6["sign"]
        result = Mux(c6["nan"], 0x7FC00000,
                     Mux(c6["inf"] | ovf6, Cat(Const(0x7F800000, 31), sign),
                         Mux(c6["zero"], Cat(Const(0, 31), sign),
                             Cat(rne.o[:31], sign))))
        m.d.comb += [
            self.o_valid.eq(p.reg(c6["valid"], name="s7_valid", reset=True)),
            self.o_z.eq(p.reg(result, name="s7_z")),
        ]
        return m
