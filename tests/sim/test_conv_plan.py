"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED lowered by dure.sim.conv_plan: the descriptor
lists run on the golden command model (dure.sim.npu_model) and give the golden operators'
output bit for bit, on the 8x8 `sim` and the 4x4 `npu-small` NPU."""

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_plan import (
    conv2d_fp16_program,
    conv2d_int8_program,
    depthwise_conv2d_fp16_program,
    depthwise_conv2d_int8_program,
    fully_connected_int8_program,
)
from dure.sim.golden_tflite import (
    conv2d_int8,
    depthwise_conv2d_int8,
    fully_connected_int8_fixed,
)
from dure.sim.golden_tflite_fp16 import conv2d_fp16, depthwise_conv2d_fp16
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.walk_emit import PIECE_ROWS
from dure.sim.walk_layer import geometry

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}


def model_and_addresses(config):
    """A command model with the window over main memory and (x, out, params, x2) addresses."""
    main = config.region("main")
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    quarter = main.size // 4
    return model, (main.base, main.base + quarter, main.base + 2 * quarter,
                   main.base + 3 * quarter)


def same_bits(got, want):
    width = f"u{want.dtype.itemsize}"
    return got.shape == want.shape and np.array_equal(got.view(width), want.view(width))


def int8_case(rng, x_shape, cout, kernel, zp_in, depthwise=False, extreme=False):
    if extreme:
        x = rng.choice(np.array([-128, 127, -127, 0], np.int8), x_shape)
        wshape = (1, *kernel, x_shape[3]) if depthwise else (cout, *kernel, x_shape[3])
        w = rng.choice(np.array([-128, 127], np.int8), wshape)
    else:
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        wshape = (1, *kernel, x_shape[3]) if depthwise else (cout, *kernel, x_shape[3])
        w = rng.integers(-128, 128, wshape, dtype=np.int8)
    ch = x_shape[3] if depthwise else cout
    bias = rng.integers(-20000, 20000, ch, dtype=np.int32)
    fan = kernel[0] * kernel[1] * (1 if depthwise else x_shape[3])
    scales = rng.uniform(0.5, 2.0, ch) * (0.02 if not extreme else 1.0) / np.sqrt(fan)
    mult, shift = conv_multipliers(0.05, scales, 0.05 * 8, ch)
    return x, w, bias, mult, shift


INT8_CASES = [
    # x_shape, cout, kernel, stride, padding, zp_in
    ((1, 5, 6, 3), 5, (3, 3), (1, 1), "SAME", 7),
    ((2, 7, 5, 10), 11, (3, 2), (2, 1), "VALID", -128),
    ((1, 9, 8, 1), 20, (4, 3), (2, 2), "SAME", 127),
    ((1, 13, 6, 2), 9, (10, 4), (2, 2), "SAME", -3),
    ((1, 6, 6, 17), 3, (1, 1), (1, 1), "VALID", 0),
    ((1, 8, 7, 4), 4, (2, 2), (2, 2), "SAME", 5),
]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(INT8_CASES)))
def test_conv2d_int8_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding, zp_in = INT8_CASES[case]
    rng = np.random.default_rng(case)
    x, w, bias, mult, shift = int8_case(rng, x_shape, cout, kernel, zp_in)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    kw = dict(input_zero_point=zp_in, output_zero_point=-4, multiplier=mult, shift=shift,
              stride=stride, padding=padding, lo=-100, hi=120)
    prog = conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                               param_addr=pa, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    assert same_bits(got, conv2d_int8(x, w, bias, **kw))


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_conv2d_int8_extremes_saturate_exactly(cfg):
    """-128 inputs and weights, zero point 127 (so x - zp reaches -255), outputs that
    saturate at both ends."""
    config = CONFIGS[cfg]
    rng = np.random.default_rng(5)
    x, w, bias, mult, shift = int8_case(rng, (1, 6, 5, 9), 10, (3, 3), 127, extreme=True)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    kw = dict(input_zero_point=127, output_zero_point=3, multiplier=mult, shift=shift,
              padding="SAME")
    prog = conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                               param_addr=pa, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    want = conv2d_int8(x, w, bias, **kw)
    assert (want == 127).any() and (want == -128).any()
    assert same_bits(got, want)


def fp16_values(rng, shape, specials=True):
    v = rng.standard_normal(shape).astype(np.float16)
    if specials:
        flat = v.reshape(-1)
        picks = rng.choice(flat.size, max(1, flat.size // 20), replace=False)
        flat[picks] = rng.choice(np.array([np.inf, -np.inf, np.nan, 6e-8, -6e-8, 0.0, -0.0,
                                           65504.0], np.float16), picks.size)
    return v


FP16_CASES = [
    ((1, 5, 6, 3), 5, (3, 3), (1, 1), "SAME"),
    ((2, 6, 5, 10), 11, (3, 2), (2, 1), "VALID"),
    ((1, 9, 8, 1), 9, (10, 4), (2, 2), "SAME"),
    ((1, 7, 7, 9), 4, (1, 1), (1, 1), "SAME"),
]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(FP16_CASES)))
def test_conv2d_fp16_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding = FP16_CASES[case]
    rng = np.random.default_rng(100 + case)
    x = fp16_values(rng, x_shape, specials=case != 2)
    w = (fp16_values(rng, (cout, *kernel, x_shape[3]), specials=False) / 4).astype(np.float16)
    bias = rng.standard_normal(cout).astype(np.float32) if case % 2 == 0 else None
    scale = rng.uniform(0.5, 2, cout).astype(np.float32) if case == 1 else None
    kw = dict(stride=stride, padding=padding, scale=scale, lo=None if case != 3 else 0.0,
              hi=None if case != 3 else 6.0)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = conv2d_fp16_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                               param_addr=pa, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    assert same_bits(got, conv2d_fp16(x, w, bias, **kw))


@pytest.mark.parametrize("mode", ["pair", "single", "diagonal"])
@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", [0, 1, 2])
def test_depthwise_int8_is_bit_exact(cfg, case, mode):
    """Diagonal COMPUTEs, the element-wise MAC per tap and per two taps (``pair``): -128 and
    127 zero points (padding), stride 2, VALID / SAME, extreme weights and multipliers."""
    mac, pair = mode != "diagonal", mode == "pair"
    config = CONFIGS[cfg]
    x_shape, kernel, stride, padding, zp = [((1, 7, 6, 13), (3, 3), (1, 1), "SAME", -128),
                                            ((2, 9, 5, 4), (3, 3), (2, 2), "VALID", 9),
                                            ((1, 6, 9, 9), (2, 5), (1, 2), "SAME", 127)][case]
    rng = np.random.default_rng(200 + case)
    x, w, bias, mult, shift = int8_case(rng, x_shape, None, kernel, zp, depthwise=True,
                                        extreme=case == 2)
    kw = dict(input_zero_point=zp, output_zero_point=1, multiplier=mult, shift=shift,
              stride=stride, padding=padding)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = depthwise_conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, mac=mac, pair=pair, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    assert same_bits(got, depthwise_conv2d_int8(x, w, bias, **kw))
    lanes = min(config.npu_rows, config.npu_cols)
    assert prog.lane_use <= (2 if pair else 1) / lanes + 1e-9
    assert prog.array_macs == prog.macs                         # PERF_MACS: every product
    opcodes = {d[0] & 0xF for d in prog.descriptors}
    assert (6 in opcodes, 2 in opcodes) == (mac, not mac)       # ELTWISE MAC or COMPUTE
    macs = [d for d in prog.descriptors if d[0] & 0xF == 6]
    paired = [d for d in macs if d[0] >> 9 & 1]
    taps = kernel[0] * kernel[1]
    assert len(paired) == (len(macs) * (taps // 2) // (taps - taps // 2) if pair else 0)


@pytest.mark.parametrize("mode", ["pair", "single", "diagonal"])
@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", [0, 1])
def test_depthwise_fp16_is_bit_exact(cfg, case, mode):
    """Diagonal COMPUTEs, the element-wise FP16 MAC per tap and per two taps (``pair``, the
    default): NaN / Inf / signed zeros / subnormals / 65504 in the input (case 1 also in the
    weights), sums that cancel, the bias's -0.0, stride 2, an odd tap count (2x5)."""
    mac, pair = mode != "diagonal", mode == "pair"
    config = CONFIGS[cfg]
    rng = np.random.default_rng(300 + case)
    x_shape, kernel = [((1, 7, 5, 11), (3, 3)), ((2, 6, 9, 9), (2, 5))][case]
    x = fp16_values(rng, x_shape)
    w = fp16_values(rng, (1, *kernel, x_shape[3]), specials=case == 1)
    bias = rng.standard_normal(x_shape[3]).astype(np.float32)
    bias[0] = -0.0
    model, (xa, oa, pa, _) = model_and_addresses(config)
    kw = [dict(stride=(2, 1), padding="SAME", lo=-1.0),
          dict(stride=(1, 2), padding="VALID",
               scale=rng.uniform(0.5, 2, x_shape[3]).astype(np.float32))][case]
    prog = depthwise_conv2d_fp16_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, mac=mac, pair=pair, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    assert same_bits(got, depthwise_conv2d_fp16(x, w, bias, **kw))
    opcodes = {d[0] & 0xF for d in prog.descriptors}
    assert (6 in opcodes, 2 in opcodes) == (mac, not mac)       # ELTWISE MAC or COMPUTE
    macs = [d for d in prog.descriptors if d[0] & 0xF == 6]
    assert all(d[0] >> 4 & 1 for d in macs)                     # FP16 precision
    assert any(d[0] >> 9 & 1 for d in macs) == pair
    assert prog.array_macs == prog.macs


