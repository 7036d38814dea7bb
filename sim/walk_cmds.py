"""The walk engine's data commands: the LOADs, FILLs and STOREs of a walked layer's units
(the tile and its padding, the weights, the ACC starting values, the results), built by
:class:`WalkCmds` for :func:`dure.sim.walk_emit.walk_descriptors`, which places them between
the COMPUTEs (:mod:`dure.sim.walk_computes`). C port: ``firmware/npu/npu_walk_cmds.c``.

Each command is a :class:`Cmd`: its descriptor words and the SPAD / ACC rows it writes or
reads, which the stream uses to place it (a LOAD just ahead of the first COMPUTE that reads
its rows, a side LOAD after the last COMPUTE that reads the rows it overwrites, a STORE after
the COMPUTE that finishes its rows).
"""

from dataclasses import dataclass

from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import decode, encode

from dure.gemm_cost import LATENCY, RELOAD, WALK_PIECE_ROWS, WALK_SPLIT_MIN_CHUNKS

from .walk_waves import chunk_waves, unit_waves

__all__ = ["Cmd", "WalkCmds", "PIECE_ROWS", "chunks_outer", "pair_applies"]

#: A 1x1 layer's next group of weight matrices (``double`` / ``single``) comes in LOADs of this
#: many rows (input channels), piece by piece across the group's chunks
#: (dure.gemm_cost.WALK_PIECE_ROWS, where the measurements are recorded).
PIECE_ROWS = WALK_PIECE_ROWS


def chunks_outer(layer, plan):
    """Whether the first unit of ``layer`` planned by ``plan`` takes its input chunks
    outermost (then taps, output chunks, sub-blocks): an INT8 convolution on the array with
    several input chunks, not in the ``taps`` weight mode. Its first COMPUTEs then need one
    input chunk's image rows and weights, not every chunk's (INT8 sums are exact in any
    order; FP16 keeps the taps outermost, its summation order)."""
    return layer.precision != Precision.FP16 and not layer.diagonal and \
        not layer.eltwise_mac and not layer.eltwise_max and plan.wmode != "taps" and \
        layer.kin_chunks > 1 and layer.shared_weight is None


def pair_applies(layer, plan):
    """Whether the first unit's weights of taps 0 and 1 of input chunk 0 come in one LOAD per
    output chunk (:attr:`~dure.sim.walk_layer.WalkLayer.pair_weights`, which the layer's
    planner then lays out): with its input chunks outermost (:func:`chunks_outer`) and a
    window of two taps or more. Those rows lie ``kin`` rows apart in the weight matrix, so
    the LOAD reads a contiguous copy of them and places it in two groups."""
    return chunks_outer(layer, plan) and layer.geo.kh * layer.geo.kw >= 2 and \
        layer.weights is not None


def a_rows_meet(load_words, comp_words):
    """Whether a COMPUTE (``comp_words``) may read A rows a LOAD (``load_words``) writes, by
    the column windows of ``config.npu_row_hazard`` (``rtl/npu/hazard.py``
    ``conflict_lc``): ``False`` only when the LOAD's ordered 2-D placement and the COMPUTE's
    walk share a row pitch and their windows ``[addr mod pitch, + width)`` are disjoint on
    the circle of ``pitch`` columns (the ranges are the caller's). Likewise an ELTWISE MAC of
    one tap (not ``pair``), whose walk the element-wise unit follows row by row by the load
    unit's ``spad_wait`` (which tests the placement's rows exactly). C
    ``comp_reads_load``."""
    op, c = decode(comp_words)
    lf = decode(load_words)[1]
    lcols, step = lf["local_cols"], c["a_row_step"]
    single = op == Opcode.ELTWISE and c["mac"] and not c["pair"]
    if (op != Opcode.COMPUTE and not single) or not lcols or lf["local_row_step"] < lcols \
            or not c["a_cols"] or lf["local_row_step"] != step:
        return True
    span = (c["a_cols"] - 1) * c["a_col_step"] + 1
    if span > step:
        return True
    lo, co = lf["local_addr"] % step, c["a_addr"] % step
    return (co - lo) % step < lcols or (lo - co) % step < span


