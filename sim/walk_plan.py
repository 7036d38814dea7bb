"""The windowed-operator engine: an NHWC layer lowered onto walked COMPUTEs (implicit GEMM).

This is the one plan of every operator that slides a KH x KW window over an NHWC image held in
main memory: convolution and depthwise convolution (:mod:`dure.sim.conv_plan`) and average
pooling (:mod:`dure.sim.pool_plan`). An operator describes its layer as a :class:`WalkLayer`
(geometry, channel chunks, where each weight matrix lies, how the ACC starts and how it is
stored); :func:`plan_walk` picks the blocking and :func:`walk_descriptors` emits the stream.

Machine model used (:mod:`dure.rtl.npu.commands`): a COMPUTE with ``a_cols != 0`` reads A row
``m`` at SPAD row ``a_addr + (m // a_cols) * a_row_step + (m % a_cols) * a_col_step``; a LOAD
with ``fill`` writes ``fill_value`` without DMA; a LOAD with ``local_cols != 0`` places source row
``r`` at ``local_addr + (r // local_cols) * local_row_step + r % local_cols``; a ``diagonal``
COMPUTE keeps only the products with ``k == n``; an ELTWISE ``MAC`` (INT8 depthwise,
:attr:`WalkLayer.eltwise_mac`) walks A the same way and multiplies each row lane by lane with one
weight row (a ``pair`` MAC, :attr:`WalkLayer.eltwise_pair`, with two: two taps per row).

Layout
------
The output is cut into *blocks* of ``bh`` output rows of one image (``bh * OW`` pixels) and the
output channels into *chunks* of ``n_chunk`` columns, grouped ``gn`` chunks at a time; one
*unit* is one (image, block, group). Per block, the padded input window of the block (``th =
(bh - 1) * sh + KH`` rows of ``Wp`` pixels, per input-channel chunk of ``k_chunk`` lanes) is a
*tile* in SPAD, pixel ``(py, px)`` of chunk ``c`` at row ``tile + (c * th + py) * Wp + px``.
Padding is FILLed with the layer's pad value: the left and right columns of both tile buffers
once at the start (the LOADs never write them), the top / bottom rows per block where the block
has them. The image rows of the tile come in one LOAD per channel chunk with 2-D placement
(``local_cols = W``, ``local_row_step = Wp``), so every input pixel is read once per block (the
halo rows twice).

Depthwise (INT8 on the element-wise MAC, FP16: :func:`_unit_tiles`) keeps a tile per *unit*
instead: a unit reads only its group's own input chunks, so its tile holds those (``c``
counted from the group's first chunk) and the tile buffers alternate by unit. The smaller
tile lets the search pick taller blocks (fewer halo rows: MobileNet's 48x48x16 stride-2 layer
bh 4 -> 8 on the 8x8 NPU) and every unit's tile LOAD runs beside the previous unit's MACs,
not all of a block's in its last unit. Its weight rows (one per tap) come in one LOAD per
chunk.

The output pixel ``(oy, ox)``, tap ``(ky, kx)`` reads tile pixel ``((oy - oy0) * sh + ky, ox * sw
+ kx)``: one walked COMPUTE per (tap, input chunk, output chunk, sub-block of ``sbh`` output
rows) with ``a_cols = OW``, ``a_col_step = sw``, ``a_row_step = sh * Wp``, writing ACC rows
``acc + (oy - oy0) * OW + ox``: the ACC holds the block in NHWC pixel order, so one STORE (rows
= pixels, stride = the output pixel stride) writes it out.

Order (what makes FP16 exact): per unit, taps outermost (ky, then kx), then input chunks, then
the group's output chunks, then sub-blocks. Per ACC row this is the sequential order of
:func:`dure.sim.golden_tflite_fp16.conv2d_fp16` (k over (kh, kw, cin)); consecutive COMPUTEs
write other ACC rows (other chunk or sub-block), so the array seldom waits for its own result.

Buffers: SPAD holds the weights at row 0, in one of five modes the search picks: ``resident``
(every chunk's matrices, loaded once), ``double`` (two group buffers by unit parity),
``single`` (one group buffer that the next unit refills tap by tap behind the COMPUTEs that
read it), ``taps`` (two buffers of one tap's matrices for the whole group, refilled tap by tap
within the unit: a group of every chunk when the layer's weights do not fit, so many ACC
chains interleave; ResNet-8 stage 3) or ``shared`` (one matrix for everything: pooling); then
one or two tile buffers (by block parity; by unit parity for per-unit tiles). ACC holds two
halves of ``gn * bh * OW`` rows (by unit parity; a STORE of one unit overlaps the next unit's
COMPUTEs) and the layer's constant rows (requantization / scale rows) at the top.

The next group's weights of a 1x1 layer (``double`` and ``single``) come in LOADs of
PIECE_ROWS rows (input channels), piece by piece across the group's chunks: in ``single``
each piece then follows the COMPUTEs that free its rows instead of the whole matrix waiting
for the unit's last COMPUTE, and in both no long LOAD holds the in-order front.

Stream order: per unit its COMPUTEs with the *side* commands spread evenly between them: the
previous unit's STOREs, then the next unit's LOADs (tile, weights, ACC init); a side command
that writes SPAD rows a COMPUTE of this unit reads is placed after that COMPUTE. The first
unit's own LOADs go just ahead (JIT_LEAD COMPUTEs) of the first COMPUTE that needs them, those
of its first COMPUTE before it; the last unit's STOREs go per sub-block right after the COMPUTE
that finishes it. The NPU's front end takes commands in order with one waiting slot per unit,
so this keeps LOADs and STOREs from holding up the COMPUTEs behind them.

Waves (the layer's fixed cost, :func:`unit_waves`, :func:`chunk_waves`): the first and the
last unit of a layer with a window larger than 1x1 on the array run their rows in *waves*, one
after the other, each wave in the order above (taps, input chunks, output chunks, sub-blocks of
at most ``sbh`` rows inside the wave). The first unit's waves grow, and its tile rows come in
one LOAD per wave and input chunk, so its first COMPUTE waits for a few rows instead of the
whole block; the last unit's shrink, so each wave's STOREs overlap the next wave's COMPUTEs and
only the last (small) wave's STOREs follow the final COMPUTE. A last unit of several output
chunks (any window) takes its chunks in shrinking ranges instead, the same way. A wave keeps
the order per ACC row (FP16 stays exact) and has at least LATENCY pixels over its chunks, so
an accumulation chain onto the same rows is not waited for. No waves in the ``taps`` weight
mode (its tap buffers are refilled in the unit's tap order). What the engine cannot schedule
away: an ACC-init LOAD (the bias) takes one ACC write-port cycle per row from the COMPUTEs'
results (~2 k cycles on ResNet-8 stage 1), measured by removing them.
"""

