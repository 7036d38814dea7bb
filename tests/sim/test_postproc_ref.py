"""The post-processing reference: hand-computed corner values (independent of the golden
model), agreement of its numpy path with the golden functions, and its input checks."""

import numpy as np
import pytest
from dure.rtl.npu.commands import OutType
from dure.rtl.npu.isa import Precision
from dure.sim.postproc_ref import LEGAL, postprocess

I8, F16 = Precision.INT8, Precision.FP16


def f32(*values):
    return [int(v) for v in np.array(values, dtype=np.float32).view(np.uint32)]


def i32(*values):
    return [int(v) & 0xFFFF_FFFF for v in values]


def run(acc, scale, acc_type, out, **kw):
    kw.setdefault("scale_en", True)
    kw.setdefault("clamp_en", False)
    got = postprocess([acc], scale * len(acc) if len(scale) == 1 else scale,
                      acc_type=acc_type, out=out, **kw)
    both = postprocess([acc], scale * len(acc) if len(scale) == 1 else scale,
                       acc_type=acc_type, out=out, numpy_only=True, **kw)
    assert np.array_equal(got, both)
    return [int(v) for v in got[0]]


def test_requantize_ties_to_even_and_zero_point():
    # 5 * 0.5 = 2.5 -> 2, 7 * 0.5 = 3.5 -> 4, -1 * 0.5 = -0.5 -> 0, -3 * 0.5 = -1.5 -> -2.
    assert run(i32(5, 7, -1, -3), f32(0.5), I8, OutType.INT8, zero_point=0, lo=-128,
               hi=127) == [2, 4, 0, 0xFE]
    # The zero point is added after rounding, then the clamp.
    assert run(i32(5, 7, -1, -3), f32(0.5), I8, OutType.INT8, zero_point=10, lo=-128,
               hi=127) == [12, 14, 10, 8]


def test_requantize_saturation_and_narrow_range():
    big = 2**31 - 1
    # Products beyond the int8 range and to +/-Inf saturate; zp 127 plus anything positive too.
    assert run(i32(big, -big, 300, -300), f32(3e38), I8, OutType.INT8, zero_point=0,
               lo=-128, hi=127) == [127, 0x80, 127, 0x80]
    assert run(i32(1, 2, -1000), f32(1.0), I8, OutType.INT8, zero_point=127, lo=-128,
               hi=127) == [127, 127, 0x80]
    # lo == hi pins everything; lo/hi are taken from bits 7:0 of the words.
    assert run(i32(-5, 0, 5), f32(1.0), I8, OutType.INT8, zero_point=0,
               lo=0xFFFF_FFFD, hi=0xFFFF_FFFD) == [0xFD] * 3


def test_requantize_nonfinite_scale_outside_golden():
    # 0 * Inf is NaN: counts as 0, giving clamp(zp); other products saturate.
    assert run(i32(0, 1, -1), f32(np.inf), I8, OutType.INT8, zero_point=-7, lo=-128,
               hi=127) == [0xF9, 127, 0x80]


def test_int32_raw():
    words = i32(-1, 0, 2**31 - 1, -2**31)
    assert run(words, f32(0.0), I8, OutType.INT32, scale_en=False) == words


def test_dequantize_fp16():
    # 3 * 0.5 = 1.5 (0x3E00); 2**20 * 1.0 overflows fp16 to Inf; a huge negative to -Inf.
    assert run(i32(3, 2**20, -2**20), f32(0.5, 1.0, 1.0), I8, OutType.FP16) == \
        [0x3E00, 0x7C00, 0xFC00]
    # With clamp on the f32 product: [0, 6] (ReLU6).
    assert run(i32(-3, 20, 7), f32(1.0), I8, OutType.FP16, clamp_en=True,
               lo=f32(0.0)[0], hi=f32(6.0)[0]) == [0x0000, 0x4600, 0x4600]


def test_fp16_clamp_signed_zero_nan_inf():
    lo, hi = f32(0.0)[0], f32(np.inf)[0]
    acc = f32(-0.0, -1.0, np.inf, -np.inf) + [0x7FC00123, 0xFF800001]
    # -0.0 is not below +0.0 and stays -0.0; NaNs pass as 0x7E00; -Inf clamps to +0.
    assert run(acc, f32(1.0), F16, OutType.FP16, scale_en=False, clamp_en=True, lo=lo,
               hi=hi) == [0x8000, 0x0000, 0x7C00, 0x0000, 0x7E00, 0x7E00]
    # fp16 rounding edges: 65519.996 stays 65504, 65520 is Inf, 2**-25 ties to +0.
    assert run([0x477FEFFF, 0x477FF000, 0x33000000], f32(1.0), F16, OutType.FP16,
               scale_en=False) == [0x7BFF, 0x7C00, 0x0000]


def test_fp32_output():
    nan = 0x7FC00123
    acc = f32(1.5, -2.0, -0.0) + [nan]
    # Neither flag: the raw bits, NaN payload kept.
    assert run(acc, f32(1.0), F16, OutType.FP32, scale_en=False) == acc
    # Scale: one multiply, canonical NaN.
    assert run(acc, f32(2.0), F16, OutType.FP32) == f32(3.0, -4.0, -0.0) + [0x7FC00000]
    # Clamp only: NaN canonical as well. lo = +0, hi = -0 is legal (+0 <= -0): 1.5 > -0
    # gives hi (-0); -2 < +0 gives lo (+0), which is not above -0; -0 stays.
    assert run(acc, f32(1.0), F16, OutType.FP32, scale_en=False, clamp_en=True,
               lo=f32(0.0)[0], hi=f32(-0.0)[0]) == f32(-0.0, 0.0, -0.0) + [0x7FC00000]


def test_numpy_path_equals_golden():
    rng = np.random.default_rng(3)
    for (acc_type, out), need in LEGAL.items():
        for scale_en in ((need,) if need is not None else (False, True)):
            for clamp_en in (False, True):
                if acc_type == I8:
                    acc = rng.integers(-2**31, 2**31, (50, 4)) & 0xFFFF_FFFF
                else:
                    acc = rng.integers(0, 2**32, (50, 4))
                scale = rng.integers(0x3000_0000, 0x4800_0000, 4) | \
                    (rng.integers(0, 2, 4) << 31)
                lo, hi = sorted(rng.normal(0, 10, 2).astype(np.float32))
                kw = dict(acc_type=acc_type, out=out, scale_en=scale_en, clamp_en=clamp_en,
                          zero_point=-3, lo=int(np.float32(lo).view(np.uint32)),
                          hi=int(np.float32(hi).view(np.uint32)))
                if out == OutType.INT8:
                    kw.update(lo=-20 & 0xFFFF_FFFF, hi=100)
                assert np.array_equal(postprocess(acc, scale, **kw),
                                      postprocess(acc, scale, numpy_only=True, **kw))


def test_bad_input():
    with pytest.raises(ValueError, match="not a legal STORE"):
        postprocess([[0]], [0], acc_type=F16, out=OutType.INT8, scale_en=True, clamp_en=False)
    with pytest.raises(ValueError, match="needs scale"):
        postprocess([[0]], [0], acc_type=I8, out=OutType.FP16, scale_en=False, clamp_en=False)
    with pytest.raises(ValueError, match="forbids scale"):
        postprocess([[0]], [0], acc_type=I8, out=OutType.INT32, scale_en=True, clamp_en=False)
    with pytest.raises(ValueError, match="scale must have shape"):
        postprocess([[0, 0]], [0], acc_type=I8, out=OutType.INT32, scale_en=False,
                    clamp_en=False)
