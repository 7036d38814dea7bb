"""Tiled GEMM as NPU descriptors: the plan the firmware library (firmware/npu/) follows.

:func:`plan_gemm` chooses the blocking and :func:`gemm_descriptors` emits the command stream for
``out = postprocess(A @ B + bias)`` with A (M x K) and B (K x N) in main memory. The firmware's
``npu_gemm`` (firmware/npu/npu_gemm.c) implements the same plan with the same integer formulas
and the same search order, so a stream checked here against :mod:`dure.sim.golden` through
:class:`~.npu_model.NpuModel` is the stream the firmware pushes (tests/firmware checks that).

Plan
----
On an R x C array with S SPAD rows and Ac ACC rows, N is cut into tiles of C columns and K into
tiles of R rows (edge tiles are partial: the commands' ``cols`` / ``k`` / ``n`` say how much is
real). The loops are::

    for each M block of mblk rows:
        for each group of gn N tiles:                  (ACC half: group parity)
            scale / bias LOADs of the group's tiles
            for each chunk of q K tiles:               (SPAD buffers: chunk parity)
                q A LOADs (mblk x R each), gn W LOADs (one q*R x C strip per N tile)
                for each K tile t of the chunk:
                    for each N tile j of the group:
                        for each sub-block of mc rows:  COMPUTE
            gn STOREs

Why this order: consecutive COMPUTEs write different ACC rows (other N tile or sub-block), so
the array never waits for its own previous result (a K-innermost order accumulates onto the
same rows and serialises behind the array latency); every COMPUTE is ``mc`` rows (64 when M
allows; the array takes a new weight set only every ~57 cycles on 8x8); one W LOAD brings q K
tiles of an N tile; A is loaded once per (block, group, K tile) and serves gn N tiles.

Memory layout:

* SPAD: two A buffers of ``q * mblk`` rows at row 0 (K tile t of the chunk at ``t * mblk``),
  then two W buffers of ``gn * q * R`` rows at ``w_base`` (N tile j's strip at ``j * q * R``,
  K tile t of it at ``t * R``). The chunk parity picks the buffer, so the LOADs of the next
  chunk overlap the COMPUTEs of this one.
* ACC: two halves of ``gn * mblk`` rows (N tile j at ``j * mblk``); the group parity picks
  the half, so the STOREs of one group overlap the COMPUTEs of the next. With a scale, two
  sets of ``gn`` scale rows at the top (``scale_row``), also by group parity.
* Bias: a broadcast LOAD of the bias slice into the tile's ACC rows, then every K tile
  accumulates (FP16 order: bias, then k = 0 .. K-1, as golden.gemm_fp16(bias=...)).

Search
------
:func:`plan_gemm` tries ``mc`` = min(M, 128), halved once (and further while nothing fits),
and for each ``gm`` (sub-blocks per M block) = 1, 2, 4, ... until the block covers M, the
largest ``gn`` the ACC and SPAD hold (balanced over its number of groups) with the largest
``q`` the SPAD then holds; it keeps the plan with the lowest estimated time, compared as
``(max(push, memory, compute), push + memory + compute)``. (The search is short on purpose: the
firmware runs it on the core before every GEMM.)

* push: ``CMD_CYCLES`` core cycles per descriptor;
* memory: bytes read at ``BYTES_PER_CYCLE`` (A once per group, B once per M block);
* compute: per K tile of a (block, group of g tiles), ``max(gm * g * max(mc, 8 R), mc +
  LATENCY)``: the array's rows (``8 R``: the weight reload time), or the wait for the same ACC
  rows' previous result when the group is small.

The first plan in search order wins a tie. All arithmetic is on integers.
"""

from dataclasses import dataclass

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, out_bytes
from dure.rtl.npu.descriptor import encode

__all__ = ["GemmPlan", "plan_gemm", "plan_cost", "gemm_descriptors", "CMD_CYCLES",
           "BYTES_PER_CYCLE", "LATENCY", "MC_MAX"]

#: Estimated core cycles per pushed descriptor (firmware npu_gemm on the sim SoC).
CMD_CYCLES = 40
#: Main-memory bytes per cycle assumed by the cost estimate.
BYTES_PER_CYCLE = 4
#: Cycles from a COMPUTE's first row to its last result in the ACC (8x8 dual precision: ~62).
LATENCY = 64
#: Largest COMPUTE (rows) the search starts from.
MC_MAX = 128


