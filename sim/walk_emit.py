"""The walk engine's descriptor stream: :func:`walk_descriptors` turns a :class:`WalkLayer`
and its :class:`WalkPlan` (:func:`dure.sim.walk_plan.plan_walk`) into descriptor words, in the
layout of :mod:`dure.sim.walk_layer`. C port: ``firmware/npu/npu_walk_cmds.c`` (the LOADs and
STOREs), ``npu_walk_stream.c`` (the side commands into their slots) and ``npu_walk_emit.c``
(the COMPUTEs and the loop over units).

Order (what makes FP16 exact): per unit, taps outermost (ky, then kx), then input chunks, then
the group's output chunks, then sub-blocks. Per ACC row this is the sequential order of
:func:`dure.sim.golden_tflite_fp16.conv2d_fp16` (k over (kh, kw, cin)); consecutive COMPUTEs
write other ACC rows (other chunk or sub-block), so the array seldom waits for its own result.
The first unit of an INT8 convolution (not depthwise, not ``taps`` mode, several input
chunks) takes its input chunks outermost instead (then taps, output chunks, sub-blocks;
INT8 sums are exact in any order), with its weights in one LOAD per (input chunk, tap): its
first COMPUTEs then need one input chunk's image rows and weights, not every chunk's
(docs/layer_fixed_cost.md, session 12).

The next group's weights of a 1x1 layer (``double`` and ``single``) come in LOADs of
PIECE_ROWS rows (input channels), piece by piece across the group's chunks: in ``single``
each piece then follows the COMPUTEs that free its rows instead of the whole matrix waiting
for the unit's last COMPUTE, and in both no long LOAD holds the in-order front.

Stream order: per unit its COMPUTEs with the *side* commands spread evenly between them: the
previous unit's STOREs, then the next unit's LOADs (tile, weights, and ACC init on the
element-wise unit; COMPUTEs start from the bias rows loaded in the prologue,
:attr:`~dure.sim.walk_layer.WalkLayer.init_rows`); a side command
that writes SPAD rows a COMPUTE of this unit reads is placed after that COMPUTE. The first
unit's own LOADs go just ahead (JIT_LEAD COMPUTEs per element byte on the array, JIT_LEAD on
the element-wise unit) of the first COMPUTE that needs them, those of its first COMPUTE before
it (its ACC rows and weights first, then its padding FILLs and image rows: a COMPUTE reads its
weight rows first and, with ``config.npu_load_follow``, follows its LOADs row by row); its
weights come one LOAD per tap and the image rows of its first wave one LOAD per tap row (so
the in-order LOAD unit takes them in the order the COMPUTEs need them); its side commands
start only at the slot of its last tile LOAD (the LOAD unit takes LOADs in order: the next
group's weights must not hold up the first unit's image rows). The next group's weights
of a layer with taps (``double`` and ``single``) come per tap. The STOREs' parameter rows
(``WalkLayer.const_rows``) are LOADed first among the second unit's side commands, just ahead
of the first STOREs (with one unit, right after the first COMPUTE); the last unit's STOREs go
per sub-block right after the COMPUTE that finishes it. The NPU's front end takes commands in
order with one waiting slot per unit,
so this keeps LOADs and STOREs from holding up the COMPUTEs behind them.
"""

from dataclasses import dataclass

from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import decode, encode

from dure.gemm_cost import WALK_JIT_LEAD, WALK_PIECE_ROWS

from .walk_plan import plan_walk
from .walk_waves import chunk_waves, unit_waves

__all__ = ["walk_descriptors", "PIECE_ROWS", "JIT_LEAD"]

#: A 1x1 layer's next group of weight matrices (``double`` / ``single``) comes in LOADs of this
#: many rows (input channels), piece by piece across the group's chunks
#: (dure.gemm_cost.WALK_PIECE_ROWS, where the measurements are recorded).
PIECE_ROWS = WALK_PIECE_ROWS


@dataclass
class _Cmd:
    words: list
    spad_write: tuple = None     # (first, end) SPAD rows a LOAD writes
    spad_reads: tuple = ()       # SPAD row ranges a COMPUTE reads
    acc_write: tuple = None      # (first, end) ACC rows a COMPUTE or LOAD writes
    acc_read: tuple = None       # (first, end) ACC rows a STORE reads


