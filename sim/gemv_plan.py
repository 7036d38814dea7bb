"""GEMV (M = 1) on the weight-stationary array at the memory roofline: the transposed plan.

A 1 x K x N GEMV uses every weight once. On the array's usual mapping (weights stationary) each
R x C weight set serves one activation row, so the array's weight intake (a new set only every
``swap_settle`` cycles, ~57 on the 8x8 dual-precision build) bounds it far below the memory
roofline. This plan swaps the operands: ``y^T = B^T a^T``. The activation vector is the
stationary operand (a K tile of R values in lane 0 of R SPAD rows: one new weight set per K
tile, ``n = 1``), and the weight matrix streams through the array as activation rows, one row of
R weights of one output channel per cycle (R MACs per cycle, R bytes of int8 or R / 2 of int4
weights per cycle: more than main memory delivers at 4 B/cycle, so the GEMV is memory-bound).
The weights are stored transposed (N x K rows, K contiguous), as a prepared model stores them;
int4 weights pack two k per byte (the LOAD's ``INT4`` format on the transposed rows).

Blocking: N is cut into blocks of ``nb`` rows (ACC rows ``n``, lane 0; two ACC halves by block
parity so one block's STORE overlaps the next block), K into tiles of R. Per K tile: one LOAD of
the ``nb x R`` weight tile into one of three SPAD buffers (issued two tiles ahead, so the load
unit always has the next one waiting); unless the whole activation vector was loaded once at
the start (``rows = K, cols = 1``, when it fits in SPAD beside the buffers), one LOAD of its R
values; then two COMPUTEs (``k = R, n = 1``), one per half of the block, so neither waits for
its own previous result, accumulating in the block's ACC rows (FP16: the sequential order over
k, earlier tiles' sum as the start). One STORE per block (``rows = nb, cols = 1``, stride = the
output element: a contiguous vector).

The output is raw (INT8: int32; FP16: fp32 or fp16) with an optional bias (one int32 / fp32 per
output channel, loaded into the ACC rows); a per-channel scale would be per ACC row here, which
STORE does not have, so requantized outputs use the usual GEMM plan.
"""

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, WeightFormat
from dure.rtl.npu.descriptor import encode

from .golden_int4 import pack_int4
from .layer_program import LayerProgram, ParamArea

__all__ = ["gemv_program", "transposed_weights"]

#: Weight-tile buffers in SPAD (the LOADs run this many steps minus one ahead).
_BUFFERS = 3


def transposed_weights(b, fmt="dense"):
    """Main-memory bytes and row stride of the transposed weights of ``b`` (K x N, int8 or
    float16): ``dense`` (N x K elements) or ``int4`` (int8 values in [-8, 7], N x ceil(K / 2)
    bytes, k pairs low nibble first)."""
    bt = np.ascontiguousarray(b.T)
    if fmt == "int4":
        packed = pack_int4(bt)
        return packed.tobytes(), packed.shape[1]
    if fmt != "dense":
        raise ValueError(f"the GEMV plan takes dense or int4 weights, not {fmt!r}")
    return bt.tobytes(), bt.shape[1] * bt.itemsize


