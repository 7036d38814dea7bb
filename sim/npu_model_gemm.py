"""Tiled GEMM as NPU descriptors: the plan the firmware library (firmware/npu/) follows.

:func:`plan_gemm` chooses the blocking and :func:`gemm_descriptors` emits the command stream for
``out = postprocess(A @ B + bias)`` with A (M x K) and B (K x N) in main memory. The firmware's
``npu_gemm`` (firmware/npu/npu_gemm.c) implements the same plan with the same integer formulas,
so a stream checked here against :mod:`dure.sim.golden` through :class:`~.npu_model.NpuModel`
is the stream the firmware pushes.

Plan
----
On an R x C array with S SPAD rows and Ac ACC rows:

* N is cut into tiles of C columns and K into tiles of R rows (the last tiles may be partial:
  the commands' ``cols`` / ``k`` / ``n`` say how much is real). M is cut into blocks of ``mb``
  rows (one COMPUTE covers a whole block: ``m = mb``).
* ACC: two regions of ``mb`` rows (rows ``[0, mb)`` and ``[mb, 2 mb)``) used by alternate output
  tiles, so the STORE of one tile overlaps the COMPUTEs of the next, and two scale rows at the
  top (``Ac - 2``, ``Ac - 1``), also alternating.
* SPAD: two W slots of R rows at the top (``S - 2R``, ``S - R``) used by alternate K tiles, so
  the LOAD of the next weight tile overlaps the COMPUTE of this one; the rest is the A area,
  two halves of ``H = (S - 2R) // 2`` rows.
* *A-resident* mode: the whole A block (``kt`` K tiles of ``mb`` rows each) stays in one half
  of the A area while the N tiles are computed, so A is read from memory once; the next M block
  goes to the other half (its LOADs overlap the current block's work). Needs ``kt * mb <= H``.
* *Streaming* mode: each A tile (``mb`` x R) is loaded for each (N tile, K tile) into
  alternating halves; used when it moves fewer bytes (large K with large M).
* Each mode takes the largest ``mb`` it can (fewest blocks), and the plan picks the mode with
  the lower estimated cost ``CMD_CYCLES * commands + bytes read / 4``: the firmware needs
  about a hundred core cycles to push one descriptor, and with COMPUTEs of ``mb`` rows the
  push rate, not the array, bounds small arrays; the bytes term is main-memory traffic at
  4 bytes per cycle. A-resident pushes ``blocks * (kt + nt * (2 kt + e))`` commands and reads
  ``M*K + K*N*blocks`` elements; streaming ``blocks * nt * (3 kt + e)`` and
  ``M*K*nt + K*N*blocks`` (``e``: the STORE, plus the scale and bias LOADs when present).
* Bias: a broadcast LOAD of the bias slice into the ACC region, then every K tile
  accumulates (FP16 order: bias, then k = 0 .. K-1, as golden.gemm_fp16(bias=...)).
"""

from dataclasses import dataclass

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, out_bytes
from dure.rtl.npu.descriptor import encode

__all__ = ["GemmPlan", "plan_gemm", "gemm_descriptors", "CMD_CYCLES"]


@dataclass(frozen=True)
class GemmPlan:
    """Blocking of one GEMM (see the module docstring)."""
    mb: int          # rows of A per block (COMPUTE m)
    resident: bool   # A-resident (True) or streaming (False)
    kt: int          # K tiles
    nt: int          # N tiles
    a_half: int      # SPAD rows per A half (H)
    w_slot: int      # first SPAD row of W slot 0 (slot 1 follows R rows later)
    scale_row: int   # ACC row of scale slot 0 (slot 1 is the next row)


def _cdiv(a, b):
    return (a + b - 1) // b


#: Estimated core cycles per pushed descriptor (measured ~100 on the sim SoC).
CMD_CYCLES = 100


