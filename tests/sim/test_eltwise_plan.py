"""ADD lowered by dure.sim.eltwise_plan: FP16 bit-exact with golden add_fp16 on the command
model (signed zeros, Inf - Inf and NaN included); INT8 (ELTWISE ADD) bit-exact with golden
add_int8."""

import dataclasses

import numpy as np
import pytest
from dure.sim.eltwise_plan import add_fp16_program, add_int8_program
from dure.sim.golden_tflite import add_int8
from dure.sim.golden_tflite_fp16 import add_fp16
from dure.sim.golden_tflite_params import add_params
from dure.sim.layer_program import run_on_model

from .test_conv_plan import CONFIGS, fp16_values, model_and_addresses, same_bits


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("shape", [(1, 5, 5, 3), (2, 33, 17, 9), (4,)])
def test_add_fp16_is_bit_exact(cfg, shape):
    config = CONFIGS[cfg]
    rng = np.random.default_rng(len(shape))
    a, b = fp16_values(rng, shape), fp16_values(rng, shape)
    specials = np.array([-0.0, -0.0, 0.0, np.inf, np.nan, 65504.0], np.float16)
    others = np.array([-0.0, 0.0, -0.0, -np.inf, 1.0, 65504.0], np.float16)
    a.reshape(-1)[:4], b.reshape(-1)[:4] = specials[:4], others[:4]
    if a.size > 6:
        a.reshape(-1)[:6], b.reshape(-1)[:6] = specials, others
    model, (xa, oa, pa, x2) = model_and_addresses(config)
    kw = dict(lo=-3.0) if len(shape) == 4 and shape[0] == 2 else {}
    prog = add_fp16_program(config, shape, a_addr=xa, b_addr=x2, out_addr=oa, param_addr=pa,
                            **kw)
    got = run_on_model(model, prog, [(xa, a), (x2, b)])
    want = add_fp16(a, b, **kw)
    assert same_bits(got, want)
    assert np.signbit(want.reshape(-1)[0]) and np.isnan(want.reshape(-1)[3])


ADD_CASES = [
    # shape, (s1, s2, s_out), (z1, z2, z_out), (lo, hi)
    ((1, 5, 5, 3), (0.05, 0.07, 0.1), (0, -3, 5), (-128, 127)),
    ((2, 9, 7, 17), (0.5, 0.0011, 0.02), (-128, 127, -128), (-128, 127)),   # saturating
    ((3, 4, 4, 8), (1.3e-3, 2.7e-2, 3.1e-2), (127, -128, 0), (0, 127)),      # ReLU clamp
    ((37,), (2.0, 1e-7, 3.0), (12, -7, 3), (-20, 60)),      # tiny input2: shift near -31
]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(ADD_CASES)))
def test_add_int8_is_bit_exact(cfg, case):
    """ELTWISE ADD + TFLite-mode STORE against golden add_int8: -128 / 127 inputs and zero
    points, outputs saturating at both ends, a partial last row."""
    config = CONFIGS[cfg]
    shape, scales, zps, (lo, hi) = ADD_CASES[case]
    rng = np.random.default_rng(70 + case)
    a = rng.integers(-128, 128, shape, dtype=np.int8)
    b = rng.integers(-128, 128, shape, dtype=np.int8)
    a.reshape(-1)[:3], b.reshape(-1)[:3] = [-128, 127, -128], [-128, -128, 127]
    params = add_params(*scales)
    kw = dict(input1_zero_point=zps[0], input2_zero_point=zps[1], output_zero_point=zps[2],
              lo=lo, hi=hi)
    model, (xa, oa, pa, x2) = model_and_addresses(config)
    prog = add_int8_program(config, shape, params, a_addr=xa, b_addr=x2, out_addr=oa,
                            param_addr=pa, **kw)
    got = run_on_model(model, prog, [(xa, a), (x2, b)])
    want = add_int8(a, b, params, **kw)
    assert same_bits(got, want)
    if case == 1:
        assert {-128, 127} <= set(want.reshape(-1).tolist())


def test_add_int8_every_input_pair():
    """All 65536 (a, b) pairs under one set of parameters, in one program."""
    config = CONFIGS["sim"]
    v = np.arange(-128, 128, dtype=np.int8)
    a, b = np.repeat(v, 256), np.tile(v, 256)
    params = add_params(0.0123, 0.0456, 0.0311)
    kw = dict(input1_zero_point=-9, input2_zero_point=33, output_zero_point=-2)
    model, (xa, oa, pa, x2) = model_and_addresses(config)
    prog = add_int8_program(config, a.shape, params, a_addr=xa, b_addr=x2, out_addr=oa,
                            param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, a), (x2, b)]),
                     add_int8(a, b, params, **kw))


def test_add_int8_refuses_what_it_cannot_do():
    config = CONFIGS["sim"]
    addrs = dict(a_addr=0, b_addr=0, out_addr=0, param_addr=0, input1_zero_point=0,
                 input2_zero_point=0, output_zero_point=0)
    params = add_params(0.1, 0.1, 0.1)
    with pytest.raises(ValueError, match="shifts by 20"):
        add_int8_program(config, (4,), dataclasses.replace(params, left_shift=15), **addrs)
    with pytest.raises(ValueError, match="lo <= hi"):
        add_int8_program(config, (4,), params, lo=3, hi=2, **addrs)
    without = dataclasses.replace(config, npu_eltwise=False, npu_eltwise_handover=False)
    with pytest.raises(ValueError, match="element-wise"):
        add_int8_program(without, (4,), params, **addrs)
