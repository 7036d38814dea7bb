"""Test support: a tiled GEMM as NPU datapath commands, with its operands in main memory.

:func:`gemm_program` lays out ``A`` (M x K), ``B`` (K x N), an optional bias and per-column
scales in a byte image and returns the LOAD / COMPUTE / STORE commands that compute
``out = postprocess(A @ B + bias)`` on an R x C array: N tiled by C, K tiled by R with each
K tile accumulating onto the previous one's ACC rows, the bias put into ACC by a broadcast
LOAD. SPAD and ACC regions alternate between tiles so that a dispatcher can overlap the LOADs
of the next tile with the COMPUTE of this one and the STORE of the previous one.
"""

from dataclasses import dataclass

import numpy as np
from dure.sim import golden
from dure.sim.verif.npu_datapath import Command

from .commands import ElemType, LoadTarget, OutType
from .isa import Precision

__all__ = ["GemmLayout", "gemm_program", "gemm_expected", "read_output"]


@dataclass
class GemmLayout:
    """Where a GEMM's operands and output live in the image (byte offsets from ``base``)."""
    base: int
    a: int
    b: int
    bias: int
    scale: int
    out: int
    out_stride: int
    size: int


def _align(x, n):
    return (x + n - 1) // n * n


def gemm_program(config, a, b, *, bias=None, scale=None, out=OutType.INT32, zero_point=0,
                 lo=None, hi=None, base=0, pad=3, acc_rows=None):
    """Commands and a memory image for one GEMM; returns ``(commands, image, layout)``.

    ``a``/``b`` are int8 or float16; ``bias`` int32 / float32 of length N; ``scale`` float32 of
    length N (STORE scale); ``lo``/``hi`` the clamp (int for INT8 output, float otherwise;
    ``None``: no clamp). ``pad`` extra bytes at the end of every source row (odd strides) and
    ``base`` the image's byte address.
    """
    rows, cols = config.npu_rows, config.npu_cols
    fp = a.dtype == np.float16
    prec = Precision.FP16 if fp else Precision.INT8
    eb = 2 if fp else 1
    m, k = a.shape
    n = b.shape[1]
    ob = {OutType.INT8: 1, OutType.INT32: 4, OutType.FP16: 2, OutType.FP32: 4}[out]
    a_stride, b_stride = _align(k * eb + pad, eb), _align(n * eb + pad, eb)
    out_stride = _align(n * ob + pad, ob)
    off = 0
    lay = {}
    for name, size, align in (("a", m * a_stride, eb), ("b", k * b_stride, eb),
                              ("bias", 4 * n, 4), ("scale", 4 * n, 4),
                              ("out", m * out_stride, ob)):
        off = _align(off + 1, align) + (eb if name in "ab" else 0)   # odd-ish starts
        lay[name] = off
        off += size
    image = bytearray(np.random.default_rng(m * 7 + n).integers(0, 256, off + 8, np.uint8))
    bits = a.view(np.uint16 if fp else np.uint8)
    for i in range(m):
        at = lay["a"] + i * a_stride
        image[at:at + k * eb] = bits[i].tobytes()
    bits = b.view(np.uint16 if fp else np.uint8)
    for i in range(k):
        at = lay["b"] + i * b_stride
        image[at:at + n * eb] = bits[i].tobytes()
    if bias is not None:
        image[lay["bias"]:lay["bias"] + 4 * n] = bias.view(np.uint32).tobytes()
    if scale is not None:
        image[lay["scale"]:lay["scale"] + 4 * n] = scale.astype(np.float32).tobytes()
    layout = GemmLayout(base, lay["a"], lay["b"], lay["bias"], lay["scale"], lay["out"],
                        out_stride, len(image))

    half_s = config.npu_spad_rows // 2
    acc_rows = acc_rows or config.npu_acc_rows
    half_a = (acc_rows - 2) // 2
    if m + rows > half_s or m > half_a:
        raise ValueError(f"M={m} does not fit the SPAD/ACC halves")
    elem = ElemType.FP16 if fp else ElemType.INT8
    cmds = []
    tile = 0
    for t_n, n0 in enumerate(range(0, n, cols)):
        nn = min(cols, n - n0)
        acc0 = (t_n % 2) * half_a
        scale_row = acc_rows - 1 - t_n % 2
        if scale is not None:
            cmds.append(Command("load", dict(
                target=LoadTarget.ACC, elem=ElemType.WORD32,
                dram_addr=base + lay["scale"] + 4 * n0, dram_stride=0, rows=1, cols=nn,
                local_addr=scale_row)))
        if bias is not None:
            cmds.append(Command("load", dict(
                target=LoadTarget.ACC, elem=ElemType.WORD32, broadcast=1,
                dram_addr=base + lay["bias"] + 4 * n0, dram_stride=0, rows=m, cols=nn,
                local_addr=acc0)))
        for k0 in range(0, k, rows):
            kk = min(rows, k - k0)
            s0 = (tile % 2) * half_s
            tile += 1
            cmds.append(Command("load", dict(
                target=LoadTarget.SPAD, elem=elem, dram_addr=base + lay["a"] + k0 * eb,
                dram_stride=a_stride, rows=m, cols=kk, local_addr=s0)))
            cmds.append(Command("load", dict(
                target=LoadTarget.SPAD, elem=elem,
                dram_addr=base + lay["b"] + k0 * b_stride + n0 * eb,
                dram_stride=b_stride, rows=kk, cols=nn, local_addr=s0 + m)))
            cmds.append(Command("exec", dict(
                precision=prec, accumulate=int(k0 > 0 or bias is not None), a_addr=s0,
                w_addr=s0 + m, acc_addr=acc0, m=m, k=kk, n=nn)))
        store = dict(out=out, acc_type=prec, scale=int(scale is not None),
                     clamp=int(lo is not None), zero_point=zero_point,
                     dram_addr=base + lay["out"] + n0 * ob, dram_stride=out_stride, rows=m,
                     cols=nn, acc_addr=acc0, scale_addr=scale_row if scale is not None else 0)
        if out == OutType.INT8:
            store.update(lo=(-128 if lo is None else lo) & 0xFFFF_FFFF,
                         hi=(127 if hi is None else hi) & 0xFFFF_FFFF, clamp=0)
        elif lo is not None:
            store.update(lo=int(np.float32(lo).view(np.uint32)),
                         hi=int(np.float32(hi).view(np.uint32)))
        cmds.append(Command("store", store))
    return cmds, image, layout


