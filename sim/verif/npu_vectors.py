"""Inputs and golden outputs for firmware/npu_apps/npu_vectors, written as a C header.

Each GEMM case is computed on whole matrices with :mod:`dure.sim.golden` (no tiling), each
convolution by an im2col in numpy and the same golden functions; the firmware runs the cases on
the NPU and on its CPU reference path and compares both with these bytes.
"""

from dataclasses import dataclass

import numpy as np
from dure.sim import golden

INT8, FP16 = 0, 1
OUT_INT8, OUT_INT32, OUT_FP16, OUT_FP32 = 0, 1, 2, 3
F32_INF = 0x7F80_0000


def f32_bits(x):
    return int(np.float32(x).view(np.uint32))


@dataclass
class Case:
    prec: int
    out: int
    a: np.ndarray
    b: np.ndarray
    bias: np.ndarray | None
    scale: np.ndarray | None
    zero_point: int
    clamp: int
    lo: int
    hi: int
    expect: np.ndarray
    conv: tuple | None = None    # (n, h, w, cin, cout, k, stride, pad, pad_value)


def post(prec, out, acc, scale, zp, clamp, lo, hi):
    """Golden output stage of one GEMM result (whole matrix)."""
    if prec == INT8:
        if out == OUT_INT32:
            return acc
        if out == OUT_INT8:
            return golden.requantize(acc, scale, zp, lo, hi)
        return golden.dequantize_fp16(acc, scale)
    if out == OUT_FP32:
        y = acc if scale is None else (acc * scale).astype(np.float32)
        if clamp:
            flo, fhi = (np.uint32(v).view(np.float32) for v in (lo, hi))
            y = np.where(y < flo, flo, y).astype(np.float32)
            y = np.where(y > fhi, fhi, y).astype(np.float32)
        return golden.canonicalize_nan(y)
    flo, fhi = ((np.uint32(lo).view(np.float32), np.uint32(hi).view(np.float32)) if clamp
                else (None, None))
    return golden.fp16_postprocess(acc, scale, flo, fhi)


def operands(rng, prec, shape):
    if prec == INT8:
        return rng.integers(-128, 128, shape, dtype=np.int8)
    return (rng.normal(0, 1, shape) * rng.choice([0.1, 1, 8], shape)).astype(np.float16)


def gemm_case(rng, prec, out, m, k, n, *, bias, scale, clamp=0):
    a, b = operands(rng, prec, (m, k)), operands(rng, prec, (k, n))
    bias_v = None
    if bias:
        bias_v = (rng.integers(-3000, 3000, n, dtype=np.int32) if prec == INT8
                  else rng.normal(0, 2, n).astype(np.float32))
    scale_v = None
    if scale:
        scale_v = ((rng.random(n) * 0.01 + 0.0005) if prec == INT8
                   else rng.random(n) * 1.5 + 0.25).astype(np.float32)
    zp, lo, hi = 0, 0, 0
    if out == OUT_INT8:
        zp = int(rng.integers(-20, 20))
        lo, hi = zp, 120                          # ReLU at the zero point
    elif clamp:
        lo, hi = f32_bits(-2.0), f32_bits(4.0)
    acc = golden.gemm_int8(a, b, bias_v) if prec == INT8 else golden.gemm_fp16(a, b, bias_v)
    expect = post(prec, out, acc, scale_v, zp, clamp, lo, hi)
    return Case(prec, out, a, b, bias_v, scale_v, zp, clamp, lo & 0xFFFF_FFFF,
                hi & 0xFFFF_FFFF, expect)


def im2col(x, k, stride, pad, pad_value):
    n, h, w, c = x.shape
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    xp = np.full((n, h + 2 * pad, w + 2 * pad, c), pad_value, x.dtype)
    xp[:, pad:pad + h, pad:pad + w] = x
    rows = [xp[b, oy * stride:oy * stride + k, ox * stride:ox * stride + k].reshape(-1)
            for b in range(n) for oy in range(oh) for ox in range(ow)]
    return np.stack(rows)


