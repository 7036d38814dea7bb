"""FP16 SOFTMAX and int8 -> int8 QUANTIZE on the core (firmware/npu/cpu_ops_softmax.c,
cpu_ops_int8.c), compiled for the host, bit for bit against their golden models
(sim/golden_softmax_fp16.py, sim/golden_tflite_quantize.requantize_int8): the fixed-point
exponential on random and edge arguments (every fractional argument under make fuzz), its
constants, softmax rows with NaN / Inf / subnormals / many betas, every fp16 value against a
set of row maxima, the soft-float division, and requantization of every int8 input."""

import ctypes
import pathlib
import re

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
void s_exp2(const uint32_t *z, uint32_t *e, uint32_t *i, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        e[k] = cpu_exp2_neg(z[k], &i[k]);
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
    lib.s_exp2.argtypes = [p, p, p, ctypes.c_uint32]
    lib.s_div.argtypes = [p, p, p, ctypes.c_uint32]
    lib.cpu_softmax_fp16.argtypes = [p, p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]
    lib.cpu_requantize_int8.argtypes = [p, p, ctypes.c_uint32] + [ctypes.c_int32] * 4
    return lib


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _exp2(lib, z):
    z = np.ascontiguousarray(z, np.uint32)
    e, i = np.zeros_like(z), np.zeros_like(z)
    lib.s_exp2(_ptr(z), _ptr(e), _ptr(i), z.size)
    return e, i


def _check_exp2(lib, z):
    e, i = _exp2(lib, z)
    we, wi = gsm.exp2_neg(z.astype(np.uint64))
    assert np.array_equal(e, we.astype(np.uint32)) and np.array_equal(i, wi)


def test_exp2_neg_random_and_edges(lib):
    rng = np.random.default_rng(77)
    z = rng.integers(0, 1 << 32, 1_000_000, dtype=np.uint64).astype(np.uint32)
    edges = np.array([0, 1, (1 << 21) - 1, 1 << 21, (1 << 27) - 1, 1 << 27,
                      (1 << 32) - 1, 0xFFE00000, 0x7FFFFFFF], np.uint32)
    _check_exp2(lib, np.concatenate([z, edges]))


@pytest.mark.slow
def test_exp2_neg_every_fraction(lib):
    """Every 27-bit fraction (E depends on nothing else), 2**27 arguments in chunks."""
    for start in range(0, 1 << 27, 1 << 23):
        _check_exp2(lib, np.arange(start, start + (1 << 23), dtype=np.uint32))


def test_constants():
    text = (ROOT / "firmware" / "npu" / "cpu_ops_softmax.c").read_text()
    for name, value in gsm.CONSTANTS.items():
        assert re.search(rf"#define (EXP2_)?{name} 0x{value:08X}u", text), name
    table = text[text.index("exp2_table[64] = {"):]
    table = table[:table.index("};")]
    assert [int(v, 16) for v in re.findall(r"0x([0-9A-F]{8})u", table)] == gsm.EXP2_TABLE


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


def _softmax(lib, x, beta):
    got = np.zeros_like(x)
    bits = int(np.float32(beta).view(np.uint32))
    rows, depth = x.reshape(-1, x.shape[-1]).shape
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), rows, depth, bits) == 0
    return got


@pytest.mark.parametrize("seed", range(12))
def test_softmax_fp16_matches_golden(lib, seed):
    rng = np.random.default_rng(9700 + seed)
    rows, depth = int(rng.integers(1, 6)), int(rng.integers(1, 300))
    x = _fp16_rows(rng, rows, depth)
    if seed % 3 == 0:
        x = (rng.normal(0, 30, (rows, depth))).astype(np.float16)       # wide logits
    beta = float(rng.choice([1.0, 0.5, 2.0, 1e-3, 40.0, 1e-40, 3e38]))
    want = gsm.softmax_fp16(x, beta)
    assert np.array_equal(_softmax(lib, x, beta).view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("beta", [1.0, 0.7, 1e-3, 300.0])
def test_softmax_fp16_every_value_against_maxima(lib, beta):
    """Rows (x, m) for every finite fp16 x below each of a few maxima m: every difference
    the kernel can meet from those maxima (tiny, subnormal, huge, exactly dropped)."""
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    every = every[np.isfinite(every)]
    for m in np.float16([0.0, 1.5, -3.0, 65504.0, 6e-8, -65504.0]):
        x = every[every <= m]
        rows = np.stack([x, np.full_like(x, m)], axis=-1)
        want = gsm.softmax_fp16(rows, beta)
        got = _softmax(lib, rows, beta)
        assert np.array_equal(got.view(np.uint16), want.view(np.uint16)), m


def test_softmax_fp16_specials_and_refusals(lib):
    x = np.array([[1.0, np.inf, 0.0], [np.nan, 1.0, 2.0], [-np.inf, 0.0, 0.0],
                  [0.0, 0.0, 0.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 5.0, -np.inf]],
                 np.float16)
    want = gsm.softmax_fp16(x)
    got = np.zeros_like(x)
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 6, 3, 0x3F800000) == 0
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    assert np.all(want[[0, 1, 4]].view(np.uint16) == 0x7E00)          # Inf - Inf, a NaN
    assert want[2, 0] == 0 and want[3, 0] == np.float16(1 / 3)
    assert list(want[5]) == [0, 1, 0]
    assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 0, 3, 0x3F800000) == -2
    for beta in (0x7FC00000, 0x7F800000, 0x00000000, 0x80000000, 0xBF800000):
        assert lib.cpu_softmax_fp16(_ptr(x), _ptr(got), 1, 3, beta) == -2
        with pytest.raises(ValueError, match="positive finite beta"):
            gsm.softmax_fp16(x, np.uint32(beta).view(np.float32))


def test_softmax_fp16_long_rows(lib):
    """Rows longer than the kernel's 64-value cache recompute the exponentials."""
    rng = np.random.default_rng(31)
    x = rng.normal(0, 3, (3, 1000)).astype(np.float16)
    want = gsm.softmax_fp16(x, 1.0)
    assert np.array_equal(_softmax(lib, x, 1.0).view(np.uint16), want.view(np.uint16))


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
