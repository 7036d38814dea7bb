"""CONV_2D and depthwise convolution with the float-scale (ONNX / onnxruntime) requantization,
lowered by :mod:`dure.sim.conv_plan` onto the walk engine (and the tap packing): the
descriptor lists run on the golden command model and equal an independent numpy reference
(int64 sums over explicitly padded taps, then :func:`dure.sim.golden.requantize`) bit for bit,
on the 8x8 `sim` and the 4x4 `npu-small` NPU; SAME, VALID and explicit (ONNX) pads."""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.conv_plan import (
    conv2d_int8_float_scale_program,
    depthwise_conv2d_int8_float_scale_program,
)
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.golden_padding import conv_padding
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}


def _pads(x_shape, kernel, stride, padding):
    if not isinstance(padding, str):
        return padding
    _, pt, pb = conv_padding(x_shape[1], kernel[0], stride[0], padding)
    _, pl, pr = conv_padding(x_shape[2], kernel[1], stride[1], padding)
    return pt, pl, pb, pr


def reference(x, w, bias, zp_in, scale, zp_out, lo, hi, stride, pads, depthwise):
    """acc = bias + sum w * (x - zp_in) (int32 wrapping), then golden.requantize."""
    pt, pl, pb, pr = pads
    n, h, wd, c = x.shape
    kh, kw = (w.shape[1], w.shape[2])
    xp = np.full((n, h + pt + max(pb, 0), wd + pl + max(pr, 0), c), zp_in, np.int64)
    xp[:, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - kh) // stride[0] + 1
    ow = (wd + pl + pr - kw) // stride[1] + 1
    cout = w.shape[3] if depthwise else w.shape[0]
    acc = np.zeros((n, oh, ow, cout), np.int64) + bias.astype(np.int64)
    for ky in range(kh):
        for kx in range(kw):
            tap = xp[:, ky:ky + (oh - 1) * stride[0] + 1:stride[0],
                     kx:kx + (ow - 1) * stride[1] + 1:stride[1]] - zp_in
            if depthwise:
                acc += tap * w[0, ky, kx].astype(np.int64)
            else:
                acc += tap @ w[:, ky, kx, :].astype(np.int64).T
    acc = wrap_int32(acc).astype(np.int32)
    return golden.requantize(acc.reshape(-1, cout), scale, zp_out, lo, hi).reshape(acc.shape)


CASES = [
    # x_shape, cout, kernel, stride, padding, zp_in, per-channel scale
    ((1, 5, 6, 3), 5, (3, 3), (1, 1), "SAME", 7, True),
    ((2, 7, 5, 10), 11, (3, 2), (2, 1), "VALID", -128, False),
    ((1, 8, 8, 4), 9, (3, 3), (2, 2), (1, 1, 1, 1), 127, True),        # PyTorch-style pads
    ((1, 13, 6, 1), 9, (10, 4), (2, 2), (4, 1, 5, 2), -3, True),        # packed taps
    ((1, 6, 6, 17), 3, (1, 1), (1, 1), "VALID", 0, True),
    ((1, 7, 5, 2), 4, (2, 3), (1, 2), (0, 2, 1, 0), 5, False),
    ((1, 4, 5, 6), 7, (2, 2), (2, 3), (0, 4, 3, 0), 9, True),         # pads beyond the kernel
]


def _case(rng, x_shape, cout, kernel, per_channel, depthwise):
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    ch = x_shape[3] if depthwise else cout
    wshape = (1, *kernel, ch) if depthwise else (cout, *kernel, x_shape[3])
    w = rng.integers(-128, 128, wshape, dtype=np.int8)
    bias = rng.integers(-20000, 20000, ch, dtype=np.int32)
    fan = kernel[0] * kernel[1] * (1 if depthwise else x_shape[3])
    scale = (rng.uniform(0.2, 2.0, ch if per_channel else 1) * 0.02 / np.sqrt(fan)
             ).astype(np.float32)
    return x, w, bias, scale if per_channel else scale[0]


