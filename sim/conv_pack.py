"""CONV_2D INT8 or FP16 with few input channels: kernel taps packed into the array's K lanes.

A convolution with ``Cin`` input channels fills only ``Cin`` of the R lanes a COMPUTE reads per
tap (DS-CNN's 10x4 first layer has ``Cin = 1``: 1/8 of the array). When a whole kernel row
fits the lanes (``kw * Cin <= R``), this plan packs ``E = R // (kw * Cin)`` kernel rows into
them, so one COMPUTE does ``E * kw * Cin`` taps instead of ``Cin``. It needs no new command:

1. *Tile*: the padded input image (pad value ``zp_in``) in SPAD, one pixel per row, lanes
   ``0..Cin-1`` (FILLs for the border, one placed LOAD for the image).
2. *Gather*: ``E * kw`` walked COMPUTEs with K = Cin against rows of an 8x8 identity matrix
   write ACC row ``(i, ox)`` (packed position ``i``: padded row ``py = i * d``) lane
   ``(e * kw + kx) * Cin + ci`` = tile pixel ``(py + e, ox * sw + kx)`` channel ``ci``; none
   accumulates: the one for lanes ``idx * Cin ..`` has ``n = (idx + 1) * Cin`` and they run
   from the highest ``idx`` down, so each lane's last writer is its own gather (products with
   the identity are exact, the other products 0).
3. *Round trip*: one STORE INT8 -> INT8 in the TFLite double-rounding mode with multiplier
   ``2**30`` and shift 1 (the identity on ``|acc| < 2**30``, zero point 0, clamp
   [-128, 127]) writes the packed rows to a scratch area of the layer's parameter bytes; a
   FENCE; one LOAD brings them back to SPAD, 8 lanes per row.
4. *Convolution*: per output chunk ``j`` (N = C columns) and kernel-row group ``g`` (kernel
   rows ``g * E .. g * E + E - 1``), one walked COMPUTE with ``k = E_g * kw * Cin`` reads
   packed row ``((oy * sh + g * E) / d, ox)`` for output ``(oy, ox)``
   (``d = gcd(sh, E)``); the ACC starts from the folded bias (as
   :func:`dure.sim.conv_plan.conv2d_int8_program`: ``bias - zp_in * sum(w)``, padded taps
   hold ``zp_in``), and the STORE requantizes per channel.

The INT8 sum wraps modulo 2**32 in any order, so the result is
:func:`dure.sim.golden_tflite.conv2d_int8` bit for bit.

FP16 (:func:`dure.sim.conv_plan.conv2d_fp16_program`) takes the same tile, layout and
convolution, with two changes that keep it :func:`dure.sim.golden_tflite_fp16.conv2d_fp16`
bit for bit:

- *Order.* The golden accumulates each output in binary32 over k = (kh, kw, cin), kh
  outermost, from the bias (or +0.0). A COMPUTE sums its K lanes sequentially from the ACC's
  value, and lane ``(e * kw + kx) * Cin + ci`` of group ``g`` is tap ``(g * E + e, kx, ci)``,
  so the groups in ascending order with their lanes in ascending order are exactly that
  sequence: the same chain of roundings, not merely the same sum. Padded taps are +0.0
  operands in both (FILL value 0), and lanes of kernel rows past ``kh`` do not take part (K
  stops at the last real tap, so no extra ``+0 * w`` term can change a signed zero or turn an
  infinite weight into NaN).
- *Gather.* A gather through an identity matrix is not exact in FP16: a COMPUTE without
  ``accumulate`` starts at +0.0, and ``+0.0 + (-0.0 * 1)`` is +0.0 (a -0.0 input would become
  +0.0, which changes the output when the bias is -0.0 and every product is -0.0), and with
  Cin > 1 the other channels' ``Inf * 0`` would be NaN. So the FP16 gather fills the ACC
  with -0.0 (``-0.0 + v == v`` for every binary32 ``v``, both zeros included) and copies with
  ``diagonal`` COMPUTEs (``accumulate``; only ``k == n`` products take part, so lane ci is
  ``-0.0 + x * 1.0 = x`` exactly, NaN canonical, which the golden output canonicalises anyway):
  one COMPUTE per (e, kx) into its own ACC region of ``pos`` rows (the same walk as the INT8
  gather), each followed by an FP16 STORE without scale or clamp (exact for fp16 values) of
  its Cin lanes to lanes ``(e * kw + kx) * Cin ..`` of the scratch rows (``dram_stride = 2 *
  lanes``). The rest (FENCE, LOAD of the packed rows, FP16 COMPUTEs, the FP16 STORE with the
  optional scale and clamp) is the INT8 plan's, with the ACC starting from the fp32 bias or a
  +0.0 fill. DS-CNN's 10x4 / 2 first layer on the 8x8 RTL NPU alone (PERF_BUSY, layer test
  in tests/sim/verif/test_layer_verilator.py): walk 43,559 -> packed 12,476 cycles.

:func:`pack_applies` says when the plan is used; :func:`packed_conv_descriptors` emits it.
"""

