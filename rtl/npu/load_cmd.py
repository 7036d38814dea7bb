"""The LOAD command's contract: main memory (or a constant) into SPAD or ACC rows, its
element types, weight formats and the bytes it reads.

Part of the NPU command contract (:mod:`.commands`, which re-exports every name here and holds
the machine model, the descriptor format and the ordering and validation rules that apply to
every command). Imports only Amaranth.

``LOAD`` (opcode 1): main memory -> SPAD or ACC, 2-D strided; or a constant fill.
    w0: ``opcode`` [3:0], ``target`` [5:4] (:class:`LoadTarget`), ``elem`` [7:6]
    (:class:`ElemType`), ``broadcast`` [8] (every destination row gets the first source row:
    the stride is ignored and may be zero; used for bias vectors and scales), ``fill`` [9]
    (no main-memory access: every row is ``fill_value``, see below).
    w1: ``dram_addr`` (byte address, aligned to the element size).
    w2: ``dram_stride`` (bytes between the starts of consecutive source rows; a multiple of the
    element size; at least ``cols * elem_bytes`` unless ``broadcast``).
    w3: ``rows`` [15:0] (>= 1), ``cols`` [31:16] (1..L for SPAD, 1..C for ACC).
    w4: ``local_addr`` [15:0] (first destination row), rest reserved.
    w5: ``fill_value`` (32 bits; must be 0 unless ``fill``).
    w6: ``local_cols`` [15:0], ``local_groups`` [31:16]; w7: ``local_row_step`` [15:0] (bits
    31:16 reserved): the 2-D placement of the destination rows (below).
    Row r, element c of the source (at ``dram_addr + r * stride + c * elem_bytes``) goes to lane
    c of destination row ``dest(r)``; lanes ``cols..`` of each destination row are written with
    zero. SPAD accepts ``INT8`` (sign-extended) and ``FP16``; ACC accepts ``WORD32`` (int32 or
    fp32 bits, stored as is).

    Placement: with ``local_cols == 0`` the rows are contiguous, ``dest(r) = local_addr + r``,
    and ``local_groups`` and ``local_row_step`` must be 0 (``RESERVED``). With ``local_cols !=
    0`` the rows form ``local_groups`` groups of ``local_cols`` consecutive rows, group g
    starting ``g * local_row_step`` rows after ``local_addr``: ``dest(r) = local_addr +
    (r // local_cols) * local_row_step + (r % local_cols)``; ``rows`` must equal
    ``local_groups * local_cols`` (else ``BAD_COMBINATION``; ``local_groups == 0`` is
    ``ZERO_DIM``), and the largest destination row ``local_addr + (local_groups - 1) *
    local_row_step + local_cols - 1`` must lie in the memory (``LOCAL_RANGE``). Any step is
    legal (0 and steps shorter than ``local_cols`` make groups overlap); rows are written in
    order r = 0 .. rows - 1, so where placements overlap the later row wins. Placement applies
    to plain, broadcast and fill LOADs alike (a fill with ``local_cols = 1`` and
    ``local_row_step = Wp`` paints one column of an image tile held one pixel per row).

    Fill (``fill`` set): nothing is read from main memory; lanes ``0..cols-1`` of every
    destination row get ``fill_value``: for SPAD with ``INT8`` its bits 7:0 sign-extended to
    the 16-bit lane, with ``FP16`` its bits 15:0; for ACC (``WORD32``) the whole word. Bits of
    ``fill_value`` above the element are ignored. ``dram_addr``, ``dram_stride`` and
    ``broadcast`` must be 0 (``RESERVED``); no ``MISALIGNED``, ``STRIDE`` or ``DMA_WINDOW``
    check applies, and PERF_DMA_RD does not count.

    Bytes read: the DMA reads the 32-bit bus words that cover the source rows; a row whose
    first word is the previous row's last word takes it from that row, so rows at a stride
    shorter than a word (an activation column of 1-byte rows, 2-byte int4 rows) share words
    and each covered word is read once. PERF_DMA_RD counts 4 bytes per word read
    (:func:`read_bytes`; an ``INT4_FP16`` scale row is a read of its own).

    Weight formats (``weight_format`` [12:10], :class:`WeightFormat`; 0 = ``DENSE``, all of the
    above): the LOAD unpacks compressed weights on the fly into dense SPAD lanes. A non-dense
    format needs ``target`` SPAD, neither ``fill`` nor ``broadcast``, and ``elem`` INT8 (FP16
    for ``INT4_FP16`` / ``INT4_FP16_ROWS``, which hardware without FP16 refuses), else
    ``BAD_COMBINATION``; the row-grouped 2:4 formats and ``INT4_FP16_ROWS`` also need
    ``rows % 4 == 0``, the lane-grouped ones ``cols % 4 ==
    0`` (``BAD_COMBINATION``). ``rows`` and ``cols``
    count *destination* rows and lanes as for a dense LOAD (placement applies to the
    destination rows); the source is
    :func:`load_source` ``(rows, cols, weight_format, elem)``: ``src_rows`` rows of
    ``src_row_bytes`` bytes, row i at ``dram_addr + i * dram_stride`` (no alignment rule: the
    element is a byte; ``STRIDE`` if ``dram_stride < src_row_bytes``; ``DMA_WINDOW`` over these
    rows). The formats follow :mod:`dure.sim.golden_int4` and :mod:`dure.sim.golden_sparse24`:

    - ``INT4``: source row r is ``ceil(cols / 2)`` bytes of int4 values, lane c in bits 3:0
      (c even) or 7:4 (c odd) of byte ``c // 2``, sign-extended into the INT8 lane.
    - ``INT4_FP16`` (W4A16): the same int4 source rows; lane c of every destination row is the
      fp16 ``fp16_rne(f32(q) * f32(s_c))`` with ``s_c`` the fp16 at ``scale_addr + 2 c``
      (w5 is ``scale_addr`` for this format, the ``cols`` scales of the LOAD's column tile, one
      group: a planner splits K at group boundaries). The product is exact, so it rounds once
      (RNE, subnormals kept, overflow to +/-Inf); ``q = 0`` gives a zero with the sign of
      ``s_c``; an Inf scale gives +/-Inf (NaN for ``q = 0``), a NaN scale NaN; every NaN is
      the canonical ``0x7E00``. ``scale_addr`` must be even (``MISALIGNED``) and its
      ``2 * cols`` bytes inside the window (``DMA_WINDOW``); they count in PERF_DMA_RD.
    - ``INT4_FP16_ROWS`` (W4A16 on transposed weights, one scale per row): one source row per
      group of 4 destination rows (``rows % 4 == 0``, ``BAD_COMBINATION``): an fp16 scale
      ``s`` (2 bytes, little-endian), then the 4 destination rows' int4 values, each
      ``ceil(cols / 2)`` bytes packed as ``INT4``: ``2 + 4 * ceil(cols / 2)`` bytes. Every lane
      of the 4 rows is ``fp16_rne(f32(q) * f32(s))`` with the rules of ``INT4_FP16``; w5 must
      be 0 (``RESERVED``), ``elem`` FP16, hardware with FP16 (``BAD_COMBINATION``).
    - ``SPARSE24`` / ``SPARSE24_INT4``: 2:4 structured sparse int8 / int4 weights, one source
      row per group of 4 destination rows: the group's first kept values of lanes 0..cols-1,
      then its second kept values, then its position codes (``p0 | p1 << 2`` per lane, two lanes
      per byte, even lane in bits 3:0): ``cols + cols + ceil(cols / 2)`` bytes for int8 values,
      ``3 * ceil(cols / 2)`` for int4 values (packed as ``INT4``). Destination row ``4 i + p``
      lane c is the first value if ``p == p0``, else the second if ``p == p1``, else 0 (a code
      with ``p0 >= p1`` is not refused: it expands by this rule).
    - ``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES``: 2:4 sparse int8 / int4 weights grouped
      along the lanes of each row (the GEMV plan's transposed weights, K along the lanes): one
      source row per destination row; ``cols`` must be a multiple of 4 (``BAD_COMBINATION``).
      With ``g = cols / 4`` groups, the source row is the ``2 g`` kept values (group j's first
      then second, in position order; int8 bytes, or int4 packed as ``INT4``: group j is byte
      j, first value in bits 3:0) followed by the ``g`` position codes (``p0 | p1 << 2``, two
      groups per byte, even group in bits 3:0): ``2 g + ceil(g / 2)`` bytes for int8 values,
      ``g + ceil(g / 2)`` for int4. Lane ``4 j + p`` is the group's first value if ``p ==
      p0``, else its second if ``p == p1``, else 0 (the same rule as above, along lanes).

    Tagged lanes (``keep`` [13]; hardware with the gather path, ``config.npu_gather``, else
    ``BAD_COMBINATION``): a ``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES`` LOAD that does not
    expand. ``keep`` with any other format (``DENSE`` included) but ``SPARSE24_INT4`` (below)
    is ``BAD_COMBINATION``, and so
    is an odd ``cols``; the ``cols % 4`` rule does not apply. ``cols`` counts the kept lanes
    written: ``g = cols / 2`` groups (``2 cols`` dense k) per row, and the source row is the
    lane-grouped row of ``4 g`` dense lanes (``load_source(rows, 2 cols, ...)``: ``2 g +
    ceil(g / 2)`` bytes for int8 values, ``g + ceil(g / 2)`` for int4). Destination lane ``2 j +
    s`` (s = 0, 1) holds group j's value s in bits 7:0 (the int8, or the int4 sign-extended to 8
    bits) and its position (``p0`` for s = 0, ``p1`` for s = 1, as coded, whatever their order)
    in bits 9:8; bits 15:10 are zero; lanes ``cols..`` are zero as for any LOAD. A COMPUTE with
    ``gather`` consumes such rows.

    Tagged lanes with shared base-6 codes (``keep`` with ``SPARSE24_INT4``, the row-grouped
    int4 format's number, :data:`KEEP_BASE6_FORMAT`; hardware with ``npu_gather``, else
    ``BAD_COMBINATION``): the same tagged destination rows as above (int4 values, ``cols``
    even, ``g = cols / 2`` groups per row), but one source row per 3 destination rows
    (``rows % 3 == 0``, else ``BAD_COMBINATION``; the ``rows % 4`` rule does not apply), the
    three records sharing their code bytes: the int4 values of destination rows ``3 i``,
    ``3 i + 1``, ``3 i + 2`` (``g`` bytes each, packed as ``SPARSE24_INT4_LANES`` values:
    group j is byte j, value 0 in bits 3:0), then ``g`` code bytes, byte j = ``i0 + 6 i1 + 36
    i2`` with ``it`` the index in :data:`dure.sim.golden_sparse24.PAIRS` (``(0, 1), (0, 2),
    (0, 3), (1, 2), (1, 3), (2, 3)``) of group j of record t: ``4 g = 2 cols`` bytes per
    source row (16 bytes for 48 dense k on the 8x8 array). Lane ``2 j + s`` of destination row
    ``3 i + t`` holds group j's value s of record t (sign-extended to bits 7:0) and position s
    of pair ``PAIRS[it]`` in bits 9:8. Code bytes 216..255 name no pair triple: the format
    forbids them (:func:`~dure.sim.golden_sparse24.unpack_pair_codes` refuses them) and the
    LOAD cannot see them before it runs, so they are defined as giving the three groups they
    cover (group j of all three rows) zero lanes (value 0, position 0: the groups add nothing
    to a gather).
"""

