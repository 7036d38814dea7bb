"""The core's fallback operators (firmware/npu/cpu_ops_int8.c, cpu_ops_fp16.c), compiled for the
host, against the golden operators bit for bit: TFLite INT8 ADD, MAX_POOL_2D, AVERAGE_POOL_2D,
SOFTMAX; FP16 ADD, MAX_POOL_2D, AVERAGE_POOL_2D (the project's FP16 contract).

The golden operators are themselves checked against LiteRT's reference kernels
(tests/sim/test_golden_tflite*.py), so agreement here ties the firmware to the runtime.
"""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_fp16 as gf16
from dure.sim import golden_tflite_params as gp
from dure.sim import golden_tflite_softmax as gs
from dure.sim.verif.host_c import host_library

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "firmware" / "npu" / name
           for name in ("cpu_ops_int8.c", "cpu_ops_fp16.c", "softfloat.c")]
# Flat-argument shims so ctypes never depends on struct layout.
SHIM = r"""
#include "npu_cpu_ops.h"
int s_add_int8(const int32_t *q, const int8_t *a, const int8_t *b, int8_t *y, uint32_t n)
{
    struct cpu_add_int8 p = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10],
                             q[11]};
    return cpu_add_int8(&p, a, b, y, n);
}
static struct cpu_pool pool(const uint32_t *g)
{
    struct cpu_pool p = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], (int)g[8]};
    return p;
}
int s_pool_int8(const uint32_t *g, const int8_t *x, int8_t *y, int32_t lo, int32_t hi, int avg)
{
    struct cpu_pool p = pool(g);
    return avg ? cpu_avg_pool_int8(&p, x, y, lo, hi) : cpu_max_pool_int8(&p, x, y, lo, hi);
}
int s_pool_fp16(const uint32_t *g, const uint16_t *x, uint16_t *y, int clamp, uint32_t lo,
                uint32_t hi, int avg)
{
    struct cpu_pool p = pool(g);
    return avg ? cpu_avg_pool_fp16(&p, x, y, clamp, lo, hi)
               : cpu_max_pool_fp16(&p, x, y, clamp, lo, hi);
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return host_library(tmp_path_factory.mktemp("cpu_ops"), "ops", SOURCES,
                        extra_sources={"shim.c": SHIM})


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _int8(rng, shape):
    x = rng.integers(-128, 128, shape).astype(np.int8)
    salt = rng.random(shape)
    x[salt < 0.05] = -128
    x[salt > 0.95] = 127
    return x


def _fp16(rng, shape):
    """Random fp16 with NaN, +/-Inf, signed zeros and subnormals mixed in."""
    bits = rng.integers(0, 1 << 16, shape, dtype=np.uint32).astype(np.uint16)
    normal = (rng.normal(0, 4, shape)).astype(np.float16).view(np.uint16)
    pick = rng.random(shape)
    bits = np.where(pick < 0.6, normal, bits)
    specials = np.array([0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x83FF, 0x7BFF],
                        np.uint16)
    bits = np.where(pick > 0.97, specials[rng.integers(0, len(specials), shape)], bits)
    return bits.view(np.float16)


def _window(rng):
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = str(rng.choice(["SAME", "VALID"]))
    h = int(rng.integers(kh if padding == "VALID" else 1, 13))
    w = int(rng.integers(kw if padding == "VALID" else 1, 13))
    return (int(rng.integers(1, 3)), h, w, int(rng.integers(1, 10))), (kh, kw), (sh, sw), padding


def _geometry(shape, kernel, stride, padding):
    return np.array([*shape, *kernel, *stride, padding == "SAME"], np.uint32)


def _empty_like_out(golden):
    return np.zeros(golden.shape, golden.dtype)


@pytest.mark.parametrize("seed", range(40))
def test_pool_int8_matches_golden(lib, seed):
    rng = np.random.default_rng(9100 + seed)
    shape, kernel, stride, padding = _window(rng)
    x = _int8(rng, shape)
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if seed % 3 else (-128, 127)
    for avg, fn in ((1, gt.average_pool_int8), (0, gt.max_pool_int8)):
        want = fn(x, kernel, stride=stride, padding=padding, lo=lo, hi=hi)
        got = _empty_like_out(want)
        rc = lib.s_pool_int8(_ptr(_geometry(shape, kernel, stride, padding)), _ptr(x), _ptr(got),
                             lo, hi, avg)
        assert rc == 0
        np.testing.assert_array_equal(got, want, err_msg=f"avg={avg} {shape} {kernel} "
                                                         f"{stride} {padding}")


@pytest.mark.parametrize("seed", range(30))
def test_pool_fp16_matches_golden(lib, seed):
    rng = np.random.default_rng(9200 + seed)
    shape, kernel, stride, padding = _window(rng)
    x = _fp16(rng, shape)
    clamp = seed % 2 == 1
    lo, hi = (np.float32(0.0), np.float32(6.0)) if clamp else (np.float32(-np.inf),
                                                                np.float32(np.inf))
    for avg, fn in ((1, gf16.average_pool_fp16), (0, gf16.max_pool_fp16)):
        want = fn(x, kernel, stride=stride, padding=padding,
                  lo=float(lo) if clamp else None, hi=float(hi) if clamp else None)
        got = _empty_like_out(want)
        rc = lib.s_pool_fp16(_ptr(_geometry(shape, kernel, stride, padding)), _ptr(x), _ptr(got),
                             int(clamp), ctypes.c_uint32(int(lo.view(np.uint32))),
                             ctypes.c_uint32(int(hi.view(np.uint32))), avg)
        assert rc == 0
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16),
                                      err_msg=f"avg={avg} {shape} {kernel} {stride} {padding}")


def test_avg_pool_fp16_reciprocal_of_every_count(lib):
    # One window of n ones: the result is float16(float32(1/n) * n) for every count up to 1024
    # (the reciprocal's rounding is the only step that differs between counts).
    for n in range(1, 1025):
        x = np.ones((1, 1, n, 1), np.float16)
        want = gf16.average_pool_fp16(x, (1, n))
        got = np.zeros_like(want)
        rc = lib.s_pool_fp16(_ptr(_geometry(x.shape, (1, n), (1, 1), "VALID")), _ptr(x),
                             _ptr(got), 0, ctypes.c_uint32(0), ctypes.c_uint32(0), 1)
        assert rc == 0 and got.view(np.uint16)[0, 0, 0, 0] == want.view(np.uint16)[0, 0, 0, 0], n


def _add_params(rng):
    s1, s2 = np.exp2(rng.uniform(-10, -2, 2)).astype(np.float32)
    so = np.float32(np.exp2(rng.uniform(-9, -1)))
    return gp.add_params(s1, s2, so)


@pytest.mark.parametrize("seed", range(30))
def test_add_int8_matches_golden(lib, seed):
    rng = np.random.default_rng(9300 + seed)
    params = _add_params(rng)
    zps = [int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))])) for _ in range(3)]
    lo, hi = (-128, 127) if seed % 2 else sorted(int(v) for v in rng.integers(-128, 128, 2))
    n = int(rng.integers(1, 300))
    x1, x2 = _int8(rng, n), _int8(rng, n)
    want = gt.add_int8(x1, x2, params, input1_zero_point=zps[0], input2_zero_point=zps[1],
                       output_zero_point=zps[2], lo=lo, hi=hi)
    q = np.array([params.left_shift, params.input1_multiplier, params.input1_shift,
                  params.input2_multiplier, params.input2_shift, params.output_multiplier,
                  params.output_shift, *zps, lo, hi], np.int32)
    got = np.zeros(n, np.int8)
    assert lib.s_add_int8(_ptr(q), _ptr(x1), _ptr(x2), _ptr(got), n) == 0
    np.testing.assert_array_equal(got, want)


def test_add_int8_every_input_pair(lib):
    # All 65536 (x1, x2) pairs for one set of scales and zero points.
    rng = np.random.default_rng(9399)
    params = _add_params(rng)
    x1, x2 = (v.ravel().astype(np.int8) for v in np.meshgrid(np.arange(-128, 128),
                                                             np.arange(-128, 128)))
    want = gt.add_int8(x1, x2, params, input1_zero_point=-3, input2_zero_point=100,
                       output_zero_point=-128)
    q = np.array([params.left_shift, params.input1_multiplier, params.input1_shift,
                  params.input2_multiplier, params.input2_shift, params.output_multiplier,
                  params.output_shift, -3, 100, -128, -128, 127], np.int32)
    got = np.zeros(x1.size, np.int8)
    assert lib.s_add_int8(_ptr(q), _ptr(x1), _ptr(x2), _ptr(got), x1.size) == 0
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(20))
def test_add_fp16_matches_golden(lib, seed):
    rng = np.random.default_rng(9400 + seed)
    n = 500
    a, b = _fp16(rng, n), _fp16(rng, n)
    clamp = seed % 2 == 1
    want = gf16.add_fp16(a, b, lo=0.0 if clamp else None, hi=6.0 if clamp else None)
    got = np.zeros(n, np.float16)
    lib.cpu_add_fp16.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_uint32, ctypes.c_int,
                                                          ctypes.c_uint32, ctypes.c_uint32]
    assert lib.cpu_add_fp16(_ptr(a), _ptr(b), _ptr(got), n, int(clamp), 0,
                            int(np.float32(6.0).view(np.uint32))) == 0
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("seed", range(30))
def test_softmax_int8_matches_golden(lib, seed):
    rng = np.random.default_rng(9500 + seed)
    beta = float(rng.choice([1.0, 0.5, 2.0]))
    scale = float(np.exp2(rng.uniform(-8, 0)))
    multiplier, left_shift, diff_min = gs.softmax_params(beta, scale)
    rows, depth = int(rng.integers(1, 5)), int(rng.integers(1, 200))
    x = _int8(rng, (rows, depth))
    want = gs.softmax_int8(x, multiplier, left_shift, diff_min)
    got = np.zeros_like(x)
    lib.cpu_softmax_int8.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                     ctypes.c_uint32, ctypes.c_int32, ctypes.c_int32,
                                     ctypes.c_int32]
    assert lib.cpu_softmax_int8(_ptr(x), _ptr(got), rows, depth, multiplier, left_shift,
                                diff_min) == 0
    np.testing.assert_array_equal(got, want)


def test_bad_arguments_are_refused(lib):
    x = np.zeros(16, np.int8)
    y = np.zeros(16, np.int8)
    # VALID window larger than the input; a zero-sized tensor; lo > hi.
    for geometry, lo, hi in (([1, 2, 2, 1, 3, 3, 1, 1, 0], -128, 127),
                             ([0, 2, 2, 1, 1, 1, 1, 1, 0], -128, 127),
                             ([1, 2, 2, 1, 1, 1, 1, 1, 0], 5, 4)):
        g = np.array(geometry, np.uint32)
        assert lib.s_pool_int8(_ptr(g), _ptr(x), _ptr(y), lo, hi, 1) == -2
    assert not y.any()


@pytest.mark.parametrize("taps", [(0x8000, 0x0000), (0x0000, 0x8000), (0x8000, 0x8000),
                                  (0xFC00, 0x8000), (0x7E00, 0x3C00), (0xFC00, 0xFC00)])
def test_max_pool_fp16_signed_zeros_and_specials(lib, taps):
    x = np.array(taps, np.uint16).view(np.float16).reshape(1, 1, 2, 1)
    want = gf16.max_pool_fp16(x, (1, 2))
    got = np.zeros_like(want)
    rc = lib.s_pool_fp16(_ptr(_geometry(x.shape, (1, 2), (1, 1), "VALID")), _ptr(x), _ptr(got),
                         0, ctypes.c_uint32(0), ctypes.c_uint32(0), 0)
    assert rc == 0 and got.view(np.uint16)[0, 0, 0, 0] == want.view(np.uint16)[0, 0, 0, 0]