def gemm_expected(a, b, *, bias=None, scale=None, out=OutType.INT32, zero_point=0, lo=None,
                  hi=None):
    """The output matrix straight from :mod:`dure.sim.golden` (no tiling), as uint words."""
    if a.dtype == np.int8:
        acc = golden.gemm_int8(a, b, bias)
        if out == OutType.INT32:
            return acc.view(np.uint32)
        if out == OutType.INT8:
            y = golden.requantize(acc, scale, zero_point, -128 if lo is None else lo,
                                  127 if hi is None else hi)
            return y.view(np.uint8).astype(np.uint32)
        return golden.dequantize_fp16(acc, scale).view(np.uint16).astype(np.uint32)
    acc = golden.gemm_fp16(a, b, bias)
    if out == OutType.FP32:
        return acc.view(np.uint32)
    return golden.fp16_postprocess(acc, scale, lo, hi).view(np.uint16).astype(np.uint32)


def read_output(image, layout, m, n, out):
    """The output matrix as uint words, read back from ``image``."""
    ob = {OutType.INT8: 1, OutType.INT32: 4, OutType.FP16: 2, OutType.FP32: 4}[out]
    res = np.zeros((m, n), np.uint32)
    for i in range(m):
        for j in range(n):
            at = layout.out + i * layout.out_stride + j * ob
            res[i, j] = int.from_bytes(image[at:at + ob], "little")
    return res
