"""The GEMM planner: how an M x K x N GEMM is cut into tiles for an R x C array, blocked for the
NPU's SPAD and ACC, in which order the tiles run, and what that costs.

This is the one plan in the tree. The emitters turn it into their formats:
:mod:`dure.sim.gemm_descriptors` (NPU descriptors: the stream the firmware pushes),
:mod:`dure.sim.verif.gemm_program` (datapath commands) and the array test jobs (stream beats);
the firmware's C planner (firmware/npu/npu_gemm_plan.c) runs the same search with the same cost
constants (:data:`COST_MODEL`, defined in :mod:`dure.gemm_cost`, the contract both sides
import: C through the generated ``dure_npu.h``), and tests/firmware checks its stream equal to
:func:`~dure.sim.gemm_descriptors.gemm_descriptors`.

Tile geometry
-------------
K is cut into tiles of R rows (the array's weight rows) and N into tiles of C columns; the last
tile of each is partial. :func:`spans` lists the tiles of a range (``(index, start, size)``) and
:func:`tile_count` counts them; every emitter takes its tiles from there.

Blocking
--------
On an R x C array with S SPAD rows and Ac ACC rows the loops are::

    for each M block of mblk rows:
        for each group of gn N tiles:                  (ACC half: group parity)
            scale / bias LOADs of the group's tiles
            for each chunk of q K tiles:               (SPAD buffers: chunk parity)
                q A LOADs (mblk x R each), gn W LOADs (one q*R x C strip per N tile)
                for each K tile t of the chunk:
                    for each N tile j of the group:
                        for each sub-block of mc rows:  COMPUTE
            gn STOREs

:func:`chunks` walks this nest (one :class:`Chunk` per (M block, N group, chunk of K tiles),
with its buffers). Why this order: consecutive COMPUTEs write different ACC rows (other N tile
or sub-block), so the array never waits for its own previous result (a K-innermost order
accumulates onto the same rows and serialises behind the array latency); every COMPUTE is
``mc`` rows (64 when M allows; the array takes a new weight set every ~15 cycles on 8x8
with its four weight banks, ~57 with one);
one W LOAD brings q K tiles of an N tile; A is loaded once per (block, group, K tile) and
serves gn N tiles.

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
:func:`plan_gemm` tries ``mc`` = min(M, MC_MAX), halved once (and further while nothing fits),
and for each ``gm`` (sub-blocks per M block) = 1, 2, 4, ... until the block covers M (and
stays within :data:`MBLK_MAX`), the largest ``gn`` the ACC and SPAD hold (balanced over its
number of groups) with the largest ``q`` the SPAD then holds; it keeps the plan with the lowest
estimated time, compared as ``(max(push, memory, compute), push + memory + compute)``. (The
search is short on purpose: the firmware runs it on the core before every GEMM.)

Cost model (:func:`plan_cost`)
------------------------------
* push: :data:`CMD_CYCLES` core cycles per descriptor (any kind);
* memory: bytes read at :data:`BYTES_PER_CYCLE` (A once per group, B once per M block);
* compute: per K tile of a (block, group of g tiles), ``max(gm * g * max(mc, RELOAD * R),
  LATENCY)``: the array's rows (``RELOAD * R``: the weight reload time), or, when the group is
  small, the wait of each ACC row for its previous K tile's result (the execute unit orders
  accumulate chains per row, so a link takes ``max(mc, LATENCY)``).

The first plan in search order wins a tie. All arithmetic is on integers.
"""

from dataclasses import dataclass
from typing import NamedTuple

from dure.gemm_cost import (
    BYTES_PER_CYCLE,
    CMD_CYCLES,
    COST_MODEL,
    LATENCY,
    MBLK_MAX,
    MC_MAX,
    RELOAD,
)

__all__ = ["Span", "spans", "tile_count", "GemmPlan", "plan_gemm", "plan_cost", "Chunk",
           "chunks", "COST_MODEL", "CMD_CYCLES", "BYTES_PER_CYCLE", "LATENCY", "MC_MAX",
           "RELOAD", "MBLK_MAX"]

class Span(NamedTuple):
    """One tile of a range: its ``index`` (from the first tile listed), ``start`` and ``size``."""
    index: int
    start: int
    size: int


def tile_count(total, step):
    """How many tiles of ``step`` cover ``total`` (the last one partial): ``ceil(total / step)``.
    """
    return (total + step - 1) // step


