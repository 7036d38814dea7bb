"""W4A16 dequantization of one lane: an int4 weight times an fp16 scale, rounded to fp16
(combinational, or with the product registered)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Int4Dequant"]

_QNAN = 0x7E00


class Int4Dequant(wiring.Component):
    """``out = fp16_rne(f32(q) * f32(s))``, the ``INT4_FP16`` LOAD's lane.

    The product of a 4-bit integer and an fp16 value has at most 15 significant bits, so the
    result is the correctly rounded fp16 of the exact product: round to nearest even,
    subnormals kept (a subnormal result is always exact), overflow to +/-Inf. ``q = 0`` gives a
    zero with the sign of ``s``; ``s`` = +/-Inf gives +/-Inf (NaN when ``q = 0``); a NaN scale
    or a NaN product is the canonical ``0x7E00``.

    Parameters
    ----------
    pipelined : bool
        False: combinational. True: the product normalised to its leading one, the exponent
        before rounding with its range tests and the exact subnormal result are registered
        (loaded while ``en`` is high); the rounding and the result select follow.

    Members
    -------
    q : In(4)
        Two's complement int4.
    s : In(16)
        fp16 bits.
    en : In(1, init=1)
        Only when ``pipelined``: clock enable of the register.
    out : Out(16)
        fp16 bits.

    Latency
    -------
    0 cycles, or 1 enabled cycle when ``pipelined``.
    """

    def __init__(self, *, pipelined=False):
        if not isinstance(pipelined, bool):
            self._MustUse__silence = True       # refused: never elaborated, no warning
            raise TypeError(f"pipelined must be a bool, not {pipelined!r}")
        self._pipelined = pipelined
        ports = {"q": In(4), "s": In(16), "out": Out(16)}
        if pipelined:
            ports["en"] = In(1, init=1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        q, s = self.q, self.s
        qneg = q[3]
        mag = Signal(4)
        m.d.comb += mag.eq((q ^ Cat(*[qneg] * 4)) + qneg)      # |q| in 0..8
        exp, frac = s[10:15], s[:10]
        # |q| * significand as shifts and adds (|q| <= 8: no multiplier block, which also
        # keeps Yosys from packing the pipelined register into one).
        sig = Cat(frac, exp != 0)
        prod = Signal(14)
        m.d.comb += prod.eq(Mux(mag[3], sig << 3, Mux(mag[0], sig, 0) + Mux(mag[1], sig << 1, 0)
                                + Mux(mag[2], sig << 2, 0)))
        sign = s[15] ^ qneg
        eff = Mux(exp == 0, 1, exp)                            # exponent of the significand

        # Leading one of the product (0..13), the product normalised to bit 13, the exponent
        # field before rounding (`base`) and the exact subnormal result.
        lead = Signal(4)
        for i in range(14):
            with m.If(prod[i]):
                m.d.comb += lead.eq(i)
        shl, sub_shl = Signal(4), Signal(4)
        m.d.comb += [shl.eq(13 - lead), sub_shl.eq(eff - 1)]
        norm = Signal(14)
        m.d.comb += norm.eq(prod << shl)
        base = Signal(range(-16, 64))                          # fp16 exponent field
        m.d.comb += base.eq(lead + eff - 10)
        # What the rounding and the result select need (registered if pipelined): the
        # rounding's carry adds 1 to `base`, so both exponents and their range tests are here.
        stage = {"norm": norm, "sign": sign, "special": exp == 0x1F,
                 "nan": (frac != 0) | (mag == 0), "zero": prod == 0,
                 "sub": (prod << sub_shl)[:10],                 # exact
                 "exp0": base[:5], "exp1": (base + 1)[:5],
                 "ge31": base >= 31, "eq30": base == 30, "ge1": base >= 1, "eq0": base == 0}
        if self._pipelined:
            stage = {k: _register(m, v, self.en, f"p_{k}") for k, v in stage.items()}
        norm, sign = stage["norm"], stage["sign"]

        kept = norm[3:14]                                      # 11 bits, leading one on top
        up = norm[2] & (norm[:2].any() | kept[0])              # RNE on guard + sticky
        carry = kept.all() & up                                # rounds up to the next binade
        rounded = Signal(11)
        m.d.comb += rounded.eq(kept + up)
        frac_n = Mux(carry, 0, rounded[:10])
        normal = Cat(frac_n, Mux(carry, stage["exp1"], stage["exp0"]), sign)
        inf = Cat(Const(0, 10), Const(0x1F, 5), sign)
        sub = Cat(stage["sub"], Const(0, 5), sign)
        zero = Cat(Const(0, 15), sign)

        with m.If(stage["special"]):
            m.d.comb += self.out.eq(Mux(stage["nan"], _QNAN, inf))
        with m.Elif(stage["zero"]):
            m.d.comb += self.out.eq(zero)
        with m.Elif(stage["ge31"] | (stage["eq30"] & carry)):
            m.d.comb += self.out.eq(inf)
        with m.Elif(stage["ge1"] | (stage["eq0"] & carry)):
            m.d.comb += self.out.eq(normal)
        with m.Else():
            m.d.comb += self.out.eq(sub)
        return m


def _register(m, value, en, name):
    """A reset-less register of ``value`` loaded while ``en``."""
    value = Value.cast(value)
    reg = Signal(value.shape(), name=name, reset_less=True)
    with m.If(en):
        m.d.sync += reg.eq(value)
    return reg
