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
parity so one block's STORE overlaps the next block), K into tiles of R; per K tile one LOAD of
the ``nb x R`` weight tile and one LOAD of the R activation values (``rows = R, cols = 1``) into
one of two SPAD buffers (tile parity), then one COMPUTE (``m = nb, k = R, n = 1``) accumulating
in the block's ACC rows (FP16: the sequential order over k, earlier tiles' sum as the start);
one STORE per block (``rows = nb, cols = 1``, stride = the output element: a contiguous vector).

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
    out, odt = {"int32": (OutType.INT32, np.int32), "fp32": (OutType.FP32, np.float32),
                "fp16": (OutType.FP16, np.float16)}[out_dtype]
    eb = 2 if fp16 else 1
    elem = ElemType.FP16 if fp16 else ElemType.INT8
    area = ParamArea(param_addr)
    data, stride = transposed_weights(b, fmt)
    w_addr = area.add(np.frombuffer(data, np.uint8))
    bias_addr = area.add(bias) if bias is not None else None
    limit = min(config.npu_acc_rows // 2, config.npu_spad_rows // 2 - r, 0xFFFF)
    if nb is None:
        blocks = -(-n // limit)
        nb = -(-n // blocks)
    if not 1 <= nb <= limit:
        raise ValueError(f"nb must be in 1..{limit}, not {nb}")
    wfmt = WeightFormat.INT4 if fmt == "int4" else WeightFormat.DENSE
    words = []
    ktiles = [(k0, min(r, k - k0)) for k0 in range(0, k, r)]
    half = config.npu_acc_rows // 2
    buf = [0, nb + r]                      # SPAD: B^T tile (nb rows) then a^T tile (R rows)
    step = 0
    for blk, n0 in enumerate(range(0, n, nb)):
        rows = min(nb, n - n0)
        acc = (blk % 2) * half
        if bias_addr is not None:
            words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                dram_addr=bias_addr + 4 * n0, dram_stride=4, rows=rows,
                                cols=1, local_addr=acc))
        for t, (k0, kk) in enumerate(ktiles):
            at = buf[step % 2]
            step += 1
            src = w_addr + n0 * stride + (k0 // 2 if fmt == "int4" else k0 * eb)
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                weight_format=wfmt, dram_addr=src, dram_stride=stride,
                                rows=rows, cols=kk, local_addr=at))
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                dram_addr=a_addr + k0 * eb, dram_stride=eb, rows=kk, cols=1,
                                local_addr=at + nb))
            words.append(encode(Opcode.COMPUTE, precision=prec,
                                accumulate=int(t > 0 or bias_addr is not None), a_addr=at,
                                w_addr=at + nb, acc_addr=acc, m=rows, k=kk, n=1))
        ob = np.dtype(odt).itemsize
        words.append(encode(Opcode.STORE, out=out, acc_type=prec, dram_addr=out_addr + n0 * ob,
                            dram_stride=ob, rows=rows, cols=1, acc_addr=acc))
    return LayerProgram(words, area.blobs, out_addr, (1, n), np.dtype(odt), macs=k * n,
                        array_macs=k * n)