#: The first unit's LOADs go this many COMPUTEs ahead of the first one that needs them.
JIT_LEAD = WALK_JIT_LEAD



def _units(layer, plan):
    g = layer.geo
    nt = layer.out_chunks
    for n in range(g.batch):
        for oy0 in range(0, g.oh, plan.bh):
            for j0 in range(0, nt, plan.gn):
                yield n, oy0, min(plan.bh, g.oh - oy0), j0, min(plan.gn, nt - j0)


def walk_descriptors(config, layer, plan=None, spread=False):
    """Descriptor words of ``layer`` (a list of 8-word lists), planned by :func:`plan_walk`
    (or ``plan``). See the module docstring for the stream. ``spread``: the border FILLs are
    per channel chunk, and the prologue tile LOADs and FILLs the first unit does not read
    (other input chunks of a diagonal layer) go evenly
    between its COMPUTEs instead of in one run after them (a run of LOADs holds the in-order
    front while the array drains)."""
    plan = plan or plan_walk(config, layer)
    g = layer.geo
    eb = layer.elem_bytes
    elem = ElemType.FP16 if layer.precision == Precision.FP16 else ElemType.INT8
    cc = layer.kin_chunks
    th_full = (plan.bh - 1) * g.sh + g.kh
    tile0 = plan.w_rows
    units = list(_units(layer, plan))
    x_pix = layer.cin * eb
    o_pix = layer.cout * layer.out_bytes
    init_row0 = plan.const_row + layer.const_rows     # WalkLayer.init_rows: chunk j's row

    def fill(first, rows, cols, groups=0, step=0):
        kw = dict(local_cols=rows // groups, local_groups=groups, local_row_step=step) \
            if groups else {}
        return _Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, fill=1,
                           fill_value=layer.pad_value, rows=rows, cols=cols, local_addr=first,
                           **kw),
                    spad_write=(first, first + (groups - 1) * step + rows // groups
                                if groups else first + rows))

    def weight_row(u_index, j_in_group, j, t):
        """SPAD row of tap t's weight matrix of chunk j (the group's jj-th)."""
        if plan.wmode == "taps":
            return ((t % 2) * plan.gn + j_in_group) * plan.slot
        return weight_base(u_index, j_in_group, j) + t * layer.kin(j)

    def tap_loads(unit, taps):
        """Taps mode: the group's weight matrices of ``taps``, one LOAD per (tap, chunk)."""
        _, _, _, j0, gcount = unit
        out = []
        for t in taps:
            for jj in range(gcount):
                j = j0 + jj
                addr, _ = layer.weights(j)
                nn, kin = layer.chunk_cols(j), layer.kin(j)
                base = weight_row(0, jj, j, t)
                out.append(_Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                       dram_addr=addr + t * kin * nn * eb,
                                       dram_stride=nn * eb, rows=kin, cols=nn,
                                       local_addr=base),
                                spad_write=(base, base + kin)))
        return out

    def weight_base(u_index, j_in_group, j):
        if plan.wmode == "resident":
            return j * plan.slot
        if plan.wmode == "double":
            return ((u_index % 2) * plan.gn + j_in_group) * plan.slot
        return j_in_group * plan.slot

    def weight_loads(u_index, unit, per_tap, fine=False):
        _, _, _, j0, gcount = unit
        out = []
        for jj in range(gcount):
            j = j0 + jj
            addr, rows = layer.weights(j)
            nn = layer.chunk_cols(j)
            base = weight_base(u_index, jj, j)
            kin = layer.kin(j)
            taps = g.kh * g.kw
            if per_tap == "jit" and layer.eltwise_mac:
                # one row per tap: in one LOAD, which never queues behind the next unit's
                # tile LOAD (a last piece there holds the unit's last MAC for the whole tile)
                per_tap = False
            if per_tap == "jit" and fine:
                pieces = [(t * kin + c * layer.k_chunk, layer.in_cols(c)) for c in range(cc)
                          for t in range(taps)]
            elif per_tap == "jit":         # the first unit's: one LOAD per tap
                pieces = [(t * kin, kin) for t in range(taps)]
            elif taps == 1:              # a refill of a 1x1 layer: pieces
                pieces = [(r0, min(PIECE_ROWS, kin - r0)) for r0 in range(0, kin, PIECE_ROWS)]
            elif per_tap:
                pieces = [(t * kin, kin) for t in range(taps)]
            else:
                pieces = [(0, rows)]
            for r0, nr in pieces:
                out.append((r0, jj, _Cmd(encode(
                    Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                    dram_addr=addr + r0 * nn * eb, dram_stride=nn * eb, rows=nr, cols=nn,
                    local_addr=base + r0), spad_write=(base + r0, base + r0 + nr))))
        if per_tap != "jit" and g.kh * g.kw == 1:
            out.sort(key=lambda t: t[:2])      # piece by piece across the group's chunks
        return [t[2] for t in out]

    def tile_base(tile_index):
        return tile0 + (tile_index % plan.tbufs) * plan.tile_rows

    def chunk0(unit):
        """Input chunk at the start of the unit's tile."""
        return unit[3] if unit_tiles else 0

    def tile_chunks(unit):
        return range(unit[3], min(cc, unit[3] + unit[4])) if unit_tiles else range(cc)

    per_tile = layer.tile_chunks(plan.gn)
    unit_tiles = layer.unit_tiles
    # The first unit of an INT8 convolution takes its input chunks outermost (then taps,
    # output chunks, sub-blocks): its first COMPUTEs need one input chunk's image rows and
    # weights, not every chunk's (INT8 sums are exact in any order; FP16 keeps the taps
    # outermost, its summation order).
    c_outer = layer.precision != Precision.FP16 and not layer.diagonal and \
        not layer.eltwise_mac and not layer.eltwise_max and plan.wmode != "taps" and cc > 1 \
        and layer.shared_weight is None

    def tile_loads(unit, tile_index, waves=None):
        """FILLs and LOADs of a unit's tile (the block's, or a diagonal unit's own chunks);
        ``waves``: the image rows LOADed in one piece per wave (the rows its output rows need
        beyond the previous waves'), those of the first wave's tap rows ky = 0, 1, ..,
        KH - 2 each in a piece of their own before the rest."""
        n, oy0, rows, j0, gcount = unit
        th = (rows - 1) * g.sh + g.kh
        base = tile_base(tile_index)
        py0 = oy0 * g.sh                     # first padded row of the block
        iy0 = max(0, py0 - g.pt)
        iy1 = min(g.height, py0 + th - g.pt)
        out = []
        top = min(th, g.pt - py0) if py0 < g.pt else 0
        bottom_start = max(0, iy1 + g.pt - py0)
        for c in tile_chunks(unit):
            kk = layer.in_cols(c)
            region = base + (c - chunk0(unit)) * th_full * g.wp
            if unit_tiles and 0 < top == th - bottom_start:
                # top and bottom padding rows of as many rows: one FILL placed twice
                out.append(fill(region, 2 * top * g.wp, kk, 2, bottom_start * g.wp))
            else:
                if top > 0:
                    out.append(fill(region, top * g.wp, kk))
                if bottom_start < th:
                    out.append(fill(region + bottom_start * g.wp, (th - bottom_start) * g.wp,
                                    kk))
            cuts = [iy0]
            if waves:
                # the first wave's rows tap row by tap row (ky = 0, then the rows ky = 1 adds,
                # ...): each tap row's first COMPUTEs (of each input chunk) wait for those
                # image rows only
                w0, wr = waves[0]
                for reach in range(1, g.kh):
                    cut = min(iy1, py0 + (w0 + wr - 1) * g.sh + reach - g.pt)
                    if cut > cuts[-1]:
                        cuts.append(cut)
            for w0, wr in waves or ():
                cut = min(iy1, py0 + (w0 + wr - 1) * g.sh + g.kh - g.pt)
                if cut > cuts[-1]:
                    cuts.append(cut)
            if cuts[-1] < iy1:
                cuts.append(iy1)
            for r0, r1 in zip(cuts, cuts[1:], strict=False):
                nv = r1 - r0
                first = region + (r0 + g.pt - py0) * g.wp + g.pl
                placement = dict(local_cols=g.width, local_groups=nv, local_row_step=g.wp) \
                    if g.wp != g.width else {}       # rows already contiguous: a plain LOAD
                out.append(_Cmd(encode(
                    Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                    dram_addr=layer.x_addr + ((n * g.height + r0) * g.width) * x_pix
                    + c * layer.k_chunk * eb,
                    dram_stride=x_pix, rows=nv * g.width, cols=kk, local_addr=first,
                    **placement),
                    spad_write=(first, first + (nv - 1) * g.wp + g.width)))
        return out

    def side_fills():
        """Left / right padding columns of every tile buffer (written once). On the array
        (not per-unit tiles) with top padding: one FILL per part for a row's right columns
        and the next row's left ones (adjacent SPAD rows); the last row's spill into the
        next part's (or past the tile buffers') first row, and the first part's first row's
        left columns are the first block's top FILL's (one descriptor fewer ahead of the
        first COMPUTE: rn8_s1 npu fixed INT8 316 -> 309, FP16 968 -> 922; kws_dw, per-unit
        tiles, lost 19 with it)."""
        out = []
        right = g.wp - g.pl - g.width
        pair = g.pl > 0 and right > 0 and g.pt > 0 and not unit_tiles and \
            tile0 + plan.tbufs * plan.tile_rows + g.pl <= config.npu_spad_rows
        for b in range(plan.tbufs):
            base = tile_base(b)
            # spread: one FILL per channel chunk, so the first COMPUTE waits for its own only
            parts = [(c * th_full * g.wp, th_full) for c in range(per_tile)] if spread else \
                [(0, per_tile * th_full)]
            for off, groups in parts:
                if pair:
                    out.append(fill(base + off + g.pl + g.width, groups * (right + g.pl),
                                    layer.k_chunk, groups, g.wp))
                    continue
                for first, width in ((0, g.pl), (g.pl + g.width, right)):
                    if width > 0:
                        out.append(fill(base + off + first, groups * width, layer.k_chunk,
                                        groups, g.wp))
        return out

    def acc_base(u_index):
        return (u_index % 2) * plan.acc_half

    def acc_init(u_index, unit):
        if layer.acc_init is None or layer.init_rows:
            return []
        _, _, rows, j0, gcount = unit
        out = []
        for jj in range(gcount):
            j = j0 + jj
            first = acc_base(u_index) + jj * plan.bh * g.ow
            out.append(_Cmd(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                   broadcast=1, dram_addr=layer.acc_init + 4 * j * layer.n_chunk,
                                   rows=rows * g.ow, cols=layer.chunk_cols(j),
                                   local_addr=first),
                            acc_write=(first, first + rows * g.ow)))
        return out

    # the taps weight mode refills its two tap buffers in the order of the unit's taps: no
    # waves there (a wave would walk the taps again)
    waved = plan.wmode != "taps"

    def pieces(unit, first, last):
        """``(s0, sr)`` sub-blocks of a unit in COMPUTE order, by waves
        (:func:`unit_waves`)."""
        waves = unit_waves(config, layer, unit[2], unit[4], first and waved, last and waved)
        return [[(w0 + s0, min(plan.sbh, wr - s0)) for s0 in range(0, wr, plan.sbh)]
                for w0, wr in waves]

    def computes(u_index, unit, tile_index, first=False, last=False):
        _, _, rows, j0, gcount = unit
        base = tile_base(tile_index) - chunk0(unit) * th_full * g.wp
        out = []
        for c0, cn in chunk_waves(config, layer, rows, gcount, last and waved):
            for wave in pieces(unit, first, last):
                out += wave_computes(u_index, unit, base, wave, range(c0, c0 + cn),
                                     first and c_outer)
        return out

    def wave_computes(u_index, unit, base, wave, chunks, outer=False):
        _, _, rows, j0, gcount = unit
        out = []
        taps = [(ky, kx) for ky in range(g.kh) for kx in range(g.kw)]
        if layer.eltwise_mac and layer.eltwise_pair:
            steps = [taps[i:i + 2] for i in range(0, len(taps), 2)]
        else:
            steps = [[tap] for tap in taps]
        order = [(step, c) for c in range(cc) for step in steps] if outer else \
            [(step, c) for step in steps for c in range(cc)]
        for step, c in order:
            (ky, kx), second = step[0], step[1:]
            t = ky * g.kw + kx
            # the second tap of a pair: its tile rows lie this far after the first's
            tap_step = (second[0][0] - ky) * g.wp + second[0][1] - kx if second else 0
            for jj in chunks:
                j = j0 + jj
                if layer.diagonal and c != j:
                    continue
                kk = layer.in_cols(c)
                if layer.shared_weight is not None:
                    w_row = 0
                else:
                    w_row = weight_row(u_index, jj, j, t) + \
                        (0 if layer.diagonal else c * layer.k_chunk)
                first = t == 0 and (layer.diagonal or c == 0)
                for s0, sr in wave:
                    a = base + c * th_full * g.wp + (s0 * g.sh + ky) * g.wp + kx
                    a_end = a + (sr - 1) * g.sh * g.wp + (g.ow - 1) * g.sw + 1
                    acc = acc_base(u_index) + jj * plan.bh * g.ow + s0 * g.ow
                    if layer.eltwise_mac:
                        pair = dict(pair=1, tap_step=tap_step) if second else {}
                        out.append(_Cmd(encode(
                            Opcode.ELTWISE, precision=layer.precision, mac=1,
                            accumulate=int(not first or layer.acc_init is not None),
                            a_addr=a, b_addr=w_row, acc_addr=acc, m=sr * g.ow,
                            n=layer.chunk_cols(j), a_cols=g.ow, a_rows=sr,
                            a_col_step=g.sw, a_row_step=g.sh * g.wp, **pair),
                            spad_reads=((a, a_end + tap_step),
                                        (w_row, w_row + 1 + len(second))),
                            acc_write=(acc, acc + sr * g.ow)))
                        continue
                    if layer.eltwise_max:
                        out.append(_Cmd(encode(
                            Opcode.ELTWISE, precision=layer.precision,
                            op=EltwiseOp.MAX, accumulate=int(not first), a_addr=a,
                            acc_addr=acc, m=sr * g.ow, n=layer.chunk_cols(j),
                            a_cols=g.ow, a_rows=sr, a_col_step=g.sw,
                            a_row_step=g.sh * g.wp),
                            spad_reads=((a, a_end),),
                            acc_write=(acc, acc + sr * g.ow)))
                        continue
                    init = dict(init_row=1, init_addr=init_row0 + j) \
                        if first and layer.init_rows else {}
                    out.append(_Cmd(encode(
                        Opcode.COMPUTE, precision=layer.precision,
                        accumulate=int(not first or
                                       (layer.acc_init is not None and not init)),
                        diagonal=int(layer.diagonal), a_addr=a, w_addr=w_row, **init,
                        acc_addr=acc, m=sr * g.ow, k=kk, n=layer.chunk_cols(j),
                        a_cols=g.ow, a_rows=sr, a_col_step=g.sw,
                        a_row_step=g.sh * g.wp),
                        spad_reads=((a, a_end), (w_row, w_row + kk)),
                        acc_write=(acc, acc + sr * g.ow)))
        return out

    def stores(u_index, unit, split=False):
        """STOREs of a unit: per chunk (``split``: per chunk and sub-block of the last
        unit's waves)."""
        n, oy0, rows, j0, gcount = unit
        out = []
        parts = [p for wave in pieces(unit, len(units) == 1, True) for p in wave] \
            if split else [(0, rows)]
        for jj in range(gcount):
            j = j0 + jj
            nn = layer.chunk_cols(j)
            acc0 = acc_base(u_index) + jj * plan.bh * g.ow
            dram0 = layer.out_addr + ((n * g.oh + oy0) * g.ow) * o_pix + \
                j * layer.n_chunk * layer.out_bytes
            fields = dict(layer.store)
            if layer.runs is None:
                if fields.get("scale"):
                    fields["scale_addr"] = plan.const_row + j * layer.const_per_chunk
                for s0, sr in parts:
                    px = s0 * g.ow
                    out.append(_Cmd(encode(Opcode.STORE, **fields,
                                           dram_addr=dram0 + px * o_pix, dram_stride=o_pix,
                                           rows=sr * g.ow, cols=nn, acc_addr=acc0 + px),
                                    acc_read=(acc0 + px, acc0 + px + sr * g.ow)))
                continue
            for y in range(rows):
                for run in layer.runs(oy0 + y):
                    fields["scale_addr"] = plan.const_row + run.const
                    px = y * g.ow + run.first
                    out.append(_Cmd(encode(Opcode.STORE, **fields,
                                           dram_addr=dram0 + px * o_pix, dram_stride=o_pix,
                                           rows=run.rows, cols=nn, acc_addr=acc0 + px),
                                    acc_read=(acc0 + px, acc0 + px + run.rows)))
        return out

    # Prologue: starting values and shared weights (small), then the first unit's own LOADs, each
    # just ahead of the first COMPUTE that needs it (JIT below).
    words = []
    # the STOREs' parameter rows: read by no COMPUTE, so LOADed just ahead of the first
    # STOREs (first among the second unit's side commands; with one unit right after the
    # first COMPUTE), not ahead of the first COMPUTE's own LOADs
    const = _Cmd(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                        dram_addr=layer.const_addr, dram_stride=layer.const_stride,
                        rows=layer.const_rows, cols=layer.n_chunk,
                        local_addr=plan.const_row)) if layer.const_rows else None
    # the starting values' rows (WalkLayer.init_rows): whole chunks in one LOAD, a partial
    # last chunk in its own
    full = layer.cout // layer.n_chunk if layer.init_rows else 0
    for j0, rows, cols in ((0, full, layer.n_chunk),
                           (full, int(layer.init_rows > full), layer.cout % layer.n_chunk)):
        if rows:
            words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                dram_addr=layer.acc_init + 4 * j0 * layer.n_chunk,
                                dram_stride=4 * layer.n_chunk, rows=rows, cols=cols,
                                local_addr=init_row0 + j0))
    if layer.shared_weight is not None and layer.shared_weight[1]:
        addr, rows = layer.shared_weight
        words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=addr,
                            dram_stride=layer.n_chunk * eb, rows=rows, cols=layer.n_chunk,
                            local_addr=0))

    # the tile buffer of each unit: by block, or by unit for a diagonal layer
    tile_of = []
    bi = -1
    for i, u in enumerate(units):
        if i == 0 or unit_tiles or u[:2] != units[i - 1][:2]:
            bi += 1
        tile_of.append(bi)
    first_unit = units[0]
    head = unit_waves(config, layer, first_unit[2], first_unit[4], waved,
                      waved and len(units) == 1)
    # Weight-stationary: a COMPUTE reads its weight rows before its A rows, so of the LOADs
    # the first COMPUTE needs (kept in this order) its ACC rows (read or written: it waits for
    # those LOADs to be done) and weights come first, then the padding FILLs and image rows it
    # follows row by row (config.npu_load_follow).
    pre = acc_init(0, first_unit)
    if plan.wmode == "resident":
        pre += [c for j in range(layer.out_chunks)
                for c in weight_loads(0, (0, 0, 0, j, 1), "jit",
                                      c_outer and j < first_unit[3] + first_unit[4])]
    elif plan.wmode in ("double", "single"):
        pre += weight_loads(0, first_unit, "jit", c_outer)
    elif plan.wmode == "taps":
        pre += tap_loads(first_unit, range(min(2, g.kh * g.kw)))
    pre += side_fills() + tile_loads(first_unit, 0, head)

    def is_tile(cmd):
        return cmd.spad_write is not None and cmd.spad_write[0] >= tile0

    def first_use(cmd, comp):
        for ci, cp in enumerate(comp):
            if cmd.spad_write is not None and \
                    any(r0 < cmd.spad_write[1] and cmd.spad_write[0] < r1
                        for r0, r1 in cp.spad_reads):
                return ci
            if cmd.acc_write is not None and cp.acc_write[0] < cmd.acc_write[1] and \
                    cmd.acc_write[0] < cp.acc_write[1]:
                return ci
        return len(comp)

    # The first unit's LOADs go this many COMPUTEs ahead of their first use: JIT_LEAD per
    # element byte on the array (an FP16 row moves twice the bytes), JIT_LEAD on the
    # element-wise unit.
    lead = JIT_LEAD if layer.eltwise_mac or layer.eltwise_max else JIT_LEAD * eb
    for i, u in enumerate(units):
        comp = computes(i, u, tile_of[i], first=i == 0, last=i + 1 == len(units))
        side = stores(i - 1, units[i - 1]) if i > 0 else []
        if const is not None and i == 1:
            side = [const] + side
        if i + 1 < len(units):
            nxt = units[i + 1]
            if plan.wmode in ("double", "single"):
                # per tap: no long LOAD ahead of the first unit's own (and, in ``single``,
                # each tap follows the COMPUTEs that free its rows)
                side += weight_loads(i + 1, nxt, True)
            elif plan.wmode == "taps":
                side += tap_loads(nxt, range(min(2, g.kh * g.kw)))
            if tile_of[i + 1] != tile_of[i]:
                side += tile_loads(nxt, tile_of[i + 1])
            side += acc_init(i + 1, nxt)
        # The first unit's own LOADs (i == 0): those its first COMPUTE needs go before it,
        # the others ``lead`` COMPUTEs ahead of their first use, in order of use.
        uses = sorted(((first_use(cmd, comp), n, cmd) for n, cmd in enumerate(pre)),
                      key=lambda t: t[:2]) if i == 0 else []
        # No side command goes before the last of its tile LOADs from main memory (the LOAD
        # unit takes LOADs in order: the next unit's weights there held up the first unit's
        # image rows; its FILLs move no bytes and do not count).
        floor = max([max(0, use - JIT_LEAD) for use, _, cmd in uses
                     if 0 < use < len(comp) and is_tile(cmd)
                     and not decode(cmd.words)[1]["fill"]], default=0)
        if i == 0 and c_outer:
            # input chunks outermost: its own tile LOADs come chunk by chunk through the
            # unit, so the side commands (the next group's weights) start no later than the
            # end of the first input chunk's COMPUTEs (ResNet-8 stage 3 INT8: npu fixed
            # 728 -> 390; at the slot of the last tile LOAD they all fell into the last
            # chunk's COMPUTEs)
            floor = min(floor, len(comp) // cc)
        # Side command d goes after COMPUTE floor + (d * (nc - floor) / ns), but not before
        # the COMPUTE after the last one of this unit that reads the SPAD rows it writes (so
        # it does not hold the LOAD unit's slot waiting for that COMPUTE).
        slots = []                               # (after COMPUTE index, order, cmd)
        last = 0
        for d, cmd in enumerate(side):
            q = floor + d * (len(comp) - floor) // len(side)
            if cmd.spad_write is not None:
                w0, w1 = cmd.spad_write
                for ci, cp in enumerate(comp):
                    if any(r0 < w1 and w0 < r1 for r0, r1 in cp.spad_reads):
                        q = max(q, ci + 1)
            last = max(q, last)
            slots.append((last, 1, cmd))
        if const is not None and i == 0 and len(units) == 1:
            slots.append((0, 0, const))
        if i == 0:
            words += [cmd.words for use, _, cmd in uses if use == 0]
            late = [cmd for use, _, cmd in uses if use == len(comp) and is_tile(cmd)] \
                if spread else []
            slots += [(max(0, use - lead), 0, cmd) for use, n, cmd in uses
                      if use > 0 and not any(cmd is c for c in late)]
            slots += [((k + 1) * len(comp) // (len(late) + 1), 0, cmd)
                      for k, cmd in enumerate(late)]
        if plan.wmode == "taps":
            # This unit's taps 2.. into the buffer of tap t - 2: spread between the COMPUTE
            # after the last one reading that buffer and the first one of tap t.
            for t in range(2, g.kh * g.kw):
                loads = tap_loads(u, [t])
                use = t * len(comp) // (g.kh * g.kw)      # the first COMPUTE of tap t
                free = max(ci for ci, cp in enumerate(comp[:use])
                           if any(r0 < loads[0].spad_write[1] and
                                  loads[0].spad_write[0] < r1 for r0, r1 in cp.spad_reads))
                gap = max(1, (use - free - 2) // (len(loads) + 1))
                for k, cmd in enumerate(loads):
                    slots.append((min(use - 1, free + 1 + (k + 1) * gap), 0, cmd))
        if i + 1 == len(units):
            # The last unit's STOREs, per sub-block, right after the COMPUTE that finishes it.
            for cmd in stores(i, u, split=True):
                writer = max(ci for ci, cp in enumerate(comp)
                             if cp.acc_write[0] < cmd.acc_read[1] and
                             cmd.acc_read[0] < cp.acc_write[1])
                slots.append((writer, 2, cmd))
        slots.sort(key=lambda t: t[:2])
        done = 0
        for ci, cp in enumerate(comp):
            words.append(cp.words)
            while done < len(slots) and slots[done][0] <= ci:
                words.append(slots[done][2].words)
                done += 1
        words += [c[2].words for c in slots[done:]]
    return words