from dataclasses import dataclass, field

from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import encode

from dure.gemm_cost import (
    BYTES_PER_CYCLE,
    LATENCY,
    RELOAD,
    WALK_DESCRIPTOR_WEIGHT,
    WALK_ELTWISE_OVERHEAD,
    WALK_JIT_LEAD,
    WALK_PIECE_ROWS,
    WALK_PUSH_CYCLES,
)

from .golden_padding import conv_padding

__all__ = ["Geometry", "geometry", "WalkLayer", "WalkPlan", "plan_walk", "walk_descriptors",
           "PUSH_CYCLES", "StoreRun"]

#: Estimated cycles to hand one descriptor to the NPU (the planner's cost estimate only).
PUSH_CYCLES = WALK_PUSH_CYCLES
#: Tie-break weight of a descriptor in the blocking search (cycles).
DESCRIPTOR_WEIGHT = WALK_DESCRIPTOR_WEIGHT
#: Cycles an ELTWISE takes beyond its m rows (144 MACs of 36 rows: 5,762 cycles on the 8x8
#: `sim` SoC, 40 each, before the MAC read its weight rows once up front: +1; the planner's
#: estimate only; dure.gemm_cost.WALK_ELTWISE_OVERHEAD, which the firmware's C port reads).
ELTWISE_OVERHEAD = WALK_ELTWISE_OVERHEAD
#: A 1x1 layer's next group of weight matrices (``double`` / ``single``) comes in LOADs of this
#: many rows (input channels), piece by piece across the group's chunks
#: (dure.gemm_cost.WALK_PIECE_ROWS, where the measurements are recorded).
PIECE_ROWS = WALK_PIECE_ROWS


