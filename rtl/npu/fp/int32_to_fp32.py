"""int32 -> fp32, round to nearest even."""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib.wiring import In, Out

from .lzc import LeadingZeroCount
from .pipeline import Pipeline
from .rne import RoundNearestEven
from .unit import PipelinedUnit

__all__ = ["Int32ToFp32"]


class Int32ToFp32(PipelinedUnit):
    """Converts a two's complement int32 to IEEE binary32 with round-to-nearest-even.

    Zero gives +0; magnitudes above 2**24 round to nearest even; -2**31 is exact.

    Latency
    -------
    4 enabled cycles: (1) sign and magnitude; (2) leading-zero count; (3) normalising shift;
    (4) round and pack.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_a : In(32)
        Integer (two's complement bit pattern).
    o_z : Out(32)
        Converted value (binary32 bit pattern).
    """

    LATENCY = 4

    i_a: In(32)
    o_z: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)

        # Stage 1: sign and magnitude (-2**31 gives 2**31, still right as unsigned).
        sign = self.i_a[31]
        c1 = p.regs({"valid": self.i_valid, "sign": sign}, stage=1)
        mag1 = p.reg(Mux(sign, -self.i_a.as_signed(), self.i_a)[:32], name="s1_mag")

        # Stage 2: leading zeros.
        m.submodules.lzc = lzc = LeadingZeroCount(32)
        m.d.comb += lzc.i.eq(mag1)
        c2 = p.regs(c1, stage=2)
        mag2 = p.reg(mag1, name="s2_mag")
        lz2 = p.reg(lzc.count, name="s2_lz")

        # Stage 3: leading one to bit 31; exponent 127 + 31 - lz (zero: all bits clear).
        c3 = p.regs(c2, stage=3)
        norm3 = p.reg((mag2 << lz2)[:32], name="s3_norm")
        efield3 = p.reg(Mux(lz2 == 32, 0, 158 - lz2)[:8], name="s3_efield")

        # Stage 4: round (a carry moves into the exponent), pack.
        m.submodules.rne = rne = RoundNearestEven(31)
        m.d.comb += [
            rne.i.eq(Cat(norm3[8:31], efield3)),
            rne.guard.eq(norm3[7]),
            rne.sticky.eq(norm3[:7] != 0),
        ]
        m.d.comb += [
            self.o_valid.eq(p.reg(c3["valid"], name="s4_valid", reset=True)),
            self.o_z.eq(p.reg(Cat(rne.o[:31], c3["sign"]), name="s4_z")),
        ]
        return m