@pytest.mark.parametrize("mode", ["pair", "single", "diagonal"])
def test_depthwise_fp16_sums_taps_in_order(mode):
    """The order is visible in the fp16 output: bias 1, taps (0, 0) and (0, 1) give +2**25 and
    -2**25, the rest 0: ``((1 + 2**25) - 2**25) + 0 ... = 0`` in the golden's order (1 +
    2**25 rounds to 2**25 in fp32), where adding the pair's two products first would give 1."""
    config = CONFIGS["sim"]
    x = np.full((1, 4, 5, 3), 4096, np.float16)
    w = np.zeros((1, 3, 3, 3), np.float16)
    w[0, 0, 0], w[0, 0, 1] = 8192, -8192
    bias = np.ones(3, np.float32)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = depthwise_conv2d_fp16_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, mac=mode != "diagonal",
                                         pair=mode == "pair")
    want = depthwise_conv2d_fp16(x, w, bias)
    assert (want[0, 1:, 1:-1] == 0).all()                  # both taps inside the image
    assert same_bits(run_on_model(model, prog, [(xa, x)]), want)


def test_depthwise_fp16_mac_is_the_default_only_with_the_unit():
    """The FP16 MAC is the default where the NPU has it; a config without it
    (``npu_eltwise_fp16=False``, the ULX3S's) keeps diagonal COMPUTEs and refuses ``mac``."""
    from dataclasses import replace

    rng = np.random.default_rng(320)
    x = fp16_values(rng, (1, 5, 5, 8), specials=False)
    w = fp16_values(rng, (1, 3, 3, 8), specials=False)
    for config, want in [(CONFIGS["sim"], True), (preset("ulx3s"), False),
                         (replace(CONFIGS["sim"], npu_eltwise_fp16=False), False)]:
        model, (xa, oa, pa, _) = model_and_addresses(config)
        prog = depthwise_conv2d_fp16_program(config, x.shape, w, x_addr=xa, out_addr=oa,
                                             param_addr=pa)
        assert any(d[0] & 0xF == 6 for d in prog.descriptors) == want
        assert same_bits(run_on_model(model, prog, [(xa, x)]), depthwise_conv2d_fp16(x, w))
        if not want:
            with pytest.raises(ValueError, match="npu_eltwise_fp16_mac"):
                depthwise_conv2d_fp16_program(config, x.shape, w, x_addr=xa, out_addr=oa,
                                              param_addr=pa, mac=True)