def spans(total, step, start=0, stop=None):
    """The tiles of ``step`` elements from ``start`` up to ``min(total, stop)``, as
    :class:`Span` s numbered from 0; the last one is cut at the end of the range.

    ``spans(k, R)`` are the K tiles of a GEMM on an R-row array, ``spans(n, C)`` its N tiles;
    ``start`` / ``stop`` (multiples of ``step`` from the range's origin, but for the end) pick
    the tiles of one chunk or group.
    """
    end = total if stop is None else min(total, stop)
    return [Span(i, x, min(step, end - x)) for i, x in enumerate(range(start, end, step))]


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


def plan_cost(config, m, k, n, mc, mblk, gn, q, *, elem_bytes=1, extra=1):
    """Estimated ``(max, sum)`` of the push, memory and compute times of one blocking (see the
    module docstring); ``extra``: descriptors per output tile besides LOAD / COMPUTE (STORE,
    scale and bias LOADs)."""
    r, c = config.npu_rows, config.npu_cols
    kt, nt = tile_count(k, r), tile_count(n, c)
    gm = tile_count(min(m, mblk), mc)
    gn = min(gn, nt)
    blocks, groups, chunks_ = tile_count(m, mblk), tile_count(nt, gn), tile_count(kt, q)
    commands = blocks * (groups * kt + chunks_ * nt + kt * gm * nt + nt * extra)
    push = CMD_CYCLES * commands
    memory = elem_bytes * (m * k * groups + k * n * blocks) // BYTES_PER_CYCLE
    reload = RELOAD * r

    def step(tiles):     # one K tile of a group of ``tiles`` N tiles
        return max(gm * tiles * max(mc, reload), LATENCY) if tiles else 0

    compute = blocks * kt * ((nt // gn) * step(gn) + step(nt % gn))
    return max(push, memory, compute), push + memory + compute


def plan_gemm(config, m, k, n, *, elem_bytes=1, scale=False, bias=False):
    """The :class:`GemmPlan` for an M x K x N GEMM on ``config``'s NPU with ``elem_bytes``
    operands (1 int8, 2 fp16), with or without scale / bias LOADs.

    Raises ValueError for a dimension below 1 or when the SPAD / ACC hold no blocking.
    """
    if min(m, k, n) < 1:
        raise ValueError(f"GEMM dimensions must be >= 1, not {m} x {k} x {n}")
    r, c = config.npu_rows, config.npu_cols
    s, ac = config.npu_spad_rows, config.npu_acc_rows
    kt, nt = tile_count(k, r), tile_count(n, c)
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
            if gn < 1 or mblk > MBLK_MAX:
                break                              # a larger block fits even less
            gn = tile_count(nt, tile_count(nt, gn))   # the same groups, balanced
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


@dataclass(frozen=True)
class Chunk:
    """One chunk of the loop nest: q K tiles of one (M block, N group), with its buffers.

    Attributes
    ----------
    m0, mm : int
        First row and rows of the M block.
    tiles : list of Span
        The group's N tiles (index ``j`` within the group, first column, columns).
    k0c, kc : int
        First row of K and K rows of the chunk.
    k_tiles : list of Span
        The chunk's K tiles (index ``t`` within the chunk, first K row, rows).
    a_buf, w_buf : int
        First SPAD row of the chunk's A and W buffers (by chunk parity).
    acc_half, scale_rows : int
        First ACC row of the group's half and of its scale rows (by group parity).
    first, last : bool
        First chunk of its group (the scale / bias LOADs come with it); last chunk of its group
        (the STOREs follow it).
    """
    m0: int
    mm: int
    tiles: list
    k0c: int
    kc: int
    k_tiles: list
    a_buf: int
    w_buf: int
    acc_half: int
    scale_rows: int
    first: bool
    last: bool


def chunks(plan, m, k, n, rows, cols):
    """The :class:`Chunk` s of ``plan`` for an M x K x N GEMM on a ``rows`` x ``cols`` array,
    in loop order (M blocks, then N groups, then chunks of K tiles)."""
    group = chunk = 0
    strip = plan.q * rows
    for m0 in range(0, m, plan.mblk):
        mm = min(plan.mblk, m - m0)
        for g0 in range(0, n, plan.gn * cols):
            tiles = spans(n, cols, g0, g0 + plan.gn * cols)
            acc_half = (group % 2) * plan.gn * plan.mblk
            scale_rows = plan.scale_row + (group % 2) * plan.gn
            group += 1
            for k0c in range(0, k, strip):
                kc = min(strip, k - k0c)
                yield Chunk(m0, mm, tiles, k0c, kc, spans(k, rows, k0c, k0c + kc),
                            (chunk % 2) * plan.q * plan.mblk,
                            plan.w_base + (chunk % 2) * plan.gn * strip, acc_half, scale_rows,
                            k0c == 0, k0c + strip >= k)
                chunk += 1
