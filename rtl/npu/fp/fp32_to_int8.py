"""Requantisation to int8: clamp(rne(x) + zero_point, lo, hi)."""

from amaranth.hdl import Cat, Const, Module, Mux, signed
from amaranth.lib.wiring import In, Out

from .decode import decode
from .pipeline import Pipeline
from .shift import ShiftRightSticky
from .unit import PipelinedUnit

__all__ = ["Fp32ToInt8Rne"]


class Fp32ToInt8Rne(PipelinedUnit):
    """Rounds a binary32 value to an integer (ties to even), adds a zero point and clamps.

    ``o_y = min(max(rne(x) + zp, lo), hi)``, the same as ``np.clip(np.rint(x) + zp, lo, hi)``
    (so ``hi`` wins when ``lo > hi``). Magnitudes of 1024 and more, and +/-Inf, saturate to the
    clamp bound of their sign. A NaN counts as 0, giving ``clamp(zp, lo, hi)``.
    ``zp``, ``lo`` and ``hi`` travel through the pipeline with ``x``.

    Latency
    -------
    5 enabled cycles: (1) decode, shift distance; (2) shift with sticky to the integer part;
    (3) round and negate; (4) add the zero point; (5) clamp.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_x : In(32)
        Value (binary32 bit pattern).
    i_zp, i_lo, i_hi : In(signed(8))
        Zero point and clamp bounds.
    o_y : Out(signed(8))
        Result.
    """

    LATENCY = 5

    i_x: In(32)
    i_zp: In(signed(8))
    i_lo: In(signed(8))
    i_hi: In(signed(8))
    o_y: Out(signed(8))

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        x = decode(self.i_x, 8, 23)

        # Stage 1: |x| < 1024 unless exp >= 137; its integer part is mant >> (150 - exp).
        # The shift is 14 or more there; 31 shifts everything out.
        rshift = 150 - x.exp_eff
        c1 = p.regs({
            "valid": self.i_valid,
            "sign":  x.sign,
            "nan":   x.is_nan,
            "big":   (x.exp >= 137) & ~x.is_nan,
            "mant":  x.mant,
            "shift": Mux(rshift > 31, 31, rshift[:5]),
            "zp":    self.i_zp,
            "lo":    self.i_lo,
            "hi":    self.i_hi,
        }, stage=1)

        # Stage 2: integer part (bits 1 and up of the shifted value), guard (bit 0), sticky.
        m.submodules.shift = shift = ShiftRightSticky(25, 5)
        m.d.comb += [shift.i.eq(Cat(Const(0, 1), c1["mant"])), shift.amount.eq(c1["shift"])]
        c2 = p.regs({
            **{key: c1[key] for key in ("valid", "sign", "nan", "big", "zp", "lo", "hi")},
            "int":    shift.o[1:12],
            "guard":  shift.o[0],
            "sticky": shift.sticky,
        }, stage=2)

        # Stage 3: round to nearest even and apply the sign in one adder: -(i + up) = ~i + !up.
        i = Cat(c2["int"], Const(0, 1))
        up = c2["guard"] & (c2["sticky"] | i[0])
        rounded = Mux(c2["sign"], (~i).as_signed() + ~up, i.as_signed() + up)
        limit = Mux(c2["sign"], -1024, 1024)
        c3 = p.regs({
            **{key: c2[key] for key in ("valid", "zp", "lo", "hi")},
            "r": Mux(c2["nan"], 0, Mux(c2["big"], limit, rounded)).as_signed()[:12].as_signed(),
        }, stage=3)

        # Stage 4: add the zero point.
        c4 = p.regs({
            **{key: c3[key] for key in ("valid", "lo", "hi")},
            "t": c3["r"] + c3["zp"],
        }, stage=4)

        # Stage 5: clamp, np.clip order (max with lo, then min with hi).
        t, lo, hi = c4["t"], c4["lo"], c4["hi"]
        y = Mux((lo > hi) | (t > hi), hi, Mux(t < lo, lo, t[:8]))
        m.d.comb += [
            self.o_valid.eq(p.reg(c4["valid"], name="s5_valid", reset=True)),
            self.o_y.eq(p.reg(y.as_signed()[:8].as_signed(), name="s5_y")),
        ]
        return m
