"""TFLite-requantized GEMMs as descriptors: run on the NPU command model, equal to the golden
fixed-point requantization of the exact int32 product, including ACCs so small that the
multiplier / shift rows force a smaller N group than the planner's."""

import dataclasses

import numpy as np
import pytest
from dure.compiler.npu_gemm import tflite_gemm_descriptors, tflite_plan
from dure.rtl.npu.commands import ErrorCode, RequantMode
from dure.sim.gemm_plan import plan_gemm
from dure.sim.golden_fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
    wrap_int32,
)
from dure.sim.npu_model import NpuModel

from dure.config import preset


def _run(config, m, k, n, mode, rng):
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-50000, 50000, n).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, n).astype(np.int32)
    shift = rng.integers(-12, 2, n).astype(np.int32)
    zp, lo, hi = int(rng.integers(-20, 20)), -100, 120
    model = NpuModel(config)
    main = config.region("main")
    model.set_window(main.base, main.size)
    addrs = {}
    at = main.base
    for name, arr in (("a", a), ("b", b), ("bias", bias), ("mult", mult), ("shift", shift)):
        addrs[name] = at
        model.write(at, arr.tobytes())
        at += (arr.nbytes + 15) // 16 * 16
    words = tflite_gemm_descriptors(config, m, k, n, a_addr=addrs["a"], a_stride=k,
                                    b_addr=addrs["b"], b_stride=n, out_addr=at, out_stride=n,
                                    bias_addr=addrs["bias"], multiplier_addr=addrs["mult"],
                                    shift_addr=addrs["shift"], zero_point=zp, lo=lo, hi=hi,
                                    mode=mode)
    assert set(model.run(words)) == {ErrorCode.NONE}
    got = model.fetch(at, (m, n), np.int8)
    acc = wrap_int32(a.astype(np.int64) @ b.astype(np.int64) + bias)
    fn = (multiply_by_quantized_multiplier if mode == RequantMode.TFLITE_DOUBLE_ROUNDING
          else multiply_by_quantized_multiplier_single_rounding)
    want = np.clip(fn(acc, mult, shift).astype(np.int64) + zp, lo, hi).astype(np.int8)
    return got, want


@pytest.mark.parametrize("mode", [RequantMode.TFLITE_DOUBLE_ROUNDING,
                                  RequantMode.TFLITE_SINGLE_ROUNDING])
@pytest.mark.parametrize("variant,m,k,n", [("npu-small", 7, 9, 30), ("npu-small", 33, 17, 21),
                                           ("sim", 70, 40, 50), ("sim", 1, 300, 17)])
def test_tflite_gemm_equals_golden(variant, m, k, n, mode):
    got, want = _run(preset(variant), m, k, n, mode, np.random.default_rng(m * k * n))
    assert np.array_equal(got, want)


def test_small_acc_lowers_the_group():
    config = dataclasses.replace(preset("npu-small"), npu_acc_rows=32)
    assert plan_gemm(config, 7, 9, 30, scale=True, bias=True).gn == 2
    plan = tflite_plan(config, 7, 9, 30)
    assert plan.gn == 1 and 2 * plan.gn * plan.mblk + 4 * plan.gn <= 32
    for mode in (RequantMode.TFLITE_DOUBLE_ROUNDING, RequantMode.TFLITE_SINGLE_ROUNDING):
        got, want = _run(config, 7, 9, 30, mode, np.random.default_rng(1))
        assert np.array_equal(got, want)


def test_float_scale_mode_is_not_this_function():
    with pytest.raises(ValueError, match="gemm_descriptors"):
        tflite_gemm_descriptors(preset("sim"), 1, 1, 1, a_addr=0, a_stride=1, b_addr=0,
                                b_stride=1, out_addr=0, out_stride=1, bias_addr=0,
                                multiplier_addr=0, shift_addr=0, zero_point=0, lo=-128, hi=127,
                                mode=RequantMode.FLOAT_SCALE)
