"""One column of the post-processing pipeline (used by :class:`~.postproc.PostProcess`)."""

from amaranth.hdl import Cat, Const, Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .commands import OutType
from .fixedpoint_requant import FixedPointRequant
from .fp import Fp32Mul, Fp32ToFp16, Fp32ToInt8Rne, Int32ToFp32
from .fp.pipeline import Pipeline

__all__ = ["PostProcColumn", "fp32_less", "STAGE"]

FP32_ONE = 0x3F80_0000

#: Stage (enabled cycles after the row entered) at which each control input is sampled, and
#: the stage of the output register. ``Int32ToFp32`` takes stages 1-4, ``Fp32Mul`` 5-11, the
#: clamp register is stage 12, ``Fp32ToFp16`` 13-15 and ``Fp32ToInt8Rne`` 13-17. Beside them,
#: ``FixedPointRequant`` takes stages 1-8, its result waits to stage 12, the fixed-point
#: ``+ zp`` and int8 clamp is stage 13 and waits to stage 17.
STAGE = {
    "use_mul": 0,
    "fixed": 0,
    "use_i2f": Int32ToFp32.LATENCY,
    "use_raw": Int32ToFp32.LATENCY + Fp32Mul.LATENCY,
    "use_clamp": Int32ToFp32.LATENCY + Fp32Mul.LATENCY,
    "lo": Int32ToFp32.LATENCY + Fp32Mul.LATENCY,
    "hi": Int32ToFp32.LATENCY + Fp32Mul.LATENCY,
    "lo_gt_hi": Int32ToFp32.LATENCY + Fp32Mul.LATENCY,
    "zp": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1,
    "lo8": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1,
    "hi8": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1,
    "out": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1 + Fp32ToInt8Rne.LATENCY,
    "use_fixed": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1 + Fp32ToInt8Rne.LATENCY,
    "data": Int32ToFp32.LATENCY + Fp32Mul.LATENCY + 1 + Fp32ToInt8Rne.LATENCY + 1,
}


def fp32_less(a, b):
    """IEEE 754 ``a < b`` of two binary32 bit patterns (combinational expression).

    False when either is NaN; ``-0 < +0`` is false; infinities order as usual.
    """
    def nan(x):
        return (x[23:31] == 0xFF) & (x[:23] != 0)
    mag_a, mag_b = a[:31], b[:31]
    both_zero = (mag_a == 0) & (mag_b == 0)
    lt = Mux(a[31] != b[31], a[31] & ~both_zero,
             Mux(a[31], mag_a > mag_b, mag_a < mag_b))
    return lt & ~nan(a) & ~nan(b)