@pytest.mark.parametrize("shape", [(1, 25, 5, 64), (1, 6, 6, 128)])
def test_depthwise_fp16_tiles_per_unit_weights_not_resident(shape):
    """FP16 depthwise on diagonal COMPUTEs (``mac=False``) keeps a tile per unit (one chunk,
    double-buffered by unit) and its weights in ``double`` / ``single`` buffers, not
    ``resident`` (whose other chunks' LOADs would all follow the first unit): DS-CNN's and
    MobileNet's 6x6x128 layers, bit-exact."""
    config = CONFIGS["sim"]
    rng = np.random.default_rng(310)
    x = fp16_values(rng, shape, specials=False)
    w = fp16_values(rng, (1, 3, 3, shape[3]), specials=False)
    bias = rng.standard_normal(shape[3]).astype(np.float32)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = depthwise_conv2d_fp16_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, mac=False)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), depthwise_conv2d_fp16(x, w, bias))
    plan, g = prog.plan, geometry(x.shape, (3, 3), (1, 1), "SAME")
    assert plan.gn < -(-shape[3] // config.npu_cols)
    assert plan.wmode in ("double", "single") and plan.tbufs == 2
    assert plan.tile_rows == (plan.bh + 2) * g.wp * plan.gn          # the group's chunks only


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_fully_connected_int8_single_rounding(cfg):
    config = CONFIGS[cfg]
    rng = np.random.default_rng(400)
    x = rng.integers(-128, 128, (5, 37), dtype=np.int8)
    w = rng.integers(-128, 128, (13, 37), dtype=np.int8)
    bias = rng.integers(-3000, 3000, 13, dtype=np.int32)
    mult, shift = conv_multipliers(0.1, rng.uniform(0.001, 0.01, 13), 0.2, 13)
    kw = dict(input_zero_point=-7, output_zero_point=2, multiplier=mult, shift=shift)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = fully_connected_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                        param_addr=pa, **kw)
    got = run_on_model(model, prog, [(xa, x)]).reshape(5, 13)
    assert same_bits(got, fully_connected_int8_fixed(x, w, bias, **kw))


