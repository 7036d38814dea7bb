"""fp32 -> fp16, round to nearest even."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib.wiring import In, Out

from .decode import decode
from .pipeline import Pipeline
from .rne import RoundNearestEven
from .shift import ShiftRightSticky
from .unit import PipelinedUnit

__all__ = ["Fp32ToFp16"]


class Fp32ToFp16(PipelinedUnit):
    """Converts IEEE binary32 to binary16 with round-to-nearest-even.

    Values beyond the fp16 range after rounding give +/-Inf; results in the fp16 subnormal
    range are kept (rounded); smaller magnitudes give a zero of the input's sign. Inf converts
    to Inf of the same sign; every NaN gives ``0x7E00``. Same results as numpy's
    ``astype(np.float16)`` except that NaN payloads are not kept.

    Latency
    -------
    3 enabled cycles: (1) decode, target exponent, denormalising distance; (2) shift with
    sticky; (3) round, pack, special cases.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_a : In(32)
        Value (binary32 bit pattern).
    o_z : Out(16)
        Converted value (binary16 bit pattern).
    """

    LATENCY = 3

    i_a: In(32)
    o_z: Out(16)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        x = decode(self.i_a, 8, 23)

        # Stage 1: fp16 exponent = exp - 112; below 1 the significand is shifted right by
        # (113 - exp) into the subnormal range (31 or more shifts everything out).
        normal = x.exp_eff >= 113
        rshift = 113 - x.exp_eff
        c1 = p.regs({
            "valid": self.i_valid,
            "sign":  x.sign,
            "nan":   x.is_nan,
            # Inf, or a finite value whose fp16 exponent would be 31 or more.
            "inf":   (x.exp == 255) & ~x.is_nan | (x.exp_eff >= 143) & (x.exp != 255),
            "mant":  x.mant,
            "shift": Mux(normal, 0, Mux(rshift > 31, 31, rshift[:5])),
            "efield": Mux(normal, x.exp_eff - 112, 0)[:5],
        }, stage=1)

        # Stage 2: denormalise with sticky; keep 11 bits (hidden bit at 23), guard, sticky.
        m.submodules.denorm = denorm = ShiftRightSticky(24, 5)
        m.d.comb += [denorm.i.eq(c1["mant"]), denorm.amount.eq(c1["shift"])]
        c2 = p.regs({
            "valid":  c1["valid"],
            "sign":   c1["sign"],
            "nan":    c1["nan"],
            "inf":    c1["inf"],
            "packed": Cat(denorm.o[13:23], c1["efield"]),
            "guard":  denorm.o[12],
            "sticky": (denorm.o[:12] != 0) | denorm.sticky,
        }, stage=2)

        # Stage 3: round (a carry out of 0x7BFF gives Inf 0x7C00), special cases.
        m.submodules.rne = rne = RoundNearestEven(15)
        m.d.comb += [rne.i.eq(c2["packed"]), rne.guard.eq(c2["guard"]),
                     rne.sticky.eq(c2["sticky"])]
        result = Mux(c2["nan"], 0x7E00,
                     Mux(c2["inf"], Cat(Const(0x7C00, 15), c2["sign"]),
                         Cat(rne.o[:15], c2["sign"])))
        m.d.comb += [
            self.o_valid.eq(p.reg(c2["valid"], name="s3_valid", reset=True)),
            self.o_z.eq(p.reg(result, name="s3_z")),
        ]
        return m
