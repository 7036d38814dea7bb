"""The firmware's tap-packed convolutions (firmware/npu/npu_conv_pack.c: few input channels,
two kernel rows in the lanes) write the lists and parameter bytes of dure.sim.conv_pack word
for word, INT8 and FP16 (harness: dure.sim.verif.npu_op_host)."""

import numpy as np
import pytest
from dure.sim import conv_plan
from dure.sim.verif.npu_op_host import (
    CONFIGS,
    OUT_ADDR,
    PARAM_ADDR,
    X_ADDR,
    Buffers,
    count_notes,
    post_fp16,
    ptr,
    set_info,
    try_plan,
)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_small_cin_convolutions_pack_as_python(op_lib, config_name):
    """INT8 convolutions with few input channels (DS-CNN's 10x4 first layer has Cin = 1): the
    tap-packed plan of dure.sim.conv_pack, word for word, on random kernels, strides, paddings,
    batches and output channels (several chunks, so the passes and their side commands)."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(11)
    bufs = Buffers()
    packed = 0
    for _ in range(40):
        r = config.npu_rows
        cin = int(rng.integers(1, r // 2 + 1))              # two kernel rows fit the lanes
        kh, kw = int(rng.integers(2, 11)), int(rng.integers(1, r // (2 * cin) + 1))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(kh, kh + 12)), int(rng.integers(1, 12))
        cout = int(rng.integers(1, 6 * config.npu_cols))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = "SAME" if rng.random() < 0.6 else "VALID"
        wt = rng.integers(-128, 128, (cout, kh, kw, cin), dtype=np.int8)
        bias = rng.integers(-5000, 5000, cout, dtype=np.int32)
        mult = rng.integers(1 << 30, (1 << 31) - 1, cout, dtype=np.int64).astype(np.int32)
        shift = rng.integers(-12, 3, cout).astype(np.int32)
        zi, zo = (int(v) for v in rng.integers(-128, 128, 2))
        program = try_plan(conv_plan.conv2d_int8_program, config, (n, h, w, cin), wt, bias,
                        input_zero_point=zi, output_zero_point=zo, multiplier=mult,
                        shift=shift, stride=stride, padding=padding, x_addr=X_ADDR,
                        out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [0, n, h, w, cin, cout, kh, kw, stride[0], stride[1],
             0 if padding == "SAME" else 1, 1, 1, zi]
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), ptr(bias), ptr(mult),
                         ptr(shift), None, ptr(np.array([zo, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        bufs.check(count, program, f"conv int8 x={(n, h, w, cin)} cout={cout} k={(kh, kw)} "
                                   f"s={stride} {padding}")
        packed += count_notes(program, "packed")
    assert packed >= 20


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_small_cin_fp16_convolutions_pack_as_python(op_lib, config_name):
    """FP16 convolutions with few input channels take the packed plan too (its diagonal
    gather onto -0.0 and per-tap STOREs): the same stream and parameter bytes, with and without
    bias, scale and clamp."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(12)
    bufs = Buffers()
    packed = 0
    for _ in range(30):
        r = config.npu_rows
        cin = int(rng.integers(1, r // 2 + 1))
        kh, kw = int(rng.integers(2, 11)), int(rng.integers(1, r // (2 * cin) + 1))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(kh, kh + 12)), int(rng.integers(1, 12))
        cout = int(rng.integers(1, 6 * config.npu_cols))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = "SAME" if rng.random() < 0.6 else "VALID"
        wt = rng.standard_normal((cout, kh, kw, cin)).astype(np.float16)
        bias = rng.standard_normal(cout).astype(np.float32) if rng.random() < 0.6 else None
        scale = rng.uniform(0.5, 2, cout).astype(np.float32) if rng.random() < 0.5 else None
        lo, hi, clamp, bits = post_fp16(rng)
        program = try_plan(conv_plan.conv2d_fp16_program, config, (n, h, w, cin), wt, bias,
                        scale=scale, lo=lo, hi=hi, stride=stride, padding=padding,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [1, n, h, w, cin, cout, kh, kw, stride[0], stride[1],
             0 if padding == "SAME" else 1, 1, 1, 0]
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), ptr(bias), None, None,
                         ptr(scale), ptr(np.array([0, 0, 0, clamp, *bits], np.int32)),
                         *bufs.args())
        bufs.check(count, program, f"conv fp16 x={(n, h, w, cin)} cout={cout} k={(kh, kw)} "
                                   f"s={stride} {padding}")
        packed += count_notes(program, "packed")
    assert packed >= 15


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_grouped_batches_pack_as_python(op_lib, config_name):
    """Batches of several images (odd ones and more than conv_pack.GROUP_IMAGES, so a short
    last group): the grouped tile, the bias rows held in ACC, the per-image windows and the
    deferred STOREs, word for word, INT8 and FP16 (with and without bias)."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(13)
    bufs = Buffers()
    packed = 0
    for n in (3, 5, 17, 18):
        for fp16 in (False, True):
            cin = int(rng.integers(1, 3))
            kh, kw = int(rng.integers(2, 5)), int(rng.integers(1, config.npu_rows // (2 * cin) + 1))
            h, w = int(rng.integers(kh, kh + 6)), int(rng.integers(2, 8))
            cout = int(rng.integers(1, 3 * config.npu_cols))
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            padding = "SAME" if rng.random() < 0.6 else "VALID"
            what = f"x={(n, h, w, cin)} cout={cout} k={(kh, kw)} s={stride} {padding} fp16={fp16}"
            pad = 0 if padding == "SAME" else 1
            if fp16:
                wt = rng.standard_normal((cout, kh, kw, cin)).astype(np.float16)
                bias = rng.standard_normal(cout).astype(np.float32) if n % 2 else None
                program = try_plan(conv_plan.conv2d_fp16_program, config, (n, h, w, cin), wt,
                                   bias, stride=stride, padding=padding, x_addr=X_ADDR,
                                   out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
                s = [1, n, h, w, cin, cout, kh, kw, stride[0], stride[1], pad, 1, 1, 0]
                count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), ptr(bias), None,
                                    None, None, ptr(np.zeros(6, np.int32)), *bufs.args())
            else:
                wt = rng.integers(-128, 128, (cout, kh, kw, cin), dtype=np.int8)
                bias = rng.integers(-5000, 5000, cout, dtype=np.int32)
                mult = np.full(cout, 1 << 30, np.int32)
                shift = rng.integers(-12, 3, cout).astype(np.int32)
                program = try_plan(conv_plan.conv2d_int8_program, config, (n, h, w, cin), wt,
                                   bias, input_zero_point=-7, output_zero_point=5,
                                   multiplier=mult, shift=shift, stride=stride,
                                   padding=padding, x_addr=X_ADDR, out_addr=OUT_ADDR,
                                   param_addr=PARAM_ADDR)
                s = [0, n, h, w, cin, cout, kh, kw, stride[0], stride[1], pad, 1, 1, -7]
                count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), ptr(bias),
                                    ptr(mult), ptr(shift), None,
                                    ptr(np.array([5, -128, 127, 0, 0, 0], np.int32)),
                                    *bufs.args())
            bufs.check(count, program, what)
            packed += count_notes(program, "packed")
    assert packed >= 6