class PostProcColumn(wiring.Component):
    """The arithmetic of one output column: a fixed pipeline of ``STAGE["data"]`` stages.

    ``acc`` (int32 or fp32 bits) goes through ``Int32ToFp32`` (or around it), ``Fp32Mul`` (by
    ``scale``, or by 1.0, which is exact for every non-NaN value and turns NaN into the
    canonical NaN), an fp32 clamp (IEEE comparisons), then in parallel ``Fp32ToFp16`` and
    ``Fp32ToInt8Rne``; the output register takes the result ``out`` selects. A raw bypass
    carries the accumulator bits unchanged to the output for INT32 and unprocessed FP32.

    In a TFLite requantization mode, ``FixedPointRequant`` computes
    ``MultiplyByQuantizedMultiplier(acc, scale, shift)`` (``scale`` then holds the int32
    multiplier) beside the fp path; ``+ zp`` and the clamp to ``[lo8, hi8]`` (``max`` then
    ``min``) use the same zero point and bounds as ``Fp32ToInt8Rne``, and the output register
    takes that int8 when ``use_fixed`` is set.

    The row controls are not pipelined here: each is an input sampled at the stage given in
    :data:`STAGE`, so that the parent keeps one copy of them for all columns.

    Members
    -------
    en : In(1, init=1)
        Clock enable of every stage.
    acc : In(32)
        Accumulator bits (stage 0).
    scale : In(32)
        fp32 scale (stage 0).
    use_mul : In(1)
        Stage 0: multiply by ``scale`` (else by 1.0).
    shift : In(32)
        Stage 0: int32 shift lane of the TFLite modes (saturated to [-31, 30]).
    single : In(1)
        Stage 0: TFLite single rounding (else double rounding).
    use_fixed : In(1)
        Stage 17: an INT8 output takes the fixed-point result.
    use_i2f : In(1)
        Stage 4: the accumulator is an int32 (convert it), else fp32 bits.
    use_raw : In(1)
        Stage 11: pass the accumulator bits unchanged.
    use_clamp : In(1)
        Stage 11: clamp the fp32 value to [lo, hi].
    lo, hi : In(32)
        Stage 11: fp32 clamp bounds.
    lo_gt_hi : In(1)
        Stage 11: ``lo > hi`` (IEEE); then a value below ``lo`` becomes ``hi``, as the
        sequential clamp of the golden model does.
    zp, lo8, hi8 : In(signed(8))
        Stage 12: zero point and int8 clamp bounds of ``Fp32ToInt8Rne``.
    out : In(OutType)
        Stage 17: which result the output register takes.
    data : Out(32)
        Stage 18: int8 (bits 7:0) or fp16 (bits 15:0) with the upper bits zero, or 32 bits.
    """

    en: In(1, init=1)
    acc: In(32)
    scale: In(32)
    use_mul: In(1)
    shift: In(32)
    single: In(1)
    use_fixed: In(1)
    use_i2f: In(1)
    use_raw: In(1)
    use_clamp: In(1)
    lo: In(32)
    hi: In(32)
    lo_gt_hi: In(1)
    zp: In(signed(8))
    lo8: In(signed(8))
    hi8: In(signed(8))
    out: In(OutType)
    data: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)

        def delay(value, stages, name):
            for k in range(stages):
                value = p.reg(value, name=f"{name}{k + 1}")
            return value

        m.submodules.i2f = i2f = Int32ToFp32()
        m.submodules.mul = mul = Fp32Mul()
        m.submodules.f2h = f2h = Fp32ToFp16()
        m.submodules.f2i = f2i = Fp32ToInt8Rne()
        for unit in (i2f, mul, f2h, f2i):
            m.d.comb += [unit.en.eq(self.en), unit.i_valid.eq(1)]

        # Stages 1-4: int32 -> fp32, beside the raw bits and the effective scale.
        s_mul = STAGE["use_raw"]
        raw = delay(self.acc, STAGE["use_i2f"], "raw_")
        scale = delay(Mux(self.use_mul, self.scale, FP32_ONE), STAGE["use_i2f"], "scale_")
        m.d.comb += i2f.i_a.eq(self.acc)

        # Stages 5-11: multiply.
        m.d.comb += [
            mul.i_a.eq(Mux(self.use_i2f, i2f.o_z, raw)),
            mul.i_b.eq(scale),
        ]
        raw = delay(raw, s_mul - STAGE["use_i2f"], f"raw_s{STAGE['use_i2f']}_")

        # Stage 12: clamp (NaN is already canonical from the multiplier and passes), or raw.
        y = mul.o_z
        lt = fp32_less(y, self.lo)
        gt = Mux(lt, self.lo_gt_hi, fp32_less(self.hi, y))
        clamped = Mux(gt, self.hi, Mux(lt, self.lo, y))
        value = p.reg(Mux(self.use_raw, raw, Mux(self.use_clamp, clamped, y)), name="s12_value")

        # Stages 13-17: conversions; the fp32 value and the fp16 result wait for the int8 one.
        m.d.comb += [
            f2h.i_a.eq(value),
            f2i.i_x.eq(value),
            f2i.i_zp.eq(self.zp),
            f2i.i_lo.eq(self.lo8),
            f2i.i_hi.eq(self.hi8),
        ]
        wide = delay(value, Fp32ToInt8Rne.LATENCY, "s12_value_")
        half = delay(f2h.o_z, Fp32ToInt8Rne.LATENCY - Fp32ToFp16.LATENCY, "f16_")

        # Fixed-point path: stages 1-8, waits to 12, + zp and clamp at 13, waits to 17.
        m.submodules.fx = fx = FixedPointRequant()
        m.d.comb += [fx.en.eq(self.en), fx.x.eq(self.acc), fx.m.eq(self.scale),
                     fx.shift.eq(self.shift), fx.single.eq(self.single)]
        fy = delay(fx.y, STAGE["zp"] - FixedPointRequant.LATENCY, "fx_y")
        biased = fy + self.zp
        fixed = Mux(biased < self.lo8, self.lo8, biased)
        fixed = Mux(fixed > self.hi8, self.hi8, fixed)[:8]
        fixed = delay(fixed, STAGE["out"] - STAGE["zp"], "fx_int8_")

        # Stage 18: output register.
        int8 = Mux(self.use_fixed, fixed, f2i.o_y.as_unsigned())
        result = Mux(self.out == OutType.INT8, Cat(int8, Const(0, 24)),
                     Mux(self.out == OutType.FP16, Cat(half, Const(0, 16)), wide))
        m.d.comb += self.data.eq(p.reg(result, name="s18_data"))
        return m