def gemv_program(config, b, *, precision, a_addr, out_addr, param_addr, out_dtype=None,
                 bias=None, fmt="dense", nb=None):
    """The :class:`~dure.sim.layer_program.LayerProgram` of ``y = a @ b (+ bias)`` for ``a``
    (1 x K at ``a_addr``, int8 or fp16 per ``precision``) and ``b`` (K x N), placed transposed
    in the parameter area (``fmt`` ``dense`` or ``int4``; see the module docstring); ``y`` (1 x
    N, ``out_dtype`` int32 for INT8, fp32 (default) or fp16 for FP16) at ``out_addr``."""
    r = config.npu_rows
    k, n = b.shape
    fp16 = precision == "fp16"
    prec = Precision.FP16 if fp16 else Precision.INT8
    out_dtype = out_dtype or ("fp32" if fp16 else "int32")
    legal = ("fp32", "fp16") if fp16 else ("int32",)
    if out_dtype not in legal:
        raise ValueError(f"the GEMV plan writes {' or '.join(legal)} for {precision}")
    if fmt == "int4" and (fp16 or r % 2):
        raise ValueError("int4 GEMV weights are W4A8 (int8 precision) on an even-row array")
    out_type, odt = {"int32": (OutType.INT32, np.int32), "fp32": (OutType.FP32, np.float32),
                "fp16": (OutType.FP16, np.float16)}[out_dtype]
    eb = 2 if fp16 else 1
    elem = ElemType.FP16 if fp16 else ElemType.INT8
    area = ParamArea(param_addr)
    data, stride = transposed_weights(b, fmt)
    w_addr = area.add(np.frombuffer(data, np.uint8))
    bias_addr = area.add(bias) if bias is not None else None
    kpad = -(-k // r) * r
    # The activation vector stays in SPAD for the whole GEMV when it fits beside the weight
    # buffers (at least min(N, 256) rows each); otherwise each K tile brings its R values.
    resident = kpad + _BUFFERS * min(n, 256) <= config.npu_spad_rows
    room = config.npu_spad_rows - (kpad if resident else _BUFFERS * r)
    limit = min(config.npu_acc_rows // 2, room // _BUFFERS, 0xFFFF)
    if nb is None:
        blocks = -(-n // limit)
        nb = -(-n // blocks)
    if not 1 <= nb <= limit:
        raise ValueError(f"nb must be in 1..{limit}, not {nb}")
    wfmt = WeightFormat.INT4 if fmt == "int4" else WeightFormat.DENSE
    half = config.npu_acc_rows // 2
    ob = np.dtype(odt).itemsize
    # SPAD: _BUFFERS buffers of a B^T tile (nb rows), each followed by its a^T tile (R rows)
    # unless the whole a^T sits after them.
    size = nb if resident else nb + r
    a_rows = _BUFFERS * size
    steps = [(blk, n0, min(nb, n - n0), t, k0, min(r, k - k0))
             for blk, n0 in enumerate(range(0, n, nb)) for t, k0 in enumerate(range(0, k, r))]

    def loads(i):
        _, n0, rows, _, k0, kk = steps[i]
        at = (i % _BUFFERS) * size
        src = w_addr + n0 * stride + (k0 // 2 if fmt == "int4" else k0 * eb)
        out = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, weight_format=wfmt,
                      dram_addr=src, dram_stride=stride, rows=rows, cols=kk, local_addr=at)]
        if not resident:
            out.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                              dram_addr=a_addr + k0 * eb, dram_stride=eb, rows=kk, cols=1,
                              local_addr=at + nb))
        return out

    def compute(i):
        blk, n0, rows, t, k0, kk = steps[i]
        at = (i % _BUFFERS) * size
        acc = (blk % 2) * half
        out = []
        if t == 0 and bias_addr is not None:
            out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                              dram_addr=bias_addr + 4 * n0, dram_stride=4, rows=rows, cols=1,
                              local_addr=acc))
        # Two COMPUTEs per tile on the two halves of the block: each one's predecessor on the
        # same ACC rows (previous tile) has drained while the other half ran.
        cut = (rows + 1) // 2
        for lo, hi in ((0, cut), (cut, rows)) if rows > 1 else ((0, rows),):
            out.append(encode(Opcode.COMPUTE, precision=prec,
                              accumulate=int(t > 0 or bias_addr is not None), a_addr=at + lo,
                              w_addr=a_rows + k0 if resident else at + nb, acc_addr=acc + lo,
                              m=hi - lo, k=kk, n=1))
        if k0 + kk == k:
            out.append(encode(Opcode.STORE, out=out_type, acc_type=prec,
                              dram_addr=out_addr + n0 * ob, dram_stride=ob, rows=rows, cols=1,
                              acc_addr=acc))
        return out

    # The weight LOADs run _BUFFERS - 1 steps ahead of the COMPUTEs, so the load unit always
    # has the next LOAD waiting and the DMA never idles behind a COMPUTE's dependency.
    ahead = _BUFFERS - 1
    words = []
    if resident:
        words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=a_addr,
                            dram_stride=eb, rows=k, cols=1, local_addr=a_rows))
    for i in range(min(ahead, len(steps))):
        words += loads(i)
    for i in range(len(steps)):
        words += compute(i)
        if i + ahead < len(steps):
            words += loads(i + ahead)
    return LayerProgram(words, area.blobs, out_addr, (1, n), np.dtype(odt), macs=k * n,
                        array_macs=k * n)
