"""Elementwise ADD of two FP16 tensors lowered onto the NPU.

:func:`add_fp16_program` computes :func:`dure.sim.golden_tflite_fp16.add_fp16` bit for bit. The
tensors are viewed flat, as rows of ``L' = min(R, C)`` elements (the last row partial). Per
block of rows: a fill LOAD sets the block's ACC rows to -0.0 (``0x80000000``), then two
``diagonal`` COMPUTEs with the identity weight matrix and ``accumulate`` add ``a`` and then
``b`` lane by lane (``k == n`` only, so no ``0 * Inf`` of other lanes enters), and the FP16
STORE (with the optional clamp) writes the block. Why -0.0: ``-0.0 + x == x`` for every binary32
``x`` including both zeros, so the ACC holds ``float32(a)`` exactly after the first COMPUTE and
``float32(a) + float32(b)`` (one RNE addition) after the second; ``-0.0 + -0.0`` stays -0.0,
``Inf + -Inf`` is NaN, NaN is canonical: the golden's value. Blocks alternate between two SPAD
/ ACC buffers so the LOADs of one block overlap the COMPUTEs of the previous one.

The INT8 ADD (TFLite's per-input rescaling with separate roundings) is not lowered: it cannot
be done exactly by the array.
"""

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import encode

from dure.gemm_cost import ADD_BLOCK_ROWS

from .conv_plan import _fp16_store
from .layer_program import LayerProgram, ParamArea

__all__ = ["add_fp16_program"]

#: Rows per block (a COMPUTE of this many rows keeps the array busy past its weight reload).
BLOCK_ROWS = ADD_BLOCK_ROWS


def add_fp16_program(config, shape, *, lo=None, hi=None, a_addr, b_addr, out_addr,
                     param_addr):
    """ADD FP16 of two dense float16 tensors of ``shape`` at ``a_addr`` / ``b_addr`` into
    ``out_addr`` (dense, same shape) as a :class:`~dure.sim.layer_program.LayerProgram`."""
    if not config.npu_rows or not config.npu_fp16:
        raise ValueError(f"config {config.name!r} has no FP16 NPU")
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"shape must be non-empty with positive sizes, not {shape}")
    store = _fp16_store(None, lo, hi)
    lc = min(config.npu_rows, config.npu_cols)
    total = int(np.prod(shape))
    params = ParamArea(param_addr)
    ident = params.add(np.eye(lc, dtype=np.float16))
    block = min(BLOCK_ROWS, config.npu_acc_rows // 2, (config.npu_spad_rows - lc) // 4)
    full, tail = divmod(total, lc)
    pieces = [(r0, min(block, full - r0), lc) for r0 in range(0, full, block)]
    if tail:
        pieces.append((full, 1, tail))
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=ident,
                    dram_stride=2 * lc, rows=lc, cols=lc, local_addr=0)]
    for i, (r0, rows, cols) in enumerate(pieces):
        acc = (i % 2) * block
        spad = lc + (i % 2) * 2 * block
        words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                            fill_value=0x8000_0000, rows=rows, cols=cols, local_addr=acc))
        for j, addr in enumerate((a_addr, b_addr)):
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16,
                                dram_addr=addr + 2 * r0 * lc, dram_stride=2 * lc, rows=rows,
                                cols=cols, local_addr=spad + j * block))
        for j in range(2):
            words.append(encode(Opcode.COMPUTE, precision=Precision.FP16, accumulate=1,
                                diagonal=1, a_addr=spad + j * block, w_addr=0, acc_addr=acc,
                                m=rows, k=cols, n=cols))
        words.append(encode(Opcode.STORE, **store, dram_addr=out_addr + 2 * r0 * lc,
                            dram_stride=2 * lc, rows=rows, cols=cols, acc_addr=acc))
    return LayerProgram(words, params.blobs, out_addr, shape, np.dtype(np.float16),
                        macs=total, array_macs=2 * total * lc,
                        lane_use=total / (2 * sum(r for _, r, _ in pieces) * config.npu_rows
                                          * config.npu_cols))
