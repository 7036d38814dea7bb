"""The raw int32 sums of a convolution (:func:`dure.sim.conv_plan.conv2d_int8_sum_program`,
the NPU half of the exact ONNX float32 fast path): the descriptors on the golden command model
equal ``sum w * (x - zp_in)`` over the taps inside the image (int64 numpy) exactly, on the 8x8
`sim` and the 4x4 `npu-small` NPU; SAME, VALID and explicit pads, few and many channels."""

import numpy as np
import pytest
from dure.sim.conv_plan import conv2d_int8_sum_program
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}
CASES = [
    # x_shape, cout, kernel, stride, padding, zp_in
    ((1, 5, 6, 3), 5, (3, 3), (1, 1), "SAME", 7),
    ((2, 7, 5, 10), 11, (3, 2), (2, 1), "VALID", -128),
    ((1, 8, 8, 4), 9, (3, 3), (2, 2), (1, 1, 1, 1), 127),
    ((1, 6, 6, 17), 3, (1, 1), (1, 1), "VALID", 0),
    ((1, 4, 5, 16), 16, (3, 3), (2, 2), (0, 1, 1, 0), -9),
]


def _sums(x, w, zp_in, stride, pads):
    pt, pl, pb, pr = pads
    n, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    xp = np.full((n, h + pt + pb, wd + pl + pr, c), zp_in, np.int64)
    xp[:, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - kh) // stride[0] + 1
    ow = (wd + pl + pr - kw) // stride[1] + 1
    acc = np.zeros((n, oh, ow, w.shape[0]), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            tap = xp[:, ky:ky + (oh - 1) * stride[0] + 1:stride[0],
                     kx:kx + (ow - 1) * stride[1] + 1:stride[1]] - zp_in
            acc += tap @ w[:, ky, kx, :].astype(np.int64).T
    return acc


def _pads(x_shape, kernel, stride, padding):
    from dure.sim.golden_padding import conv_padding
    if not isinstance(padding, str):
        return padding
    _, pt, pb = conv_padding(x_shape[1], kernel[0], stride[0], padding)
    _, pl, pr = conv_padding(x_shape[2], kernel[1], stride[1], padding)
    return pt, pl, pb, pr


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_sums_are_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, cout, kernel, stride, padding, zp_in = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = rng.integers(-128, 128, (cout, *kernel, x_shape[3]), dtype=np.int8)
    main = config.region("main")
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    xa, oa, pa = main.base, main.base + main.size // 4, main.base + main.size // 2
    prog = conv2d_int8_sum_program(config, x.shape, w, input_zero_point=zp_in, stride=stride,
                                   padding=padding, x_addr=xa, out_addr=oa, param_addr=pa)
    got = run_on_model(model, prog, [(xa, x)])
    want = _sums(x, w, zp_in, stride, _pads(x_shape, kernel, stride, padding))
    assert got.dtype == np.int32 and got.shape == want.shape
    assert np.array_equal(got.astype(np.int64), want)
    assert np.abs(want).max() > 127 * 128       # far outside int8: the raw STORE matters
