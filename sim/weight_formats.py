"""Compressed weights in main memory for the NPU's packed LOADs (LOAD ``weight_format``).

:func:`pack_weights` turns the weight matrix of a GEMM (K x N) into the main-memory image that
the LOADs of :class:`dure.rtl.npu.commands.WeightFormat` read, following the golden formats
(:mod:`dure.sim.golden_int4`, :mod:`dure.sim.golden_sparse24`), and :class:`PackedWeights`
gives the LOAD descriptors of any (K rows, column tile) block of it, so the GEMM planner
(:func:`dure.sim.gemm_descriptors.gemm_descriptors`, ``w_loads``) streams it like dense
weights.

Layouts (addresses relative to the image's base):

- ``int4`` and W4A16 (``int4`` with FP16 precision): :func:`~dure.sim.golden_int4.pack_int4`
  rows, ``ceil(N / 2)`` bytes each; W4A16's fp16 scales ``(ceil(K / G), N)`` follow as one
  more array (row g at ``scales + 2 g N``); a LOAD never spans two groups (the loads are cut at
  multiples of G).
- ``int8-sparse24`` / ``int4-sparse24``: blocked by column tiles of ``tile`` columns (the
  array's C): tile j's ``K / 4`` source rows (one per group of 4 k) are contiguous, each the
  LOAD's source row (values of the first kept position, of the second, then the 4-bit codes;
  int4 values packed), so a LOAD of any multiple of 4 rows of one tile is one strided read.
"""

from dataclasses import dataclass

import numpy as np
from dure.rtl.npu.commands import (
    ElemType,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    WeightFormat,
    load_source,
)
from dure.rtl.npu.descriptor import encode

from .golden_int4 import GROUP_SIZES, dequantize_w4a16, pack_int4
from .golden_sparse24 import compress_24, expand_24

__all__ = ["FORMATS", "PackedWeights", "pack_weights", "dense_weights", "gemm_program"]

#: Weight format names (as ``dure gemm --weight-format`` takes them) -> LOAD format for INT8
#: precision; ``int4`` with FP16 precision is ``INT4_FP16`` (W4A16).
FORMATS = {"int8": WeightFormat.DENSE, "int4": WeightFormat.INT4,
           "int8-sparse24": WeightFormat.SPARSE24, "int4-sparse24": WeightFormat.SPARSE24_INT4}


def _int4(q):
    if q.size and (q.min() < -8 or q.max() > 7):
        i, j = np.argwhere((q < -8) | (q > 7))[0]
        raise ValueError(f"int4 weights must lie in [-8, 7]; B[{i}, {j}] = {q[i, j]}")
    return q


