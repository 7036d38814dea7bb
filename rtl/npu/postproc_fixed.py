"""Post-processing without fp32 arithmetic: TFLite fixed-point requantization and raw INT32.

The pipeline :class:`~.postproc.PostProcess` builds when the configuration has no fp32
post-processing (``config.npu_float_post`` False, INT8-only board builds): same streams, fewer
stages, no fp units.
"""

from amaranth.hdl import Cat, Const, Mux

from .commands import OutType
from .fixedpoint_requant import FixedPointRequant
from .fp.pipeline import Pipeline

__all__ = ["FIXED_LATENCY", "build_fixed_pipeline"]

#: Stages of the fixed-point pipeline: :class:`FixedPointRequant`, then ``+ zp``, the int8
#: clamp and the output select in one registered stage.
FIXED_LATENCY = FixedPointRequant.LATENCY + 1


def build_fixed_pipeline(m, pp, cols):
    """Elaborate the fixed-point pipeline of a :class:`~.postproc.PostProcess` ``pp`` into
    module ``m``.

    Per column: ``out == INT8``: ``clamp(MultiplyByQuantizedMultiplier(acc, scale, shift) +
    zero_point, lo[7:0], hi[7:0])`` with the rounding that ``requant`` selects (bit 1:
    single rounding; ``FLOAT_SCALE`` computes as ``TFLITE_DOUBLE_ROUNDING``, since the
    validator refuses it on this build); any other ``out``: the accumulator bits unchanged.
    Backpressure as in :class:`~.postproc.PostProcess` (one clock enable).
    """
    en = pp.o.ready | ~pp.o.valid
    m.d.comb += pp.i.ready.eq(en)
    p = Pipeline(m, en)
    row = pp.i.payload
    lat = FixedPointRequant.LATENCY

    def delay(value, stages, name, reset=False):
        for k in range(stages):
            value = p.reg(value, name=f"{name}{k + 1}", reset=reset)
        return value

    valid = delay(pp.i.valid, FIXED_LATENCY, "fx_valid", reset=True)
    last = delay(row.last, FIXED_LATENCY, "fx_last")
    zp = delay(row.zero_point, lat, "fx_zp")
    lo8 = delay(row.lo[:8].as_signed(), lat, "fx_lo")
    hi8 = delay(row.hi[:8].as_signed(), lat, "fx_hi")
    int8_out = delay(row.out == OutType.INT8, lat, "fx_int8")
    for c in range(cols):
        fx = FixedPointRequant()
        m.submodules[f"fx{c}"] = fx
        m.d.comb += [fx.en.eq(en), fx.x.eq(row.acc[c]), fx.m.eq(row.scale[c]),
                     fx.shift.eq(row.shift[c]), fx.single.eq(row.requant.as_value()[1])]
        raw = delay(row.acc[c], lat, f"fx_raw{c}_")
        biased = fx.y + zp
        fixed = Mux(biased < lo8, lo8, biased)
        fixed = Mux(fixed > hi8, hi8, fixed)[:8]
        result = Mux(int8_out, Cat(fixed, Const(0, 24)), raw)
        m.d.comb += pp.o.payload.data[c].eq(p.reg(result, name=f"fx_data{c}"))
    m.d.comb += [pp.o.valid.eq(valid), pp.o.payload.last.eq(last)]
    return m
