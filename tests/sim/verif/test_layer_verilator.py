"""Lowered layers on the Verilator model of the whole 8x8 NPU (dure.sim.verif.layer_verilator):
the RTL (walk, diagonal, fill, placement, hazards) computes what the command model and the
golden operators say, bit for bit, and the ResNet-8 stage-3 convolution keeps the array busy.
Needs the 8x8 NPU model (minutes to build), hence slow."""

import numpy as np
import pytest
from dure.sim.conv_plan import (
    conv2d_fp16_program,
    conv2d_int8_program,
    depthwise_conv2d_fp16_program,
    depthwise_conv2d_int8_program,
)
from dure.sim.eltwise_plan import add_fp16_program
from dure.sim.golden_tflite import conv2d_int8, depthwise_conv2d_int8
from dure.sim.golden_tflite_fp16 import (
    add_fp16,
    average_pool_fp16,
    conv2d_fp16,
    depthwise_conv2d_fp16,
)
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.pool_plan import average_pool_fp16_program
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.layer_verilator import run_layer

from dure.config import MAIN_BASE, preset

CFG = preset("sim")
SIZE = 1 << 20
ADDRS = dict(x_addr=MAIN_BASE, out_addr=MAIN_BASE + (1 << 18), param_addr=MAIN_BASE + (1 << 19))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return nv.build(CFG)


def check(model, program, inputs, want):
    got, perf, error = run_layer(model, program, inputs, base=MAIN_BASE, size=SIZE)
    assert error == 0
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    print(f"\n{program.macs} MACs in {perf['BUSY']} cycles: "
          f"{program.macs / perf['BUSY'] / CFG.npu_peak_macs_per_cycle:.1%} of peak")
    return perf


def test_resnet8_stage3_int8(model):
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 8, 8, 64), dtype=np.int8)
    w = rng.integers(-128, 128, (64, 3, 3, 64), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 64, dtype=np.int32)
    mult, shift = conv_multipliers(0.05, np.full(64, 0.001), 0.1, 64)
    kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift)
    prog = conv2d_int8_program(CFG, x.shape, w, bias, **ADDRS, **kw)
    perf = check(model, prog, [(MAIN_BASE, x)], conv2d_int8(x, w, bias, **kw))
    assert prog.macs / perf["BUSY"] >= 0.75 * CFG.npu_peak_macs_per_cycle


