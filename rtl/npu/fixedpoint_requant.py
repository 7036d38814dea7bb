"""TFLite's ``MultiplyByQuantizedMultiplier`` on one int32 lane, pipelined (a post-processing
unit used by :class:`~.postproc_column.PostProcColumn`)."""

from amaranth.hdl import Const, Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp.pipeline import Pipeline

__all__ = ["FixedPointRequant", "SHIFT_MIN", "SHIFT_MAX", "OUT_BITS"]

#: The shift range (positive = left); a shift lane outside it saturates to it.
SHIFT_MIN, SHIFT_MAX = -31, 30

#: Width of the (saturated) signed result: enough that ``+ zero_point`` and the int8 clamp see
#: the same value as with the full int32.
OUT_BITS = 11

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _saturate(value, lo, hi):
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


class FixedPointRequant(wiring.Component):
    """``MultiplyByQuantizedMultiplier(x, m, shift)`` of TFLite, both rounding variants.

    Double rounding (``single`` low), as :func:`dure.sim.golden_fixedpoint.\
multiply_by_quantized_multiplier`:
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(wrap32(x << left), m), right)``
    with ``left = max(shift, 0)``, ``right = max(-shift, 0)``. Single rounding (``single``
    high), as :func:`~dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier_single_rounding`:
    ``wrap32((x * m + 2**(30 - shift)) >> (31 - shift))``.

    ``shift`` is the int32 lane, saturated to [:data:`SHIFT_MIN`, :data:`SHIFT_MAX`]. The int32
    result is saturated to :data:`OUT_BITS` signed bits (an int8 clamp after adding an int8 zero
    point cannot tell the difference).

    Members
    -------
    en : In(1, init=1)
        Clock enable of every stage.
    x, m, shift : In(32)
        Stage 0: accumulator, multiplier and shift lanes (int32 bit patterns).
    single : In(1)
        Stage 0: single rounding.
    y : Out(signed(OUT_BITS))
        Stage :attr:`LATENCY`: the saturated result.

    Latency
    -------
    :attr:`LATENCY` = 8 enabled cycles: shift saturation; left shift; four 16 x 16 partial
    products; their sum (the 64-bit product); nudge / rounding term; high half (SRDHM with its
    saturation) or rounding shift; ``RoundingDivideByPOT`` shift and remainder compare; add and
    saturate.
    """

    LATENCY = 8

    en: In(1, init=1)
    x: In(32)
    m: In(32)
    shift: In(32)
    single: In(1)
    y: Out(signed(OUT_BITS))

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)

        # Stage 1: saturate the shift.
        s1_x = p.reg(self.x.as_signed(), name="s1_x")
        s1_m = p.reg(self.m.as_signed(), name="s1_m")
        s1_s = p.reg(_saturate(self.shift.as_signed(), SHIFT_MIN, SHIFT_MAX)[:6].as_signed(),
                     name="s1_shift")
        s1_single = p.reg(self.single, name="s1_single")

        # Stage 2: the multiplicand (left shift, wrapping, in double rounding), the shifts.
        left = Mux(s1_s[5], 0, s1_s[:5])
        shifted = (s1_x << left)[:32].as_signed()
        s2_a = p.reg(Mux(s1_single, s1_x, shifted), name="s2_a")
        s2_m = p.reg(s1_m, name="s2_m")
        s2_right = p.reg(Mux(s1_single | ~s1_s[5], 0, (-s1_s)[:5]), name="s2_right")
        s2_total = p.reg((31 - s1_s)[:6], name="s2_total")      # 1..62
        s2_single = p.reg(s1_single, name="s2_single")

        # Stage 3: partial products of the 32 x 32 signed multiply.
        al, ah = s2_a[:16], s2_a[16:].as_signed()
        ml, mh = s2_m[:16], s2_m[16:].as_signed()
        s3_ll = p.reg(al * ml, name="s3_ll")
        s3_lh = p.reg(al * mh, name="s3_lh")
        s3_hl = p.reg(ah * ml, name="s3_hl")
        s3_hh = p.reg(ah * mh, name="s3_hh")
        s3_ovf = p.reg((s2_a == INT32_MIN) & (s2_m == INT32_MIN), name="s3_ovf")
        ctl = {"right": s2_right, "total": s2_total, "single": s2_single}
        ctl = {k: p.reg(v, name=f"s3_{k}") for k, v in ctl.items()}

        # Stage 4: the exact 64-bit product.
        prod = (s3_ll + ((s3_lh + s3_hl) << 16) + (s3_hh << 32))[:64].as_signed()
        s4_p = p.reg(prod, name="s4_p")
        s4_ovf = p.reg(s3_ovf, name="s4_ovf")
        ctl = {k: p.reg(v, name=f"s4_{k}") for k, v in ctl.items()}

        # Stage 5: add the nudge (SRDHM) or the rounding term 2**(total - 1) (single).
        nudge = Mux(s4_p >= 0, Const(1 << 30, signed(32)), Const(1 - (1 << 30), signed(32)))
        half = (Const(1, 64) << (ctl["total"] - 1)[:6])[:64]
        s5_t = p.reg(Mux(ctl["single"], s4_p + half, s4_p + nudge)[:65].as_signed(),
                     name="s5_t")
        s5_ovf = p.reg(s4_ovf, name="s5_ovf")
        ctl = {k: p.reg(v, name=f"s5_{k}") for k, v in ctl.items()}

        # Stage 6: SRDHM = t / 2**31 truncated toward zero (saturated for INT32_MIN**2), or the
        # single rounding's arithmetic shift; either wraps to int32.
        t = s5_t
        trunc = Mux(t < 0, (t + ((1 << 31) - 1)) >> 31, t >> 31)
        srdhm = Mux(s5_ovf, INT32_MAX, trunc[:32].as_signed())
        single = (t >> ctl["total"])[:32].as_signed()
        s6_v = p.reg(Mux(ctl["single"], single, srdhm), name="s6_v")
        s6_right = p.reg(ctl["right"], name="s6_right")

        # Stage 7: RoundingDivideByPOT: arithmetic shift, remainder against the threshold
        # (right = 0 in single rounding: no change).
        mask = ((Const(1, 33) << s6_right) - 1)[:32]
        remainder = s6_v.as_unsigned() & mask
        threshold = (mask >> 1) + (s6_v < 0)
        s7_q = p.reg(s6_v >> s6_right, name="s7_q")
        s7_up = p.reg(remainder > threshold, name="s7_up")

        # Stage 8: round and saturate.
        lim = 1 << (OUT_BITS - 1)
        r = s7_q + s7_up
        m.d.comb += self.y.eq(p.reg(_saturate(r, -lim, lim - 1)[:OUT_BITS].as_signed(),
                                    name="s8_y"))
        return m
