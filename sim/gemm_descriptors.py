"""Tiled GEMM as NPU descriptors: the stream the firmware library (firmware/npu/) pushes.

:func:`gemm_descriptors` emits the command stream for ``out = postprocess(A @ B + bias)`` with A
(M x K) and B (K x N) in main memory, following the plan of :mod:`dure.sim.gemm_plan` (its
blocking, chunk order and buffers). The firmware's ``npu_gemm`` (firmware/npu/npu_gemm.c) emits
the same stream, so a stream checked here against :mod:`dure.sim.golden` through
:class:`~.npu_model.NpuModel` is the stream the firmware pushes (tests/firmware checks that).

What this module adds to the plan is the stream order: where the side commands (LOADs of the
next chunk, STOREs of the previous group) go between the COMPUTEs, and the descriptor fields.
"""

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, out_bytes
from dure.rtl.npu.descriptor import encode

from .gemm_plan import chunks, plan_gemm, tile_count

__all__ = ["gemm_descriptors"]


def _f32_bits(value):
    return int(np.float32(value).view(np.uint32))


def gemm_descriptors(config, m, k, n, *, precision, a_addr, a_stride, b_addr, b_stride,
                     out_addr, out_stride, out, bias_addr=None, scale_addr=None,
                     zero_point=0, lo=None, hi=None, plan=None, w_loads=None):
    """Descriptor words (a list of 8-word lists) of one tiled GEMM, planned by
    :func:`~dure.sim.gemm_plan.plan_gemm` (or ``plan``: a :class:`~dure.sim.gemm_plan.GemmPlan`).

    ``a_addr`` / ``b_addr``: A (M x K) and B (K x N), elements int8 or fp16 per ``precision``,
    rows ``a_stride`` / ``b_stride`` bytes apart; ``out_addr`` / ``out_stride``: the output
    (``out``: an :class:`OutType`); ``bias_addr``: N int32 / fp32 words; ``scale_addr``: N fp32
    words (required for INT8 / FP16 output of an INT8 GEMM, optional for FP16 GEMMs);
    ``lo`` / ``hi``: the clamp (ints for INT8 output, floats otherwise; None: none).
    ``w_loads``: optional ``w_loads(k0, rows, n0, cols, local_addr)`` giving the LOAD
    descriptors that bring weight rows ``k0 ..`` of columns ``n0 ..`` to SPAD row
    ``local_addr`` (compressed weights, :class:`dure.sim.weight_formats.PackedWeights`);
    ``b_addr`` / ``b_stride`` are then unused.

    Order: the first chunk's LOADs, then per chunk its COMPUTEs with the *side* commands
    spread evenly between them: the side command after COMPUTE ``i`` (of ``nc``) brings the
    count pushed to ``ceil((i + 1) * ns / nc)``. Side commands of chunk ``c`` of a group
    (``P`` chunks per group): STOREs ``[c T / P, (c + 1) T / P)`` of the previous group's
    ``T`` STOREs (so they spread over the whole group), then the next chunk's LOADs. The NPU's
    front end takes commands in order with one waiting slot per unit, so LOADs and STOREs
    placed between COMPUTEs run while the array works instead of holding up the COMPUTEs
    behind them. The last group's STOREs cannot spread that way: each follows its tile's last
    COMPUTE (after that COMPUTE's side commands).
    """
    precision, out = Precision(precision), OutType(out)
    eb = 2 if precision == Precision.FP16 else 1
    plan = plan or plan_gemm(config, m, k, n, elem_bytes=eb, scale=scale_addr is not None,
                             bias=bias_addr is not None)
    r, c = config.npu_rows, config.npu_cols
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
    strip = plan.q * r

    def loads(ch):
        words = []
        for j, n0, nn in ch.tiles if ch.first else ():
            if scale_addr is not None:
                words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                    broadcast=1, dram_addr=scale_addr + 4 * n0, rows=1,
                                    cols=nn, local_addr=ch.scale_rows + j))
            if bias_addr is not None:
                words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                    broadcast=1, dram_addr=bias_addr + 4 * n0, rows=ch.mm,
                                    cols=nn, local_addr=ch.acc_half + j * plan.mblk))
        for t, k0, kk in ch.k_tiles:
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                dram_addr=a_addr + ch.m0 * a_stride + k0 * eb,
                                dram_stride=a_stride, rows=ch.mm, cols=kk,
                                local_addr=ch.a_buf + t * plan.mblk))
        for j, n0, nn in ch.tiles:
            if w_loads is not None:
                words.extend(w_loads(ch.k0c, ch.kc, n0, nn, ch.w_buf + j * strip))
                continue
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                dram_addr=b_addr + ch.k0c * b_stride + n0 * eb,
                                dram_stride=b_stride, rows=ch.kc, cols=nn,
                                local_addr=ch.w_buf + j * strip))
        return words

    def computes(ch):
        """``(words, j)``, ``j`` the N tile when this is its last COMPUTE in the chunk."""
        last_t = len(ch.k_tiles) - 1
        return [(encode(Opcode.COMPUTE, precision=precision,
                        accumulate=int(k0 > 0 or bias_addr is not None),
                        a_addr=ch.a_buf + t * plan.mblk + r0, w_addr=ch.w_buf + j * strip + t * r,
                        acc_addr=ch.acc_half + j * plan.mblk + r0, m=min(plan.mc, ch.mm - r0),
                        k=kk, n=nn),
                 j if t == last_t and r0 + plan.mc >= ch.mm else None)
                for t, k0, kk in ch.k_tiles for j, _, nn in ch.tiles
                for r0 in range(0, ch.mm, plan.mc)]

    def stores(ch):
        if not ch.last:
            return []
        return [encode(Opcode.STORE, **store_common,
                       dram_addr=out_addr + ch.m0 * out_stride + n0 * ob, rows=ch.mm, cols=nn,
                       acc_addr=ch.acc_half + j * plan.mblk,
                       scale_addr=ch.scale_rows + j if scale_addr is not None else 0)
                for j, n0, nn in ch.tiles]

    order = list(chunks(plan, m, k, n, r, c))
    per_group = tile_count(k, strip)     # chunks per group
    words = loads(order[0])
    for i, ch in enumerate(order):
        c_in_group = ch.k0c // strip
        before = i - c_in_group - 1      # the previous group's last chunk
        finished = stores(order[before]) if before >= 0 else []
        share = finished[c_in_group * len(finished) // per_group:
                         (c_in_group + 1) * len(finished) // per_group]
        side = share + (loads(order[i + 1]) if i + 1 < len(order) else [])
        comp = computes(ch)
        own = stores(ch) if i + 1 == len(order) else []
        done = 0
        for ci, (w, finished_tile) in enumerate(comp):
            words.append(w)
            want = tile_count((ci + 1) * len(side), len(comp))
            words.extend(side[done:want])
            done = want
            if own and finished_tile is not None:
                words.append(own[finished_tile])
    return words
