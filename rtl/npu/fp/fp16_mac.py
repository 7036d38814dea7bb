"""fp32 + fp16 x fp16 (+ fp16 x fp16) -> fp32, two sequential RNE additions: one lane of the
element-wise unit's FP16 MAC."""

from amaranth.hdl import Module, Mux
from amaranth.lib.wiring import In, Out

from .fp16_mul import Fp16Mul
from .fp32_add import Fp32Add
from .pipeline import Pipeline
from .unit import PipelinedUnit

__all__ = ["Fp16Mac"]

#: fp32 -0.0: the identity of IEEE addition (x + -0 == x for every x, -0 and +0 included).
_FP32_NEG_ZERO = 0x8000_0000


class Fp16Mac(PipelinedUnit):
    """Computes ``(init + a * w) + a2 * w2`` (``pair``) or ``init + a * w`` for one lane.

    The products are exact in binary32 (:class:`~.fp16_mul.Fp16Mul`), each addition is a binary32
    round-to-nearest-even :class:`~.fp32_add.Fp32Add`, the first product's first: the order of
    :func:`dure.sim.golden.lanes_mac_fp16` and of the array's PEs, with the same units, so
    subnormals, signed zeros, Inf and the canonical NaN ``0x7FC00000`` come out as there.
    Without ``pair`` the second addition adds -0.0, which leaves every value unchanged (a NaN
    stays the canonical NaN).

    Latency
    -------
    16 enabled cycles: the two products (4), the first sum (6), the second sum (6); ``init``,
    ``pair`` and the second product wait in registers for their adder. A new lane value may enter on
    every enabled cycle.

    Members
    -------
    en, i_valid, o_valid
        The control ports of :class:`~.unit.PipelinedUnit`.
    i_init : In(32)
        Starting value (binary32).
    i_a, i_w, i_a2, i_w2 : In(16)
        The two taps' activation and weight (binary16).
    pair : In(1)
        Add the second product (travels with the vector).
    o_z : Out(32)
        The sum (binary32).
    """

    LATENCY = Fp16Mul.LATENCY + 2 * Fp32Add.LATENCY

    i_init: In(32)
    i_a: In(16)
    i_w: In(16)
    i_a2: In(16)
    i_w2: In(16)
    pair: In(1)
    o_z: Out(32)

    def elaborate(self, platform):
        m = Module()
        p = Pipeline(m, self.en)
        m.submodules.mul = mul = Fp16Mul()
        m.submodules.mul2 = mul2 = Fp16Mul()
        m.submodules.add = add = Fp32Add()
        m.submodules.add2 = add2 = Fp32Add()
        for unit in (mul, mul2, add, add2):
            m.d.comb += unit.en.eq(self.en)
        m.d.comb += [
            mul.i_valid.eq(self.i_valid), mul.i_a.eq(self.i_a), mul.i_b.eq(self.i_w),
            mul2.i_valid.eq(self.i_valid), mul2.i_a.eq(self.i_a2), mul2.i_b.eq(self.i_w2),
        ]
        init = self.i_init
        for n in range(Fp16Mul.LATENCY):
            init = p.reg(init, name=f"init_d{n}")
        m.d.comb += [add.i_valid.eq(mul.o_valid), add.i_a.eq(init), add.i_b.eq(mul.o_z)]
        pair = self.pair
        for n in range(Fp16Mul.LATENCY + Fp32Add.LATENCY):
            pair = p.reg(pair, name=f"pair_d{n}")
        second = mul2.o_z
        for n in range(Fp32Add.LATENCY):
            second = p.reg(second, name=f"second_d{n}")
        m.d.comb += [
            add2.i_valid.eq(add.o_valid), add2.i_a.eq(add.o_z),
            add2.i_b.eq(Mux(pair, second, _FP32_NEG_ZERO)),
            self.o_valid.eq(add2.o_valid), self.o_z.eq(add2.o_z),
        ]
        return m