import math

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, RequantMode
from dure.rtl.npu.descriptor import encode

from dure.gemm_cost import WALK_PACK_PASS_CHUNKS

__all__ = ["pack_applies", "PackLayout", "pack_layout", "packed_conv_descriptors",
           "IDENTITY_MULTIPLIER", "IDENTITY_SHIFT", "GROUP_IMAGES"]

#: Output chunks per pass of the convolution (kernel-row groups outer within a pass).
PASS_CHUNKS = WALK_PACK_PASS_CHUNKS

#: TFLite-mode multiplier / shift that make the requantizing STORE the identity on int8 values.
IDENTITY_MULTIPLIER = 1 << 30
IDENTITY_SHIFT = 1

#: Most images of a batch that share one tile, gather, round trip and FENCE (fewer when they
#: do not fit the SPAD / ACC); the firmware's C port (firmware/npu/npu_conv_pack.c) has the
#: same value.
GROUP_IMAGES = 16


def pack_applies(config, geo, cin, cout=None, precision=Precision.INT8):
    """Whether the packed plan is used: ``Cin < R``, ``kw * Cin <= R`` and at least two taps
    land in one COMPUTE, FP16 only on an NPU with FP16, and the layout of ``cout`` output
    channels (None: one chunk) fits the SPAD / ACC."""
    r = config.npu_rows
    if precision == Precision.FP16 and (not config.npu_fp16 or cin > config.npu_cols):
        return False
    if cin >= r or geo.kw * cin > r or min(r // (geo.kw * cin), geo.kh) * geo.kw * cin <= cin:
        return False
    return pack_layout(config, geo, cin, cout, precision) is not None


class PackLayout:
    """Sizes and SPAD / ACC rows of the packed plan (see the module docstring).

    ``group`` images share one tile (:meth:`place`): image slot ``i`` of the tile starts
    ``i * pitch`` tile rows down (``pitch``: the image's ``th`` tile rows rounded up to a
    multiple of ``d``), so one walked gather COMPUTE covers the whole group, slot ``i``'s
    packed positions starting at position row ``i * ppr`` (``ppr = pitch / d``); the group's
    ``gpos`` packed rows go through one STORE, FENCE and LOAD. The convolution of slot ``i``
    writes ACC window ``i % windows`` (``obufs`` output buffers of ``opix`` rows each)."""

    def __init__(self, config, geo, cin, precision=Precision.INT8):
        r, c = config.npu_rows, config.npu_cols
        self.e = r // (geo.kw * cin)                    # kernel rows per group
        self.groups = -(-geo.kh // self.e)
        self.lanes = self.e * geo.kw * cin              # lanes of a packed row
        self.d = math.gcd(geo.sh, self.e)               # row step of the packed positions
        last = (geo.oh - 1) * geo.sh + (self.groups - 1) * self.e
        self.prow = last // self.d + 1                  # packed position rows
        self.ow = geo.ow
        self.pos = self.prow * geo.ow                   # packed positions of one image
        self.taps = self.e * geo.kw                     # gather COMPUTEs (e, kx)
        self.fp16 = precision == Precision.FP16
        self.th = max(geo.hp, last + self.e)            # tile rows (padded)
        self.pitch = -(-self.th // self.d) * self.d     # tile rows of an image slot
        self.ppr = self.pitch // self.d                 # packed position rows of a slot
        self.opix = geo.oh * geo.ow
        # SPAD: identity (R rows) | conv weights (per chunk groups * R rows) | tile | packed
        self.wslot = self.groups * r
        self.nt = None
        self.ident = 0
        self.w0 = r
        self.c = c
        self.batch = geo.batch

    def rows(self, size):
        """Packed position rows of a group of ``size`` images (the gather's walk)."""
        return (size - 1) * self.ppr + self.prow

    def place(self, config, cout, group=1):
        """Lay out ``cout`` output channels with ``group`` images per tile; whether it fits."""
        nt = -(-cout // self.c)
        self.nt = nt
        self.group = group
        self.gpos = self.rows(group) * self.ow          # packed positions of a full group
        # ACC rows of the gather: INT8 one packed row per position, FP16 one region of
        # ``gpos`` rows per (e, kx) (Cin lanes each)
        self.gather = self.gpos * (self.taps if self.fp16 else 1)
        self.tile_rows = (group - 1) * self.pitch + self.th
        self.tiles = 2 if group > 1 else 1              # a group's tile LOADs: the other one
        self.tile = self.w0 + nt * self.wslot
        self.packed = self.tile + self.tiles * self.tile_rows * self.geo_wp
        spad_end = self.packed + self.gpos
        # ACC: packed positions | output buffers | bias rows (a group) | constants (top)
        self.const_rows = 2 * nt + 2
        self.const_row = config.npu_acc_rows - self.const_rows
        self.held = group > 1                           # the bias held in ACC (init_row)
        self.bias_row = self.const_row - (nt if self.held else 0)
        self.out0 = self.gather
        room = self.bias_row - self.out0
        self.obufs = min(nt, room // max(1, self.opix))
        self.windows = min(group, room // (self.obufs * self.opix)) if self.obufs > 0 else 0
        # image i's last STOREs after image i + 1's COMPUTEs: only into another window
        self.defer = self.held and self.windows >= 2
        # scratch: one area of ``gpos`` packed rows per group
        self.scratch = -(-self.batch // group) * self.gpos * self.lanes
        return spad_end <= config.npu_spad_rows and self.obufs >= min(2, nt) and \
            self.opix <= 0xFFFF and self.gather <= 0xFFFF


def pack_layout(config, geo, cin, cout=None, precision=Precision.INT8):
    """The :class:`PackLayout` of a layer with the most images per tile that fit (at most
    :data:`GROUP_IMAGES`), or None when one image does not fit (``cout`` None: the check with
    one output chunk)."""
    lay = PackLayout(config, geo, cin, precision)
    lay.geo_wp = geo.wp
    for group in range(min(geo.batch, GROUP_IMAGES), 0, -1):
        if lay.place(config, cout or config.npu_cols, group):
            return lay
    return None


def packed_weights(w, lay, n_chunk):
    """Per output chunk the matrix ``(groups * R, nn)`` of ``w``'s dtype: row ``g * R + (e *
    kw + kx) * Cin + ci`` is ``w[o, g * E + e, kx, ci]`` (zero where ``g * E + e >= kh``)."""
    cout, kh, kw, cin = w.shape
    r = lay.w0
    out = []
    for j in range(-(-cout // n_chunk)):
        part = w[j * n_chunk:(j + 1) * n_chunk]
        mat = np.zeros((lay.groups * r, part.shape[0]), w.dtype)
        for g in range(lay.groups):
            for e in range(lay.e):
                ky = g * lay.e + e
                if ky >= kh:
                    break
                rows = part[:, ky].reshape(part.shape[0], kw * cin).T    # (kx, ci) x nn
                k0 = g * r + e * kw * cin
                mat[k0:k0 + kw * cin] = rows
        out.append(mat)
    return out


def packed_conv_descriptors(config, geo, cin, cout, *, x_addr, out_addr, weights, acc_init,
                            const_addr, ident_addr, scratch_addr, store, pad_value,
                            precision=Precision.INT8):
    """Descriptor words of the packed plan.

    ``weights``: per output chunk the address of its :func:`packed_weights` matrix;
    ``acc_init``: ``cout`` int32 (folded bias) or fp32 (bias; FP16 may pass None: the ACC
    starts at +0.0); ``const_addr``: the STORE's rows (per chunk two rows: INT8 the
    multiplier row then the shift row, FP16 the scale row then an unused one) followed by the
    identity STORE's two rows (INT8; FP16: 0 when the output STORE has no scale, nothing is
    loaded); ``ident_addr``: an R x R identity of the precision's element; ``scratch_addr``:
    :attr:`PackLayout.scratch` elements (``gpos * lanes`` per group of images) the plan
    writes and reads back; ``store``: the output
    STORE's fields; ``pad_value``: the FILL pattern of padded taps (``zp_in``, FP16 0)."""
    fp16 = precision == Precision.FP16
    lay = pack_layout(config, geo, cin, cout, precision)
    r, c = config.npu_rows, config.npu_cols
    g = geo
    nt = lay.nt
    elem = ElemType.FP16 if fp16 else ElemType.INT8
    eb = 2 if fp16 else 1
    pad = pad_value
    words = []
    if const_addr:
        words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                            dram_addr=const_addr, dram_stride=4 * c,
                            rows=lay.const_rows - (2 if fp16 else 0), cols=c,
                            local_addr=lay.const_row))
    words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=ident_addr,
                        dram_stride=r * eb, rows=r, cols=r, local_addr=lay.ident))

    def fill(first, rows, cols, groups=0, step=0):
        kw = dict(local_cols=rows // groups, local_groups=groups, local_row_step=step) \
            if groups else {}
        return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, fill=1,
                      fill_value=pad, rows=rows, cols=cols, local_addr=first, **kw)

    pitch, region = lay.pitch * g.wp, lay.tile_rows * g.wp
    right = g.wp - g.pl - g.width
    side = []                                  # tile borders: the same for every group
    for tile in range(lay.tile, lay.tile + lay.tiles * region, region):
        if g.pt:
            side.append(fill(tile, g.pt * g.wp, cin))
        for i in range(lay.group):
            # below slot i: its bottom rows, then slot i + 1's top rows (the last: to th)
            below = (lay.pitch + g.pt if i + 1 < lay.group else lay.th) - g.pt - g.height
            if below > 0:
                side.append(fill(tile + i * pitch + (g.pt + g.height) * g.wp, below * g.wp,
                                 cin))
            for first, width in ((0, g.pl), (g.pl + g.width, right)):
                if width > 0:
                    side.append(fill(tile + i * pitch + g.pt * g.wp + first, g.height * width,
                                     cin, g.height, g.wp))
    words += side
    o_pix = cout * eb                           # output bytes per pixel
    placement = dict(local_cols=g.width, local_groups=g.height, local_row_step=g.wp) \
        if g.wp != g.width else {}
    starts = range(0, g.batch, lay.group)

    def tile_loads(b):
        """Group b's images into their slots of tile region b % tiles."""
        if b >= len(starts):
            return []
        n0, tile = starts[b], lay.tile + (b % lay.tiles) * region
        return [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                       dram_addr=x_addr + n * g.height * g.width * cin * eb, dram_stride=cin * eb,
                       rows=g.height * g.width, cols=cin,
                       local_addr=tile + (n - n0) * pitch + g.pt * g.wp + g.pl, **placement)
                for n in range(n0, min(g.batch, n0 + lay.group))]

    tail = []                                   # the previous group's last STOREs
    if lay.tiles == 2:
        words += tile_loads(0)
    for b, n0 in enumerate(starts):
        size = min(lay.group, g.batch - n0)
        prow = lay.rows(size)
        scratch = scratch_addr + b * lay.gpos * lay.lanes * eb
        tile = lay.tile + (b % lay.tiles) * region
        # with two tile regions the next group's images load while this group's gather runs
        nxt = tile_loads(b + 1) if lay.tiles == 2 else []
        if lay.tiles == 1:
            words += tile_loads(b)
        if fp16:
            words += _fp16_gather(g, lay, cin, scratch, prow, tile, tail, nxt)
        else:
            # Highest lanes first, each COMPUTE writing lanes 0 .. its own last one (zeros
            # below it, which the later ones overwrite): no accumulation, so they stream back
            # to back.
            comps = []
            for idx in reversed(range(lay.taps)):
                e, kx = divmod(idx, g.kw)
                comps.append([encode(
                    Opcode.COMPUTE, precision=Precision.INT8, a_addr=tile + e * g.wp + kx,
                    w_addr=lay.ident + idx * cin, acc_addr=0, m=prow * g.ow, k=cin,
                    n=(idx + 1) * cin, a_cols=g.ow, a_rows=prow, a_col_step=g.sw,
                    a_row_step=lay.d * g.wp)])
            words += _spread(comps, nxt)
            words += tail
            words.append(encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8,
                                scale=1, requant=RequantMode.TFLITE_DOUBLE_ROUNDING,
                                zero_point=0, lo=(-128) & 0xFFFF_FFFF, hi=127,
                                dram_addr=scratch, dram_stride=lay.lanes, rows=prow * g.ow,
                                cols=lay.lanes, acc_addr=0, scale_addr=lay.const_row + 2 * nt))
        if b == 0:
            # The weights (and a group's bias rows) go while the gather runs.
            for j in range(nt):
                nn = min(c, cout - j * c)
                words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                    dram_addr=weights[j], dram_stride=nn * eb,
                                    rows=lay.wslot, cols=nn, local_addr=lay.w0 + j * lay.wslot))
            for j in range(nt if lay.held and acc_init is not None else 0):
                words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                    dram_addr=acc_init + 4 * j * c, dram_stride=4 * c, rows=1,
                                    cols=min(c, cout - j * c), local_addr=lay.bias_row + j))
        words.append(encode(Opcode.FENCE))
        words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=scratch,
                            dram_stride=lay.lanes * eb, rows=prow * g.ow, cols=lay.lanes,
                            local_addr=lay.packed))
        # Image i's last STOREs go after image i + 1's COMPUTEs (the group's last image's
        # after the next group's gather), so the store unit drains while the array works.
        tail = []
        for i in range(size):
            body, last = _conv_stream(config, g, lay, cout, n0 + i, out_addr, o_pix, acc_init,
                                      store, precision, slot=i, defer=lay.defer)
            words += body + tail
            tail = last
    return words + tail