def _model_and_args(config, zp_in, scale, stride, padding):
    """The command model with main memory as its window, the input's address and the
    planner's keyword arguments (output zero point -4, clamp [-100, 120])."""
    main = config.region("main")
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    xa, oa, pa = main.base, main.base + main.size // 4, main.base + main.size // 2
    kw = dict(input_zero_point=zp_in, output_zero_point=-4, scale=scale, stride=stride,
              padding=padding, lo=-100, hi=120, x_addr=xa, out_addr=oa, param_addr=pa)
    return model, xa, kw


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_float_scale_conv_is_bit_exact(cfg, case, depthwise):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding, zp_in, pc = CASES[case]
    rng = np.random.default_rng(case + 10 * depthwise)
    x, w, bias, scale = _case(rng, x_shape, cout, kernel, pc, depthwise)
    model, xa, kw = _model_and_args(config, zp_in, scale, stride, padding)
    fn = depthwise_conv2d_int8_float_scale_program if depthwise else \
        conv2d_int8_float_scale_program
    prog = fn(config, x.shape, w, bias, **kw)
    got = run_on_model(model, prog, [(xa, x)])
    want = reference(x, w, bias, zp_in, scale, -4, -100, 120, stride,
                     _pads(x_shape, kernel, stride, padding), depthwise)
    assert got.dtype == np.int8 and np.array_equal(got, want)
    # the requantization matters: saturation and values inside the range both occur
    assert (want == 120).any() or (want == -100).any()
    assert ((want > -100) & (want < 120)).any()


@pytest.mark.parametrize("mode", ["pair", "single", "diagonal"])
def test_float_scale_depthwise_modes(mode):
    """The ONNX depthwise on pair MACs (the default with the element-wise unit), single-tap
    MACs and diagonal COMPUTEs: the same bytes."""
    config = CONFIGS["sim"]
    x_shape, cout, kernel, stride, padding, zp_in, pc = (1, 7, 6, 11), 11, (3, 3), (2, 1), \
        "SAME", -128, True
    rng = np.random.default_rng(77)
    x, w, bias, scale = _case(rng, x_shape, cout, kernel, pc, True)
    model, xa, kw = _model_and_args(config, zp_in, scale, stride, padding)
    prog = depthwise_conv2d_int8_float_scale_program(
        config, x.shape, w, bias, mac=mode != "diagonal", pair=mode == "pair", **kw)
    kinds = {(d[0] & 0xF, d[0] >> 9 & 1 if d[0] & 0xF == 6 else 0) for d in prog.descriptors}
    assert ((6, 1) in kinds, (6, 0) in kinds or (6, 1) in kinds, (2, 0) in kinds) == \
        (mode == "pair", mode != "diagonal", mode == "diagonal")
    got = run_on_model(model, prog, [(xa, x)])
    want = reference(x, w, bias, zp_in, scale, -4, -100, 120, stride,
                     _pads(x_shape, kernel, stride, padding), True)
    assert np.array_equal(got, want)
    assert prog.array_macs == prog.macs


def test_packed_taps_are_used_for_one_input_channel():
    config = CONFIGS["sim"]
    rng = np.random.default_rng(3)
    x, w, bias, scale = _case(rng, (1, 13, 6, 1), 9, (10, 4), True, False)
    prog = conv2d_int8_float_scale_program(
        config, x.shape, w, bias, input_zero_point=0, output_zero_point=0, scale=scale,
        padding="SAME", x_addr=0x4000_0000, out_addr=0x4010_0000, param_addr=0x4020_0000)
    assert any("packed" in n for n in prog.notes)


@pytest.mark.parametrize("bad, match", [
    (dict(scale=np.float32(np.inf)), "finite"),
    (dict(padding=(1, -1, 0, 0)), "non-negative"),
    (dict(output_zero_point=200), "output_zero_point"),
])
def test_bad_arguments_are_named(bad, match):
    config = CONFIGS["sim"]
    w = np.ones((2, 3, 3, 2), np.int8)
    kw = dict(input_zero_point=0, output_zero_point=0, scale=np.float32(0.1), padding="SAME",
              x_addr=0x4000_0000, out_addr=0x4010_0000, param_addr=0x4020_0000)
    with pytest.raises(ValueError, match=match):
        conv2d_int8_float_scale_program(config, (1, 5, 5, 2), w, None, **{**kw, **bad})


def test_needs_float_post_processing():
    config = preset("icebreaker-npu")             # INT8 only, no fp32 post-processing
    assert not config.npu_float_post
    with pytest.raises(ValueError, match="FLOAT_SCALE"):
        depthwise_conv2d_int8_float_scale_program(
            config, (1, 5, 5, 2), np.ones((1, 3, 3, 2), np.int8), None, input_zero_point=0,
            output_zero_point=0, scale=np.float32(0.1), x_addr=0x4000_0000,
            out_addr=0x4010_0000, param_addr=0x4020_0000)
