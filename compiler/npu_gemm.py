"""A lowered GEMM as NPU descriptors, with the requantization fused into its STOREs.

The float-scale (ONNX) and FP16 GEMMs are :func:`dure.sim.gemm_descriptors.gemm_descriptors`
as they are. The two TFLite requantization modes (STORE ``requant``, rtl/npu/store_cmd.py) read
*two* ACC rows per N tile (multipliers at ``scale_addr``, shifts at ``scale_addr + 1``) where the
planner reserves one scale row per tile, so :func:`tflite_gemm_descriptors` plans with room for
``4 * gn`` rows at the top of the ACC (``gn`` lowered when the ACC is too small for that) and
rewrites the stream of the one planner: each scale LOAD of the planner (tile ``r`` of the scale
rows) becomes a multiplier LOAD into row ``top + 2 r`` and a shift LOAD into row
``top + 2 r + 1``, and each STORE reads ``scale_addr = top + 2 r`` with the ``requant`` mode
set. Tiling, chunk order and every other command are the planner's.
"""

import dataclasses

from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, RequantMode
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.gemm_plan import plan_cost, plan_gemm, tile_count

__all__ = ["tflite_gemm_descriptors", "gemm_cost", "tflite_plan"]


def tflite_plan(config, m, k, n):
    """The planner's INT8 plan (scale and bias LOADs), with ``gn`` lowered until the ACC holds
    two halves of ``gn * mblk`` rows and ``4 * gn`` multiplier / shift rows."""
    plan = plan_gemm(config, m, k, n, elem_bytes=1, scale=True, bias=True)
    ac, s, r = config.npu_acc_rows, config.npu_spad_rows, config.npu_rows
    gn = min(plan.gn, ac // (2 * plan.mblk + 4))
    if gn < 1:
        raise ValueError("the ACC is too small for a TFLite-requantized GEMM block")
    if gn != plan.gn:
        gn = tile_count(plan.nt, tile_count(plan.nt, gn))
        q = min(plan.kt, s // (2 * (plan.mblk + gn * r)))
        plan = dataclasses.replace(plan, gn=gn, q=q, w_base=2 * q * plan.mblk,
                                   scale_row=ac - 2 * gn)
    return plan


def gemm_cost(config, m, k, n, *, elem_bytes=1):
    """The planner's cost estimate (cycles, ``max`` of push, memory and compute) of a GEMM."""
    plan = plan_gemm(config, m, k, n, elem_bytes=elem_bytes, scale=True, bias=True)
    return plan_cost(config, m, k, n, plan.mc, plan.mblk, plan.gn, plan.q,
                     elem_bytes=elem_bytes, extra=3)[0]


def tflite_gemm_descriptors(config, m, k, n, *, a_addr, a_stride, b_addr, b_stride, out_addr,
                            out_stride, bias_addr, multiplier_addr, shift_addr, zero_point, lo,
                            hi, mode):
    """Descriptors of ``out = clamp(MultiplyByQuantizedMultiplier(A @ B + bias, M_j, shift_j)
    + zero_point, lo, hi)`` (int8 A (M x K), B (K x N), int32 bias, multipliers and shifts in
    main memory; ``mode`` a TFLite :class:`RequantMode`); see the module docstring."""
    mode = RequantMode(mode)
    if mode == RequantMode.FLOAT_SCALE:
        raise ValueError("use gemm_descriptors for the float-scale mode")
    plan = tflite_plan(config, m, k, n)
    top = config.npu_acc_rows - 4 * plan.gn
    words = gemm_descriptors(config, m, k, n, precision=Precision.INT8, a_addr=a_addr,
                             a_stride=a_stride, b_addr=b_addr, b_stride=b_stride,
                             out_addr=out_addr, out_stride=out_stride, out=OutType.INT8,
                             bias_addr=bias_addr, scale_addr=multiplier_addr,
                             zero_point=zero_point, lo=lo, hi=hi, plan=plan)
    first = plan.scale_row
    out = []
    for w in words:
        opcode, f = decode(w)
        if (opcode == Opcode.LOAD and f["target"] == LoadTarget.ACC.value and
                f["rows"] == 1 and f["broadcast"] and
                first <= f["local_addr"] < first + 2 * plan.gn):
            row = top + 2 * (f["local_addr"] - first)
            col0 = f["dram_addr"] - multiplier_addr
            for addr, local in ((multiplier_addr + col0, row), (shift_addr + col0, row + 1)):
                out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                  broadcast=1, dram_addr=addr, rows=1, cols=f["cols"],
                                  local_addr=local))
        elif opcode == Opcode.STORE:
            f["scale_addr"] = top + 2 * (f["scale_addr"] - first)
            f["requant"] = mode.value
            out.append(encode(Opcode.STORE, **f))
        else:
            out.append(w)
    return out