def _spread(steps, loads):
    """``steps`` (lists of words) with ``loads`` between them: load d after step
    ``max(1, (d + 1) * len(steps) // (len(loads) + 1))`` (1-based), as the convolution spreads
    its side commands."""
    at = [max(1, (d + 1) * len(steps) // (len(loads) + 1)) for d in range(len(loads))]
    words = []
    for i, step in enumerate(steps):
        words += step
        words += [loads[d] for d in range(len(loads)) if at[d] == i + 1]
    return words


def _fp16_gather(g, lay, cin, scratch, prow, tile, tail, loads):
    """The FP16 gather of a group whose walk has ``prow`` packed position rows: every (e, kx)
    region of ``gpos`` ACC rows set to -0.0 by one fill, then per (e, kx) a ``diagonal``
    COMPUTE with ``accumulate`` (lane ci of the walked tile pixel times the identity's 1.0,
    added to -0.0: the fp16 value widened exactly, +0.0 and -0.0 kept, NaN canonical; no
    product of another lane takes part) and an FP16 STORE without scale or clamp (exact back to
    fp16) of its Cin lanes to lanes ``(e * kw + kx) * Cin ..`` of the scratch rows (the tile
    region at SPAD row ``tile``); the previous group's ``tail`` STOREs after the first
    COMPUTE, the next group's tile ``loads`` spread between the (COMPUTE, STORE) steps."""
    pos = prow * g.ow
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                    fill_value=0x8000_0000, rows=lay.gather, cols=cin, local_addr=0)]
    steps = []
    for idx in range(lay.taps):
        e, kx = divmod(idx, g.kw)
        step = [encode(
            Opcode.COMPUTE, precision=Precision.FP16, accumulate=1, diagonal=1,
            a_addr=tile + e * g.wp + kx, w_addr=lay.ident, acc_addr=idx * lay.gpos,
            m=pos, k=cin, n=cin, a_cols=g.ow, a_rows=prow, a_col_step=g.sw,
            a_row_step=lay.d * g.wp)]
        if idx == 0:
            step += tail
        step.append(encode(Opcode.STORE, out=OutType.FP16, acc_type=Precision.FP16,
                           dram_addr=scratch + 2 * idx * cin, dram_stride=2 * lay.lanes,
                           rows=pos, cols=cin, acc_addr=idx * lay.gpos))
        steps.append(step)
    return words + _spread(steps, loads)