@dataclass(frozen=True)
class Geometry:
    """Sizes of a windowed NHWC layer as TFLite computes them (dilation 1).

    ``hp`` / ``wp``: padded extent the tile holds (every tap of every output inside, and the
    whole input row, so the LOAD places it with one row step)."""
    batch: int
    height: int
    width: int
    kh: int
    kw: int
    sh: int
    sw: int
    oh: int
    ow: int
    pt: int
    pl: int
    hp: int
    wp: int

    @property
    def pixels(self):
        return self.batch * self.oh * self.ow


def geometry(x_shape, kernel, stride, padding):
    """:class:`Geometry` of an NHWC input ``x_shape`` with ``kernel`` / ``stride`` pairs.

    ``padding``: ``"SAME"`` / ``"VALID"`` as TFLite computes them, or explicit non-negative
    ``(top, left, bottom, right)`` amounts (ONNX ``pads``): ``out = (in + before + after -
    kernel) // stride + 1``."""
    n, h, w = x_shape[:3]
    (kh, kw), (sh, sw) = kernel, stride
    if isinstance(padding, str) or not hasattr(padding, "__len__"):
        oh, pt, _ = conv_padding(h, kh, sh, padding)
        ow, pl, _ = conv_padding(w, kw, sw, padding)
    else:
        pt, pl, pb, pr = (int(p) for p in padding)
        if min(pt, pl, pb, pr) < 0:
            raise ValueError(f"explicit padding must be non-negative, not {tuple(padding)}")
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise ValueError(f"no output: a {kh}x{kw} window does not fit the padded input")
    hp = max((oh - 1) * sh + kh, pt + h)
    wp = max((ow - 1) * sw + kw, pl + w)
    return Geometry(n, h, w, kh, kw, sh, sw, oh, ow, pt, pl, hp, wp)


@dataclass(frozen=True)
class StoreRun:
    """Output pixels ``[first, first + rows)`` of a block row (``first`` counted from the
    row's pixel 0) stored with the constant rows at ACC offset ``const`` (from the layer's
    constant area) -- pooling with a window count that varies at the borders."""
    first: int
    rows: int
    const: int


