"""FP16 ADD lowered by dure.sim.eltwise_plan: bit-exact with golden add_fp16 on the command
model, signed zeros, Inf - Inf and NaN included."""

import numpy as np
import pytest
from dure.sim.eltwise_plan import add_fp16_program
from dure.sim.golden_tflite_fp16 import add_fp16
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