def conv_case(rng, prec, n, h, w, cin, cout, k, stride, pad):
    x = operands(rng, prec, (n, h, w, cin))
    wt = operands(rng, prec, (k, k, cin, cout))
    pad_value = -3 if prec == INT8 else 0
    cols = im2col(x, k, stride, pad, pad_value)
    mat = wt.reshape(k * k * cin, cout)
    if prec == INT8:
        bias = rng.integers(-2000, 2000, cout, dtype=np.int32)
        scale = (rng.random(cout) * 0.01 + 0.001).astype(np.float32)
        zp = 5
        expect = golden.requantize(golden.gemm_int8(cols, mat, bias), scale, zp, zp, 127)
        lo, hi, out, clamp = zp, 127, OUT_INT8, 0
    else:
        bias = rng.normal(0, 1, cout).astype(np.float32)
        scale, zp, lo, hi, out, clamp = None, 0, 0, F32_INF, OUT_FP16, 1
        expect = golden.fp16_postprocess(golden.gemm_fp16(cols, mat, bias), None, 0.0, None)
    return Case(prec, out, x.reshape(n * h * w, cin), mat, bias, scale, zp, clamp, lo, hi,
                expect, conv=(n, h, w, cin, cout, k, stride, pad, pad_value))


def default_cases(seed=7):
    rng = np.random.default_rng(seed)
    cases = [
        gemm_case(rng, INT8, OUT_INT8, 21, 37, 19, bias=True, scale=True),
        gemm_case(rng, INT8, OUT_INT32, 9, 70, 33, bias=True, scale=False),
        gemm_case(rng, INT8, OUT_FP16, 16, 8, 8, bias=False, scale=True),
        gemm_case(rng, INT8, OUT_INT8, 1, 200, 10, bias=False, scale=True),
        gemm_case(rng, FP16, OUT_FP16, 13, 29, 17, bias=True, scale=True, clamp=1),
        gemm_case(rng, FP16, OUT_FP32, 7, 64, 9, bias=False, scale=False),
        gemm_case(rng, FP16, OUT_FP16, 5, 3, 26, bias=False, scale=False),
        gemm_case(rng, FP16, OUT_FP32, 11, 17, 5, bias=True, scale=True, clamp=1),
        conv_case(rng, INT8, 1, 6, 5, 3, 7, 3, 1, 1),
        conv_case(rng, INT8, 2, 7, 7, 4, 5, 3, 2, 1),
        conv_case(rng, FP16, 1, 5, 6, 3, 4, 3, 1, 1),
        conv_case(rng, FP16, 1, 6, 6, 5, 3, 1, 2, 0),
    ]
    return cases


def _array(name, values, ctype, bits):
    flat = np.ascontiguousarray(values).reshape(-1)
    words = flat.view({8: np.uint8, 16: np.uint16, 32: np.uint32}[bits])
    body = ",".join(f"0x{int(v):x}" for v in words)
    return f"static const {ctype} {name}[{len(words)}] __attribute__((aligned(4))) = {{{body}}};"


def render(cases):
    """The C header text for ``cases``."""
    out = ["/* npu_test_data.h: generated by dure.sim.verif.npu_vectors. Do not edit. */",
           "#include <stdint.h>",
           "struct npu_vec_case { uint32_t prec, out, m, k, n, clamp, lo, hi; int32_t zp;",
           "    const void *a, *b, *bias, *scale, *expect; uint32_t expect_bytes;",
           "    uint32_t conv[9]; };"]
    entries = []
    for i, c in enumerate(cases):
        ebits = 8 if c.prec == INT8 else 16
        out.append(_array(f"v{i}_a", c.a, "uint8_t" if ebits == 8 else "uint16_t", ebits))
        out.append(_array(f"v{i}_b", c.b, "uint8_t" if ebits == 8 else "uint16_t", ebits))
        if c.bias is not None:
            out.append(_array(f"v{i}_bias", c.bias, "uint32_t", 32))
        if c.scale is not None:
            out.append(_array(f"v{i}_scale", c.scale, "uint32_t", 32))
        obits = c.expect.dtype.itemsize * 8
        out.append(_array(f"v{i}_expect", c.expect,
                          {8: "uint8_t", 16: "uint16_t", 32: "uint32_t"}[obits], obits))
        m = c.expect.shape[0]
        k, n = c.b.shape
        conv = ",".join(str(v & 0xFFFF_FFFF) for v in (c.conv or (0,) * 9))
        entries.append(
            f"{{{c.prec},{c.out},{m},{k},{n},{c.clamp},0x{c.lo:x}u,0x{c.hi:x}u,{c.zero_point},"
            f"v{i}_a,v{i}_b,{f'v{i}_bias' if c.bias is not None else 0},"
            f"{f'v{i}_scale' if c.scale is not None else 0},v{i}_expect,{c.expect.nbytes},"
            f"{{{conv}}}}}")
    out.append("static const struct npu_vec_case npu_vec_cases[] = {\n    "
               + ",\n    ".join(entries) + "\n};")
    out.append(f"#define NPU_VEC_COUNT {len(cases)}")
    return "\n".join(out) + "\n"
