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

The INT8 ADD of TFLite (:func:`add_int8_program`, :func:`dure.sim.golden_tflite.add_int8`)
rescales each input with its own rounding, which the array cannot do; it runs on the
element-wise unit. The tensors are viewed flat as rows of C elements (the last row partial);
per block of rows: LOADs of both inputs into SPAD, one ELTWISE ``ADD`` (zero points,
multipliers and right shifts of the two inputs as immediates; the ACC gets the int32 sum of
the two rescaled inputs) and a STORE INT8 -> INT8 in the ``TFLITE_DOUBLE_ROUNDING`` mode with
the output multiplier / shift rows (loaded once at the top of the ACC), the output zero point
and the clamp: ``MultiplyByQuantizedMultiplier`` with a shift <= 0 is exactly
``MultiplyByQuantizedMultiplierSmallerThanOneExp``, and the zero point is added before the
clamp, as TFLite does. Blocks alternate between two SPAD / ACC buffers.
"""

import numpy as np
from dure.rtl.npu.commands import (
    ElemType,
    EltwiseOp,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    RequantMode,
)
from dure.rtl.npu.descriptor import encode

from dure.gemm_cost import ADD_BLOCK_ROWS

from .conv_plan import _fp16_store
from .layer_program import LayerProgram, ParamArea

__all__ = ["add_fp16_program", "add_int8_program"]

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


def add_int8_program(config, shape, params, *, input1_zero_point, input2_zero_point,
                     output_zero_point, lo=-128, hi=127, a_addr, b_addr, out_addr,
                     param_addr):
    """ADD INT8 of two dense int8 tensors of ``shape`` at ``a_addr`` / ``b_addr`` into
    ``out_addr`` as a :class:`~dure.sim.layer_program.LayerProgram`; ``params`` an
    :class:`~dure.sim.golden_tflite_params.AddParams` (left shift 20, input shifts in [-31,
    0]), the rest as :func:`dure.sim.golden_tflite.add_int8`. The firmware's C port
    (firmware/npu/npu_add_int8.c, ``npu_op_add_int8``) emits the same stream word for word."""
    if not config.npu_rows or not config.npu_eltwise:
        raise ValueError(f"config {config.name!r} has no NPU element-wise unit")
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"shape must be non-empty with positive sizes, not {shape}")
    if params.left_shift != 20:
        raise ValueError(f"ELTWISE ADD shifts by 20 (8-bit TFLite), not {params.left_shift}")
    for name in ("input1_shift", "input2_shift", "output_shift"):
        if not -31 <= getattr(params, name) <= 0:
            raise ValueError(f"{name} must lie in [-31, 0], not {getattr(params, name)}")
    zps = [int(z) for z in (input1_zero_point, input2_zero_point, output_zero_point)]
    lo, hi = int(lo), int(hi)
    if not all(-128 <= z <= 127 for z in zps) or not -128 <= lo <= hi <= 127:
        raise ValueError(f"zero points and -128 <= lo <= hi <= 127 required, not {zps}, "
                         f"({lo}, {hi})")
    c = config.npu_cols
    total = int(np.prod(shape))
    params_area = ParamArea(param_addr)
    const = np.array([[params.output_multiplier] * c, [params.output_shift] * c], np.int32)
    const_addr = params_area.add(const)
    block = min(BLOCK_ROWS, (config.npu_acc_rows - 2) // 2, config.npu_spad_rows // 4)
    full, tail = divmod(total, c)
    pieces = [(r0, min(block, full - r0), c) for r0 in range(0, full, block)]
    if tail:
        pieces.append((full, 1, tail))
    const_row = config.npu_acc_rows - 2
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=const_addr, dram_stride=4 * c, rows=2, cols=c,
                    local_addr=const_row)]
    add = dict(op=EltwiseOp.ADD, precision=Precision.INT8, zp_a=zps[0], zp_b=zps[1],
               mult_a=params.input1_multiplier, rshift_a=-params.input1_shift,
               mult_b=params.input2_multiplier, rshift_b=-params.input2_shift)
    store = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                 requant=RequantMode.TFLITE_DOUBLE_ROUNDING, zero_point=zps[2],
                 lo=lo & 0xFFFF_FFFF, hi=hi & 0xFFFF_FFFF, scale_addr=const_row)
    for i, (r0, rows, cols) in enumerate(pieces):
        acc = (i % 2) * block
        spad = (i % 2) * 2 * block
        for j, addr in enumerate((a_addr, b_addr)):
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                dram_addr=addr + r0 * c, dram_stride=c, rows=rows,
                                cols=cols, local_addr=spad + j * block))
        words.append(encode(Opcode.ELTWISE, **add, a_addr=spad, b_addr=spad + block,
                            acc_addr=acc, m=rows, n=cols))
        words.append(encode(Opcode.STORE, **store, dram_addr=out_addr + r0 * c,
                            dram_stride=c, rows=rows, cols=cols, acc_addr=acc))
    return LayerProgram(words, params_area.blobs, out_addr, shape, np.dtype(np.int8),
                        notes=[f"{len(pieces)} ELTWISE ADD"])
