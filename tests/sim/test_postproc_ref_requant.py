"""postproc_ref's TFLite requantization modes: hand-computed values and the golden functions."""

import numpy as np
import pytest
from dure.rtl.npu.commands import OutType, RequantMode
from dure.rtl.npu.isa import Precision
from dure.sim.golden_fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
)
from dure.sim.golden_requant_tflite import requantize_tflite
from dure.sim.postproc_ref import postprocess, tflite_shift

D, S = RequantMode.TFLITE_DOUBLE_ROUNDING, RequantMode.TFLITE_SINGLE_ROUNDING


def u32(values):
    return np.asarray(values, dtype=np.int64).astype(np.uint64) & np.uint64(0xFFFF_FFFF)


def run(acc, mult, shift, mode, zp=0, lo=-128, hi=127):
    acc = np.atleast_2d(np.asarray(acc, dtype=np.int64))
    words = postprocess(u32(acc), u32(mult), acc_type=Precision.INT8, out=OutType.INT8,
                        scale_en=1, clamp_en=0, zero_point=zp, lo=lo & 0xFFFF_FFFF,
                        hi=hi & 0xFFFF_FFFF, requant=mode, shift=u32(shift))
    return words.astype(np.uint8).view(np.int8).astype(int)


def test_double_and_single_rounding_differ():
    # 1 * 0.5 * 2**-1 = 0.25: SRDHM gives 1 (0.5 rounds up), RoundingDivideByPOT(1, 1) = 1;
    # the single rounding gives 0.
    assert run([[1]], [1 << 30], [-1], D).tolist() == [[1]]
    assert run([[1]], [1 << 30], [-1], S).tolist() == [[0]]


def test_srdhm_saturation_and_clamp():
    assert run([[INT32_MIN]], [INT32_MIN], [0], D).tolist() == [[127]]
    assert run([[INT32_MIN, INT32_MAX]], [INT32_MAX, INT32_MAX], [0, 0], S).tolist() == \
        [[-128, 127]]


def test_zero_point_and_bounds():
    # 300 * 0.5 = 150, + zp -100 = 50, clamped to [-3, 40].
    assert run([[300, -300]], [1 << 30] * 2, [0, 0], D, zp=-100, lo=-3, hi=40).tolist() == \
        [[40, -3]]


def test_shift_lanes_saturate():
    assert tflite_shift(u32([100, -100, 30, -31, 0, INT32_MIN, INT32_MAX])).tolist() == \
        [30, -31, 30, -31, 0, -31, 30]
    assert run([[7]], [1 << 30], [1000], S).tolist() == run([[7]], [1 << 30], [30], S).tolist()


@pytest.mark.parametrize("mode", [D, S])
def test_random_matches_golden_fixedpoint(mode):
    rng = np.random.default_rng(3)
    cols = 16
    acc = rng.integers(INT32_MIN, INT32_MAX + 1, (50, cols)).astype(np.int32)
    acc[0, :4] = [INT32_MIN, INT32_MAX, 0, -1]
    mult = rng.integers(INT32_MIN, INT32_MAX + 1, cols)
    mult[:3] = [1 << 30, INT32_MAX, INT32_MIN]
    shift = rng.integers(-31, 31, cols)
    zp = int(rng.integers(-128, 128))
    got = run(acc, mult, shift, mode, zp=zp, lo=-100, hi=90)
    mbqm = multiply_by_quantized_multiplier if mode == D else \
        multiply_by_quantized_multiplier_single_rounding
    want = np.clip(mbqm(acc, mult, shift).astype(np.int64) + zp, -100, 90)
    assert np.array_equal(got, want)
    assert np.array_equal(got, requantize_tflite(acc, mult, shift, zp, -100, 90,
                                                 single_rounding=mode == S))


def test_refuses_other_pairs_and_missing_shift():
    with pytest.raises(ValueError, match="needs INT8 -> INT8"):
        postprocess(u32([[1]]), u32([1]), acc_type=Precision.INT8, out=OutType.FP16,
                    scale_en=1, clamp_en=0, requant=D, shift=u32([0]))
    with pytest.raises(ValueError, match="needs scale and shift"):
        postprocess(u32([[1]]), u32([1]), acc_type=Precision.INT8, out=OutType.INT8,
                    scale_en=1, clamp_en=0, lo=0x80, hi=0x7F, requant=S)


def test_golden_refuses_out_of_contract():
    with pytest.raises(ValueError, match="shift"):
        requantize_tflite(np.zeros(1, np.int32), 1, 31, 0)
    with pytest.raises(ValueError, match="lo <= hi"):
        requantize_tflite(np.zeros(1, np.int32), 1, 0, 0, 5, 4)
