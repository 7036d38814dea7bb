"""FP16 SOFTMAX and int8 -> int8 QUANTIZE on the core (firmware/npu/cpu_ops_softmax.c,
cpu_ops_int8.c), compiled for the host, bit for bit against their golden models
(sim/golden_softmax_fp16.py, sim/golden_tflite_quantize.requantize_int8): the exponential on
every fp16 value and on random binary32 values across its whole range with the specials, the
soft-float division, softmax rows with NaN / Inf / subnormals, and requantization of every int8
input."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.sim import golden_softmax_fp16 as gsm
from dure.sim.golden_tflite_quantize import requantize_int8, requantize_multiplier
from dure.sim.verif.host_c import host_library

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "firmware" / "npu" / name
           for name in ("cpu_ops_softmax.c", "cpu_ops_int8.c", "softfloat.c")]
SHIM = r"""
#include "npu_cpu_ops.h"
void s_exp(const uint32_t *d, uint32_t *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        y[i] = cpu_exp_f32(d[i]);
}
void s_div(const uint32_t *a, const uint32_t *b, uint32_t *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        y[i] = f32_div(a[i], b[i]);
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = host_library(tmp_path_factory.mktemp("cpu_softmax"), "ops", SOURCES,
                       extra_sources={"shim.c": SHIM})
    p = ctypes.c_void_p
    lib.s_exp.argtypes = [p, p, ctypes.c_uint32]
    lib.s_div.argtypes = [p, p, p, ctypes.c_uint32]
    lib.cpu_softmax_fp16.argtypes = [p, p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]
    lib.cpu_requantize_int8.argtypes = [p, p, ctypes.c_uint32] + [ctypes.c_int32] * 4
    return lib


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _exp(lib, d):
    d = np.ascontiguousarray(d, np.float32).view(np.uint32)
    y = np.zeros_like(d)
    lib.s_exp(_ptr(d), _ptr(y), d.size)
    return y


def test_exp_every_fp16_value_and_the_whole_range(lib):
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    rng = np.random.default_rng(77)
    wide = rng.uniform(-110, 95, 400_000).astype(np.float32)
    bits = rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = np.float32([0.0, -0.0, -104.0, np.nextafter(np.float32(-104), np.float32(0)),
                        89.0, np.nextafter(np.float32(89), np.float32(100)), 88.72, -87.34,
                        -103.97, np.inf, -np.inf, np.nan, 1e-30, -1e-30])
    d = np.concatenate([every.astype(np.float32), wide, bits, edges])
    want = gsm.exp_f32(d).view(np.uint32)
    assert np.array_equal(_exp(lib, d), want)
    # The range really covers subnormal results, overflow and exact zeros.
    w = want.view(np.float32)
    assert (w > 0).any() and (w < np.float32(1.2e-38)).any() and np.isinf(w).any()


def test_constants_and_accuracy():
    text = (ROOT / "firmware" / "npu" / "cpu_ops_softmax.c").read_text().lower()
    for name, bits in gsm.EXP_CONSTANTS.items():
        assert f"0x{bits:08x}u" in text, name
    d = np.linspace(-87, 88.7, 200_001).astype(np.float32)
    exact = np.exp(d.astype(np.float64))
    assert np.max(np.abs(gsm.exp_f32(d) - exact) / exact) < 2 * 2.0 ** -24


def test_division_matches_numpy(lib):
    rng = np.random.default_rng(78)
    a = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    a[:1000] = np.float32(rng.uniform(0, 1, 1000)).view(np.uint32)     # softmax's quotients
    y = np.zeros_like(a)
    lib.s_div(_ptr(a), _ptr(b), _ptr(y), a.size)
    with np.errstate(all="ignore"):
        want = (a.view(np.float32) / b.view(np.float32)).view(np.uint32)
    nan = np.isnan(want.view(np.float32))
    assert np.array_equal(y[~nan], want[~nan])
    assert np.all(y[nan] == 0x7FC00000)


def _fp16_rows(rng, rows, depth):
    bits = (rng.normal(0, 4, (rows, depth))).astype(np.float16).view(np.uint16)
    pick = rng.random((rows, depth))
    specials = np.array([0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x83FF, 0x7BFF,
                         0xFBFF], np.uint16)
    bits = np.where(pick > 0.97, specials[rng.integers(0, len(specials), bits.shape)], bits)
    return bits.view(np.float16)


@pytest.mark.parametrize("seed", range(12))
def test_softmax_fp16_matches_golden(lib, seed):
    rng = np.random.default_rng(9700 + seed)
    rows, depth = int(rng.integers(1, 6)), int(rng.integers(1, 300))
    x = _fp16_rows(rng, rows, depth)
    if seed % 3 == 0:
        x = (rng.normal(0, 30, (rows, depth))).astype(np.float16)       # wide logits
    beta = float(rng.choice([1.0, 0.5, 2.0, 1e-3, 40.0]))
    want = gsm.softmax_fp16(x, beta)
    got = np.zeros_like(x)
    beta_bits = int(np.float32(beta).view(np.uint32))
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), rows, depth, beta_bits) == 0
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))


def test_softmax_fp16_specials_and_refusals(lib):
    x = np.array([[1.0, np.inf, 0.0], [np.nan, 1.0, 2.0], [-np.inf, 0.0, 0.0],
                  [0.0, 0.0, 0.0]], np.float16)
    want = gsm.softmax_fp16(x)
    got = np.zeros_like(x)
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 4, 3, 0x3F800000) == 0
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    assert np.all(want[:2].view(np.uint16) == 0x7E00)                  # Inf - Inf, a NaN
    assert want[2, 0] == 0 and want[3, 0] == np.float16(1 / 3)
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 0, 3, 0x3F800000) == -2
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 1, 3, 0x7FC00000) == -2


@pytest.mark.parametrize("scales", [(0.05, 0.1, 3, -7), (0.1, 0.013, -128, 127),
                                    (0.02, 0.02, 0, 0), (1.7, 0.004, 12, -100),
                                    (0.003, 2.5, -5, 5)])
def test_requantize_int8_every_input(lib, scales):
    s_in, s_out, zp_in, zp_out = scales
    x = np.arange(-128, 128, dtype=np.int8)
    m, shift = requantize_multiplier(s_in, s_out)
    got = np.zeros_like(x)
    assert lib.cpu_requantize_int8(_ptr(x), _ptr(got), x.size, m, shift, zp_in, zp_out) == 0
    assert np.array_equal(got, requantize_int8(x, s_in, zp_in, s_out, zp_out))
    assert lib.cpu_requantize_int8(_ptr(x), _ptr(got), 1, m, shift, 128, 0) == -2
    assert lib.cpu_requantize_int8(_ptr(x), _ptr(got), 1, m, 31, 0, 0) == -2