def test_unsupported_parameters_are_named():
    config = CONFIGS["sim"]
    w = np.zeros((2, 3, 3, 4), np.int8)
    kw = dict(input_zero_point=0, output_zero_point=0, multiplier=1 << 30, shift=0, x_addr=0,
              out_addr=0, param_addr=0)
    with pytest.raises(ValueError, match="dilation"):
        conv2d_int8_program(config, (1, 5, 5, 4), w, None, dilation=2, **kw)
    with pytest.raises(ValueError, match="shift"):
        conv2d_int8_program(config, (1, 5, 5, 4), w, None, **{**kw, "shift": 31})
    with pytest.raises(ValueError, match="input_zero_point"):
        conv2d_int8_program(config, (1, 5, 5, 4), w, None, **{**kw, "input_zero_point": 128})
    with pytest.raises(ValueError, match="depth_multiplier"):
        depthwise_conv2d_int8_program(config, (1, 5, 5, 4), np.zeros((1, 3, 3, 4), np.int8),
                                      None, depth_multiplier=2, **kw)
    with pytest.raises(ValueError, match="channels"):
        conv2d_int8_program(config, (1, 5, 5, 3), w, None, **kw)
    with pytest.raises(ValueError, match="mac: .*element-wise unit"):
        depthwise_conv2d_int8_program(preset("icebreaker-npu"), (1, 5, 5, 4),
                                      np.zeros((1, 3, 3, 4), np.int8), None, mac=True, **kw)
    with pytest.raises(ValueError, match="precision"):
        conv2d_fp16_program(preset("sim").__class__(name="x", npu_fp16=False), (1, 5, 5, 4),
                            w.astype(np.float16), x_addr=0, out_addr=0, param_addr=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_random_convolutions(seed):
    rng = np.random.default_rng(1000 + seed)
    config = CONFIGS["sim" if seed % 2 else "npu-small"]
    kh, kw_ = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(kh, 14)), int(rng.integers(kw_, 12)),
               int(rng.integers(1, 20)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = "SAME" if rng.integers(2) else "VALID"
    cout = int(rng.integers(1, 20))
    zp = int(rng.integers(-128, 128))
    x, w, bias, mult, shift = int8_case(rng, x_shape, cout, (kh, kw_), zp)
    kw = dict(input_zero_point=zp, output_zero_point=int(rng.integers(-128, 128)),
              multiplier=mult, shift=shift, stride=stride, padding=padding)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                               param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), conv2d_int8(x, w, bias, **kw))
    xf = fp16_values(rng, x_shape)
    wf = fp16_values(rng, (cout, kh, kw_, x_shape[3]), specials=False)
    model, _ = model_and_addresses(config)
    prog = conv2d_fp16_program(config, xf.shape, wf, None, stride=stride, padding=padding,
                               x_addr=xa, out_addr=oa, param_addr=pa)
    assert same_bits(run_on_model(model, prog, [(xa, xf)]),
                     conv2d_fp16(xf, wf, None, stride=stride, padding=padding))


