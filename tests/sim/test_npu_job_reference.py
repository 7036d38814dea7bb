"""What a job's layers compute (sim/npu_job_reference.py): im2col's row and column order and
padding against a direct sliding window, the output size, and a convolution's reference as
the GEMM of its im2col matrix; the names stay importable from dure.sim.npu_job."""

import numpy as np
from dure.sim import npu_job, npu_job_reference
from dure.sim.npu_job_reference import conv_out_size, im2col, reference, reference_conv2d


def test_conv_out_size():
    assert conv_out_size(7, 3, 2, 1) == 4
    assert conv_out_size(5, 5, 1, 0) == 1
    assert conv_out_size(8, 1, 3, 0) == 3


def test_im2col_is_the_sliding_window():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (2, 5, 4, 3)).astype(np.int8)
    kh, kw, stride, pad, pv = 3, 2, 2, 1, -7
    cols = im2col(x, kh, kw, stride, pad, pv)
    oh, ow = conv_out_size(5, kh, stride, pad), conv_out_size(4, kw, stride, pad)
    assert cols.shape == (2 * oh * ow, kh * kw * 3) and cols.dtype == np.int8
    row = 0
    for b in range(2):
        for oy in range(oh):
            for ox in range(ow):
                want = []
                for ky in range(kh):
                    for kx in range(kw):
                        y, xx = oy * stride + ky - pad, ox * stride + kx - pad
                        inside = 0 <= y < 5 and 0 <= xx < 4
                        want += list(x[b, y, xx]) if inside else [pv] * 3
                assert list(cols[row]) == want, (b, oy, ox)
                row += 1


def test_conv_reference_is_the_gemm_of_im2col():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (1, 6, 6, 4)).astype(np.int8)
    w = rng.integers(-128, 128, (3, 3, 4, 5)).astype(np.int8)
    bias = rng.integers(-1000, 1000, 5).astype(np.int32)
    scale = np.full(5, 0.01, np.float32)
    got = reference_conv2d("int8", x, w, stride=1, pad=1, pad_value=3, bias=bias, scale=scale,
                           zero_point=2, lo=-100, hi=100)
    want = reference("int8", im2col(x, 3, 3, 1, 1, 3), w.reshape(36, 5), out_dtype="int8",
                     bias=bias, scale=scale, zero_point=2, lo=-100, hi=100)
    assert got.shape == (1, 6, 6, 5) and got.dtype == np.int8
    assert np.array_equal(got.reshape(36, 5), want)


def test_names_stay_importable_from_npu_job():
    for name in ("reference", "reference_conv2d", "im2col", "conv_out_size"):
        assert getattr(npu_job, name) is getattr(npu_job_reference, name), name
