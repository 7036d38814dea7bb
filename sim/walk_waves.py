"""The walk engine's waves: the first and last units' output rows and chunks, computed a
piece at a time so that the layer's fixed cost (the first COMPUTE waiting for its data, the
last STOREs after the final COMPUTE) shrinks. C port: ``firmware/npu/npu_walk_waves.c``.

Waves (the layer's fixed cost, :func:`unit_waves`, :func:`chunk_waves`): the first and the last
unit of a layer with a window larger than 1x1 on the array run their rows in *waves*, one after
the other, each wave in the order of :mod:`dure.sim.walk_emit` (taps, input chunks, output
chunks, sub-blocks of at most ``sbh`` rows inside the wave). The first unit's waves grow, and
its tile rows come in one LOAD per wave and input chunk, so its first COMPUTE waits for a few
rows instead of the whole block; the last unit's shrink, so each wave's STOREs overlap the next
wave's COMPUTEs and only the last (small) wave's STOREs follow the final COMPUTE. A last unit
of several output chunks (any window) takes its chunks in shrinking ranges instead, the same
way. A wave keeps the order per ACC row (FP16 stays exact) and has at least LATENCY pixels over
its chunks, so an accumulation chain onto the same rows is not waited for. No waves in the
``taps`` weight mode (its tap buffers are refilled in the unit's tap order). What the waves
could not schedule away, an ACC-init LOAD of the bias taking one ACC write-port cycle per row
from the COMPUTEs' results (~2 k cycles on ResNet-8 stage 1), is gone on COMPUTEs: they start
from a bias row held in ACC (COMPUTE ``init_row``, :attr:`WalkLayer.init_rows
<dure.sim.walk_layer.WalkLayer.init_rows>`).
"""

from dure.rtl.npu.commands import Precision

from dure.gemm_cost import LATENCY, RELOAD, WALK_DW_TAIL_PIXELS, WALK_FP16_EVEN_WAVE_CHUNKS

__all__ = ["chunk_waves", "unit_waves", "even_waves", "tail_waves", "tail_min_rows", "eltwise_tail",
           "dw_lead_tap", "eltwise_head"]


