"""INT8 convolutions with few input channels, kernel taps packed into the K lanes
(dure.sim.conv_pack through dure.sim.conv_plan.conv2d_int8_program): bit for bit with the
golden TFLite operator on the command model, on the 8x8 `sim` and the 4x4 `npu-small` NPU."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_pack import pack_applies, pack_layout
from dure.sim.conv_plan import conv2d_int8_program
from dure.sim.golden_tflite import conv2d_int8
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.walk_layer import geometry

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}

CASES = [
    # x_shape, cout, kernel, stride, padding, zp_in
    ((1, 49, 10, 1), 64, (10, 4), (2, 2), "SAME", -3),      # DS-CNN's first convolution
    ((2, 9, 7, 2), 11, (3, 3), (1, 1), "SAME", -128),
    ((1, 8, 9, 1), 5, (5, 2), (2, 1), "VALID", 4),
    ((1, 6, 6, 3), 9, (3, 2), (1, 2), "SAME", 0),
    ((1, 7, 5, 1), 3, (3, 8), (1, 1), "SAME", 127),
    ((1, 11, 4, 1), 17, (4, 1), (3, 1), "SAME", -1),
]


def run_case(config, rng, x_shape, cout, kernel, stride, padding, zp_in, extreme=False):
    main = config.region("main")
    quarter = main.size // 4
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    cin = x_shape[3]
    if extreme:
        x = rng.choice(np.array([-128, 127, 0], np.int8), x_shape)
        w = rng.choice(np.array([-128, 127], np.int8), (cout, *kernel, cin))
    else:
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        w = rng.integers(-128, 128, (cout, *kernel, cin), dtype=np.int8)
    x.reshape(-1)[:2] = -128
    bias = rng.integers(-20000, 20000, cout, dtype=np.int32)
    scale = rng.uniform(0.5, 2.0, cout) * (1.0 if extreme else 0.02)
    mult, shift = conv_multipliers(0.05, scale, 0.4, cout)
    kw = dict(input_zero_point=zp_in, output_zero_point=3, multiplier=mult, shift=shift,
              stride=stride, padding=padding, lo=-100, hi=120)
    prog = conv2d_int8_program(config, x_shape, w, bias, x_addr=main.base,
                               out_addr=main.base + quarter, param_addr=main.base + 2 * quarter,
                               **kw)
    got = run_on_model(model, prog, [(main.base, x)])
    want = conv2d_int8(x, w, bias, **kw)
    assert np.array_equal(got, want)
    return prog


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_packed_convolution_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding, zp_in = CASES[case]
    prog = run_case(config, np.random.default_rng(case), *CASES[case])
    geo = geometry(x_shape, kernel, stride, padding)
    packed = pack_applies(config, geo, x_shape[3])
    assert any("taps packed" in n for n in prog.notes) == packed
    if packed:
        # the gather's round trip: one FENCE per group of images between its STORE and LOAD
        group = pack_layout(config, geo, x_shape[3], cout).group
        fences = sum(1 for w in prog.descriptors if decode(w)[0] is Opcode.FENCE)
        assert fences == -(-x_shape[0] // group)


def test_extremes_saturate_exactly():
    run_case(CONFIGS["sim"], np.random.default_rng(9), (1, 9, 6, 1), 8, (3, 4), (1, 1), "SAME",
             -128, extreme=True)


def test_dscnn_first_layer_uses_eight_lanes():
    """10x4 Cin=1 on the 8x8 NPU: 5 COMPUTEs of 8 taps per output chunk instead of 40 of 1
    (plus the 8 gather COMPUTEs)."""
    prog = run_case(CONFIGS["sim"], np.random.default_rng(3), *CASES[0])
    computes = [decode(w)[1] for w in prog.descriptors if decode(w)[0] is Opcode.COMPUTE]
    conv = [f for f in computes if f["k"] == 8 and f["n"] == 8 and f["m"] == 125]
    assert len(conv) == 5 * 8 and len(computes) == 5 * 8 + 8
    assert prog.lane_use > 0.8


def test_applies_only_where_taps_pack():
    cfg = CONFIGS["sim"]
    assert not pack_applies(cfg, geometry((1, 8, 8, 3), (3, 3), (1, 1), "SAME"), 3)  # 9 > 8
    assert not pack_applies(cfg, geometry((1, 8, 8, 1), (1, 1), (1, 1), "SAME"), 1)  # 1 tap
    assert not pack_applies(cfg, geometry((1, 8, 8, 8), (3, 1), (1, 1), "SAME"), 8)  # full
    assert pack_applies(cfg, geometry((1, 8, 8, 2), (3, 3), (1, 1), "SAME"), 2)
    # a tile larger than the SPAD falls back to the walk engine
    assert not pack_applies(cfg, geometry((1, 300, 300, 1), (3, 3), (1, 1), "SAME"), 1)


def test_many_output_chunks_that_do_not_fit_take_the_walk():
    """The layout is checked with the layer's own output chunks: a 9x9 Cin = 1 image fits the
    4x4 NPU's packed plan with one chunk of outputs but not with 10 (their weight slots push
    the tile past the SPAD), and conv2d_int8_program then plans the walk instead of failing."""
    cfg = preset("npu-small")
    geo = geometry((1, 9, 9, 1), (3, 3), (1, 1), "SAME")
    assert pack_applies(cfg, geo, 1) and not pack_applies(cfg, geo, 1, 40)
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (40, 3, 3, 1), dtype=np.int8)
    prog = conv2d_int8_program(cfg, (1, 9, 9, 1), w, None, input_zero_point=0,
                               output_zero_point=0, multiplier=1 << 30, shift=0, x_addr=0,
                               out_addr=0x10000, param_addr=0x20000)
    assert prog.plan is not None and not any("packed" in note for note in prog.notes)
