"""fp16 x fp16 -> exact fp32 product."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib.wiring import In, Out

from .decode import decode
from .lzc import LeadingZeroCount
from .pipeline import Pipeline
from .unit import PipelinedUnit

__all__ = ["Fp16Mul"]


class Fp16Mul(PipelinedUnit):
    """Multiplies two IEEE binary16 values into the exact IEEE binary32 product.

    Every fp16 product (subnormal inputs included) is representable in fp32, so no rounding
    happens. NaN inputs and 0 x Inf give ``0x7FC00000``; Inf propagates with the product's sign;
    zero products carry the XOR of the input signs.

    Latency
    -------
    4 enabled cycles: (1) decode, leading-zero count of subnormal significands; (2) normalise;
    (3) 11 x 11 multiply; (4) one-bit normalisation and packing.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_a, i_b : In(16)
        Operands (binary16 bit patterns).
    o_z : Out(32)
        Product (binary32 bit pattern).
    """

    LATENCY = 4

    i_a: In(16)
    i_b: In(16)
    o_z: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        a = decode(self.i_a, 5, 10)
        b = decode(self.i_b, 5, 10)

        # Stage 1: classify, count the leading zeros of (subnormal) significands.
        m.submodules.lzc_a = lzc_a = LeadingZeroCount(11)
        m.submodules.lzc_b = lzc_b = LeadingZeroCount(11)
        m.d.comb += [lzc_a.i.eq(a.mant), lzc_b.i.eq(b.mant)]
        zero = a.is_zero | b.is_zero
        inf = a.is_inf | b.is_inf
        v1 = p.reg(self.i_valid, name="s1_valid", reset=True)
        sign1 = p.reg(a.sign ^ b.sign, name="s1_sign")
        nan1 = p.reg(a.is_nan | b.is_nan | (zero & inf), name="s1_nan")
        inf1 = p.reg(inf, name="s1_inf")
        zero1 = p.reg(zero, name="s1_zero")
        ma1 = p.reg(a.mant, name="s1_ma")
        mb1 = p.reg(b.mant, name="s1_mb")
        lza1 = p.reg(lzc_a.count, name="s1_lza")
        lzb1 = p.reg(lzc_b.count, name="s1_lzb")
        esum1 = p.reg(a.exp_eff + b.exp_eff, name="s1_esum")

        # Stage 2: normalise both significands (leading one at bit 10).
        v2 = p.reg(v1, name="s2_valid", reset=True)
        sign2 = p.reg(sign1, name="s2_sign")
        nan2 = p.reg(nan1, name="s2_nan")
        inf2 = p.reg(inf1, name="s2_inf")
        zero2 = p.reg(zero1, name="s2_zero")
        na2 = p.reg((ma1 << lza1)[:11], name="s2_na")
        nb2 = p.reg((mb1 << lzb1)[:11], name="s2_nb")
        # Product exponent (binary32 bias) when the product's leading one is at bit 20;
        # it lies in [79, 157].
        exp2 = p.reg((esum1 - lza1 - lzb1 + 97)[:8], name="s2_exp")

        # Stage 3: multiply.
        v3 = p.reg(v2, name="s3_valid", reset=True)
        sign3 = p.reg(sign2, name="s3_sign")
        nan3 = p.reg(nan2, name="s3_nan")
        inf3 = p.reg(inf2, name="s3_inf")
        zero3 = p.reg(zero2, name="s3_zero")
        prod3 = p.reg(na2 * nb2, name="s3_prod")
        exp3 = p.reg(exp2, name="s3_exp")

        # Stage 4: the product lies in [2**20, 2**22): shift by at most one, pack.
        top = prod3[21]
        frac = Mux(top, Cat(Const(0, 2), prod3[:21]), Cat(Const(0, 3), prod3[:20]))
        exp = (exp3 + top)[:8]
        result = Mux(nan3, 0x7FC00000,
                     Mux(inf3, Cat(Const(0, 23), Const(0xFF, 8), sign3),
                         Mux(zero3, Cat(Const(0, 31), sign3),
                             Cat(frac, exp, sign3))))
        m.d.comb += [
            self.o_valid.eq(p.reg(v3, name="s4_valid", reset=True)),
            self.o_z.eq(p.reg(result, name="s4_z")),
        ]
        return m