def test_strided_same_conv_fp16_and_depthwise_int8(model):
    """Fill (SAME borders), 2-D placement, stride 2, Cin not a multiple of R, FP16 order; then
    a depthwise layer (diagonal COMPUTEs) with an input zero point."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 11, 9, 11)).astype(np.float16)
    w = (rng.standard_normal((13, 4, 3, 11)) / 8).astype(np.float16)
    bias = rng.standard_normal(13).astype(np.float32)
    prog = conv2d_fp16_program(CFG, x.shape, w, bias, stride=2, **ADDRS)
    check(model, prog, [(MAIN_BASE, x)], conv2d_fp16(x, w, bias, stride=2))
    x8 = rng.integers(-128, 128, (1, 9, 7, 20), dtype=np.int8)
    w8 = rng.integers(-128, 128, (1, 3, 3, 20), dtype=np.int8)
    mult, shift = conv_multipliers(0.05, np.full(20, 0.01), 0.1, 20)
    kw = dict(input_zero_point=5, output_zero_point=-1, multiplier=mult, shift=shift)
    prog = depthwise_conv2d_int8_program(CFG, x8.shape, w8, None, **ADDRS, **kw)
    check(model, prog, [(MAIN_BASE, x8)], depthwise_conv2d_int8(x8, w8, None, **kw))


def test_pool_and_add_fp16(model):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 7, 6, 10)).astype(np.float16)
    prog = average_pool_fp16_program(CFG, x.shape, 3, padding="SAME", **ADDRS)
    check(model, prog, [(MAIN_BASE, x)], average_pool_fp16(x, 3, padding="SAME"))
    a = rng.standard_normal((3, 5, 7)).astype(np.float16)
    b = rng.standard_normal((3, 5, 7)).astype(np.float16)
    a.reshape(-1)[:3] = [-0.0, np.inf, np.nan]
    b.reshape(-1)[:3] = [-0.0, -np.inf, 1.0]
    b_addr = MAIN_BASE + (3 << 18)
    prog = add_fp16_program(CFG, a.shape, a_addr=MAIN_BASE, b_addr=b_addr,
                            out_addr=ADDRS["out_addr"], param_addr=ADDRS["param_addr"])
    check(model, prog, [(MAIN_BASE, a), (b_addr, b)], add_fp16(a, b))


def test_eltwise_layers(model):
    """The element-wise unit on the shipped 8x8 NPU: ResNet-8's stage-1 residual ADD (INT8,
    TFLite) and max pools 3x3 stride 2 SAME (INT8 with -128 inputs, FP16 with NaN / Inf /
    signed zeros), bit-exact; cycles printed."""
    from dure.sim.eltwise_plan import add_int8_program
    from dure.sim.golden_tflite import add_int8, max_pool_int8
    from dure.sim.golden_tflite_fp16 import max_pool_fp16
    from dure.sim.golden_tflite_params import add_params
    from dure.sim.pool_plan import max_pool_fp16_program, max_pool_int8_program

    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (1, 32, 32, 16), dtype=np.int8)
    b = rng.integers(-128, 128, (1, 32, 32, 16), dtype=np.int8)
    a.reshape(-1)[:4] = -128
    params = add_params(0.05, 0.07, 0.09)
    kw = dict(input1_zero_point=-3, input2_zero_point=127, output_zero_point=-1)
    b_addr = MAIN_BASE + (3 << 18)
    prog = add_int8_program(CFG, a.shape, params, a_addr=MAIN_BASE, b_addr=b_addr,
                            out_addr=ADDRS["out_addr"], param_addr=ADDRS["param_addr"], **kw)
    check(model, prog, [(MAIN_BASE, a), (b_addr, b)], add_int8(a, b, params, **kw))
    x = rng.integers(-128, 128, (1, 16, 16, 32), dtype=np.int8)
    x[0, :3, :3] = -128
    pool = dict(stride=2, padding="SAME", lo=-100, hi=127)
    prog = max_pool_int8_program(CFG, x.shape, 3, **ADDRS, **pool)
    check(model, prog, [(MAIN_BASE, x)], max_pool_int8(x, 3, **pool))
    xf = rng.standard_normal((1, 9, 11, 13)).astype(np.float16)
    xf.reshape(-1)[rng.choice(xf.size, 60, replace=False)] = rng.choice(
        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6e-8, -6e-8], np.float16), 60)
    prog = max_pool_fp16_program(CFG, xf.shape, 3, stride=2, padding="SAME", **ADDRS)
    check(model, prog, [(MAIN_BASE, xf)], max_pool_fp16(xf, 3, stride=2, padding="SAME"))


def test_dscnn_first_conv_packed_int8(model):
    """DS-CNN's 10x4 stride-2 convolution with one input channel: taps packed into the K lanes
    (dure.sim.conv_pack: identity gather, STORE / FENCE / LOAD round trip) on the RTL, bit for
    bit, at several times the 1/8-lane utilization of the plain walk."""
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    x.reshape(-1)[:4] = -128
    w = rng.integers(-128, 128, (64, 10, 4, 1), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 64, dtype=np.int32)
    mult, shift = conv_multipliers(0.05, np.full(64, 0.01), 0.1, 64)
    kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift, stride=2,
              lo=0)
    prog = conv2d_int8_program(CFG, x.shape, w, bias, **ADDRS, **kw)
    assert any("taps packed" in n for n in prog.notes)
    perf = check(model, prog, [(MAIN_BASE, x)], conv2d_int8(x, w, bias, **kw))
    assert prog.macs / perf["BUSY"] >= 0.4 * CFG.npu_peak_macs_per_cycle


def test_mobilenet_stride2_depthwise_int8(model):
    """MobileNetV1-0.25's dw2 (48x48x16, 3x3 stride 2 SAME, pair MACs) on the RTL, bit for bit:
    the DMA is the bound (38.9 kB read, 9.2 kB written at 4 B/cycle: ~12,000 cycles); per-unit
    tiles and one weight LOAD per chunk took it from 17,230 to 15,169 cycles (NPU alone)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 48, 48, 16), dtype=np.int8)
    w = rng.integers(-128, 128, (1, 3, 3, 16), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 16, dtype=np.int32)
    mult, shift = conv_multipliers(0.05, np.full(16, 0.01), 0.1, 16)
    kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift, stride=2)
    prog = depthwise_conv2d_int8_program(CFG, x.shape, w, bias, **ADDRS, **kw)
    perf = check(model, prog, [(MAIN_BASE, x)], depthwise_conv2d_int8(x, w, bias, **kw))
    assert perf["BUSY"] <= 15_500


