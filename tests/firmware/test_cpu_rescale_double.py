"""LiteRT's double rescale of FULLY_CONNECTED on the core (firmware/npu/cpu_rescale_double.c:
cpu_scale_round_double, cpu_fc_rescale_tflite), compiled for the host, bit for bit against
sim/golden_double_rescale.py: random accumulators and scales, exact ties of every sign, knife
edges (the exact product within 1e-12 of a tie, on both sides, where the double's own
rounding decides), |acc| near 2^31, products out of int32 (INT32_MIN, then the zero point
wrapping), zero points and clamps at both ends, scales of extreme exponents."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.sim.golden_double_rescale import add_int32_wrapping, scale_round_int32
from dure.sim.verif.host_c import host_library

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "firmware" / "npu" / "cpu_rescale_double.c"]
SHIM = r"""
#include "npu_cpu_ops.h"
void s_round(const int32_t *acc, const uint32_t *scale, int32_t *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = cpu_scale_round_double(acc[i], scale[2 * i], scale[2 * i + 1]);
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = host_library(tmp_path_factory.mktemp("cpu_rescale_double"), "rescale", SOURCES,
                       extra_sources={"shim.c": SHIM})
    p, u32, i32 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int32
    lib.s_round.argtypes = [p, p, p, u32]
    lib.s_round.restype = None
    lib.cpu_fc_rescale_tflite.argtypes = [p, p, u32, u32, p, i32, i32, i32]
    lib.cpu_fc_rescale_tflite.restype = ctypes.c_int
    return lib


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _c_round(lib, acc, scale):
    acc = np.ascontiguousarray(acc, np.int32)
    bits = np.ascontiguousarray(np.broadcast_to(np.asarray(scale, np.float64), acc.shape))
    out = np.zeros(acc.shape, np.int32)
    lib.s_round(_ptr(acc), _ptr(bits.view(np.uint32)), _ptr(out), acc.size)
    return out


def _check(lib, acc, scale):
    acc = np.asarray(acc, np.int64)
    scale = np.broadcast_to(np.asarray(scale, np.float64), acc.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # products that overflow to inf
        want = scale_round_int32(acc, scale)            # (INT32_MIN, as cvttsd2si gives)
    got = _c_round(lib, acc, scale)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{bad.size} of {acc.size} differ, e.g. acc {acc[bad[0]]} scale "
                           f"{scale[bad[0]]!r}: C {got[bad[0]]}, golden {want[bad[0]]}")


def test_random_accumulators_and_scales(lib):
    rng = np.random.default_rng(20)
    n = 200_000
    acc = rng.integers(-2 ** 31, 2 ** 31, n)
    scale = 2.0 ** rng.uniform(-40, 2, n)
    _check(lib, acc, scale)
    small = rng.integers(-70_000, 70_000, n)            # typical layers' accumulators
    _check(lib, small, rng.uniform(1e-4, 1e-2, n))


def test_exact_ties_round_away_from_zero(lib):
    # acc * 2^-k with k bits below the point: every half is exact in double
    acc = np.arange(-4099, 4100)
    for k in (1, 2, 3, 7):
        _check(lib, acc, 2.0 ** -k)
    # scale 0.5 * odd: acc * scale = (2t + 1) / 2 for odd acc
    _check(lib, np.arange(-10001, 10002, 2), 1.5)
    got = _c_round(lib, [-7, -5, -1, 1, 5, 7], 0.5)
    assert got.tolist() == [-4, -3, -1, 1, 3, 4]


def test_knife_edges_within_1e12_of_a_tie(lib):
    """Scales putting acc * s within 1e-12 (relative) of k + 1/2: the exact product and the
    double's rounding of it decide the side; both sides and both signs."""
    rng = np.random.default_rng(21)
    accs, scales = [], []
    for _ in range(4000):
        a = int(rng.integers(1, 2 ** 31 - 1)) * int(rng.choice([-1, 1]))
        k = int(rng.integers(0, 2 ** 28))
        tie = (k + 0.5) * np.sign(a)
        for eps in (-1e-12, -1e-15, 0.0, 1e-15, 1e-12):
            s = abs(tie / a) * (1 + eps)
            for d in (-1, 0, 1):
                accs.append(a)
                scales.append(np.nextafter(s, np.inf) if d > 0 else
                              np.nextafter(s, 0) if d < 0 else s)
    acc, sc = np.array(accs), np.array(scales)
    _check(lib, acc, sc)
    # the session 19 knife edge: exact value 56.5 + 5.2e-9 -> 57 (a Q0.31 multiplier gives 56)
    s = float(np.float32(0.16719)) * float(np.float32(0.0038432)) / float(np.float32(661.93))
    _check(lib, [-58_205_840, 58_205_840], s)


def test_double_rounding_of_the_product_decides(lib):
    """Products with more than 53 significant bits whose rounding to double lands exactly on
    a half (round away) though the exact value is below it, and the reverse."""
    rng = np.random.default_rng(22)
    accs, scales = [], []
    for _ in range(20_000):
        a = int(rng.integers(2 ** 30, 2 ** 31 - 1)) | 1
        k = int(rng.integers(1, 2 ** 20))
        s = (k + 0.5) / a                               # a * s is k + 1/2 give or take an ulp
        for d in range(-3, 4):
            accs.append(a * (-1) ** d)
            scales.append(s + d * np.spacing(s))
    _check(lib, np.array(accs), np.array(scales))


def test_int32_edges_and_overflow(lib):
    big = np.array([2 ** 31 - 1, -2 ** 31, -2 ** 31 + 1, 2 ** 31 - 2, 1, -1, 0])
    for s in (1.0, 1.0 - 2 ** -53, 1.0 + 2 ** -52, 0.5, 2.0, 1e30, 1e300, 2.0 ** 1000,
              5e-324, 2.0 ** -1022, 2.0 ** -60, 0.0, np.nextafter(1.0, 2.0),
              (2 ** 31 - 0.5) / (2 ** 31 - 1), (2 ** 31 + 0.5) / 2 ** 31):
        _check(lib, big, s)
    # products straddling 2^31 and -2^31 - 1/2: INT32_MIN outside, the values inside
    acc = np.arange(-2 ** 31, -2 ** 31 + 4000, dtype=np.int64)
    _check(lib, acc, 1.0 + 2 ** -33)
    _check(lib, -acc - 1, 1.0 + 2 ** -33)
    got = _c_round(lib, [2 ** 30, -2 ** 30], 2.0)
    assert got.tolist() == [-2 ** 31, -2 ** 31]


def test_fc_rescale_kernel_zero_points_and_clamps(lib):
    rng = np.random.default_rng(23)
    rows, units = 5, 37
    scale = 2.0 ** rng.uniform(-12, 3, units)
    scale[3] = 1e12                                     # every product out of int32
    acc = rng.integers(-2 ** 31, 2 ** 31, (rows, units)).astype(np.int32)
    acc[:, 7] = rng.integers(-300, 300, rows)
    bits = np.ascontiguousarray(scale).view(np.uint32)
    for zp, lo, hi in ((-128, -128, 127), (127, -128, 127), (0, -5, 9), (-3, 0, 0),
                       (50, -128, -100)):
        y = np.zeros((rows, units), np.int8)
        assert lib.cpu_fc_rescale_tflite(_ptr(acc), _ptr(y), rows, units, _ptr(bits), zp, lo,
                                         hi) == 0
        want = np.clip(add_int32_wrapping(scale_round_int32(acc, scale), zp), lo, hi)
        np.testing.assert_array_equal(y, want.astype(np.int8))
    # INT32_MIN + a negative zero point wraps to a large positive value: hi
    y = np.zeros((1, 1), np.int8)
    one = np.array([[2 ** 31 - 1]], np.int32)
    s = np.array([4.0]).view(np.uint32)
    assert lib.cpu_fc_rescale_tflite(_ptr(one), _ptr(y), 1, 1, _ptr(s), -1, -128, 127) == 0
    assert y[0, 0] == 127
    assert lib.cpu_fc_rescale_tflite(_ptr(one), _ptr(y), 1, 1, _ptr(s), 0, -128, 127) == 0
    assert y[0, 0] == -128


@pytest.mark.parametrize("zp, lo, hi, scale", [(128, -128, 127, 1.0), (0, 5, 4, 1.0),
                                               (0, -129, 127, 1.0), (0, -128, 127, -1.0),
                                               (0, -128, 127, np.inf), (0, -128, 127, np.nan)])
def test_fc_rescale_kernel_refuses_bad_arguments(lib, zp, lo, hi, scale):
    acc = np.zeros((1, 1), np.int32)
    y = np.zeros((1, 1), np.int8)
    bits = np.array([scale], np.float64).view(np.uint32)
    assert lib.cpu_fc_rescale_tflite(_ptr(acc), _ptr(y), 1, 1, _ptr(bits), zp, lo, hi) == -2