@dataclass(frozen=True)
class GemmPlan:
    """Blocking of one GEMM (see the module docstring)."""
    mc: int          # rows per COMPUTE
    mblk: int        # rows per M block (a multiple of mc)
    gn: int          # N tiles per group
    q: int           # K tiles per chunk
    kt: int          # K tiles
    nt: int          # N tiles
    w_base: int      # first SPAD row of the W buffers (A buffers start at row 0)
    scale_row: int   # first ACC row of the scale rows


def _cdiv(a, b):
    return (a + b - 1) // b


def plan_cost(config, m, k, n, mc, mblk, gn, q, *, elem_bytes=1, extra=1):
    """Estimated ``(max, sum)`` of the push, memory and compute times of one blocking (see the
    module docstring); ``extra``: descriptors per output tile besides LOAD / COMPUTE (STORE,
    scale and bias LOADs)."""
    r, c = config.npu_rows, config.npu_cols
    kt, nt = _cdiv(k, r), _cdiv(n, c)
    gm = _cdiv(min(m, mblk), mc)
    gn = min(gn, nt)
    blocks, groups, chunks = _cdiv(m, mblk), _cdiv(nt, gn), _cdiv(kt, q)
    commands = blocks * (groups * kt + chunks * nt + kt * gm * nt + nt * extra)
    push = CMD_CYCLES * commands
    memory = elem_bytes * (m * k * groups + k * n * blocks) // BYTES_PER_CYCLE
    reload = 8 * r

    def step(tiles):     # one K tile of a group of ``tiles`` N tiles
        return max(gm * tiles * max(mc, reload), mc + LATENCY) if tiles else 0

    compute = blocks * kt * ((nt // gn) * step(gn) + step(nt % gn))
    return max(push, memory, compute), push + memory + compute


def plan_gemm(config, m, k, n, *, elem_bytes=1, scale=False, bias=False):
    """The :class:`GemmPlan` for an M x K x N GEMM with ``elem_bytes`` operands (1 int8,
    2 fp16), with or without scale / bias LOADs."""
    if min(m, k, n) < 1:
        raise ValueError(f"GEMM dimensions must be >= 1, not {m} x {k} x {n}")
    r, c = config.npu_rows, config.npu_cols
    s, ac = config.npu_spad_rows, config.npu_acc_rows
    kt, nt = _cdiv(k, r), _cdiv(n, c)
    extra = 1 + int(scale) + int(bias)
    best = None
    mc0 = mc = min(m, MC_MAX)
    while mc >= 1 and (best is None or 2 * mc >= mc0):
        gm = 1
        while True:
            mblk = mc * gm
            gn = min(nt, ac // (2 * mblk + (2 if scale else 0)))
            if s // 2 > mblk:
                gn = min(gn, (s // 2 - mblk) // r)
            else:
                gn = 0
            if gn < 1 or mblk > 0xFFFF:
                break                              # a larger block fits even less
            gn = _cdiv(nt, _cdiv(nt, gn))          # the same groups, balanced
            q = min(kt, s // (2 * (mblk + gn * r)))
            cost = plan_cost(config, m, k, n, mc, mblk, gn, q, elem_bytes=elem_bytes,
                             extra=extra)
            if best is None or cost < best[0]:
                best = (cost, mc, mblk, gn, q)
            if mblk >= m:
                break
            gm *= 2
        mc //= 2
    if best is None:
        raise ValueError("the SPAD / ACC are too small for the GEMM plan")
    _, mc, mblk, gn, q = best
    return GemmPlan(mc=mc, mblk=mblk, gn=gn, q=q, kt=kt, nt=nt, w_base=2 * q * mblk,
                    scale_row=ac - 2 * gn)


def _f32_bits(value):
    return int(np.float32(value).view(np.uint32))


@dataclass(frozen=True)
class _Chunk:
    """One chunk of the loop nest: q K tiles of one (M block, N group)."""
    m0: int
    mm: int
    tiles: list      # (j, n0, nn) of the group's N tiles
    k0c: int
    kc: int
    a_buf: int
    w_buf: int
    acc_half: int
    scale_rows: int
    first: bool      # first chunk of its group (the scale / bias LOADs come with it)
    last: bool       # last chunk of its group (the STOREs follow it)


def _chunks(plan, m, k, n, r, c):
    """The chunks in loop order, with their buffers (SPAD by chunk, ACC by group parity)."""
    group = chunk = 0
    strip = plan.q * r
    for m0 in range(0, m, plan.mblk):
        mm = min(plan.mblk, m - m0)
        for g0 in range(0, n, plan.gn * c):
            tiles = [(j, n0, min(c, n - n0))
                     for j, n0 in enumerate(range(g0, min(n, g0 + plan.gn * c), c))]
            acc_half = (group % 2) * plan.gn * plan.mblk
            scale_rows = plan.scale_row + (group % 2) * plan.gn
            group += 1
            for k0c in range(0, k, strip):
                yield _Chunk(m0, mm, tiles, k0c, min(strip, k - k0c),
                             (chunk % 2) * plan.q * plan.mblk,
                             plan.w_base + (chunk % 2) * plan.gn * strip, acc_half, scale_rows,
                             k0c == 0, k0c + strip >= k)
                chunk += 1


def gemm_descriptors(config, m, k, n, *, precision, a_addr, a_stride, b_addr, b_stride,
                     out_addr, out_stride, out, bias_addr=None, scale_addr=None,
                     zero_point=0, lo=None, hi=None, plan=None):
    """Descriptor words (a list of 8-word lists) of one tiled GEMM.

    ``a_addr`` / ``b_addr``: A (M x K) and B (K x N), elements int8 or fp16 per ``precision``,
    rows ``a_stride`` / ``b_stride`` bytes apart; ``out_addr`` / ``out_stride``: the output
    (``out``: an :class:`OutType`); ``bias_addr``: N int32 / fp32 words; ``scale_addr``: N fp32
    words (required for INT8 / FP16 output of an INT8 GEMM, optional for FP16 GEMMs);
    ``lo`` / ``hi``: the clamp (ints for INT8 output, floats otherwise; None: none).

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

    def ktiles(ch):
        return [(t, k0, min(r, k - k0)) for t, k0 in enumerate(range(ch.k0c, ch.k0c + ch.kc, r))]

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
        for t, k0, kk in ktiles(ch):
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                dram_addr=a_addr + ch.m0 * a_stride + k0 * eb,
                                dram_stride=a_stride, rows=ch.mm, cols=kk,
                                local_addr=ch.a_buf + t * plan.mblk))
        for j, n0, nn in ch.tiles:
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                dram_addr=b_addr + ch.k0c * b_stride + n0 * eb,
                                dram_stride=b_stride, rows=ch.kc, cols=nn,
                                local_addr=ch.w_buf + j * strip))
        return words

    def computes(ch):
        """``(words, j)``, ``j`` the N tile when this is its last COMPUTE in the chunk."""
        last_t = len(ktiles(ch)) - 1
        return [(encode(Opcode.COMPUTE, precision=precision,
                        accumulate=int(k0 > 0 or bias_addr is not None),
                        a_addr=ch.a_buf + t * plan.mblk + r0, w_addr=ch.w_buf + j * strip + t * r,
                        acc_addr=ch.acc_half + j * plan.mblk + r0, m=min(plan.mc, ch.mm - r0),
                        k=kk, n=nn),
                 j if t == last_t and r0 + plan.mc >= ch.mm else None)
                for t, k0, kk in ktiles(ch) for j, _, nn in ch.tiles
                for r0 in range(0, ch.mm, plan.mc)]

    def stores(ch):
        if not ch.last:
            return []
        return [encode(Opcode.STORE, **store_common,
                       dram_addr=out_addr + ch.m0 * out_stride + n0 * ob, rows=ch.mm, cols=nn,
                       acc_addr=ch.acc_half + j * plan.mblk,
                       scale_addr=ch.scale_rows + j if scale_addr is not None else 0)
                for j, n0, nn in ch.tiles]

    chunks = list(_chunks(plan, m, k, n, r, c))
    per_group = _cdiv(k, strip)          # chunks per group
    words = loads(chunks[0])
    for i, ch in enumerate(chunks):
        c_in_group = ch.k0c // strip
        before = i - c_in_group - 1      # the previous group's last chunk
        finished = stores(chunks[before]) if before >= 0 else []
        share = finished[c_in_group * len(finished) // per_group:
                         (c_in_group + 1) * len(finished) // per_group]
        side = share + (loads(chunks[i + 1]) if i + 1 < len(chunks) else [])
        comp = computes(ch)
        own = stores(ch) if i + 1 == len(chunks) else []
        done = 0
        for ci, (w, finished_tile) in enumerate(comp):
            words.append(w)
            want = _cdiv((ci + 1) * len(side), len(comp))
            words.extend(side[done:want])
            done = want
            if own and finished_tile is not None:
                words.append(own[finished_tile])
    return words