from amaranth.lib import enum

__all__ = [
    "LoadTarget", "ElemType", "WeightFormat", "FOUR_ROW_FORMATS", "KEEP_BASE6_FORMAT",
    "FP16_FORMATS", "LANE_SPARSE_FORMATS", "elem_bytes", "load_source", "read_bytes",
]


class LoadTarget(enum.Enum, shape=2):
    """Destination of a LOAD."""

    SPAD = 0
    ACC = 1


class ElemType(enum.Enum, shape=2):
    """Element type of a LOAD's source in main memory."""

    INT8 = 0    # 1 byte, sign-extended into a SPAD lane
    FP16 = 1    # 2 bytes
    WORD32 = 2  # 4 bytes: int32 or fp32 bits, into an ACC lane


class WeightFormat(enum.Enum, shape=3):
    """How a LOAD's source holds weights (LOAD w0 bits 12:10)."""

    DENSE = 0           # as the element type says
    INT4 = 1            # int4, two per byte, low nibble first -> INT8 lanes
    INT4_FP16 = 2       # int4 times an fp16 scale per lane (w5 scale_addr) -> FP16 lanes
    SPARSE24 = 3        # 2:4 sparse int8: 2 values + codes per group of 4 rows -> INT8 lanes
    SPARSE24_INT4 = 4   # 2:4 sparse int4 -> INT8 lanes
    SPARSE24_LANES = 5  # 2:4 sparse int8 grouped along each row's lanes -> INT8 lanes
    SPARSE24_INT4_LANES = 6  # 2:4 sparse int4 grouped along each row's lanes -> INT8 lanes
    INT4_FP16_ROWS = 7  # an fp16 scale + 4 int4 rows per source row -> FP16 lanes