@dataclass
class PackedWeights:
    """A packed weight image: ``data`` (bytes to place at some base; an even one for W4A16),
    the LOAD format, shape and tile; ``scales_offset`` (W4A16): where the fp16 scales start
    inside ``data`` (a multiple of 4)."""

    fmt: WeightFormat
    k: int
    n: int
    tile: int
    data: bytes
    group_size: int = 0
    scales_offset: int = 0
    tile_offsets: tuple = ()

    def loads(self, base, k0, rows, n0, cols, local_addr):
        """LOAD descriptors bringing weights ``[k0, k0 + rows) x [n0, n0 + cols)`` (``n0`` a
        multiple of ``tile``, ``cols`` <= ``tile``) to SPAD rows ``local_addr ..`` when the
        image is at ``base``."""
        if n0 % self.tile or cols > self.tile:
            raise ValueError(f"columns {n0}..{n0 + cols} are not within one tile of {self.tile}")
        elem = ElemType.FP16 if self.fmt == WeightFormat.INT4_FP16 else ElemType.INT8
        common = dict(target=LoadTarget.SPAD, elem=elem, weight_format=self.fmt, cols=cols)
        if self.fmt in (WeightFormat.SPARSE24, WeightFormat.SPARSE24_INT4):
            if k0 % 4 or rows % 4:
                raise ValueError(f"2:4 rows {k0}..{k0 + rows} are not whole groups of 4")
            j = n0 // self.tile
            width = min(self.tile, self.n - n0)
            _, row_bytes = load_source(4, width, self.fmt, elem)
            return [encode(Opcode.LOAD, **common, rows=rows, local_addr=local_addr,
                           dram_addr=base + self.tile_offsets[j] + (k0 // 4) * row_bytes,
                           dram_stride=row_bytes)]
        stride = (self.n + 1) // 2
        if n0 % 2:
            raise ValueError("int4 column tiles must start at an even column")
        words = []
        k, end = k0, k0 + rows
        while k < end:
            stop = end if self.fmt == WeightFormat.INT4 else \
                min(end, (k // self.group_size + 1) * self.group_size)
            extra = {}
            if self.fmt == WeightFormat.INT4_FP16:
                extra["scale_addr"] = base + self.scales_offset + 2 * (
                    (k // self.group_size) * self.n + n0)
            words.append(encode(Opcode.LOAD, **common, **extra, rows=stop - k,
                                local_addr=local_addr + k - k0,
                                dram_addr=base + k * stride + n0 // 2, dram_stride=stride))
            k = stop
        return words


def pack_weights(fmt, b, *, precision="int8", tile=8, scales=None, group_size=None):
    """The :class:`PackedWeights` of ``b`` (K x N int8 values; int4 formats: in [-8, 7]).

    ``fmt``: a :data:`FORMATS` name. ``precision="fp16"`` only with ``int4``: W4A16 with
    ``scales`` ((ceil(K / G), N) float16) and ``group_size`` G in 32, 64, 128. Raises
    ``ValueError`` naming the bad weight or the 2:4 group that holds more than two non-zeros.
    """
    if fmt not in FORMATS:
        raise ValueError(f"weight format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not isinstance(b, np.ndarray) or b.dtype != np.int8 or b.ndim != 2 or 0 in b.shape:
        raise ValueError("the weights must be a non-empty 2-D int8 array")
    k, n = b.shape
    wf = FORMATS[fmt]
    if precision == "fp16":
        if fmt != "int4":
            raise ValueError(f"fp16 precision takes weight format int4 (W4A16), not {fmt}")
        if group_size not in GROUP_SIZES:
            raise ValueError(f"W4A16 needs a group size in {GROUP_SIZES}, not {group_size}")
        packed = pack_int4(_int4(b)).tobytes()
        dequantize_w4a16(b, scales, group_size)          # checks shape, dtype, finiteness
        packed += bytes(-len(packed) % 4)
        return PackedWeights(WeightFormat.INT4_FP16, k, n, tile,
                             packed + np.ascontiguousarray(scales).tobytes(),
                             group_size, len(packed))
    if precision != "int8":
        raise ValueError(f"precision must be int8 or fp16, not {precision!r}")
    if wf == WeightFormat.DENSE:
        raise ValueError("int8 weights are dense: no packing")
    if wf == WeightFormat.INT4:
        return PackedWeights(wf, k, n, tile, pack_int4(_int4(b)).tobytes())
    if k % 4:
        raise ValueError(f"2:4 sparse weights need K % 4 == 0, not K = {k}")
    if wf == WeightFormat.SPARSE24_INT4:
        _int4(b)
    try:
        values, meta = compress_24(b)
    except ValueError as error:
        raise ValueError(str(error).replace("w is not", "B is not")) from None
    parts, offsets, at = [], [], 0
    for n0 in range(0, n, tile):
        nn = min(tile, n - n0)
        v = values[:, n0:n0 + nn].reshape(k // 4, 2, nn)
        codes = _codes(meta, n0, nn)
        if wf == WeightFormat.SPARSE24:
            rows = [v[:, 0].view(np.uint8), v[:, 1].view(np.uint8), codes]
        else:
            rows = [pack_int4(np.ascontiguousarray(v[:, 0])),
                    pack_int4(np.ascontiguousarray(v[:, 1])), codes]
        block = np.concatenate(rows, axis=1)
        offsets.append(at)
        parts.append(block.tobytes())
        at += block.nbytes
    return PackedWeights(wf, k, n, tile, b"".join(parts), tile_offsets=tuple(offsets))


def _codes(meta, n0, nn):
    """The 4-bit codes of columns ``n0 .. n0 + nn`` re-packed two per byte from column 0."""
    code = np.empty((meta.shape[0], 2 * meta.shape[1]), np.uint8)
    code[:, 0::2], code[:, 1::2] = meta & 0xF, meta >> 4
    code = code[:, n0:n0 + nn]
    if nn % 2:
        code = np.concatenate([code, np.zeros((code.shape[0], 1), np.uint8)], axis=1)
    return (code[:, 0::2] | (code[:, 1::2] << 4)).astype(np.uint8)


def dense_weights(fmt, b, *, precision="int8", scales=None, group_size=None):
    """The dense weights the NPU computes with (the golden models' view): ``b`` itself for
    int8 and int4 (W4A8) formats, the expansion of the compressed pair for 2:4 (equal to ``b``),
    the fp16 dequantization for W4A16."""
    if precision == "fp16":
        return dequantize_w4a16(b, scales, group_size)
    if FORMATS[fmt] in (WeightFormat.SPARSE24, WeightFormat.SPARSE24_INT4):
        return expand_24(*compress_24(b))
    return b


_OUT = {"int8": (OutType.INT8, np.int8), "int32": (OutType.INT32, np.int32),
        "fp16": (OutType.FP16, np.float16), "fp32": (OutType.FP32, np.float32)}


def gemm_program(config, m, packed, *, precision, out_dtype, a_addr, out_addr, param_addr,
                 bias=None, scale=None, zero_point=0, lo=None, hi=None):
    """The :class:`~dure.sim.layer_program.LayerProgram` of ``out = post(A @ W + bias)`` with
    A (``m`` x K, int8 or fp16 per ``precision``, dense rows) at ``a_addr`` and the weights
    ``packed`` (:class:`PackedWeights`, placed with the parameters), the output (``m`` x N of
    ``out_dtype``, dense rows) at ``out_addr``; bias (N int32 / float32) and scale (N float32)
    go to the parameter area too. The stream is :func:`~dure.sim.gemm_descriptors.
    gemm_descriptors`' with the packed LOADs in place of the dense weight LOADs."""
    from .gemm_descriptors import gemm_descriptors
    from .layer_program import LayerProgram, ParamArea

    if packed.tile != config.npu_cols:
        raise ValueError(f"the weights are blocked for {packed.tile} columns, the array has "
                         f"{config.npu_cols}")
    k, n = packed.k, packed.n
    prec = Precision.FP16 if precision == "fp16" else Precision.INT8
    out, odt = _OUT[out_dtype]
    area = ParamArea(param_addr)
    w_addr = area.add(np.frombuffer(packed.data, np.uint8))
    bias_addr = area.add(bias) if bias is not None else None
    scale_addr = area.add(np.asarray(scale, np.float32)) if scale is not None else None
    eb = 2 if prec == Precision.FP16 else 1
    ob = np.dtype(odt).itemsize
    words = gemm_descriptors(
        config, m, k, n, precision=prec, a_addr=a_addr, a_stride=k * eb, b_addr=0, b_stride=0,
        out_addr=out_addr, out_stride=n * ob, out=out, bias_addr=bias_addr,
        scale_addr=scale_addr, zero_point=zero_point, lo=lo, hi=hi,
        w_loads=lambda k0, rows, n0, cols, local: packed.loads(w_addr, k0, rows, n0, cols,
                                                               local))
    return LayerProgram(words, area.blobs, out_addr, (m, n), np.dtype(odt), macs=m * k * n,
                        array_macs=m * k * n)