def plan_gemm(config, m, k, n, *, elem_bytes=1, scale=False, bias=False, spad_rows=None,
              acc_rows=None):
    """The :class:`GemmPlan` for an M x K x N GEMM with ``elem_bytes`` operands (1 int8,
    2 fp16), with or without scale / bias LOADs (``spad_rows`` / ``acc_rows``: use only that
    much of the memories)."""
    if min(m, k, n) < 1:
        raise ValueError(f"GEMM dimensions must be >= 1, not {m} x {k} x {n}")
    r, c = config.npu_rows, config.npu_cols
    s = spad_rows or config.npu_spad_rows
    ac = acc_rows or config.npu_acc_rows
    kt, nt = _cdiv(k, r), _cdiv(n, c)
    half = (s - 2 * r) // 2
    mb_acc = min((ac - 2) // 2, 0xFFFF)
    if half < 1 or mb_acc < 1:
        raise ValueError("the SPAD / ACC are too small for the GEMM plan")
    extra = 1 + int(scale) + int(bias)

    def cost(commands, elements):
        return CMD_CYCLES * commands + elements * elem_bytes // 4

    mb_s = min(m, mb_acc, half)
    blocks = _cdiv(m, mb_s)
    cost_s = cost(blocks * nt * (3 * kt + extra), m * k * nt + k * n * blocks)
    mb_r = min(m, mb_acc, half // kt)
    resident = False
    if mb_r >= 1:
        blocks = _cdiv(m, mb_r)
        cost_r = cost(blocks * (kt + nt * (2 * kt + extra)), m * k + k * n * blocks)
        resident = cost_r <= cost_s
    return GemmPlan(mb=mb_r if resident else mb_s, resident=resident, kt=kt, nt=nt,
                    a_half=half, w_slot=s - 2 * r, scale_row=ac - 2)


def _f32_bits(value):
    return int(np.float32(value).view(np.uint32))


def gemm_descriptors(config, m, k, n, *, precision, a_addr, a_stride, b_addr, b_stride,
                     out_addr, out_stride, out, bias_addr=None, scale_addr=None,
                     zero_point=0, lo=None, hi=None, plan=None):
    """Descriptor words (a list of 8-word lists) of one tiled GEMM.

    ``a_addr`` / ``b_addr``: A (M x K) and B (K x N), elements int8 or fp16 per ``precision``,
    rows ``a_stride`` / ``b_stride`` bytes apart; ``out_addr`` / ``out_stride``: the output
    (``out``: an :class:`OutType`); ``bias_addr``: N int32 / fp32 words; ``scale_addr``: N fp32
    words (required for INT8 / FP16 output of an INT8 GEMM, optional for FP16 GEMMs);
    ``lo`` / ``hi``: the clamp (ints for INT8 output, floats otherwise; None: none).
    """
    precision, out = Precision(precision), OutType(out)
    plan = plan or plan_gemm(config, m, k, n, elem_bytes=2 if precision == Precision.FP16 else 1,
                             scale=scale_addr is not None, bias=bias_addr is not None)
    r, c = config.npu_rows, config.npu_cols
    eb = 2 if precision == Precision.FP16 else 1
    elem = ElemType.FP16 if precision == Precision.FP16 else ElemType.INT8
    ob = out_bytes(out)
    store_common = dict(out=out, acc_type=precision, scale=int(scale_addr is not None),
                        dram_stride=out_stride)
    if out == OutType.INT8:
        store_common.update(zero_point=zero_point,
                            lo=(-128 if lo is None else lo) & 0xFFFF_FFFF,
                            hi=(127 if hi is None else hi) & 0xFFFF_FFFF)
    elif lo is not None or hi is not None:
        store_common.update(clamp=1, lo=_f32_bits(-np.inf if lo is None else lo),
                            hi=_f32_bits(np.inf if hi is None else hi))
    words = []
    tile = 0          # output tiles so far: ACC region and scale row parity
    ktile = 0         # K tiles so far: W slot (and streaming A half) parity
    for block, m0 in enumerate(range(0, m, plan.mb)):
        mm = min(plan.mb, m - m0)
        a_base = (block % 2) * plan.a_half
        for t_n, n0 in enumerate(range(0, n, c)):
            nn = min(c, n - n0)
            acc0 = (tile % 2) * plan.mb
            scale_row = plan.scale_row + tile % 2
            tile += 1
            if scale_addr is not None:
                words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                    broadcast=1, dram_addr=scale_addr + 4 * n0, rows=1,
                                    cols=nn, local_addr=scale_row))
            if bias_addr is not None:
                words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                    broadcast=1, dram_addr=bias_addr + 4 * n0, rows=mm,
                                    cols=nn, local_addr=acc0))
            for t_k, k0 in enumerate(range(0, k, r)):
                kk = min(r, k - k0)
                if plan.resident:
                    a_row = a_base + t_k * plan.mb
                    need_a = t_n == 0
                else:
                    a_row = (ktile % 2) * plan.a_half
                    need_a = True
                w_row = plan.w_slot + (ktile % 2) * r
                ktile += 1
                if need_a:
                    words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                        dram_addr=a_addr + m0 * a_stride + k0 * eb,
                                        dram_stride=a_stride, rows=mm, cols=kk,
                                        local_addr=a_row))
                words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                    dram_addr=b_addr + k0 * b_stride + n0 * eb,
                                    dram_stride=b_stride, rows=kk, cols=nn, local_addr=w_row))
                words.append(encode(Opcode.COMPUTE, precision=precision,
                                    accumulate=int(t_k > 0 or bias_addr is not None),
                                    a_addr=a_row, w_addr=w_row, acc_addr=acc0, m=mm, k=kk,
                                    n=nn))
            words.append(encode(Opcode.STORE, **store_common,
                                dram_addr=out_addr + m0 * out_stride + n0 * ob, rows=mm,
                                cols=nn, acc_addr=acc0,
                                scale_addr=scale_row if scale_addr is not None else 0))
    return words