@pytest.mark.parametrize("shape, stride", [((1, 25, 5, 64), 1), ((1, 48, 48, 16), 2)])
def test_depthwise_fp16_on_the_mac(model, shape, stride):
    """FP16 depthwise on the element-wise unit's FP16 pair MACs (DS-CNN's 25x5x64 layer,
    MobileNetV1-0.25's 48x48x16 stride-2 one) on the RTL, bit for bit with the golden, NaN /
    Inf / signed zeros / subnormals in the input and a -0.0 bias included, and in fewer busy
    cycles than on diagonal COMPUTEs (``mac=False``)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(np.float16)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, flat.size // 50, replace=False)
    flat[picks] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 6e-8, -6e-8,
                                       65504], np.float16), picks.size)
    w = rng.standard_normal((1, 3, 3, shape[3])).astype(np.float16)
    bias = rng.standard_normal(shape[3]).astype(np.float32)
    bias[0] = -0.0
    want = depthwise_conv2d_fp16(x, w, bias, stride=stride)
    busy = {}
    for mac in (True, False):
        prog = depthwise_conv2d_fp16_program(CFG, x.shape, w, bias, stride=stride, mac=mac,
                                             **ADDRS)
        assert any("ELTWISE MAC" in n for n in prog.notes) == mac
        busy[mac] = check(model, prog, [(MAIN_BASE, x)], want)["BUSY"]
    print(f"FP16 depthwise {shape} stride {stride}: diagonal {busy[False]}, "
          f"FP16 MAC {busy[True]} busy cycles")
    assert busy[True] < busy[False]


@pytest.mark.parametrize("mode", ["single", "double"])
def test_pointwise_small_map_refills_in_pieces(model, mode):
    """A 1x1 layer on a 3x3 map with many channels (MobileNetV1-0.25's pw13 shape, 200 input
    channels for a short last piece): the next group's weights in PIECE_ROWS-row LOADs, in the
    ``single`` mode each right behind the COMPUTEs that free its rows (WAR on SPAD)."""
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 3, 3, 200), dtype=np.int8)
    w = rng.integers(-128, 128, (256, 1, 1, 200), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 256, dtype=np.int32)
    mult, shift = conv_multipliers(0.05, np.full(256, 0.001), 0.1, 256)
    kw = dict(input_zero_point=4, output_zero_point=-2, multiplier=mult, shift=shift)
    prog = conv2d_int8_program(CFG, x.shape, w, bias, wmodes=(mode,), **ADDRS, **kw)
    assert prog.plan.wmode == mode
    check(model, prog, [(MAIN_BASE, x)], conv2d_int8(x, w, bias, **kw))


def test_first_convs_packed_fp16(model):
    """The FP16 packed plan on the RTL (diagonal gather onto -0.0, per-tap FP16 STOREs, FENCE,
    LOAD, FP16 COMPUTEs of 8 taps): DS-CNN's 10x4 / 2 Cin = 1 layer with NaN, +/-Inf, -0.0 and
    subnormal inputs and -0.0 biases (channels whose products are all -0.0 keep the sign), and
    a 3x3 / 2 Cin = 2 layer with infinities next to finite lanes; bit for bit, and faster than
    the walk of the same layer."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 49, 10, 1)).astype(np.float16)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 6e-8, -6e-8], np.float16)
    x.reshape(-1)[rng.choice(x.size, 40, replace=False)] = rng.choice(special, 40)
    x[0, 20:30, :, 0] = -0.0                              # a block of -0.0 taps
    w = (rng.standard_normal((64, 10, 4, 1)) / 4).astype(np.float16)
    w[:8] = np.abs(w[:8])
    bias = rng.standard_normal(64).astype(np.float32)
    bias[:8] = -0.0
    prog = conv2d_fp16_program(CFG, x.shape, w, bias, stride=2, lo=0.0, **ADDRS)
    assert any("taps packed" in n for n in prog.notes)
    want = conv2d_fp16(x, w, bias, stride=2, lo=0.0)
    packed = check(model, prog, [(MAIN_BASE, x)], want)
    walk = conv2d_fp16_program(CFG, x.shape, w, bias, stride=2, lo=0.0, **ADDRS,
                               wmodes=("resident", "double", "single", "taps"))
    plain = check(model, walk, [(MAIN_BASE, x)], want)
    print(f"DS-CNN conv0 FP16 on the RTL NPU: walk {plain['BUSY']} -> packed "
          f"{packed['BUSY']} cycles")
    assert packed["BUSY"] * 2 < plain["BUSY"]
    x2 = rng.standard_normal((1, 12, 11, 2)).astype(np.float16)
    x2.reshape(-1)[rng.choice(x2.size, 30, replace=False)] = rng.choice(special, 30)
    w2 = rng.standard_normal((20, 3, 3, 2)).astype(np.float16)
    prog = conv2d_fp16_program(CFG, x2.shape, w2, None, stride=2, **ADDRS)
    assert any("taps packed" in n for n in prog.notes)
    check(model, prog, [(MAIN_BASE, x2)], conv2d_fp16(x2, w2, None, stride=2))


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_packed_batch_groups(model, precision):
    """A batch through the grouped packed plan on the RTL (dure.sim.conv_pack: images on two
    alternating tile regions, one gather, round trip and FENCE per group, per-image ACC
    windows, bias rows held in ACC, deferred STOREs; the hazard scoreboard orders the rest):
    13 images of 9x7x2 with 3x2 kernels and 20 output channels (three chunks; groups 8 + 5 on
    the 8x8 NPU), bit for bit; FP16 without bias."""
    rng = np.random.default_rng(12)
    shape, cout = (13, 9, 7, 2), 20
    if precision == "int8":
        x = rng.integers(-128, 128, shape, dtype=np.int8)
        w = rng.integers(-128, 128, (cout, 3, 2, 2), dtype=np.int8)
        bias = rng.integers(-1000, 1000, cout, dtype=np.int32)
        mult, shift = conv_multipliers(0.05, np.full(cout, 0.01), 0.1, cout)
        kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift,
                  stride=(2, 1))
        prog = conv2d_int8_program(CFG, x.shape, w, bias, **ADDRS, **kw)
        want = conv2d_int8(x, w, bias, **kw)
    else:
        x = rng.standard_normal(shape).astype(np.float16)
        x.reshape(-1)[:4] = [-0.0, np.inf, 6e-8, np.nan]
        w = rng.standard_normal((cout, 3, 2, 2)).astype(np.float16)
        prog = conv2d_fp16_program(CFG, x.shape, w, None, stride=(2, 1), **ADDRS)
        want = conv2d_fp16(x, w, None, stride=(2, 1))
    assert any("taps packed" in n for n in prog.notes)
    fences = sum(1 for d in prog.descriptors if d[0] & 0xF == 4)
    assert 1 < fences < shape[0]
    check(model, prog, [(MAIN_BASE, x)], want)
