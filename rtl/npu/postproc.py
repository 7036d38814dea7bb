"""Output post-processing of the NPU: ACC rows -> int8 / int32 / fp16 / fp32 output rows.

Per column, the function of the STORE table in :mod:`.store_cmd`, bit-exact with
:mod:`dure.sim.golden` (the numpy reference on bit patterns is :mod:`dure.sim.postproc_ref`):

========  ======  ===============================================================
acc_type  out     data (per column)
========  ======  ===============================================================
INT8      INT8    ``requantize(acc, scale, zero_point, lo[7:0], hi[7:0])``, or in a
                  TFLite ``requant`` mode ``requantize_tflite(acc, scale (int32
                  multiplier), sat(shift), zero_point, lo[7:0], hi[7:0])``
INT8      INT32   ``acc`` (raw bits)
INT8      FP16    ``to_fp16(clamp(f32(acc) * scale))``, clamp only if ``clamp_en``
FP16      FP16    ``fp16_postprocess(acc, scale if scale_en, lo/hi if clamp_en)``
FP16      FP32    ``clamp(acc * scale)``; raw bits if neither ``scale_en`` nor ``clamp_en``
========  ======  ===============================================================

Clamps compare in IEEE binary32 (``y < lo``, ``y > hi``): NaN passes (as the canonical NaN),
-0.0 is not below +0.0. A processed fp32 output (FP16 -> FP32 with scale or clamp) has every
NaN canonical (``0x7FC00000``); only the raw cases keep the accumulator bits as they are.
For INT8 output ``lo``/``hi`` are always used (bits 7:0, two's complement); ``clamp_en`` only
matters for fp outputs, ``scale_en`` is ignored for INT32 output.

Combinations the STORE validator refuses still give a defined result: INT8 acc without scale
multiplies by 1.0; FP16 acc to INT8/INT32 treats the bits as fp32 / passes them raw.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import OutType, RequantMode
from .fp.pipeline import Pipeline
from .isa import Precision
from .postproc_column import STAGE, PostProcColumn, fp32_less
from .postproc_fixed import FIXED_LATENCY, build_fixed_pipeline

__all__ = ["input_layout", "output_layout", "PostProcess"]


def input_layout(cols):
    """Payload of the ``i`` stream: one ACC row with its STORE parameters."""
    return data.StructLayout({
        "acc": data.ArrayLayout(32, cols),
        "scale": data.ArrayLayout(32, cols),
        "shift": data.ArrayLayout(32, cols),
        "acc_type": Precision,
        "out": OutType,
        "scale_en": 1,
        "clamp_en": 1,
        "requant": RequantMode,
        "zero_point": signed(8),
        "lo": 32,
        "hi": 32,
        "last": 1,
    })


def output_layout(cols):
    """Payload of the ``o`` stream: one output row."""
    return data.StructLayout({
        "data": data.ArrayLayout(32, cols),
        "last": 1,
    })


class PostProcess(wiring.Component):
    """Pipelined post-processing of ACC rows, one row per beat in and out.

    Parameters
    ----------
    cols : int
        Columns per row (lanes of the ACC).
    float_post : bool
        Build the fp32 path (default). ``False`` (``config.npu_float_post``) builds only the
        TFLite fixed-point requantization and the raw path
        (:func:`~.postproc_fixed.build_fixed_pipeline`): INT8 output is
        ``requantize_tflite`` in every ``requant`` mode (``FLOAT_SCALE`` as double rounding),
        any other output the raw accumulator bits; the latency is then
        :data:`~.postproc_fixed.FIXED_LATENCY` (9) cycles (:attr:`latency`).

    Members
    -------
    i : In(stream.Signature(input_layout(cols)))
        ``acc`` (int32 or fp32 bits per column), ``scale`` (fp32 per column, used only when
        ``scale_en``; the int32 multipliers in a TFLite ``requant`` mode), ``shift`` (int32
        shift lanes, read only in a TFLite mode, saturated to [-31, 30]), ``acc_type``
        (:class:`~dure.rtl.npu.isa.Precision`), ``out``
        (:class:`~dure.rtl.npu.commands.OutType`), ``scale_en``, ``clamp_en``, ``requant``
        (:class:`~dure.rtl.npu.commands.RequantMode`, used only for INT8 -> INT8; 3 acts as
        ``TFLITE_SINGLE_ROUNDING``), ``zero_point``,
        ``lo``, ``hi`` (descriptor words 5 and 6), ``last`` (passed through).
    o : Out(stream.Signature(output_layout(cols)))
        ``data`` per column (int8 / fp16 in the low bits with the upper bits zero, or int32 /
        fp32 bits) and ``last``.

    Latency
    -------
    :attr:`LATENCY` = 18 cycles from an accepted ``i`` beat to its ``o`` beat while ``o.ready``
    is high, and one row per cycle. Backpressure is a single clock enable,
    ``en = o.ready | ~o.valid``: while ``o`` holds a beat that is not taken, every stage holds
    (nothing is lost or duplicated) and ``i.ready`` is low; an empty output slot lets the
    pipeline advance. ``o.valid`` is a register (it never depends on ``o.ready``);
    ``i.ready`` depends combinationally on ``o.ready`` and ``o.valid``.

    Resources per column: one ``Int32ToFp32``, ``Fp32Mul``, ``Fp32ToFp16``,
    ``Fp32ToInt8Rne`` and ``FixedPointRequant`` each, two fp32 comparators, and delay
    registers (raw bits 11 x 32, scale 4 x 32, fp32 value 6 x 32, fp16 result 2 x 16,
    fixed-point result 4 x 11 and 4 x 8, output 32). The row controls are pipelined once for
    all columns.
    """

    LATENCY = STAGE["data"]

    def __init__(self, cols, *, float_post=True):
        if not isinstance(cols, int) or isinstance(cols, bool) or cols < 1:
            raise ValueError(f"PostProcess cols must be a positive integer, not {cols!r}")
        if not isinstance(float_post, bool):
            raise TypeError(f"float_post must be a bool, not {float_post!r}")
        self._cols = cols
        self._float_post = float_post
        super().__init__({
            "i": In(stream.Signature(input_layout(cols))),
            "o": Out(stream.Signature(output_layout(cols))),
        })

    @property
    def cols(self):
        return self._cols

    @property
    def float_post(self):
        return self._float_post

    @property
    def latency(self):
        """Cycles from an accepted ``i`` beat to its ``o`` beat of this instance."""
        return self.LATENCY if self._float_post else FIXED_LATENCY

    def elaborate(self, platform):
        m = Module()
        if not self._float_post:
            return build_fixed_pipeline(m, self, self._cols)
        en = self.o.ready | ~self.o.valid
        m.d.comb += self.i.ready.eq(en)
        p = Pipeline(m, en)

        # Row controls, decided once at the input and pipelined for every column.
        row = self.i.payload
        out = row.out
        ctl = {
            "valid": self.i.valid,
            "last": row.last,
            "use_i2f": row.acc_type == Precision.INT8,
            "use_raw": (out == OutType.INT32)
                       | ((out == OutType.FP32) & ~row.scale_en & ~row.clamp_en),
            "use_clamp": row.clamp_en & ((out == OutType.FP16) | (out == OutType.FP32)),
            "lo": row.lo,
            "hi": row.hi,
            "lo_gt_hi": fp32_less(row.hi, row.lo),
            "zp": row.zero_point,
            "out": out,
            "use_fixed": (row.acc_type == Precision.INT8) & (out == OutType.INT8)
                         & (row.requant != RequantMode.FLOAT_SCALE),
        }
        # Each control is kept only up to the last stage that reads it.
        last_use = {"valid": self.LATENCY, "last": self.LATENCY, "use_i2f": STAGE["use_i2f"],
                    "use_raw": STAGE["use_raw"], "use_clamp": STAGE["use_clamp"],
                    "lo": STAGE["lo8"], "hi": STAGE["hi8"], "lo_gt_hi": STAGE["lo_gt_hi"],
                    "zp": STAGE["zp"], "out": STAGE["out"], "use_fixed": STAGE["use_fixed"]}
        chains = {}
        for name, value in ctl.items():
            chain = [value]
            for k in range(1, last_use[name] + 1):
                chain.append(p.reg(chain[-1], name=f"s{k}_{name}", reset=name == "valid"))
            chains[name] = chain

        def at(name, stage):
            return chains[name][stage]

        for c in range(self._cols):
            col = PostProcColumn()
            m.submodules[f"col{c}"] = col
            m.d.comb += [
                col.en.eq(en),
                col.acc.eq(row.acc[c]),
                col.scale.eq(row.scale[c]),
                col.shift.eq(row.shift[c]),
                col.single.eq(row.requant.as_value()[1]),
                col.use_fixed.eq(at("use_fixed", STAGE["use_fixed"])),
                col.use_mul.eq(row.scale_en & (out != OutType.INT32)),
                col.use_i2f.eq(at("use_i2f", STAGE["use_i2f"])),
                col.use_raw.eq(at("use_raw", STAGE["use_raw"])),
                col.use_clamp.eq(at("use_clamp", STAGE["use_clamp"])),
                col.lo.eq(at("lo", STAGE["lo"])),
                col.hi.eq(at("hi", STAGE["hi"])),
                col.lo_gt_hi.eq(at("lo_gt_hi", STAGE["lo_gt_hi"])),
                col.zp.eq(at("zp", STAGE["zp"])),
                col.lo8.eq(at("lo", STAGE["lo8"])[:8]),
                col.hi8.eq(at("hi", STAGE["hi8"])[:8]),
                col.out.eq(at("out", STAGE["out"])),
                self.o.payload.data[c].eq(col.data),
            ]
        m.d.comb += [
            self.o.valid.eq(at("valid", self.LATENCY)),
            self.o.payload.last.eq(at("last", self.LATENCY)),
        ]
        return m