def _conv_stream(config, g, lay, cout, n, out_addr, o_pix, acc_init, store, precision, *,
                 slot=0, defer=False):
    """The convolution of image ``n`` (tile slot ``slot`` of its group): output chunks in
    pairs, kernel-row groups outer within a pair (consecutive COMPUTEs write other ACC rows); a
    pair's STOREs go between the next pair's COMPUTEs, the next pair's bias LOADs after them.
    Returns ``(words, last)``: ``last`` the last pass's STOREs when ``defer`` (the caller places
    them), else empty (each right after its chunk's final COMPUTE)."""
    r, c = config.npu_rows, config.npu_cols
    nt = lay.nt
    step = PASS_CHUNKS if lay.obufs >= 2 * PASS_CHUNKS else 1   # passes never share buffers

    window = (slot % lay.windows) * lay.obufs

    def buf(j):
        return lay.out0 + (window + j % lay.obufs) * lay.opix

    eb = 2 if lay.fp16 else 1

    def inits(chunks):
        """The ACC-init LOADs of ``chunks`` (none in a group: the bias rows are held)."""
        return [] if lay.held else [init(j) for j in chunks]

    def init(j):
        nn = min(c, cout - j * c)
        if acc_init is None:                     # FP16 without bias: +0.0
            return encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                          rows=lay.opix, cols=nn, local_addr=buf(j))
        return encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, broadcast=1,
                      dram_addr=acc_init + 4 * j * c, rows=lay.opix, cols=nn,
                      local_addr=buf(j))

    def st(j):
        nn = min(c, cout - j * c)
        scale_addr = lay.const_row + 2 * j if store.get("scale") else 0
        return encode(Opcode.STORE, **store, scale_addr=scale_addr,
                      dram_addr=out_addr + n * lay.opix * o_pix + j * c * eb,
                      dram_stride=o_pix, rows=lay.opix, cols=nn, acc_addr=buf(j))

    def comp(j, gi):
        nn = min(c, cout - j * c)
        k = min(lay.e, g.kh - gi * lay.e) * g.kw * (lay.lanes // (lay.e * g.kw))
        first = lay.packed + (slot * lay.ppr + gi * lay.e // lay.d) * g.ow
        start = dict(accumulate=1)
        if lay.held and gi == 0:                 # from the bias row (FP16 without: +0.0)
            start = dict(init_row=1, init_addr=lay.bias_row + j) if acc_init is not None \
                else {}
        return encode(Opcode.COMPUTE, precision=precision, **start,
                      a_addr=first, w_addr=lay.w0 + j * lay.wslot + gi * r,
                      acc_addr=buf(j), m=lay.opix, k=k, n=nn, a_cols=g.ow, a_rows=g.oh,
                      a_col_step=1, a_row_step=(g.sh // lay.d) * g.ow)

    if PASS_CHUNKS >= nt and lay.obufs >= nt:
        step = nt                                # one pass
    passes = [list(range(j0, min(nt, j0 + step))) for j0 in range(0, nt, step)]
    words = inits(passes[0])
    deferred = []
    for p, group in enumerate(passes):
        comps = [comp(j, gi) for gi in range(lay.groups) for j in group]
        side = [st(j) for j in passes[p - 1]] if p else []
        if p + 1 < len(passes):
            side += inits(passes[p + 1])
        # side command d after COMPUTE (d + 1) * len(comps) // (len(side) + 1)
        at = [max(1, (d + 1) * len(comps) // (len(side) + 1)) for d in range(len(side))]
        last = p + 1 == len(passes)
        for ci, cmd in enumerate(comps):
            words.append(cmd)
            words += [side[d] for d in range(len(side)) if at[d] == ci + 1]
            if last and ci >= len(comps) - len(group):
                final = st(group[ci - (len(comps) - len(group))])          # its final COMPUTE
                (deferred if defer else words).append(final)
    return words, deferred