@dataclass
class Cmd:
    """One descriptor and the rows it touches."""

    words: list
    spad_write: tuple = None     # (first, end) SPAD rows a LOAD writes
    spad_reads: tuple = ()       # SPAD row ranges a COMPUTE reads
    acc_write: tuple = None      # (first, end) ACC rows a COMPUTE or LOAD writes
    acc_read: tuple = None       # (first, end) ACC rows a STORE reads


class WalkCmds:
    """A walked layer's units (``(n, oy0, rows, j0, gcount)``: batch, first output row, output
    rows, first output chunk, output chunks) and the data commands of each, for ``layer``
    (:class:`~dure.sim.walk_layer.WalkLayer`) planned by ``plan``
    (:class:`~dure.sim.walk_plan.WalkPlan`) on ``config``. ``spread``: as
    :func:`~dure.sim.walk_emit.walk_descriptors`'."""

    def __init__(self, config, layer, plan, spread=False):
        self.config, self.layer, self.plan, self.spread = config, layer, plan, spread
        g = self.g = layer.geo
        self.eb = layer.elem_bytes
        self.elem = ElemType.FP16 if layer.precision == Precision.FP16 else ElemType.INT8
        self.cc = layer.kin_chunks
        self.th_full = (plan.bh - 1) * g.sh + g.kh
        self.tile0 = plan.w_rows
        self.units = list(self._units())
        self.x_pix = layer.cin * self.eb
        self.o_pix = layer.cout * layer.out_bytes
        self.init_row0 = plan.const_row + layer.const_rows   # WalkLayer.init_rows: chunk j's
        self.per_tile = layer.tile_chunks(plan.gn)
        self.unit_tiles = layer.unit_tiles
        # The first unit of an INT8 convolution takes its input chunks outermost
        self.c_outer = chunks_outer(layer, plan)
        # On the array (not per-unit tiles) with top padding, one FILL per tile part writes a
        # row's right padding columns and the next row's left ones (adjacent SPAD rows).
        right = g.wp - g.pl - g.width
        self.pair = g.pl > 0 and right > 0 and g.pt > 0 and not self.unit_tiles and \
            self.tile0 + plan.tbufs * plan.tile_rows + g.pl <= config.npu_spad_rows
        # With it, the first block's top FILL (of the first input chunk) also writes the left
        # columns of the first row below the top padding, and the side FILL of tile buffer 0
        # starts below them (the groups of the top padding rows): the first COMPUTE, whose A
        # range ends there, then reads no row of the side FILL, which goes after it instead
        # of ahead (a descriptor fewer before the first COMPUTE; docs/layer_fixed_cost.md,
        # session 13).
        top0 = min(g.pt, (self.units[0][2] - 1) * g.sh + g.kh)
        self.top_skip = top0 if self.pair and top0 < self.th_full else 0
        # the taps weight mode refills its two tap buffers in the order of the unit's taps: no
        # waves there (a wave would walk the taps again)
        self.waved = plan.wmode != "taps"
        # the first unit's parts when it also computes the second unit's input chunk 0
        self.joint = self.joint_first()
        # FP16: the first unit's first wave also computes the second unit's output chunk
        self.fp16_joint = self.fp16_joint_rows()
        # its taps: the window's first row (the taps whose rows of the first part are the
        # first image rows)
        self.joint_set = set(range(g.kw)) if self.joint else set()

    def _units(self):
        g, plan = self.g, self.plan
        nt = self.layer.out_chunks
        for n in range(g.batch):
            for oy0 in range(0, g.oh, plan.bh):
                for j0 in range(0, nt, plan.gn):
                    yield n, oy0, min(plan.bh, g.oh - oy0), j0, min(plan.gn, nt - j0)

    def fill(self, first, rows, cols, groups=0, step=0):
        """A FILL of the padding value: ``rows`` rows from ``first`` (``groups``: in that many
        groups ``step`` rows apart)."""
        kw = dict(local_cols=rows // groups, local_groups=groups, local_row_step=step) \
            if groups else {}
        return Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem, fill=1,
                          fill_value=self.layer.pad_value, rows=rows, cols=cols,
                          local_addr=first, **kw),
                   spad_write=(first, first + (groups - 1) * step + rows // groups
                               if groups else first + rows))

    def weight_row(self, u_index, j_in_group, j, t):
        """SPAD row of tap t's weight matrix of chunk j (the group's jj-th)."""
        if self.plan.wmode == "taps":
            return ((t % 2) * self.plan.gn + j_in_group) * self.plan.slot
        return self.weight_base(u_index, j_in_group, j) + t * self.layer.kin(j)

    def tap_loads(self, unit, taps):
        """Taps mode: the group's weight matrices of ``taps``, one LOAD per (tap, chunk)."""
        layer, eb = self.layer, self.eb
        _, _, _, j0, gcount = unit
        out = []
        for t in taps:
            for jj in range(gcount):
                j = j0 + jj
                addr, _ = layer.weights(j)
                nn, kin = layer.chunk_cols(j), layer.kin(j)
                base = self.weight_row(0, jj, j, t)
                out.append(Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                                      dram_addr=addr + t * kin * nn * eb,
                                      dram_stride=nn * eb, rows=kin, cols=nn,
                                      local_addr=base),
                               spad_write=(base, base + kin)))
        return out

    def weight_base(self, u_index, j_in_group, j):
        """First SPAD row of chunk j's weights (the group's jj-th) in unit ``u_index``."""
        plan = self.plan
        if plan.wmode == "resident":
            return j * plan.slot
        if plan.wmode == "double":
            return ((u_index % 2) * plan.gn + j_in_group) * plan.slot
        return j_in_group * plan.slot

    def weight_loads(self, u_index, unit, per_tap, fine=False):
        """The weight LOADs of a unit's group: ``per_tap`` ``"jit"`` (the first unit's: one
        LOAD per tap; ``fine``: per (input chunk, tap), taps 0 and 1 of input chunk 0 in one
        with :attr:`~dure.sim.walk_layer.WalkLayer.pair_weights`), true (per tap; a 1x1
        layer's in pieces of PIECE_ROWS rows across the group's chunks; the second unit's
        without input chunk 0's rows when the first unit computes them,
        :meth:`joint_first`) or false (one per chunk)."""
        layer, g, eb, cc = self.layer, self.g, self.eb, self.cc
        _, _, _, j0, gcount = unit
        out = []
        for jj in range(gcount):
            j = j0 + jj
            addr, rows = layer.weights(j)
            nn = layer.chunk_cols(j)
            base = self.weight_base(u_index, jj, j)
            kin = layer.kin(j)
            taps = g.kh * g.kw
            if per_tap == "jit" and layer.eltwise_mac:
                # one row per tap: in one LOAD, which never queues behind the next unit's
                # tile LOAD (a last piece there holds the unit's last MAC for the whole tile)
                per_tap = False
            if per_tap == "jit" and fine:
                # with the joint copy input chunk 0's rows of the joint taps come in
                # joint_weight_loads
                skip = self.joint_set if layer.joint_weights is not None else ()
                pieces = [(t * kin + c * layer.k_chunk, layer.in_cols(c)) for c in range(cc)
                          for t in range(taps) if c or t not in skip]
                if layer.pair_weights is not None:
                    # taps 0 and 1 of input chunk 0 in one LOAD of their contiguous copy,
                    # placed in two groups kin rows apart
                    kc = layer.in_cols(0)
                    pieces = pieces[2:]
                    out.append((0, jj, Cmd(encode(
                        Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                        dram_addr=layer.pair_weights[j], dram_stride=nn * eb, rows=2 * kc,
                        cols=nn, local_addr=base, local_cols=kc, local_groups=2,
                        local_row_step=kin), spad_write=(base, base + kin + kc))))
                if layer.first_pair is not None and j - self.units[0][3] in (0, 1):
                    # input chunk 0 of the first two chunks (a 1x1 layer: its one piece) in
                    # one LOAD of their contiguous copy, placed in two groups a slot apart
                    # (WalkComputes.first_pair_applies; the resident mode asks chunk by chunk)
                    pieces = pieces[1:]
                    if j == self.units[0][3]:
                        kc = layer.in_cols(0)
                        step = self.weight_base(u_index, jj + 1, j + 1) - base
                        out.append((0, jj, Cmd(encode(
                            Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                            dram_addr=layer.first_pair, dram_stride=nn * eb, rows=2 * kc,
                            cols=nn, local_addr=base, local_cols=kc, local_groups=2,
                            local_row_step=step), spad_write=(base, base + step + kc))))
            elif per_tap == "jit":         # the first unit's: one LOAD per tap
                pieces = [(t * kin, kin) for t in range(taps)]
            elif taps == 1:              # a refill of a 1x1 layer: pieces
                pieces = [(r0, min(PIECE_ROWS, kin - r0)) for r0 in range(0, kin, PIECE_ROWS)]
            elif per_tap and u_index == 1 and self.joint:
                # input chunk 0's rows are the first unit's (joint_weight_loads)
                kc = layer.in_cols(0)
                pieces = [(t * kin + kc, kin - kc) if t in self.joint_set else (t * kin, kin)
                          for t in range(taps)]
            elif per_tap:
                pieces = [(t * kin, kin) for t in range(taps)]
            else:
                pieces = [(0, rows)]
            for r0, nr in pieces:
                out.append((r0, jj, Cmd(encode(
                    Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                    dram_addr=addr + r0 * nn * eb, dram_stride=nn * eb, rows=nr, cols=nn,
                    local_addr=base + r0), spad_write=(base + r0, base + r0 + nr))))
        if per_tap != "jit" and g.kh * g.kw == 1:
            out.sort(key=lambda t: t[:2])      # piece by piece across the group's chunks
        return [t[2] for t in out]

    def joint_first(self):
        """The first unit's two parts of output rows when it also computes input chunk 0 of
        the second unit's output chunk (the *joint first wave*; None otherwise): an INT8
        convolution whose first unit takes its input chunks outermost (:attr:`c_outer`) in
        the ``double`` weight mode with one output chunk per unit, the second unit on the
        same rows, and a first unit of one wave of one sub-block (ResNet-8 stage 3: 8 rows of
        8 pixels) that halves into parts of at least RELOAD * R pixels, two of which (one per
        chunk) span LATENCY rows. The two chunks' COMPUTEs of a part read the same image
        rows, so the first COMPUTE waits for the image rows of half the output rows, and the
        second chunk's COMPUTE of that part covers the port's pace instead of a gap
        (:meth:`~dure.sim.walk_computes.WalkComputes.joint_computes`), for the taps of the
        window's first row (:attr:`joint_set`). The second chunk's weights of those taps of
        input chunk 0 are LOADed by the first unit into the second unit's weight slot, its
        starting-value row with the first chunk's, its sums go to the second unit's ACC half,
        which then computes the rest without a starting row (C ``walk_joint_first``; ResNet-8
        stage 3 INT8 npu fixed 320 -> 312 on the 8x8 ``sim`` SoC, session 20: its 32-row
        COMPUTEs, each with a weight LOAD, were push-bound; with both chunks' rows of a tap
        in one LOAD, :meth:`joint_weight_loads`, 312 -> 297)."""
        g, plan, units = self.g, self.plan, self.units
        if not self.c_outer or plan.wmode != "double" or len(units) < 2 or \
                units[0][4] != 1 or units[1][:3] != units[0][:3] or g.kh * g.kw < 2 or \
                not self.layer.init_rows:
            return None
        waves = self.pieces(units[0], True, False)
        if len(waves) != 1 or len(waves[0]) != 1:
            return None
        s0, sr = waves[0][0]
        h = sr - sr // 2
        if (sr // 2) * g.ow < RELOAD * self.config.npu_rows or 2 * (sr // 2) * g.ow < LATENCY:
            return None
        return [(s0, h), (s0 + h, sr - h)]

    def joint_copy_applies(self):
        """Whether the joint first wave's weights come from
        :attr:`~dure.sim.walk_layer.WalkLayer.joint_weights` (which the layer's planner lays
        out where this holds): with :meth:`joint_first` and the two units' output chunks
        of the same width (one LOAD's columns)."""
        return bool(self.joint) and self.layer.weights is not None and \
            self.layer.chunk_cols(self.units[0][3]) == self.layer.chunk_cols(self.units[1][3])

    def fp16_joint_rows(self):
        """The output rows of an FP16 first unit's first wave when that wave also computes
        the second unit's output chunk over the same rows (the *FP16 joint first wave*; 0
        otherwise): a convolution on the array (not diagonal, a window of two taps or more)
        in the ``resident`` or ``double`` weight mode, one output chunk per unit, the second
        unit on the same rows and not the last, a first unit of two waves or more whose first
        is one sub-block, and no broadcast ACC-init LOAD (a bias row held in ACC, or none).
        FP16 keeps its taps outermost, so a wave's first taps need every input chunk's image
        rows: two output chunks share them (ResNet-8 stage 1: the first wave read 3 KB of
        image and 2.3 KB of weights for 1,152 rows of work; for both chunks 3 KB and 4.6 KB
        for 2,304). Per ACC row the order is kept (FP16 exact): the first wave's COMPUTEs go
        (tap, input chunk) by (tap, input chunk), the first unit's then the second's, and the
        second unit computes its other rows (:meth:`~dure.sim.walk_computes.WalkComputes.
        computes`); its weights come with the first unit's, just ahead of their first use
        (``walk_emit``). C ``walk_fp16_joint``."""
        g, plan, units, layer = self.g, self.plan, self.units, self.layer
        if layer.precision != Precision.FP16 or layer.diagonal or layer.eltwise_mac or \
                layer.eltwise_max or plan.wmode not in ("resident", "double") or \
                len(units) < 3 or units[0][4] != 1 or units[1][4] != 1 or \
                units[1][:3] != units[0][:3] or g.kh * g.kw < 2 or \
                (layer.acc_init is not None and not layer.init_rows):
            return 0
        waves = self.pieces(units[0], True, False)
        if len(waves) < 2 or len(waves[0]) != 1:
            return 0
        return waves[0][0][1]

    def joint_w_row(self, u_index, t):
        """SPAD row of unit ``u_index``'s (0 or 1) weights of input chunk 0 of joint tap
        ``t``: its own slot's, or with the joint copy both in the second unit's slot, the
        second unit's rows first (:meth:`joint_weight_loads`)."""
        j1 = self.units[1][3]
        if self.layer.joint_weights is None:
            return self.weight_row(u_index, 0, self.units[u_index][3], t)
        return self.weight_row(1, 0, j1, t) + (self.layer.in_cols(0) if u_index == 0 else 0)

    def joint_weight_loads(self):
        """With :meth:`joint_first`: the weights of input chunk 0 of the taps of
        :attr:`joint_set` that the first unit's own LOADs leave out (the first unit's JIT
        LOADs). With the copy (:attr:`~dure.sim.walk_layer.WalkLayer.joint_weights`) both
        units' chunks' rows of a tap in one LOAD of ``2 kc`` contiguous rows at the second
        unit's rows of that tap (the first unit's rows after them, over the second unit's
        input chunk 1 rows, which its own LOADs write after the joint COMPUTEs; rn8_s3 INT8
        npu fixed 312 -> 297 on the 8x8 ``sim`` SoC, session 20, branch ``firstwave2``),
        else the second unit's chunk's rows, one LOAD per tap into its slot."""
        layer, eb = self.layer, self.eb
        j = self.units[1][3]
        addr, _ = layer.weights(j)
        nn, kin, kc = layer.chunk_cols(j), layer.kin(j), layer.in_cols(0)
        base = self.weight_base(1, 0, j)
        out = []
        if layer.joint_weights is not None:
            for t in sorted(self.joint_set):
                out.append(Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                                      dram_addr=layer.joint_weights + t * 2 * kc * nn * eb,
                                      dram_stride=nn * eb, rows=2 * kc, cols=nn,
                                      local_addr=base + t * kin),
                               spad_write=(base + t * kin, base + t * kin + 2 * kc)))
            return out
        for t in sorted(self.joint_set):
            out.append(Cmd(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                                  dram_addr=addr + t * kin * nn * eb, dram_stride=nn * eb,
                                  rows=kc, cols=nn, local_addr=base + t * kin),
                           spad_write=(base + t * kin, base + t * kin + kc)))
        return out

    def tile_base(self, tile_index):
        """First SPAD row of tile buffer ``tile_index``."""
        return self.tile0 + (tile_index % self.plan.tbufs) * self.plan.tile_rows

    def chunk0(self, unit):
        """Input chunk at the start of the unit's tile."""
        return unit[3] if self.unit_tiles else 0

    def tile_chunks(self, unit):
        """The input chunks in the unit's tile."""
        return range(unit[3], min(self.cc, unit[3] + unit[4])) if self.unit_tiles \
            else range(self.cc)

    def tile_loads(self, unit, tile_index, waves=None):
        """FILLs and LOADs of a unit's tile (the block's, or a diagonal unit's own chunks);
        ``waves``: the image rows LOADed in one piece per wave (the rows its output rows need
        beyond the previous waves'), those of the first wave's tap rows ky = 0, 1, ..,
        KH - 2 each in a piece of their own before the rest."""
        layer, g, th_full = self.layer, self.g, self.th_full
        n, oy0, rows, j0, gcount = unit
        th = (rows - 1) * g.sh + g.kh
        base = self.tile_base(tile_index)
        py0 = oy0 * g.sh                     # first padded row of the block
        iy0 = max(0, py0 - g.pt)
        iy1 = min(g.height, py0 + th - g.pt)
        out = []
        top = min(th, g.pt - py0) if py0 < g.pt else 0
        bottom_start = max(0, iy1 + g.pt - py0)
        for c in self.tile_chunks(unit):
            kk = layer.in_cols(c)
            region = base + (c - self.chunk0(unit)) * th_full * g.wp
            if self.unit_tiles and 0 < top == th - bottom_start:
                # top and bottom padding rows of as many rows: one FILL placed twice
                out.append(self.fill(region, 2 * top * g.wp, kk, 2, bottom_start * g.wp))
            else:
                if top > 0:
                    ext = g.pl if self.top_skip and tile_index == 0 and c == 0 else 0
                    out.append(self.fill(region, top * g.wp + ext, kk))
                if bottom_start < th:
                    out.append(self.fill(region + bottom_start * g.wp,
                                         (th - bottom_start) * g.wp, kk))
            cuts = [iy0]
            if waves:
                # the first wave's rows tap row by tap row (ky = 0, then the rows ky = 1 adds,
                # ...): each tap row's first COMPUTEs (of each input chunk) wait for those
                # image rows only
                w0, wr = waves[0]
                joint = self.joint if tile_index == 0 and c == self.chunk0(unit) else None
                if joint:
                    # the joint first wave's first part: its tap row ky = 0 first
                    cut = min(iy1, py0 + (joint[0][0] + joint[0][1] - 1) * g.sh + 1 - g.pt)
                    if cut > cuts[-1]:
                        cuts.append(cut)
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
                out.append(Cmd(encode(
                    Opcode.LOAD, target=LoadTarget.SPAD, elem=self.elem,
                    dram_addr=layer.x_addr + ((n * g.height + r0) * g.width) * self.x_pix
                    + c * layer.k_chunk * self.eb,
                    dram_stride=self.x_pix, rows=nv * g.width, cols=kk, local_addr=first,
                    **placement),
                    spad_write=(first, first + (nv - 1) * g.wp + g.width)))
        return out

    def side_fills(self):
        """Left / right padding columns of every tile buffer (written once). On the array
        (not per-unit tiles) with top padding: one FILL per part for a row's right columns
        and the next row's left ones (adjacent SPAD rows); the last row's spill into the
        next part's (or past the tile buffers') first row, and the first part's first row's
        left columns are the first block's top FILL's (one descriptor fewer ahead of the
        first COMPUTE: rn8_s1 npu fixed INT8 316 -> 309, FP16 968 -> 922; kws_dw, per-unit
        tiles, lost 19 with it)."""
        g, plan, th_full = self.g, self.plan, self.th_full
        out = []
        right = g.wp - g.pl - g.width
        for b in range(plan.tbufs):
            base = self.tile_base(b)
            # spread: one FILL per channel chunk, so the first COMPUTE waits for its own only
            parts = [(c * th_full * g.wp, th_full) for c in range(self.per_tile)] \
                if self.spread else [(0, self.per_tile * th_full)]
            for off, groups in parts:
                if self.pair:
                    # tile buffer 0's first groups: the first block's top FILL's rows; of the
                    # rest, those in the first COMPUTE's A range in a FILL of their own (ahead
                    # of it), the others in one after it
                    k0 = self.top_skip if b == 0 and off == 0 else 0
                    cut = self._first_range_groups(k0, groups) \
                        if b == 0 and off == 0 and self.c_outer else k0
                    for g0, g1 in ((k0, cut), (cut, groups)):
                        if g1 > g0:
                            out.append(self.fill(base + off + g0 * g.wp + g.pl + g.width,
                                                 (g1 - g0) * (right + g.pl),
                                                 self.layer.k_chunk, g1 - g0, g.wp))
                    continue
                for first, width in ((0, g.pl), (g.pl + g.width, right)):
                    if width > 0:
                        out.append(self.fill(base + off + first, groups * width,
                                             self.layer.k_chunk, groups, g.wp))
        return out

    def _first_range_groups(self, k0, groups):
        """The end of tile buffer 0's side-FILL groups from ``k0`` whose first row lies in the
        SPAD range of the first COMPUTE's A rows (tap (0, 0) of the first unit's first
        sub-block; the range, a superset of the rows, is what the stream and the dispatcher
        test): those go ahead of it, the rest after it (ResNet-8 stage 2 INT8: 4 rows ahead
        instead of 34, npu fixed 357 -> 327). Only with the first unit's input chunks
        outermost (INT8): FP16's first unit is bus-bound, its totals did not move (rn8_s2 /
        s3 to the cycle) and the extra FILL cost rn8_conv1 FP16 12 cycles."""
        g = self.g
        sr = self.joint[0][1] if self.joint else \
            self.pieces(self.units[0], True, len(self.units) == 1)[0][0][1]
        a_end = self.tile_base(0) + (sr - 1) * g.sh * g.wp + (g.ow - 1) * g.sw + 1
        first = self.tile_base(0) + g.pl + g.width          # group 0's first row
        return max(k0, min(groups, -(-(a_end - first) // g.wp)))

    def acc_base(self, u_index):
        """First ACC row of unit ``u_index``'s results (two halves, alternating)."""
        return (u_index % 2) * self.plan.acc_half

    def acc_init(self, u_index, unit):
        """The broadcast ACC-init LOADs of a unit: none where the first COMPUTEs / element-wise
        MACs start from the bias rows (``WalkLayer.init_rows``, every layer with a bias)."""
        layer, g = self.layer, self.g
        if layer.acc_init is None or layer.init_rows:
            return []
        _, _, rows, j0, gcount = unit
        out = []
        for jj in range(gcount):
            j = j0 + jj
            first = self.acc_base(u_index) + jj * self.plan.bh * g.ow
            out.append(Cmd(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                  broadcast=1, dram_addr=layer.acc_init + 4 * j * layer.n_chunk,
                                  rows=rows * g.ow, cols=layer.chunk_cols(j),
                                  local_addr=first),
                           acc_write=(first, first + rows * g.ow)))
        return out

    def pieces(self, unit, first, last):
        """``(s0, sr)`` sub-blocks of a unit in COMPUTE order, by waves
        (:func:`~dure.sim.walk_waves.unit_waves`)."""
        waves = unit_waves(self.config, self.layer, unit[2], unit[4], first and self.waved,
                           last and self.waved)
        return [[(w0 + s0, min(self.plan.sbh, wr - s0)) for s0 in range(0, wr, self.plan.sbh)]
                for w0, wr in waves]

    def last_halves(self, unit):
        """The last unit of a 1x1 layer on the array whose last chunk range
        (:func:`~dure.sim.walk_waves.chunk_waves`) is one chunk of one sub-block: that range
        in two waves of output rows (``[[(s0, sr)], [(s0, sr)]]``, the larger first; None
        otherwise), each wave's STORE after its last COMPUTE, so only the second wave's
        outputs are stored after the final row (DS-CNN's pointwise 25x5x64: 480 B instead of
        1,000 B, drain 220 -> 155 cycles INT8, 470 -> 275 FP16; the second wave's chain links
        are 60 rows apart, a few cycles short of LATENCY). Per ACC row the order is kept
        (FP16 exact). Only with at least WALK_SPLIT_MIN_CHUNKS input chunks (dure.gemm_cost,
        where the measurements are: with fewer the waves cost more than the tail saves)."""
        layer, g = self.layer, self.g
        if g.kh * g.kw != 1 or layer.eltwise_mac or layer.eltwise_max or layer.diagonal or \
                self.cc < WALK_SPLIT_MIN_CHUNKS:
            return None
        if chunk_waves(self.config, layer, unit[2], unit[4], self.waved)[-1][1] != 1:
            return None
        waves = self.pieces(unit, len(self.units) == 1, True)
        if len(waves) != 1 or len(waves[0]) != 1:
            return None
        s0, sr = waves[0][0]
        h = sr - sr // 2
        if (sr - h) * g.ow < RELOAD * self.config.npu_rows:
            return None
        return [[(s0, h)], [(s0 + h, sr - h)]]

    def stores(self, u_index, unit, split=False):
        """STOREs of a unit: per chunk (``split``: per chunk and sub-block of the last
        unit's waves)."""
        layer, g, plan, o_pix = self.layer, self.g, self.plan, self.o_pix
        n, oy0, rows, j0, gcount = unit
        out = []
        parts = [p for wave in self.pieces(unit, len(self.units) == 1, True) for p in wave] \
            if split else [(0, rows)]
        for jj in range(gcount):
            j = j0 + jj
            nn = layer.chunk_cols(j)
            acc0 = self.acc_base(u_index) + jj * plan.bh * g.ow
            dram0 = layer.out_addr + ((n * g.oh + oy0) * g.ow) * o_pix + \
                j * layer.n_chunk * layer.out_bytes
            fields = dict(layer.store)
            split_j = self.last_halves(unit) if split and jj == gcount - 1 else None
            parts_j = [wave[0] for wave in split_j] if split_j else parts
            if layer.runs is None:
                if fields.get("scale"):
                    fields["scale_addr"] = plan.const_row + j * layer.const_per_chunk
                for s0, sr in parts_j:
                    px = s0 * g.ow
                    out.append(Cmd(encode(Opcode.STORE, **fields,
                                          dram_addr=dram0 + px * o_pix, dram_stride=o_pix,
                                          rows=sr * g.ow, cols=nn, acc_addr=acc0 + px),
                                   acc_read=(acc0 + px, acc0 + px + sr * g.ow)))
                continue
            for y in range(rows):
                for run in layer.runs(oy0 + y):
                    fields["scale_addr"] = plan.const_row + run.const
                    px = y * g.ow + run.first
                    out.append(Cmd(encode(Opcode.STORE, **fields,
                                          dram_addr=dram0 + px * o_pix, dram_stride=o_pix,
                                          rows=run.rows, cols=nn, acc_addr=acc0 + px),
                                   acc_read=(acc0 + px, acc0 + px + run.rows)))
        return out
