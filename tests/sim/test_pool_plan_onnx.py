"""ONNX global average pooling (QLinearGlobalAveragePool's integer path) lowered by
:func:`dure.sim.pool_plan.global_average_pool_int8_float_scale_program`: on the golden command
model equal to ``requantize(sum(x) - zp_in * H*W, scale, zp_out, lo, hi)`` bit for bit."""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.pool_plan import global_average_pool_int8_float_scale_program

from dure.config import preset


@pytest.mark.parametrize("cfg", ["sim", "npu-small"])
@pytest.mark.parametrize("shape, zi, zo", [((1, 25, 5, 64), -128, 5), ((2, 3, 7, 20), 127, -3),
                                          ((3, 1, 1, 9), 0, 0), ((1, 8, 8, 16), 17, -128)])
def test_global_average_pool_float_scale_is_bit_exact(cfg, shape, zi, zo):
    config = preset(cfg)
    rng = np.random.default_rng(shape[1] * shape[3])
    x = np.clip(zi + rng.integers(-60, 61, shape), -128, 127).astype(np.int8)
    scale = np.float32(rng.uniform(1.0, 4.0) / (shape[1] * shape[2]))
    main = config.region("main")
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    xa, oa, pa = main.base, main.base + main.size // 4, main.base + main.size // 2
    kw = dict(input_zero_point=zi, output_zero_point=zo, scale=scale, lo=-120, hi=126,
              x_addr=xa, out_addr=oa, param_addr=pa)
    if 1 + -(-shape[3] // config.npu_cols) * shape[1] * shape[2] > config.npu_spad_rows:
        with pytest.raises(ValueError, match="does not fit the SPAD"):
            global_average_pool_int8_float_scale_program(config, shape, **kw)
        return
    prog = global_average_pool_int8_float_scale_program(config, shape, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    acc = wrap_int32(x.astype(np.int64).sum(axis=(1, 2)) - zi * shape[1] * shape[2])
    want = golden.requantize(acc.astype(np.int32), scale, zo, -120, 126)
    assert np.array_equal(got.reshape(shape[0], shape[3]), want)
    assert len(np.unique(want)) > 2


@pytest.mark.parametrize("bad, match", [
    (dict(scale=np.inf), "finite"), (dict(input_zero_point=128), "input_zero_point"),
    (dict(lo=5, hi=4), "lo/hi"), (dict(x_shape=(1, 200, 200, 64)), "SPAD"),
])
def test_bad_arguments_are_named(bad, match):
    kw = dict(x_shape=(1, 4, 4, 8), input_zero_point=0, output_zero_point=0, scale=0.1,
              x_addr=0x4000_0000, out_addr=0x4010_0000, param_addr=0x4020_0000)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        global_average_pool_int8_float_scale_program(preset("sim"), kw.pop("x_shape"), **kw)