@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("shape, mode", [((32, 32, 16, 16), "resident"),
                                         ((16, 16, 32, 32), "double"),
                                         ((8, 8, 64, 64), "single"),
                                         ((8, 8, 64, 64), "taps")])
def test_resnet8_layers_in_each_weight_mode(shape, mode, precision):
    """The ResNet-8 3x3 layers of the benchmark on the 8x8 NPU: weights resident, in two
    group buffers (the planner's pick for stages 2 and 3 since accumulate chains are ordered
    per ACC row: stage 3 measured 40,451 cycles vs 42,493 with the tap buffers on the 8x8 SoC),
    in one buffer refilled tap by tap behind the COMPUTEs, or streamed tap by tap through two
    tap buffers."""
    config = CONFIGS["sim"]
    h, w_, ci, co = shape
    rng = np.random.default_rng(h)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    if precision == "int8":
        x, w, bias, mult, shift = int8_case(rng, (1, h, w_, ci), co, (3, 3), 11)
        kw = dict(input_zero_point=11, output_zero_point=-2, multiplier=mult, shift=shift)
        prog = conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                   param_addr=pa, wmodes=(mode,), **kw)
        want = conv2d_int8(x, w, bias, **kw)
    else:
        x = fp16_values(rng, (1, h, w_, ci))
        w = (fp16_values(rng, (co, 3, 3, ci), specials=False) / 8).astype(np.float16)
        bias = rng.standard_normal(co).astype(np.float32)
        prog = conv2d_fp16_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                   param_addr=pa, wmodes=(mode,))
        want = conv2d_fp16(x, w, bias)
    assert prog.plan.wmode == mode
    assert same_bits(run_on_model(model, prog, [(xa, x)]), want)
    if mode in ("resident", "double"):   # what the planner picks by itself
        assert plan_walk_mode(config, shape) == mode


def plan_walk_mode(config, shape):
    h, w_, ci, co = shape
    prog = conv2d_int8_program(config, (1, h, w_, ci), np.zeros((co, 3, 3, ci), np.int8), None,
                               input_zero_point=0, output_zero_point=0, multiplier=1 << 30,
                               shift=0, x_addr=0, out_addr=0, param_addr=0)
    return prog.plan.wmode


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_tiles_are_per_unit_and_read_once(stride):
    """A depthwise layer's tile buffer holds only its unit's channel chunks (double-buffered by
    unit), so a MobileNet-sized stride-2 layer (48x48x16, 2 chunks) gets blocks of 8 output
    rows (the whole-block tile fit only 4): every input byte LOADed at most 17/16 times (the
    halo row), bit-exact; each chunk's weight rows of the MAC come in one LOAD."""
    config = CONFIGS["sim"]
    rng = np.random.default_rng(300 + stride)
    x, w, bias, mult, shift = int8_case(rng, (1, 48, 48, 16), None, (3, 3), -5,
                                        depthwise=True)
    kw = dict(input_zero_point=-5, output_zero_point=1, multiplier=mult, shift=shift,
              stride=stride, padding="SAME")
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = depthwise_conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), depthwise_conv2d_int8(x, w, bias,
                                                                                  **kw))
    plan, g = prog.plan, geometry(x.shape, (3, 3), (stride, stride), "SAME")
    assert plan.gn == 1 and plan.tbufs == 2
    assert plan.tile_rows == ((plan.bh - 1) * stride + 3) * g.wp      # one chunk, not two
    if stride == 2:
        assert plan.bh == 8
    loads = [decode(d)[1] for d in prog.descriptors if d[0] & 0xF == 1]
    tile = [f for f in loads if not f["fill"] and f["local_addr"] >= plan.w_rows
            and f["target"] == LoadTarget.SPAD.value]
    th = (plan.bh - 1) * stride + 3
    assert sum(f["rows"] * f["cols"] for f in tile) <= x.size * th // (plan.bh * stride)
    weights = [f for f in loads if not f["fill"] and f["target"] == LoadTarget.SPAD.value
               and f["local_addr"] < plan.w_rows]
    assert [f["rows"] for f in weights] == [9, 9]


