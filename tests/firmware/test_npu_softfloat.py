"""The firmware's soft-float (firmware/npu/softfloat.c), compiled for the host, against numpy bit
for bit: add, mul, compare, int32 -> f32, f16 <-> f32 and the requantization rounding, on edge
values and on random bit patterns biased toward specials, subnormals and near-ties."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.sim import golden
from dure.sim.verif.host_c import host_library

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "firmware" / "npu" / "softfloat.c"
BATCH = r"""
#include <stdint.h>
#include "softfloat.h"
void b_add(const uint32_t *a, const uint32_t *b, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f32_add(a[i], b[i]); }
void b_mul(const uint32_t *a, const uint32_t *b, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f32_mul(a[i], b[i]); }
void b_lt(const uint32_t *a, const uint32_t *b, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f32_lt(a[i], b[i]); }
void b_i2f(const uint32_t *a, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f32_from_i32((int32_t)a[i]); }
void b_h2f(const uint32_t *a, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f32_from_f16((uint16_t)a[i]); }
void b_f2h(const uint32_t *a, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = f16_from_f32(a[i]); }
void b_rint(const uint32_t *a, uint32_t *o, int n)
{ for (int i = 0; i < n; i++) o[i] = (uint32_t)f32_rint_clip(a[i], 1024); }
"""

EDGES = np.array([0, 0x8000_0000, 1, 0x8000_0001, 0x007F_FFFF, 0x0080_0000, 0x0080_0001,
                  0x3F80_0000, 0xBF80_0000, 0x3F00_0000, 0x3FC0_0000, 0x4020_0000, 0x7F7F_FFFF,
                  0xFF7F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001,
                  0x3380_0000, 0x3300_0000, 0x3300_0001, 0x477F_E000, 0x477F_F000, 0x477F_EFFF,
                  0x4B00_0000, 0x4AFF_FFFF, 0x4480_0000, 0x4480_2000, 0x3F7F_FFFF],
                 dtype=np.uint32)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return host_library(tmp_path_factory.mktemp("softfloat"), "sf", [SOURCE],
                        extra_sources={"batch.c": BATCH})


def call(lib, name, *args):
    args = [np.ascontiguousarray(a, dtype=np.uint32) for a in args]
    out = np.zeros(len(args[0]), np.uint32)
    ptr = ctypes.POINTER(ctypes.c_uint32)
    getattr(lib, name)(*[a.ctypes.data_as(ptr) for a in args], out.ctypes.data_as(ptr),
                       ctypes.c_int(len(out)))
    return out


def random_f32(rng, count):
    """Random patterns: uniform bits, near-equal exponents (cancellation), subnormals, edges."""
    kinds = rng.integers(0, 5, count)
    bits = rng.integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32)
    near = (rng.integers(120, 135, count).astype(np.uint32) << 23) | \
        (bits & 0x807F_FFFF)
    sub = bits & 0x80FF_FFFF                                 # exponent 0 or 1
    edge = EDGES[rng.integers(0, len(EDGES), count)]
    small = (rng.integers(0, 40, count).astype(np.uint32) << 23) | (bits & 0x807F_FFFF)
    return np.select([kinds == 0, kinds == 1, kinds == 2, kinds == 3], [bits, near, sub, edge],
                     small).astype(np.uint32)


def canon32(x):
    return golden.canonicalize_nan(x).view(np.uint32)


def pairs(rng, count):
    a = random_f32(rng, count)
    b = random_f32(rng, count)
    # also b close to -a (cancellation) and exponent gaps around the 38/39-bit paths
    mix = rng.integers(0, 4, count)
    b = np.where(mix == 0, a ^ 0x8000_0000 ^ rng.integers(0, 4, count).astype(np.uint32), b)
    gap = rng.integers(30, 70, count).astype(np.int64)
    exp_a = ((a >> 23) & 0xFF).astype(np.int64)
    exp_b = np.clip(exp_a - gap, 1, 254).astype(np.uint32)
    b = np.where(mix == 1, (b & 0x807F_FFFF) | (exp_b << 23), b)
    edges = np.array(np.meshgrid(EDGES, EDGES)).reshape(2, -1)
    return np.concatenate([edges[0], a]).astype(np.uint32), \
        np.concatenate([edges[1], b]).astype(np.uint32)


def test_add_mul_lt(lib):
    rng = np.random.default_rng(1)
    a, b = pairs(rng, 400_000)
    fa, fb = a.view(np.float32), b.view(np.float32)
    with np.errstate(all="ignore"):
        assert np.array_equal(call(lib, "b_add", a, b), canon32(fa + fb))
        assert np.array_equal(call(lib, "b_mul", a, b), canon32(fa * fb))
        assert np.array_equal(call(lib, "b_lt", a, b), (fa < fb).astype(np.uint32))


def test_fp16_products_are_exact_and_sums_sequential(lib):
    # The NPU reference's inner step: acc + f32(a16) * f32(b16) for random fp16 operands.
    rng = np.random.default_rng(2)
    h = rng.integers(0, 1 << 16, (2, 200_000), dtype=np.uint32)
    fa = call(lib, "b_h2f", h[0])
    fb = call(lib, "b_h2f", h[1])
    want = h[0].astype(np.uint16).view(np.float16).astype(np.float32)
    assert np.array_equal(fa[~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)])
    with np.errstate(all="ignore"):
        prod = fa.view(np.float32) * fb.view(np.float32)
    assert np.array_equal(call(lib, "b_mul", fa, fb), canon32(prod))


def test_conversions(lib):
    rng = np.random.default_rng(3)
    ints = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 300_000, dtype=np.int64),
                           rng.integers(-(1 << 26), 1 << 26, 100_000),
                           [0, 1, -1, 2**31 - 1, -2**31, 2**24 + 1, 2**25 + 2, 2**24 + 3,
                            16777217, -16777219]]).astype(np.int32)
    assert np.array_equal(call(lib, "b_i2f", ints.view(np.uint32)),
                          ints.astype(np.float32).view(np.uint32))
    f = random_f32(rng, 400_000)
    f = np.concatenate([f, EDGES, (rng.integers(0x3300_0000, 0x4780_0000, 100_000,
                                                dtype=np.uint32))])
    assert np.array_equal(call(lib, "b_f2h", f),
                          golden.to_fp16(f.view(np.float32)).view(np.uint16).astype(np.uint32))
    halves = np.arange(1 << 16, dtype=np.uint32)
    got = call(lib, "b_h2f", halves)
    want = halves.astype(np.uint16).view(np.float16).astype(np.float32)
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok], want.view(np.uint32)[ok])
    assert np.isnan(got[~ok].view(np.float32)).all()


def test_rint_clip(lib):
    rng = np.random.default_rng(4)
    f = np.concatenate([random_f32(rng, 300_000), EDGES,
                        np.float32(np.arange(-2000, 2000) / 4).view(np.uint32),
                        np.float32(np.arange(-1030, 1030) + 0.5).view(np.uint32)])
    x = f.view(np.float32)
    with np.errstate(all="ignore"):
        want = np.clip(np.rint(np.nan_to_num(x, nan=0.0)), -1024.0, 1024.0).astype(np.int32)
    assert np.array_equal(call(lib, "b_rint", f).view(np.int32), want)
