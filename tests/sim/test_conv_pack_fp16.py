"""FP16 convolutions with few input channels, kernel taps packed into the K lanes
(dure.sim.conv_pack through dure.sim.conv_plan.conv2d_fp16_program): bit for bit with
dure.sim.golden_tflite_fp16.conv2d_fp16 on the command model, on the 8x8 `sim` and the 4x4
`npu-small` NPU, including NaN, +/-Inf, -0.0 and subnormal inputs, weights and biases."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode, Precision
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_pack import pack_applies
from dure.sim.conv_plan import conv2d_fp16_program
from dure.sim.golden_tflite_fp16 import conv2d_fp16
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.walk_layer import geometry

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}

CASES = [
    # x_shape, cout, kernel, stride, padding
    ((1, 49, 10, 1), 64, (10, 4), (2, 2), "SAME"),      # DS-CNN's first convolution
    ((2, 9, 7, 2), 11, (3, 3), (2, 2), "SAME"),
    ((1, 8, 9, 1), 5, (5, 2), (2, 1), "VALID"),
    ((1, 6, 6, 3), 9, (3, 2), (1, 2), "SAME"),
    ((1, 7, 5, 1), 3, (3, 8), (1, 1), "SAME"),
    ((1, 11, 4, 1), 17, (4, 1), (3, 1), "SAME"),
    ((1, 10, 9, 2), 8, (3, 3), (2, 2), "VALID"),
    ((2, 12, 11, 1), 20, (3, 3), (2, 2), "SAME"),
]

#: fp16 bit patterns that stress the contract: +/-0, +/-Inf, NaNs, subnormals, max, 1, -1
SPECIAL = np.array([0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x0001, 0x8001, 0x03FF,
                    0x7BFF, 0xFBFF, 0x3C00, 0xBC00], np.uint16).view(np.float16)


def _values(rng, shape, special):
    v = rng.standard_normal(shape).astype(np.float16)
    if special:
        mask = rng.random(shape) < special
        v[mask] = rng.choice(SPECIAL, int(mask.sum()))
    return v


def run_case(config, rng, x_shape, cout, kernel, stride, padding, *, special=0.0,
             zeros=False, bias=True, scale=False, clamp=False):
    main = config.region("main")
    quarter = main.size // 4
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    cin = x_shape[3]
    x = _values(rng, x_shape, special)
    w = _values(rng, (cout, *kernel, cin), special)
    b = None
    if bias:
        b = rng.standard_normal(cout).astype(np.float32)
        if zeros:          # -0.0 starts: only -0.0 inputs times positive weights keep them
            b[:] = -0.0
            x = np.where(rng.random(x_shape) < 0.02, np.float16(0.0), np.float16(-0.0))
            x = x.astype(np.float16)
            w = np.abs(w)
    kw = dict(stride=stride, padding=padding)
    if scale:
        kw["scale"] = rng.uniform(0.5, 2.0, cout).astype(np.float32)
    if clamp:
        kw.update(lo=-1.5, hi=6.0)
    prog = conv2d_fp16_program(config, x_shape, w, b, x_addr=main.base,
                               out_addr=main.base + quarter, param_addr=main.base + 2 * quarter,
                               **kw)
    got = run_on_model(model, prog, [(main.base, x)])
    want = conv2d_fp16(x, w, b, **kw)
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    if zeros:
        # the case can fail: some outputs are -0.0, and with the inputs' -0.0 made +0.0 (what
        # a gather starting at +0.0 would do) they would not be
        assert np.any(want.view(np.uint16) == 0x8000)
        flipped = conv2d_fp16(np.abs(x), w, b, **kw)
        assert not np.array_equal(flipped.view(np.uint16), want.view(np.uint16))
    return prog


def _packed(prog):
    return any("taps packed" in n for n in prog.notes)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_packed_fp16_convolution_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding = CASES[case]
    prog = run_case(config, np.random.default_rng(case), *CASES[case], special=0.05,
                    bias=case % 2 == 0, scale=case % 3 == 1, clamp=case % 4 == 3)
    geo = geometry(x_shape, kernel, stride, padding)
    packed = pack_applies(config, geo, x_shape[3], cout, Precision.FP16)
    assert _packed(prog) == packed
    if cfg == "sim" and case in (0, 1, 2, 3, 4, 6, 7):
        assert packed


@pytest.mark.parametrize("case", [0, 1, 3, 7])
def test_signed_zero_bias_and_inputs(case):
    """A -0.0 bias stays -0.0 only while every product is -0.0: a gather that turned an input
    -0.0 into +0.0 (a plain COMPUTE starting at +0.0) would flip the output's sign."""
    prog = run_case(CONFIGS["sim"], np.random.default_rng(40 + case), *CASES[case], zeros=True)
    assert _packed(prog)


def test_infinities_do_not_leak_into_other_lanes():
    """Isolated infinities in channel 0 of a Cin = 2 layer (two channels in one gather): the
    golden gives +/-Inf there; a gather through a full identity would add Inf * 0 = NaN to
    channel 1's lane of the same pixel and make those outputs NaN."""
    config = CONFIGS["sim"]
    main = config.region("main")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 9, 8, 2)).astype(np.float16)
    x[0, 1, 1, 0], x[0, 6, 5, 0] = np.inf, -np.inf
    w = rng.standard_normal((8, 3, 3, 2)).astype(np.float16)
    kw = dict(stride=(2, 2), padding="SAME")
    prog = conv2d_fp16_program(config, x.shape, w, None, x_addr=main.base,
                               out_addr=main.base + 0x10000, param_addr=main.base + 0x20000,
                               **kw)
    assert _packed(prog)
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    got = run_on_model(model, prog, [(main.base, x)])
    want = conv2d_fp16(x, w, None, **kw)
    assert np.any(np.isinf(want))
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))


def test_dscnn_first_layer_uses_eight_lanes():
    """10x4 Cin = 1 on the 8x8 NPU: 5 FP16 COMPUTEs of 8 taps per output chunk instead of 40 of
    1, plus 8 diagonal gather COMPUTEs (one per kernel tap of a packed row)."""
    prog = run_case(CONFIGS["sim"], np.random.default_rng(3), *CASES[0])
    computes = [decode(w)[1] for w in prog.descriptors if decode(w)[0] is Opcode.COMPUTE]
    conv = [f for f in computes if f["k"] == 8 and f["n"] == 8 and f["m"] == 125]
    gather = [f for f in computes if f["diagonal"] and f["k"] == 1 and f["accumulate"]]
    assert len(conv) == 5 * 8 and len(gather) == 8 and len(computes) == 5 * 8 + 8
    assert all(f["precision"] == Precision.FP16.value for f in computes)


def test_wmodes_keeps_the_walk():
    rng = np.random.default_rng(1)
    x_shape, cout, kernel, stride, padding = CASES[0]
    w = rng.standard_normal((cout, *kernel, 1)).astype(np.float16)
    prog = conv2d_fp16_program(CONFIGS["sim"], x_shape, w, None, stride=stride,
                               padding=padding, x_addr=0, out_addr=0x10000,
                               param_addr=0x20000, wmodes=("resident", "double", "single", "taps"))
    assert not _packed(prog)