def test_small_depthwise_map_fills_top_and_bottom_at_once():
    """MobileNet's 6x6x128 stride-1 SAME depthwise (one block, a tile per 8-channel unit):
    each unit's top and bottom padding rows are one FILL placed twice, bit-exact."""
    config = CONFIGS["sim"]
    rng = np.random.default_rng(310)
    x, w, bias, mult, shift = int8_case(rng, (1, 6, 6, 128), None, (3, 3), 4, depthwise=True)
    kw = dict(input_zero_point=4, output_zero_point=-2, multiplier=mult, shift=shift)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = depthwise_conv2d_int8_program(config, x.shape, w, bias, x_addr=xa, out_addr=oa,
                                         param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), depthwise_conv2d_int8(x, w, bias,
                                                                                  **kw))
    fills = [decode(d)[1] for d in prog.descriptors if d[0] & 0xF == 1 and decode(d)[1]["fill"]]
    g, th = geometry(x.shape, (3, 3), (1, 1), "SAME"), 8
    pairs = [f for f in fills if f["local_groups"] == 2 and f["local_cols"] == g.wp]
    assert len(pairs) == 128 // 8 and all(f["local_row_step"] == (th - 1) * g.wp for f in pairs)
    assert len(fills) == len(pairs) + 2 * prog.plan.tbufs      # + left / right columns


@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("mode", ["single", "double"])
def test_pointwise_refills_in_pieces(precision, mode):
    """A 1x1 layer on a small map with many channels (as MobileNetV1-0.25's pw13 on the 3x3
    map, 256 -> 256, here with 200 input channels: a short last piece) in the ``single`` and
    ``double`` weight modes: the next group's matrices come in LOADs of at most PIECE_ROWS
    rows, piece by piece across the group's chunks (the first group's own: whole in FP16,
    one per input chunk in INT8); bit-exact."""
    config = CONFIGS["sim"]
    x_shape, co = (1, 3, 3, 200), 256
    rng = np.random.default_rng(5)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    if precision == "int8":
        x, w, bias, mult, shift = int8_case(rng, x_shape, co, (1, 1), -4)
        kw = dict(input_zero_point=-4, output_zero_point=3, multiplier=mult, shift=shift)
        prog = conv2d_int8_program(config, x_shape, w, bias, x_addr=xa, out_addr=oa,
                                   param_addr=pa, wmodes=(mode,), **kw)
        want = conv2d_int8(x, w, bias, **kw)
    else:
        x = fp16_values(rng, x_shape)
        w = (fp16_values(rng, (co, 1, 1, x_shape[3]), specials=False) / 8).astype(np.float16)
        bias = rng.standard_normal(co).astype(np.float32)
        prog = conv2d_fp16_program(config, x_shape, w, bias, x_addr=xa, out_addr=oa,
                                   param_addr=pa, wmodes=(mode,))
        want = conv2d_fp16(x, w, bias)
    plan = prog.plan
    assert plan.wmode == mode and plan.gn < co // config.npu_cols
    words = [decode(d) for d in prog.descriptors]
    w_loads = [f for op, f in words if op == Opcode.LOAD and f["target"] == LoadTarget.SPAD.value
               and not f["fill"] and f["local_addr"] < plan.w_rows]
    # the first group's own (jit) LOADs read the first gn matrices: whole in FP16, one LOAD
    # per input chunk in INT8 (its first unit takes the input chunks outermost)
    eb = 1 if precision == "int8" else 2
    w0 = min(f["dram_addr"] for f in w_loads)
    own = [f for f in w_loads if f["dram_addr"] < w0 + plan.gn * x_shape[3] * 8 * eb]
    if precision == "int8":
        assert [f["rows"] for f in own] == [8] * (plan.gn * x_shape[3] // 8)
    else:
        assert [f["rows"] for f in own] == [x_shape[3]] * plan.gn
    refills = [f for f in w_loads if f["dram_addr"] >= w0 + plan.gn * x_shape[3] * 8 * eb]
    assert refills and max(f["rows"] for f in refills) == PIECE_ROWS
    # piece by piece across the group: (first row in the slot, slot) ascending per group
    per_group = plan.gn * -(-x_shape[3] // PIECE_ROWS)
    assert len(refills) % per_group == 0
    for g in range(0, len(refills), per_group):
        keys = [(f["local_addr"] % plan.slot, f["local_addr"] // plan.slot)
                for f in refills[g:g + per_group]]
        assert keys == sorted(keys), keys
    assert sorted({f["rows"] for f in refills}) == [x_shape[3] % PIECE_ROWS, PIECE_ROWS]
    assert same_bits(run_on_model(model, prog, [(xa, x)]), want)
