"""float32 -> int8 quantization on the core without the soft-float division
(firmware/npu/cpu_ops_int8.c: cpu_scale_div_init / cpu_scale_quotient, cpu_quantize_onnx,
cpu_quantize_tflite), compiled for the host, bit for bit against numpy's float32 division
rounded as each runtime does: ONNX QuantizeLinear (rint, ties to even; compiler/reference.py)
and TFLite QUANTIZE (golden_tflite_quantize.quantize_int8); quotients at and next to every
rounding tie, random bit patterns, subnormals, NaN / Inf, scales of every exponent (powers of
two, subnormal scales on the slow path)."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.sim.golden_tflite_quantize import quantize_int8
from dure.sim.verif.host_c import host_library

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "firmware" / "npu" / name for name in ("cpu_ops_int8.c", "softfloat.c")]
SHIM = r"""
#include "npu_cpu_ops.h"
int s_onnx(const uint32_t *x, int8_t *y, uint32_t n, uint32_t scale, int32_t zp, int32_t lo,
           int32_t hi, int fast)
{
    struct cpu_scale_div d;
    if (cpu_scale_div_init(&d, scale) != fast)
        return -100;
    return cpu_quantize_onnx(x, y, n, scale, zp, lo, hi, &d);
}
int s_tflite(const uint32_t *x, int8_t *y, uint32_t n, uint32_t scale, int32_t zp, int fast)
{
    struct cpu_scale_div d;
    if (cpu_scale_div_init(&d, scale) != fast)
        return -100;
    return cpu_quantize_tflite(x, y, n, scale, zp, &d);
}
int s_quotient(const uint32_t *x, uint64_t *g, int32_t *how, uint32_t n, uint32_t scale)
{
    struct cpu_scale_div d;
    cpu_scale_div_init(&d, scale);
    for (uint32_t i = 0; i < n; i++)
        how[i] = cpu_scale_quotient(&d, x[i], &g[i]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = host_library(tmp_path_factory.mktemp("cpu_quantize"), "ops", SOURCES,
                       extra_sources={"shim.c": SHIM})
    p, i32 = ctypes.c_void_p, ctypes.c_int32
    lib.s_onnx.argtypes = [p, p, ctypes.c_uint32, ctypes.c_uint32, i32, i32, i32, ctypes.c_int]
    lib.s_tflite.argtypes = [p, p, ctypes.c_uint32, ctypes.c_uint32, i32, ctypes.c_int]
    lib.s_quotient.argtypes = [p, p, p, ctypes.c_uint32, ctypes.c_uint32]
    return lib


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _onnx_ref(x, s, zp, lo, hi):
    with np.errstate(all="ignore"):
        v = np.rint(x / s) + np.float32(zp)
    v = np.clip(np.nan_to_num(v, nan=0.0), -128, 127)
    return np.clip(v, lo, hi).astype(np.int8)


def _inputs(rng, s, n=200_000):
    """Quotients at every rounding tie up to 520 and a few ulps either side, the binary32
    neighbours of the thresholds, random magnitudes and bit patterns, specials."""
    k = np.arange(-1040, 1041, dtype=np.float64) / 2                       # ties and integers
    near = (k * np.float64(s)).astype(np.float32)
    steps, up, down = [near], near, near
    for _ in range(3):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        steps += [up, down]
    mags = (rng.uniform(-600, 600, n) * np.float64(s)).astype(np.float32)
    small = (rng.uniform(-1, 1, n // 4) * np.float64(s)).astype(np.float32)
    bits = rng.integers(0, 1 << 32, n // 4, dtype=np.uint64).astype(np.uint32).view(np.float32)
    specials = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38,
                           -3.4e38, 1.17e-38])
    with np.errstate(over="ignore"):
        quarter = (np.float64(s) * np.array([0.25, -0.25, 0.5, -0.5])).astype(np.float32)
    return np.concatenate(steps + [mags, small, bits, specials, quarter])


SCALES = [0.0078125, 0.02, 1.0 / 255, 0.1234567, 3.0, 2.0 ** -20, 1e-30, 7e3, 1.1754944e-38,
          2.0 ** 100, 0.0392156862745098]


@pytest.mark.parametrize("scale", SCALES)
def test_quantize_onnx_and_tflite_match(lib, scale):
    rng = np.random.default_rng(int(np.float32(scale).view(np.uint32)))
    s = np.float32(scale)
    x = _inputs(rng, s)
    for zp, lo, hi in ((0, -128, 127), (-128, -128, 127), (127, -128, 127), (5, 0, 100)):
        got = np.zeros(x.size, np.int8)
        assert lib.s_onnx(_ptr(x.view(np.uint32)), _ptr(got), x.size,
                          int(s.view(np.uint32)), zp, lo, hi, 1) == 0
        assert np.array_equal(got, _onnx_ref(x, s, zp, lo, hi)), (zp, lo, hi)
        if lo == -128 and hi == 127:
            assert lib.s_tflite(_ptr(x.view(np.uint32)), _ptr(got), x.size,
                                int(s.view(np.uint32)), zp, 1) == 0
            assert np.array_equal(got, quantize_int8(x, s, zp)), zp


def test_quotient_is_the_rounded_division(lib):
    """*g is |f32(x / s)| * 2**26 wherever the fast path answers, 0 below a quarter."""
    rng = np.random.default_rng(5)
    for s in np.float32([0.02, 1.0, 0.3, 1.5e-5]):
        x = _inputs(rng, s, 50_000)
        g = np.zeros(x.size, np.uint64)
        how = np.zeros(x.size, np.int32)
        lib.s_quotient(_ptr(x.view(np.uint32)), _ptr(g), _ptr(how), x.size, int(s.view(np.uint32)))
        with np.errstate(all="ignore"):
            q = np.abs(x / s).astype(np.float64)
        one = how == 1
        assert np.array_equal(g[one].astype(np.float64), q[one] * 2.0 ** 26)
        assert np.all(q[how == 0] <= 0.25) and np.all(q[one] >= 0.25)
        assert one.sum() > x.size // 2 and (how == 2).any() and (how == 0).any()


def test_slow_path_scales_and_refusals(lib):
    """Scales that are not positive and normal divide with f32_div (the same results)."""
    rng = np.random.default_rng(6)
    for bits in (0x00000001, 0x00400000, 0x80000000 | 0x3C000000, 0x7F800000, 0x7FC00000, 0):
        s = np.uint32(bits).view(np.float32)
        x = rng.normal(0, 1, 5000).astype(np.float32) * np.float32(1e-38)
        got = np.zeros(x.size, np.int8)
        assert lib.s_onnx(_ptr(x.view(np.uint32)), _ptr(got), x.size, bits, 3, -128, 127,
                          0) == 0
        assert np.array_equal(got, _onnx_ref(x, s, 3, -128, 127)), hex(bits)
    x = np.zeros(4, np.float32)
    y = np.zeros(4, np.int8)
    one = int(np.float32(1).view(np.uint32))
    assert lib.s_onnx(_ptr(x), _ptr(y), 4, one, 128, -128, 127, 1) == -2
    assert lib.s_onnx(_ptr(x), _ptr(y), 4, one, 0, 5, 4, 1) == -2
    assert lib.s_onnx(_ptr(x), _ptr(y), 4, one, 0, -129, 4, 1) == -2
    assert lib.s_tflite(_ptr(x), _ptr(y), 4, one, -129, 1) == -2
