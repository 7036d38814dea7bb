"""The windowed-operator engine: an NHWC layer lowered onto walked COMPUTEs (implicit GEMM).

This is the one plan of every operator that slides a KH x KW window over an NHWC image held in
main memory: convolution and depthwise convolution (:mod:`dure.sim.conv_plan`) and average
pooling (:mod:`dure.sim.pool_plan`). An operator describes its layer as a :class:`WalkLayer`
(geometry, channel chunks, where each weight matrix lies, how the ACC starts and how it is
stored); :func:`dure.sim.walk_plan.plan_walk` picks the blocking (a :class:`WalkPlan`) and
:func:`dure.sim.walk_emit.walk_descriptors` emits the stream.

The engine's files, one concept each (the firmware's C port, ``firmware/npu/npu_walk*.c``,
splits the same way):

- ``walk_layer.py`` (this file): what an operator tells the engine (:class:`Geometry`,
  :class:`WalkLayer`, :class:`StoreRun`) and the blocking it gets back (:class:`WalkPlan`);
  the layout below. C: ``npu_walk.h``, ``npu_walk_plan.c`` ``walk_geometry``.
- ``walk_plan.py``: the blocking search (:func:`~dure.sim.walk_plan.plan_walk`). C:
  ``npu_walk_plan.c``.
- ``walk_waves.py``: the first and last units' waves. C: ``npu_walk_waves.c``.
- ``walk_emit.py``: the descriptor stream (:func:`~dure.sim.walk_emit.walk_descriptors`: the
  first unit's LOADs and the side commands placed into their slots between the COMPUTEs). C:
  ``npu_walk_stream.c`` (staging the side commands into their slots) and ``npu_walk_emit.c``
  (the unit loop).
- ``walk_cmds.py``: the units and their LOADs, FILLs and STOREs
  (:class:`~dure.sim.walk_cmds.WalkCmds`). C: ``npu_walk_cmds.c``.
- ``walk_computes.py``: the units' COMPUTEs / ELTWISEs. C: ``npu_walk_emit.c``.
- ``verif/walk_trace.py``: a measuring tool, not part of the stream: a layer's descriptors pushed to
  the NPU's Verilator model with PERF_COMPUTE / GAPS read after each push (no C twin).

Machine model used (:mod:`dure.rtl.npu.commands`): a COMPUTE with ``a_cols != 0`` reads A row
``m`` at SPAD row ``a_addr + (m // a_cols) * a_row_step + (m % a_cols) * a_col_step``; a LOAD
with ``fill`` writes ``fill_value`` without DMA; a LOAD with ``local_cols != 0`` places source row
``r`` at ``local_addr + (r // local_cols) * local_row_step + r % local_cols``; a ``diagonal``
COMPUTE keeps only the products with ``k == n``; an ELTWISE ``MAC`` (depthwise: INT8, and
FP16 on the unit's FP16 MAC; :attr:`WalkLayer.eltwise_mac`) walks A the same way and
multiplies each row lane by lane with one weight row (a ``pair`` MAC,
:attr:`WalkLayer.eltwise_pair`, with two: two taps per row).

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

Depthwise (on the element-wise MAC, or FP16 on the array: :attr:`WalkLayer.unit_tiles`) keeps a
tile per *unit* instead: a unit reads only its group's own input chunks, so its tile holds those
(``c`` counted from the group's first chunk) and the tile buffers alternate by unit. The smaller
tile lets the search pick taller blocks (fewer halo rows: MobileNet's 48x48x16 stride-2 layer bh
4 -> 8 on the 8x8 NPU) and every unit's tile LOAD runs beside the previous unit's MACs, not all
of a block's in its last unit. Its weight rows (one per tap) come in one LOAD per chunk.

The output pixel ``(oy, ox)``, tap ``(ky, kx)`` reads tile pixel ``((oy - oy0) * sh + ky, ox * sw
+ kx)``: one walked COMPUTE per (tap, input chunk, output chunk, sub-block of ``sbh`` output
rows) with ``a_cols = OW``, ``a_col_step = sw``, ``a_row_step = sh * Wp``, writing ACC rows
``acc + (oy - oy0) * OW + ox``: the ACC holds the block in NHWC pixel order, so one STORE (rows
= pixels, stride = the output pixel stride) writes it out.

Buffers: SPAD holds the weights at row 0, in one of five modes the search picks: ``resident``
(every chunk's matrices, loaded once), ``double`` (two group buffers by unit parity),
``single`` (one group buffer that the next unit refills tap by tap behind the COMPUTEs that
read it), ``taps`` (two buffers of one tap's matrices for the whole group, refilled tap by tap
within the unit: a group of every chunk when the layer's weights do not fit, so many ACC
chains interleave; ResNet-8 stage 3) or ``shared`` (one matrix for everything: pooling); then
one or two tile buffers (by block parity; by unit parity for per-unit tiles). ACC holds two
halves of ``gn * bh * OW`` rows (by unit parity; a STORE of one unit overlaps the next unit's
COMPUTEs) and the layer's constant rows (requantization / scale rows), then its bias rows
(:attr:`WalkLayer.init_rows`, one per output chunk) at the top.
"""

from dataclasses import dataclass, field

from dure.rtl.npu.commands import Precision

from .golden_padding import conv_padding