#: The formats with one source row per 4 destination rows (``rows % 4 == 0``): 2:4 grouped
#: along K = the destination rows, and int4 rows with their fp16 scale.
FOUR_ROW_FORMATS = (WeightFormat.SPARSE24, WeightFormat.SPARSE24_INT4,
                      WeightFormat.INT4_FP16_ROWS)
#: The format number that ``keep`` reads as tagged lanes with shared base-6 codes (3 records
#: per source row; see ``LOAD``): the row-grouped int4 2:4 format, which ``keep`` never
#: expands.
KEEP_BASE6_FORMAT = WeightFormat.SPARSE24_INT4
#: The formats whose lanes are fp16 (``elem`` FP16, hardware with FP16).
FP16_FORMATS = (WeightFormat.INT4_FP16, WeightFormat.INT4_FP16_ROWS)
#: The 2:4 formats grouped along the lanes of each row (``cols % 4 == 0``).
LANE_SPARSE_FORMATS = (WeightFormat.SPARSE24_LANES, WeightFormat.SPARSE24_INT4_LANES)


def load_source(rows, cols, weight_format, elem, keep=False):
    """``(src_rows, src_row_bytes)`` a (non-fill) LOAD reads: ``rows`` rows of ``cols``
    elements when dense (a broadcast LOAD reads only the first), else the packed rows of its
    :class:`WeightFormat` (see ``LOAD``); with ``keep`` (tagged lanes) ``cols`` kept lanes are
    the lane-grouped rows of ``2 cols`` dense lanes, or with :data:`KEEP_BASE6_FORMAT` one
    row of ``2 cols`` bytes per 3 destination rows."""
    fmt = WeightFormat(weight_format)
    if keep and fmt == KEEP_BASE6_FORMAT:
        return rows // 3, 2 * cols
    if keep:
        cols *= 2
    half = (cols + 1) // 2
    if fmt == WeightFormat.DENSE:
        return rows, cols * elem_bytes(elem)
    if fmt in (WeightFormat.INT4, WeightFormat.INT4_FP16):
        return rows, half
    if fmt == WeightFormat.INT4_FP16_ROWS:
        return rows // 4, 2 + 4 * half
    if fmt in LANE_SPARSE_FORMATS:
        groups = cols // 4
        per = 2 * groups if fmt == WeightFormat.SPARSE24_LANES else groups
        return rows, per + (groups + 1) // 2
    return rows // 4, (2 * cols + half if fmt == WeightFormat.SPARSE24 else 3 * half)


def read_bytes(addr, stride, rows, row_bytes):
    """Bytes PERF_DMA_RD counts for reading ``rows`` rows of ``row_bytes`` bytes, row r at
    ``addr + r * stride``: 4 per 32-bit bus word the DMA reads. Each row is read as the words
    that cover it, except that a row whose first word is the previous row's last word takes it
    from that row (coalescing), so non-overlapping rows read each covered word once: 1-byte
    rows at stride 1 cost a byte each, a lone 1-byte row 4."""
    words, prev = 0, None
    for r in range(rows):
        first = (addr + r * stride) >> 2
        last = (addr + r * stride + row_bytes - 1) >> 2
        words += last - first + (first != prev)
        prev = last
    return 4 * words


def elem_bytes(elem):
    """Bytes per element of an :class:`ElemType`."""
    return {ElemType.INT8: 1, ElemType.FP16: 2, ElemType.WORD32: 4}[ElemType(elem)]