def chunk_waves(config, layer, rows, gcount, last):
    """``(c0, cn)`` ranges of the last unit's ``gcount`` output chunks (of ``rows`` output
    rows), computed one range after the other so that each range's STOREs overlap the next
    range's COMPUTEs: halves of what is left (the larger first) while the rest holds two
    ranges of at least LATENCY pixels (so an accumulation chain onto the same ACC rows is not
    waited for); the rest is the last range. Every other unit is one range. The COMPUTEs keep
    their size (unlike :func:`tail_waves`, which the last unit takes when it has one chunk)."""
    if not last or gcount == 1:
        return [(0, gcount)]
    return _halves(gcount, -(-LATENCY // (rows * layer.geo.ow)))


def _halves(total, least):
    """``(start, size)`` pieces of ``total``: halves of what is left (the larger half first)
    while the rest still holds two pieces of ``least``; the rest is the last piece."""
    pieces, start = [], 0
    while total - start >= 2 * least:
        left = total - start
        size = left - left // 2
        pieces.append((start, size))
        start += size
    pieces.append((start, total - start))
    return pieces


def unit_waves(config, layer, rows, gcount, first, last):
    """``(w0, wr)`` row ranges of a unit (``rows`` output rows, ``gcount`` output chunks)
    computed one after the other: the first unit's grow (the reverse of :func:`tail_waves`:
    its first COMPUTEs wait only for a few rows of the tile; an FP16 one of many input chunks
    takes :func:`even_waves` instead), the last unit's shrink, a unit
    that is both does its first half as the first and the rest as the last; every other unit
    is one wave. A 1x1 layer's units are one wave each: its first wave would wait for every
    input chunk's rows (each wave uses them once), and shorter COMPUTEs in its last unit cost
    more weight switches than the shorter STORE tail saves (measured on the 8x8 `sim` SoC:
    MobileNet's 24x24x16 -> 32 pointwise layer 10,325 -> 11,178 cycles with a wave tail). So
    are an element-wise layer's (depthwise on the MAC, max pooling): no chain latency to
    hide there, and MobileNet's 48x48x8 depthwise layer was 232 cycles slower in waves; but
    the last unit of a layer on the element-wise MAC (not also the first) ends with a short
    wave of its own (:func:`eltwise_tail`). (Two
    exceptions for 1x1 layers live with their users: the last unit's last chunk range of one
    chunk goes in two waves, :meth:`WalkCmds.last_halves <dure.sim.walk_cmds.WalkCmds>`, and
    an INT8 first unit's input chunk 0 in two parts, :meth:`WalkComputes.first_halves
    <dure.sim.walk_computes.WalkComputes>`.)"""
    if layer.eltwise_mac and last and not first and gcount == 1:
        return eltwise_tail(layer, rows)
    if layer.eltwise_mac and first and not last and gcount == 1:
        return eltwise_head(layer, rows)
    if layer.geo.kh * layer.geo.kw == 1 or layer.eltwise_mac or layer.eltwise_max:
        return [(0, rows)]
    if gcount > 1:
        last = False                 # the last unit's chunks go in waves (chunk_waves)
    if first and last:
        h = rows - rows // 2
        if rows // 2 < tail_min_rows(config, layer, gcount):
            return tail_waves(config, layer, rows, gcount)
        return unit_waves(config, layer, h, gcount, True, False) + \
            [(h + w0, wr) for w0, wr in tail_waves(config, layer, rows - h, gcount)]
    if first and layer.precision == Precision.FP16 and not layer.diagonal and \
            layer.kin_chunks >= WALK_FP16_EVEN_WAVE_CHUNKS:
        return even_waves(config, layer, rows, gcount)
    if first:
        sizes = [wr for _, wr in tail_waves(config, layer, rows, gcount)][::-1]
        return [(sum(sizes[:i]), wr) for i, wr in enumerate(sizes)]
    if last:
        return tail_waves(config, layer, rows, gcount)
    return [(0, rows)]


#: At most this many waves in :func:`even_waves` (the C port's ``WALK_WAVES_MAX``).
WAVES_MAX = 40


def even_waves(config, layer, rows, gcount):
    """``(w0, wr)`` row ranges of an FP16 first unit with WALK_FP16_EVEN_WAVE_CHUNKS input
    chunks or more, not diagonal (dure.gemm_cost, where the measurements are): waves of
    :func:`tail_min_rows` each (LATENCY pixels over the group's chunks), the last one taking
    the rest (at most WAVES_MAX waves). FP16 keeps its taps outermost in each wave, so a
    wave's first tap reads every input chunk's new image rows at its start: with growing
    waves (4, 4, 8 rows on ResNet-8 stage 2) the third wave's first COMPUTEs wait for 8 KB of
    image at 4 B a cycle. C ``first_waves`` (npu_walk_waves.c)."""
    least = tail_min_rows(config, layer, gcount)
    n = max(1, min(rows // least, WAVES_MAX))
    sizes = [least] * (n - 1) + [rows - least * (n - 1)]
    return [(sum(sizes[:i]), wr) for i, wr in enumerate(sizes)]


def tail_waves(config, layer, rows, gcount):
    """``(w0, wr)`` row ranges of the last unit, computed one wave after the other so that
    each wave's STOREs overlap the next wave's COMPUTEs and only the last wave's STOREs follow
    the final COMPUTE: halves of what is left (the larger half first) while the rest still
    holds two waves of :func:`tail_min_rows`; the rest is the last wave."""
    return _halves(rows, tail_min_rows(config, layer, gcount))


def tail_min_rows(config, layer, gcount):
    """Fewest output rows in a wave: enough pixels that the next accumulation onto the same
    ACC rows (one wave of the group's ``gcount`` chunks later) comes LATENCY cycles after
    (array COMPUTEs), and that every COMPUTE covers its weight switch (RELOAD * R rows)."""
    pixels = max(-(-LATENCY // gcount), RELOAD * config.npu_rows)
    return -(-pixels // layer.geo.ow)


def eltwise_tail(layer, rows):
    """``(w0, wr)`` row ranges of the last unit of a layer on the element-wise MAC: its last
    WALK_DW_TAIL_PIXELS output pixels (rounded up to whole rows of ``layer.geo.ow``) as a
    second wave, when the first keeps at least as many rows; else one wave. The element-wise
    unit writes a row a cycle and the port takes half a row's bytes (INT8, 8 lanes at 4
    B/cycle), so with one wave the unit's whole output (1,000 B on DS-CNN's 25x5x64) left
    after its last MACs began; now the first wave's STOREs overlap the second wave's MACs and
    only the tail's bytes follow the final row (npu fixed INT8 599 -> 524, FP16 3,733 ->
    3,587 on DS-CNN's; dure.gemm_cost.WALK_DW_TAIL_PIXELS). Per ACC row the order of the
    taps is kept (FP16 exact)."""
    tail = -(-WALK_DW_TAIL_PIXELS // layer.geo.ow)
    if rows < 2 * tail:
        return [(0, rows)]
    return [(0, rows - tail), (rows - tail, tail)]


def dw_lead_tap(layer, oy0, rows):
    """The tap an INT8 depthwise layer on the element-wise MAC (pair MACs) takes first, alone,
    in a unit of ``rows`` output rows from row ``oy0``, or None (taps in row-major order, in
    pairs): the first tap in row-major order that reads no padding there, when tap 0 reads
    some and it splits the others into two runs of even length (consecutive weight rows;
    the unit keeps its count of MACs), on narrow maps only: the side padding columns' FILL
    rows (the tile's rows times the left and right padding) a third or more of the unit's
    pixels, which are LATENCY or more. See :meth:`WalkComputes.dw_first_tap
    <dure.sim.walk_computes.WalkComputes.dw_first_tap>` (its use and measurements). C
    ``walk_dw_lead``."""
    g = layer.geo
    if not (layer.eltwise_mac and layer.eltwise_pair and layer.precision == Precision.INT8):
        return None
    taps = g.kh * g.kw
    pixels = rows * g.ow
    side = ((rows - 1) * g.sh + g.kh) * (g.wp - g.width)
    if taps % 2 == 0 or 3 * side < pixels or pixels < LATENCY:
        return None

    def clear(t):
        ky, kx = divmod(t, g.kw)
        y0, y1 = oy0 * g.sh + ky, (oy0 + rows - 1) * g.sh + ky
        x0, x1 = kx, (g.ow - 1) * g.sw + kx
        return g.pt <= y0 and y1 < g.pt + g.height and g.pl <= x0 and x1 < g.pl + g.width

    if clear(0):
        return None
    return next((t for t in range(2, taps, 2) if clear(t)), None)


def eltwise_head(layer, rows):
    """``(w0, wr)`` row ranges of the first unit (one chunk, not also the last) of a layer on
    the element-wise MAC: where it starts from a lead tap (:func:`dw_lead_tap`, narrow INT8
    maps), its first ``9 * rows // 20`` rows as a wave of their own, so its first MAC waits
    for those rows of the tile only and the rest arrives under the first wave's five MACs;
    else one wave. Measured on the 8x8 ``sim`` SoC, npu fixed INT8 pushed, first wave of
    h rows (session 21, branch kwsfixed): DS-CNN's 25x5x64 h = 5 / 7 / 9 / 10 / 11 / 12 /
    13: 461 / 392 / 332 / 307 / **299** / 332 / 369 (358 in one wave); 20x5x64 h = 8 / 9 /
    10: 358 / **331** / 337 (331); 30x4x32 h = 12 / 13 / 14 / 16: 280 / - / **254** / 261
    (321); 40x5x64 h = 12 / 16 / 18: 511 / 409 / **400** (511): near 9 / 20 of the rows on
    each."""
    h = 9 * rows // 20
    if h < 1 or dw_lead_tap(layer, 0, rows) is None:
        return [(0, rows)]
    return [(0, h), (h, rows - h)]
