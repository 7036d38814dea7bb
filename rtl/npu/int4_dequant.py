"""W4A16 dequantization of one lane: an int4 weight times an fp16 scale, rounded to fp16."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Int4Dequant"]

_QNAN = 0x7E00


class Int4Dequant(wiring.Component):
    """``out = fp16_rne(f32(q) * f32(s))`` (combinational), the ``INT4_FP16`` LOAD's lane.

    The product of a 4-bit integer and an fp16 value has at most 15 significant bits, so the
    result is the correctly rounded fp16 of the exact product: round to nearest even,
    subnormals kept (a subnormal result is always exact), overflow to +/-Inf. ``q = 0`` gives a
    zero with the sign of ``s``; ``s`` = +/-Inf gives +/-Inf (NaN when ``q = 0``); a NaN scale
    or a NaN product is the canonical ``0x7E00``.

    Members
    -------
    q : In(4)
        Two's complement int4.
    s : In(16)
        fp16 bits.
    out : Out(16)
        fp16 bits.
    """

    q: In(4)
    s: In(16)
    out: Out(16)

    def elaborate(self, platform):
        m = Module()
        q, s = self.q, self.s
        qneg = q[3]
        mag = Signal(4)
        m.d.comb += mag.eq((q ^ Cat(*[qneg] * 4)) + qneg)      # |q| in 0..8
        sign = s[15] ^ qneg
        exp, frac = s[10:15], s[:10]
        eff = Mux(exp == 0, 1, exp)                            # exponent of the significand
        prod = Signal(14)
        m.d.comb += prod.eq(mag * Cat(frac, exp != 0))

        # Leading one of the product (0..13) and the product normalised to bit 13.
        lead = Signal(4)
        for i in range(14):
            with m.If(prod[i]):
                m.d.comb += lead.eq(i)
        shl, sub_shl = Signal(4), Signal(4)
        m.d.comb += [shl.eq(13 - lead), sub_shl.eq(eff - 1)]
        norm = Signal(14)
        m.d.comb += norm.eq(prod << shl)
        kept = norm[3:14]                                      # 11 bits, leading one on top
        up = norm[2] & (norm[:2].any() | kept[0])              # RNE on guard + sticky
        rounded = Signal(12)
        m.d.comb += rounded.eq(kept + up)
        biased = Signal(range(-16, 64))                        # fp16 exponent field
        m.d.comb += biased.eq(lead + eff - 10 + rounded[11])
        frac_n = Mux(rounded[11], 0, rounded[:10])
        normal = Cat(frac_n, biased[:5], sign)
        inf = Cat(Const(0, 10), Const(0x1F, 5), sign)
        sub = Cat((prod << sub_shl)[:10], Const(0, 5), sign)  # exact
        zero = Cat(Const(0, 15), sign)

        with m.If(exp == 0x1F):
            m.d.comb += self.out.eq(Mux((frac != 0) | (mag == 0), _QNAN, inf))
        with m.Elif(prod == 0):
            m.d.comb += self.out.eq(zero)
        with m.Elif(biased >= 31):
            m.d.comb += self.out.eq(inf)
        with m.Elif(biased >= 1):
            m.d.comb += self.out.eq(normal)
        with m.Else():
            m.d.comb += self.out.eq(sub)
        return m