__all__ = ["Geometry", "geometry", "WalkLayer", "WalkPlan", "StoreRun"]


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
        Address of ``cout`` 32-bit words (bias) every output row starts from; None: the first
        COMPUTE starts from zero. On COMPUTEs they are LOADed once into :attr:`init_rows` ACC
        rows and each ACC row's first COMPUTE (on the element-wise unit, ``eltwise_mac``: its
        first MAC) starts from its chunk's row (``init_row``).
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
        Depthwise on the element-wise unit (INT8, or FP16 with ``config.npu_eltwise_fp16_mac``):
        every tap is an ELTWISE ``MAC`` in the layer's precision (same walk,
        ``accumulate`` after the first tap; the first from the bias row, ``init_row``, with
        ``acc_init``) whose weight row is the tap's
        (chunk j's matrix: one row per tap, ``kin(j) = 1``) instead of a diagonal COMPUTE.
    pair_weights : tuple or None
        Set by the layer's planner when :func:`dure.sim.walk_cmds.pair_applies` holds for its
        plan (an INT8 convolution whose first unit takes its input chunks outermost, two taps
        or more): ``pair_weights[j]`` is the address of a contiguous copy of output chunk j's
        weight rows of taps 0 and 1 of input chunk 0 (``in_cols(0)`` rows of tap 0, then as
        many of tap 1; matrix rows ``[0, kc)`` and ``[kin(j), kin(j) + kc)``), for each output
        chunk of the first unit's group. The first unit loads them in one LOAD, placed in two
        groups ``kin(j)`` rows apart, instead of two (one push fewer ahead of its second
        COMPUTE; docs/layer_fixed_cost.md, session 16). None: no copy (also where
        ``joint_weights`` is set).
    joint_weights : int or None
        Set by the layer's planner when its first unit computes the joint first wave
        (:meth:`dure.sim.walk_cmds.WalkCmds.joint_first`) of two output chunks of the same
        width: the address of a copy of, for each tap t of the window's first row (0 ..
        KW - 1), the second unit's chunk's weight rows of tap t of input chunk 0, then the
        first unit's chunk's (``in_cols(0)`` rows each; matrix rows ``[t kin, t kin + kc)``),
        so one LOAD per tap places both chunks' rows, contiguous in the second unit's weight
        slot (:meth:`~dure.sim.walk_cmds.WalkCmds.joint_weight_loads`; session 20, branch
        ``firstwave2``). None: no copy.
    first_pair : int or None
        Set by the layer's planner when the first unit's input chunk 0 goes in three parts
        (:meth:`dure.sim.walk_computes.WalkComputes.first_pair_applies`: an INT8 1x1 layer,
        four output chunks a group or more): the address of a copy of the weight rows of
        input chunk 0 of the first unit's first two output chunks (``in_cols(0)`` rows of
        each, contiguous), which one LOAD places in both chunks' slots (two groups a slot
        apart) ahead of the first COMPUTE (session 22, branch ``kwspw2``). Not counted in
        ``first_copied`` (the starting-value rows keep their place ahead of it). None: no
        copy.
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
    pair_weights: tuple = None
    joint_weights: int = None
    first_pair: int = None

    @property
    def first_copied(self):
        """Whether the first unit's first weights come from a copy in the parameter area
        (``pair_weights`` or ``joint_weights``)."""
        return self.pair_weights is not None or self.joint_weights is not None

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

    @property
    def unit_tiles(self):
        """Whether the layer's tiles are per unit (INT8 depthwise on the element-wise MAC and
        FP16 depthwise on diagonal COMPUTEs: a unit reads only its group's own input chunks)
        rather than per block. Not for pooling (a shared weight) nor INT8 diagonal depthwise
        (an NPU without the element-wise unit; not measured). FP16 depthwise with per-unit
        tiles is never ``resident`` unless one group holds every chunk
        (:func:`dure.sim.walk_plan.plan_walk`): with the small tile the search would pick it,
        and the other chunks' weight LOADs then all follow the first unit (MobileNet's
        6x6x128: 12,793 -> 14,847 cycles); ``double`` loads each group's weights beside the
        previous unit's COMPUTEs. DS-CNN's 25x5x64 FP16 depthwise (8x8 `sim` SoC, in the
        model): 15,131 -> 13,635 cycles (per-block tile of every chunk, all but the first
        chunk's loaded during the first unit)."""
        return self.diagonal and (self.eltwise_mac or (self.precision == Precision.FP16
                                                       and self.shared_weight is None))

    @property
    def init_rows(self):
        """ACC rows that hold the starting values (``acc_init``) for the whole layer, chunk j's
        at ``plan.const_row + const_rows + j`` (above the constant rows): one per output chunk,
        whose first tap of each ACC row starts from it (COMPUTE ``init_row``; on the
        element-wise unit, ELTWISE MAC ``init_row``) instead of from rows a broadcast LOAD
        filled per block (that LOAD shares the ACC's write port with the results: one cycle
        per row, ~1 k cycles of ResNet-8 stage 1's fixed cost and of DS-CNN's depthwise);
        0 without ``acc_init`` and for max pooling."""
        if self.acc_init is None or self.eltwise_max:
            return 0
        return self.out_chunks

    def tile_chunks(self, gn):
        """Input chunks one tile buffer holds: the unit's group's own (``gn``) with
        :attr:`unit_tiles`, otherwise every input chunk (the block's)."""
        return min(gn, self.kin_chunks) if self.unit_tiles else self.kin_chunks


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