@dataclass
class WalkLayer:
    """What an operator tells the engine (all addresses are byte addresses in main memory).

    Attributes
    ----------
    geo : Geometry
    precision : Precision
        Of the COMPUTEs (and of the SPAD elements: INT8 or FP16).
    cin, cout : int
        Input channels, output channels.
    k_chunk, n_chunk : int
        Lanes per input-channel chunk (the COMPUTE's k) and per output chunk (its n).
    diagonal : bool
        Output chunk j reads input chunk j only, with ``diagonal`` COMPUTEs (depthwise,
        pooling); otherwise every input chunk (convolution).
    x_addr : int
        The input, NHWC, dense.
    out_addr : int
        The output, NHWC, dense; ``out_bytes`` per element.
    pad_value : int
        The FILL pattern of padded taps (SPAD lane bits).
    weights : callable or None
        ``weights(j)`` -> ``(addr, rows)``: chunk j's weight matrix in main memory, ``rows``
        rows of ``n_j`` elements (dense), row ``tap * kin_j + i`` for input channel ``i`` of the
        chunk's input (all ``cin`` channels, or the chunk's own for a diagonal layer).
        None: ``shared_weight`` below.
    shared_weight : (int, int) or None
        ``(addr, rows)`` of one matrix every COMPUTE uses (identity for pooling): loaded once.
    acc_init : int or None
        Address of ``cout`` 32-bit words broadcast into each block's ACC rows before its first
        COMPUTE (bias); None: the first COMPUTE starts from zero.
    const_addr, const_rows : int
        ``const_rows`` rows of ``n_chunk`` words (dense, ``4 * n_chunk`` bytes apart? no: see
        ``const_stride``) LOADed once into the ACC's constant area.
    const_stride : int
        Bytes between constant rows in main memory.
    const_per_chunk : int
        Constant rows per output chunk (chunk j's at ``j * const_per_chunk``), 0 when the rows
        are shared by all chunks (pooling).
    store : dict
        STORE fields common to every STORE (out, acc_type, scale, requant, zero_point, lo, hi,
        clamp); ``scale_addr`` is set per STORE when ``scale`` is.
    out_bytes : int
    runs : callable or None
        ``runs(oy)`` -> list of :class:`StoreRun` for output row ``oy`` (pooling); None: one
        STORE per block and chunk with chunk j's constant rows.
    macs : int
        Useful multiply-accumulates of the layer (for the report).
    eltwise_max : bool
        Max pooling: every tap is an ELTWISE ``MAX`` (same walk, ``accumulate`` after the first
        tap) instead of a COMPUTE; no weights (``shared_weight = (None, 0)``).
    eltwise_mac : bool
        INT8 depthwise on the element-wise unit: every tap is an ELTWISE ``MAC`` (same walk,
        ``accumulate`` after the first tap or with ``acc_init``) whose weight row is the tap's
        (chunk j's matrix: one row per tap, ``kin(j) = 1``) instead of a diagonal COMPUTE.
    eltwise_pair : bool
        With ``eltwise_mac``: taps 2 t and 2 t + 1 (row-major over the kernel) are one
        ``pair`` MAC (``tap_step`` = the distance of their tile rows; the weight rows are
        consecutive), so a KH x KW window costs ``ceil(KH * KW / 2)`` MACs. Not with the
        ``taps`` weight mode (two taps' rows are not adjacent there).
    """
    geo: Geometry
    precision: Precision
    cin: int
    cout: int
    k_chunk: int
    n_chunk: int
    diagonal: bool
    x_addr: int
    out_addr: int
    pad_value: int
    out_bytes: int
    store: dict
    weights: object = None
    shared_weight: tuple = None
    acc_init: int = None
    const_addr: int = 0
    const_rows: int = 0
    const_stride: int = 0
    const_per_chunk: int = 0
    runs: object = None
    macs: int = 0
    eltwise_max: bool = False
    eltwise_mac: bool = False
    eltwise_pair: bool = False

    @property
    def elem_bytes(self):
        return 2 if self.precision == Precision.FP16 else 1

    @property
    def kin_chunks(self):
        return -(-self.cin // self.k_chunk)

    @property
    def out_chunks(self):
        return -(-self.cout // self.n_chunk)

    def chunk_cols(self, j):
        return min(self.n_chunk, self.cout - j * self.n_chunk)

    def in_cols(self, c):
        return min(self.k_chunk, self.cin - c * self.k_chunk)

    def kin(self, j):
        """Input channels chunk j's weight matrix has per tap (rows per tap)."""
        if self.eltwise_mac:
            return 1
        return self.chunk_cols(j) if self.diagonal else self.cin

    def weight_rows(self, j):
        return self.geo.kh * self.geo.kw * self.kin(j)


@dataclass(frozen=True)
class WalkPlan:
    """Blocking of a :class:`WalkLayer` (see the module docstring)."""
    bh: int          # output rows per block
    sbh: int         # output rows per COMPUTE
    gn: int          # output chunks per group
    wmode: str       # "resident", "double", "single" or "shared"
    tbufs: int       # tile buffers (1 or 2)
    slot: int        # SPAD rows per output chunk's weights
    w_rows: int      # SPAD rows of the weight area
    tile_rows: int   # SPAD rows of one tile buffer
    acc_half: int    # ACC rows of one half
    const_row: int   # first ACC row of the constant area
    cost: tuple = field(default=(0, 0, 0), compare=False)   # (time, waits, descriptors)


def _unit_tiles(layer):
    """Whether the layer's tiles are per unit (INT8 depthwise on the element-wise MAC and FP16
    depthwise on diagonal COMPUTEs: a unit reads only its group's own input chunks) rather than
    per block. Not for pooling (a shared weight) nor INT8 diagonal depthwise (an NPU without
    the element-wise unit; not measured). FP16 depthwise with per-unit tiles is never
    ``resident`` unless one group holds every chunk (:func:`plan_walk`): with the small tile the
    search would pick it, and the other chunks' weight LOADs then all follow the first unit
    (MobileNet's 6x6x128: 12,793 -> 14,847 cycles); ``double`` loads each group's weights beside
    the previous unit's COMPUTEs. DS-CNN's 25x5x64 FP16 depthwise (8x8 `sim` SoC, in the model):
    15,131 -> 13,635 cycles (per-block tile of every chunk, all but the first chunk's loaded
    during the first unit)."""
    return layer.diagonal and (layer.eltwise_mac or (layer.precision == Precision.FP16
                                                     and layer.shared_weight is None))


def _tile_chunks(layer, gn):
    """Input chunks one tile buffer holds: the unit's group's own (``gn``) with
    :func:`_unit_tiles`, otherwise every input chunk (the block's)."""
    return min(gn, layer.kin_chunks) if _unit_tiles(layer) else layer.kin_chunks


def _tile_rows(layer, bh, gn):
    g = layer.geo
    th = (min(bh, g.oh) - 1) * g.sh + g.kh
    return _tile_chunks(layer, gn) * th * g.wp


def _estimate(config, layer, bh, sbh, gn, wmode, startup=False):
    """``(time, descriptors)``: a rough cycle estimate of one blocking (see plan_walk)."""
    g = layer.geo
    r = config.npu_rows
    nt, cc = layer.out_chunks, layer.kin_chunks
    blocks = -(-g.oh // bh)
    groups = -(-nt // gn)
    taps = g.kh * g.kw
    if layer.eltwise_mac and layer.eltwise_pair:
        taps = -(-taps // 2)             # one pair MAC per two taps
    steps_in = 1 if layer.diagonal else cc
    compute = 0
    commands = 0
    for b in range(blocks):
        rows = min(bh, g.oh - b * bh)
        subs = [min(sbh, rows - s) * g.ow for s in range(0, rows, sbh)]
        for gi in range(groups):
            chunks = min(gn, nt - gi * gn)
            if layer.eltwise_mac:
                # one row per cycle and a few cycles per command, no weight load, no array
                # latency between the taps (measured on the 8x8 `sim` SoC)
                per_step = sum(m + ELTWISE_OVERHEAD for m in subs) * chunks
            else:
                per_step = sum(max(m, RELOAD * r) for m in subs) * chunks
                # an accumulation onto the same rows waits, row by row, for the previous
                # one's results (the execute unit orders chains per ACC row): hidden by
                # that much other work between
                per_step = max(per_step, LATENCY)
            compute += taps * steps_in * per_step
            commands += taps * steps_in * len(subs) * chunks + 2 * chunks
    compute *= g.batch
    commands *= g.batch
    eb = layer.elem_bytes
    th = (bh - 1) * g.sh + g.kh
    tile_bytes = blocks * min(th, g.height) * g.width * layer.cin * eb
    w_bytes = sum(layer.weight_rows(j) * layer.chunk_cols(j) for j in range(nt)) * eb
    reloads = 1 if wmode in ("resident", "shared") else blocks * g.batch
    memory = (g.batch * tile_bytes + reloads * w_bytes
              + g.pixels * layer.cout * layer.out_bytes) // BYTES_PER_CYCLE
    if wmode in ("single", "taps"):
        commands += reloads * nt * taps
    push = commands * PUSH_CYCLES
    extra = 0
    if startup:
        # The first unit cannot start before its data: its tile rows and the weights loaded
        # with it arrive at BYTES_PER_CYCLE; what exceeds its own compute is not hidden.
        rows0 = min(bh, g.oh)
        subs0 = [min(sbh, rows0 - s) * g.ow for s in range(0, rows0, sbh)]
        chunks0 = min(gn, nt)
        compute0 = taps * steps_in * max(sum(max(m, RELOAD * r) for m in subs0) * chunks0,
                                         LATENCY)
        kin0 = cc if not layer.diagonal else chunks0
        tile0 = min(th, g.height) * g.width * min(layer.cin, kin0 * layer.k_chunk) * eb
        w0 = w_bytes if wmode == "resident" else w_bytes * chunks0 // nt
        extra = max(0, (tile0 + w0) // BYTES_PER_CYCLE - compute0)
    return max(compute, memory, push) + max(subs) + LATENCY + extra, commands


def plan_walk(config, layer, wmodes=None, startup=False, startup_tiebreak=False):
    """The :class:`WalkPlan` of ``layer`` on ``config``'s NPU: the blocking with the lowest
    estimated time (compute: per tap and input chunk, ``max(sum of max(m, RELOAD * R) over the
    group's COMPUTEs, LATENCY)``; memory at BYTES_PER_CYCLE; descriptors at PUSH_CYCLES;
    the largest of the three) plus DESCRIPTOR_WEIGHT cycles per descriptor (so that of two
    near-equal blockings the one with larger COMPUTEs wins). ``wmodes``: the weight modes
    the search may pick (default: all; tests force each one). ``startup``: also count the
    first unit's wait for its data beyond its own compute (used for 1x1 stride-1
    convolutions with the spread stream). ``startup_tiebreak``: of blockings of equal
    estimated time, take one whose first unit does not wait for its data (no ``startup``
    term) before the one with fewer descriptors (1x1 stride-1 convolutions without the spread
    stream, i.e. FP16: DS-CNN's 25x5x64 -> 64 pointwise then takes one group of every chunk
    instead of eight, 15,079 -> 13,379 cycles in the model on the 8x8 `sim` SoC;
    MobileNetV1-0.25's 12x12 pointwise layers -300 and -2,080). Measured and rejected on the
    same models: counting ``startup`` in the time (MobileNet's 6x6x128 -> 128: 17,971 ->
    20,339 cycles) and breaking ties by the least wait (6x6x64 -> 128: 11,123 -> 12,351).

    Raises ValueError when no blocking fits the SPAD and ACC."""
    g = layer.geo
    s_rows, a_rows = config.npu_spad_rows, config.npu_acc_rows
    nt = layer.out_chunks
    slot = max(layer.weight_rows(j) for j in range(nt)) if layer.weights else 0
    best = None
    for bh in sorted({-(-g.oh // nb) for nb in range(1, g.oh + 1)}, reverse=True):
        if bh * g.ow > 0xFFFF:
            continue
        blocks = -(-g.oh // bh)
        sbh_options = {bh}
        for s in range(1, bh + 1):
            if s * g.ow >= RELOAD * config.npu_rows:
                sbh_options.add(s)
                break
        for gn in range(1, nt + 1):
            if gn > 1 and -(-nt // gn) == -(-nt // (gn - 1)):
                continue             # same number of groups as a smaller gn
            half = gn * bh * g.ow
            const_row = a_rows - layer.const_rows
            units = blocks * g.batch * -(-nt // gn)
            if (2 if units > 1 else 1) * half > const_row:
                continue
            tile = _tile_rows(layer, bh, gn)
            tbufs = 2 if (units if _unit_tiles(layer) else blocks * g.batch) > 1 else 1
            kmax = max(layer.kin(j) for j in range(nt))
            if layer.shared_weight is not None:
                modes = [("shared", layer.shared_weight[1])]
            elif gn == nt:
                modes = [("resident", nt * slot)]
            elif _unit_tiles(layer) and not layer.eltwise_mac:
                # per-unit tiles on the array (FP16 depthwise): see _unit_tiles
                modes = [("double", 2 * gn * slot), ("single", gn * slot)]
            else:
                modes = [("resident", nt * slot), ("double", 2 * gn * slot),
                         ("single", gn * slot)]
            if layer.shared_weight is None and g.kh * g.kw > 2 and not layer.eltwise_pair:
                modes.append(("taps", 2 * gn * kmax))
            for wmode, w_rows in modes:
                if wmodes is not None and wmode not in wmodes:
                    continue
                for tb in sorted({tbufs, 1}, reverse=True):
                    if w_rows + tb * tile > s_rows:
                        continue
                    for sbh in sorted(sbh_options):
                        cost = _estimate(config, layer, bh, sbh, gn, wmode, startup)
                        wait = 0
                        if startup_tiebreak:
                            wait = int(_estimate(config, layer, bh, sbh, gn, wmode, True)[0]
                                       > cost[0])
                        cost = (cost[0] + (0 if tb == tbufs else tile // 2)
                                + DESCRIPTOR_WEIGHT * cost[1], wait, cost[1])
                        if best is None or cost < best.cost:
                            best = WalkPlan(bh, sbh, gn, wmode, tb,
                                            kmax if wmode == "taps" else slot, w_rows, tile,
                                            half, const_row, cost)
                    break            # two tile buffers fit: one is never better
                if wmode == "resident" and w_rows + tile <= s_rows and wmodes is None:
                    break            # resident fits: the others load more
    if best is None:
        raise ValueError(f"the NPU's SPAD ({s_rows} rows) / ACC ({a_rows} rows) hold no "
                         f"blocking of this layer (tile of one output row: "
                         f"{_tile_rows(layer, 1, 1)} rows)")
    return best


# --- emission ---------------------------------------------------------------------------

@dataclass
class _Cmd:
    words: list
    spad_write: tuple = None     # (first, end) SPAD rows a LOAD writes
    spad_reads: tuple = ()       # SPAD row ranges a COMPUTE reads
    acc_write: tuple = None      # (first, end) ACC rows a COMPUTE or LOAD writes
    acc_read: tuple = None       # (first, end) ACC rows a STORE reads


#: The first unit's LOADs go this many COMPUTEs ahead of the first one that needs them.
JIT_LEAD = WALK_JIT_LEAD


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
    its first COMPUTEs wait only for a few rows of the tile), the last unit's shrink, a unit
    that is both does its first half as the first and the rest as the last; every other unit
    is one wave. A 1x1 layer's units are one wave each: its first wave would wait for every
    input chunk's rows (each wave uses them once), and shorter COMPUTEs in its last unit cost
    more weight switches than the shorter STORE tail saves (measured on the 8x8 `sim` SoC:
    MobileNet's 24x24x16 -> 32 pointwise layer 10,325 -> 11,178 cycles with a wave tail). So
    are an element-wise layer's (INT8 depthwise on the MAC, max pooling): no chain latency to
    hide there, and MobileNet's 48x48x8 depthwise layer was 232 cycles slower in waves."""
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
    if first:
        sizes = [wr for _, wr in tail_waves(config, layer, rows, gcount)][::-1]
        return [(sum(sizes[:i]), wr) for i, wr in enumerate(sizes)]
    if last:
        return tail_waves(config, layer, rows, gcount)
    return [(0, rows)]


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

    def weight_loads(u_index, unit, per_tap):
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
            if per_tap == "jit":         # taps [0, 1), [1, 2), [2, 4), [4, 8), ...
                bounds = [0] + [min(taps, 1 << e) for e in range(taps.bit_length() + 1)]
                bounds = sorted(set(bounds))
                pieces = [(t0 * kin, (t1 - t0) * kin) for t0, t1 in
                          zip(bounds, bounds[1:], strict=False)]
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

    per_tile = _tile_chunks(layer, plan.gn)
    unit_tiles = _unit_tiles(layer)

    def tile_loads(unit, tile_index, waves=None):
        """FILLs and LOADs of a unit's tile (the block's, or a diagonal unit's own chunks);
        ``waves``: the image rows LOADed in one piece per wave (the rows its output rows need
        beyond the previous waves')."""
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
        """Left / right padding columns of every tile buffer (written once)."""
        out = []
        right = g.wp - g.pl - g.width
        for b in range(plan.tbufs):
            base = tile_base(b)
            # spread: one FILL per channel chunk, so the first COMPUTE waits for its own only
            parts = [(c * th_full * g.wp, th_full) for c in range(per_tile)] if spread else \
                [(0, per_tile * th_full)]
            for off, groups in parts:
                for first, width in ((0, g.pl), (g.pl + g.width, right)):
                    if width > 0:
                        out.append(fill(base + off + first, groups * width, layer.k_chunk,
                                        groups, g.wp))
        return out

    def acc_base(u_index):
        return (u_index % 2) * plan.acc_half

    def acc_init(u_index, unit):
        if layer.acc_init is None:
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
                out += wave_computes(u_index, unit, base, wave, range(c0, c0 + cn))
        return out

    def wave_computes(u_index, unit, base, wave, chunks):
        _, _, rows, j0, gcount = unit
        out = []
        taps = [(ky, kx) for ky in range(g.kh) for kx in range(g.kw)]
        if layer.eltwise_mac and layer.eltwise_pair:
            steps = [taps[i:i + 2] for i in range(0, len(taps), 2)]
        else:
            steps = [[tap] for tap in taps]
        for step in steps:
            (ky, kx), second = step[0], step[1:]
            t = ky * g.kw + kx
            # the second tap of a pair: its tile rows lie this far after the first's
            tap_step = (second[0][0] - ky) * g.wp + second[0][1] - kx if second else 0
            for c in range(cc):
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
                        out.append(_Cmd(encode(
                            Opcode.COMPUTE, precision=layer.precision,
                            accumulate=int(not first or layer.acc_init is not None),
                            diagonal=int(layer.diagonal), a_addr=a, w_addr=w_row,
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

    # Prologue: constants and shared weights (small), then the first unit's own LOADs, each
    # just ahead of the first COMPUTE that needs it (JIT below).
    words = []
    if layer.const_rows:
        words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                            dram_addr=layer.const_addr, dram_stride=layer.const_stride,
                            rows=layer.const_rows, cols=layer.n_chunk,
                            local_addr=plan.const_row))
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
    pre = side_fills() + tile_loads(first_unit, 0, head) + acc_init(0, first_unit)
    if plan.wmode == "resident":
        pre += [c for j in range(layer.out_chunks)
                for c in weight_loads(0, (0, 0, 0, j, 1), "jit")]
    elif plan.wmode in ("double", "single"):
        pre += weight_loads(0, first_unit, "jit")
    elif plan.wmode == "taps":
        pre += tap_loads(first_unit, range(min(2, g.kh * g.kw)))

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

    for i, u in enumerate(units):
        comp = computes(i, u, tile_of[i], first=i == 0, last=i + 1 == len(units))
        side = stores(i - 1, units[i - 1]) if i > 0 else []
        if i + 1 < len(units):
            nxt = units[i + 1]
            if plan.wmode in ("double", "single"):
                side += weight_loads(i + 1, nxt, plan.wmode == "single")
            elif plan.wmode == "taps":
                side += tap_loads(nxt, range(min(2, g.kh * g.kw)))
            if tile_of[i + 1] != tile_of[i]:
                side += tile_loads(nxt, tile_of[i + 1])
            side += acc_init(i + 1, nxt)
        # Side command d goes after COMPUTE floor(d * nc / ns), but not before the COMPUTE
        # after the last one of this unit that reads the SPAD rows it writes (so it does not
        # hold the LOAD unit's slot waiting for that COMPUTE).
        slots = []                               # (after COMPUTE index, order, cmd)
        last = 0
        for d, cmd in enumerate(side):
            q = d * len(comp) // len(side)
            if cmd.spad_write is not None:
                w0, w1 = cmd.spad_write
                for ci, cp in enumerate(comp):
                    if any(r0 < w1 and w0 < r1 for r0, r1 in cp.spad_reads):
                        q = max(q, ci + 1)
            last = max(q, last)
            slots.append((last, 1, cmd))
        if i == 0:
            # The first unit's own LOADs: those its first COMPUTE needs before it, the others
            # JIT_LEAD COMPUTEs ahead of their first use, in order of use.
            uses = sorted(((first_use(cmd, comp), n, cmd) for n, cmd in enumerate(pre)),
                          key=lambda t: t[:2])
            words += [cmd.words for use, _, cmd in uses if use == 0]
            late = [cmd for use, _, cmd in uses if use == len(comp) and is_tile(cmd)] \
                if spread else []
            slots += [(max(0, use - JIT_LEAD), 0, cmd) for use, _, cmd in uses
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
