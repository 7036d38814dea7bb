"""The NPU command contract: descriptor format, validation rules, error codes, registers.

This module is the one source of these encodings. The RTL (command processor, units), the
golden command model (:mod:`dure.sim.npu_model`), the firmware header (``dure_npu.h``) and the
tests all read them from here.

Direction of the contracts: this module is the top of ``rtl/npu`` and imports only
:mod:`.isa` (precision and dataflow encodings). Below it, :mod:`.descriptor` places the fields
in descriptor words (and gives the Amaranth layout of a descriptor), :mod:`.link` is the
control-to-datapath interface, :mod:`.dma_command` the DMA command layout; the blocks (queue,
validator, dispatcher, registers, counters, units) import these and never a constant from a
sibling block. Sizes and tables shared between blocks live here: :data:`DESCRIPTOR_WORDS`,
:data:`SEQ_BITS`, :data:`STORE_COMBINATIONS`, :data:`PERF_COUNTERS`.

Machine model
-------------
The NPU has an R x C systolic array (``config.npu_rows`` x ``config.npu_cols``), a scratchpad
(SPAD) of ``config.npu_spad_rows`` rows of L = max(R, C) 16-bit lanes, and an accumulator memory
(ACC) of ``config.npu_acc_rows`` rows of C 32-bit lanes. Addresses of SPAD and ACC are row
indices. Main memory is reached by DMA, only inside the *DMA window* that firmware sets in the
``DMA_BASE`` / ``DMA_SIZE`` registers (reset: empty window, every DMA command is refused).

A SPAD lane holds one int8 (bits 7:0, sign-extended to 16 bits) or one fp16. An ACC lane holds
one int32 or one fp32.

Commands
--------
Every command is a descriptor of 8 little-endian 32-bit words (:data:`DESCRIPTOR_WORDS`).
Word 0 holds the opcode in bits 3:0 and opcode-specific flags; fields not listed for an opcode
are reserved and must be zero.

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

``COMPUTE`` (opcode 2): ``ACC[acc + m, n] = init[m, n] + sum_k A[m, k] * W[k, n]``, sequentially
over k, in the command's precision.
    w0: ``opcode``, ``precision`` [4] (:class:`~dure.rtl.npu.isa.Precision`), ``dataflow`` [5]
    (:class:`~dure.rtl.npu.isa.Dataflow`), ``accumulate`` [6] (init = the ACC row's current
    value; otherwise init = 0, i.e. int32 0 or fp32 +0.0), ``diagonal`` [7] (below),
    ``gather`` [8] (below),
    ``init_row`` [9] (init = ACC row ``init_addr``'s lanes 0..N-1 for every row m: a bias row
    held in ACC, read as int32 / fp32 bits like ``accumulate``'s; ``accumulate`` must then be 0
    and ``init_addr`` must not be one of the rows the command writes, else ``BAD_COMBINATION``).
    w1: ``a_addr`` [15:0]: first SPAD row of A (lanes 0..K-1 of each row; see the walk below).
    w2: ``w_addr`` [15:0]: SPAD row of W's row k is ``w_addr + k``, lanes 0..N-1.
    w3: ``acc_addr`` [15:0]: ACC row of output row m is ``acc_addr + m``.
    w4: ``m`` [15:0] (>= 1), ``k`` [23:16] (1..R), ``n`` [31:24] (1..C).
    w5: ``a_cols`` [15:0], ``a_rows`` [31:16]; w6: ``a_col_step`` [15:0], ``a_row_step``
    [31:16]: the walk of A's rows.
    w7: ``init_addr`` [15:0]: with ``init_row``, the ACC row every output row starts from (must
    lie in ACC: ``LOCAL_RANGE``); without it, 0 (``RESERVED``).
    Only lanes 0..N-1 of each ACC row are written; k beyond K does not take part at all (so FP16
    signed zeros are exactly those of the sequential sum over the K real terms).

    Walk of A: with ``a_cols == 0`` A's row m is SPAD row ``a_addr + m`` and ``a_rows``,
    ``a_col_step``, ``a_row_step`` must be 0 (``RESERVED``). With ``a_cols != 0`` the M rows
    walk a 2-D grid of ``a_rows`` x ``a_cols``: A's row m is SPAD row ``a_addr + (m // a_cols)
    * a_row_step + (m % a_cols) * a_col_step``; ``m`` must equal ``a_rows * a_cols`` (else
    ``BAD_COMBINATION``; ``a_rows == 0`` is ``ZERO_DIM``); the steps may be any value,
    including 0; the largest row read, ``a_addr + (a_rows - 1) * a_row_step + (a_cols - 1) *
    a_col_step`` (computed without overflow), must be < spad_rows (``LOCAL_RANGE``). ACC rows
    stay contiguous (``acc_addr + m``). With an image tile held one pixel per SPAD row (row
    pitch ``Wp``, padding border included), one kernel tap (ky, kx) over a block of output
    pixels at stride s is ``a_addr = base + ky * Wp + kx``, ``a_col_step = s``, ``a_row_step =
    s * Wp``; the taps accumulate in ACC.

    Diagonal (``diagonal`` set): only the products with k == n take part, all others do not
    take part at all (exactly like k >= K): ``ACC[acc + m, n] = init[m, n] + A[m, n] * W[n, n]``
    for n < min(K, N), and ``ACC[acc + m, n] = init[m, n]`` for K <= n < N (in FP16 with the
    NaN of init canonicalised, as any result). An Inf or NaN in an off-diagonal lane of A or W
    therefore never reaches another column. Depthwise convolution, average pooling and
    element-wise addition map onto it (a diagonal weight matrix per tap). PERF_MACS counts the
    products that take part: ``m * k * n``, or ``m * min(k, n)`` with ``diagonal``.

    Gather (``gather`` set; the 2:4 MAC skipping of ``docs/sparse_skip.md``): INT8 only, each
    A lane takes part in the one column its tag names: with ``tag(a)`` = bits 9:8 of the lane
    (a ``keep`` LOAD's position), ``ACC[acc + m, n] = init[m, n] + sum over i < k with
    tag(A[m, i]) == n of A[m, i] * W[i, n]`` (int8 bits 7:0 of both, int32 wrapping), so
    columns n >= 4 keep ``init``. Refused (``BAD_COMBINATION``) with FP16 precision, with
    ``diagonal``, with ``init_row`` and on hardware without the gather path
    (``config.npu_gather``). PERF_MACS counts ``m * k`` for a gather (one product per A
    lane). With the activation candidates of
    lane i's group in W's row i (lane c = the activation at position c), the row's lanes 0..3
    sum to the dense dot product of the expanded weights (a STORE with ``lane_sum``).

``STORE`` (opcode 3): ACC -> post-processing -> main memory, 2-D strided.
    w0: ``opcode``, ``out`` [5:4] (:class:`OutType`), ``acc_type`` [6]
    (:class:`~dure.rtl.npu.isa.Precision` of the ACC contents: INT8 means int32 lanes, FP16
    means fp32 lanes), ``scale`` [7] (multiply by the per-column fp32 scales in ACC row
    ``scale_addr``), ``clamp`` [8] (clamp to [lo, hi]), ``zero_point`` [23:16] (int8, two's
    complement; INT8 output only), ``requant`` [10:9] (:class:`RequantMode`; non-zero only for
    INT8 -> INT8, value 3 is reserved), ``lane_scales`` [11] (per-row parameters, below),
    ``lane_sum`` [12] (below).
    w1: ``dram_addr`` (aligned to the output element size).
    w2: ``dram_stride`` (bytes; multiple of the output element size, >= cols * out_bytes).
    w3: ``rows`` [15:0] (>= 1), ``cols`` [31:16] (1..C).
    w4: ``acc_addr`` [15:0], ``scale_addr`` [31:16] (read only when ``scale`` is set).
    w5: ``lo``; w6: ``hi``: for INT8 output two's-complement integers with
    -128 <= lo <= hi <= 127 (read only for INT8 output, where they are always used: set
    -128/127 for no clamp); for FP16/FP32 output fp32 bit patterns with lo <= hi, neither NaN
    (read only when ``clamp`` is set). Otherwise must be zero.
    Output element c of row r goes to ``dram_addr + r * stride + c * out_bytes``. The function
    per (acc_type, out) is exactly :mod:`dure.sim.golden`'s:

    ========  ======  ===========================================================  =========
    acc_type  out     value                                                        scale
    ========  ======  ===========================================================  =========
    INT8      INT8    ``requantize(acc, scale, zero_point, lo, hi)``               required
    INT8      INT32   ``acc`` (raw)                                                forbidden
    INT8      FP16    ``dequantize_fp16(acc, scale)`` (clamp, if set, on the f32)  required
    FP16      FP16    ``fp16_postprocess(acc, scale or None, lo, hi)``             optional
    FP16      FP32    ``acc * scale`` (one fp32 RNE multiply) then clamp; raw if   optional
                      neither is set
    ========  ======  ===========================================================  =========

    Any other combination is refused (``BAD_COMBINATION``). A build without the fp32
    post-processing (``config.npu_float_post`` False, INT8-only boards) also refuses the rows
    that need fp32 arithmetic: INT8 -> FP16, and INT8 -> INT8 in the ``FLOAT_SCALE`` mode; it
    keeps INT8 -> INT32 and the TFLite ``requant`` modes.

    Requantization mode of INT8 -> INT8 (``requant``, :class:`RequantMode`):

    - ``FLOAT_SCALE`` (0): the ``requantize`` row of the table (ONNX / onnxruntime); ACC row
      ``scale_addr`` holds the fp32 scales.
    - ``TFLITE_DOUBLE_ROUNDING`` (1): ``y = clamp(MultiplyByQuantizedMultiplier(acc, M_j,
      shift_j) + zero_point, lo, hi)`` with TFLite's double rounding
      (``SaturatingRoundingDoublingHighMul(acc << max(shift, 0), M)`` then
      ``RoundingDivideByPOT(max(-shift, 0))``, ties away from zero), as LiteRT's CONV_2D and
      DEPTHWISE_CONV_2D reference kernels compute it
      (:func:`dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier`).
    - ``TFLITE_SINGLE_ROUNDING`` (2): the same with ``(acc * M + 2**(30 - shift)) >> (31 -
      shift)`` (one rounding, ties toward +infinity), as LiteRT's FULLY_CONNECTED computes it
      (:func:`dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier_single_rounding`).

    In both TFLite modes ``scale`` must be set; ACC row ``scale_addr`` holds the int32
    multipliers ``M_j`` and ACC row ``scale_addr + 1`` the int32 shifts ``shift_j`` (positive =
    left shift), one per column; both rows must lie in the ACC (``LOCAL_RANGE``). A shift
    lane outside [-31, 30] is not refused (the validator does not read ACC): it saturates to
    that range. Every multiplier lane is legal (any int32). The function is
    :func:`dure.sim.golden_requant_tflite.requantize_tflite`. A non-zero ``requant`` with
    any other (acc_type, out) pair is refused (``BAD_COMBINATION``); ``requant = 3`` is
    refused (``RESERVED``).

    Per-row parameters (``lane_scales`` set; for a column of channels, one per ACC row, as the
    GEMV plan leaves them): needs ``scale`` set and ``cols == 1`` (else ``BAD_COMBINATION``).
    Output row r (0 .. rows-1) is computed as above with, in place of lane 0's parameters,
    lane ``r % C`` of parameter group ``g = r // C`` (C = the ACC's lanes): its scale in ACC
    row ``scale_addr + g`` (``FLOAT_SCALE`` and the fp outputs), or in a TFLite mode its
    multiplier in ACC row ``scale_addr + 2 g`` and its shift in row ``scale_addr + 2 g + 1``.
    So channels ``g C .. g C + C - 1`` have their parameters side by side in one row (pair of
    rows), the per-column layout. The last parameter row, ``scale_addr + p ((rows - 1) // C)
    + p - 1`` with ``p`` = 1 or 2 rows per group, must lie in the ACC (``LOCAL_RANGE``).

    Lane sum (``lane_sum`` set; the reduction after a ``gather`` COMPUTE): needs ``acc_type``
    INT8, ``cols == 1`` and hardware with the gather path (else ``BAD_COMBINATION``). The value
    of output row r is the int32 sum (wrapping) of lanes 0..3 of ACC row ``acc_addr + r`` in
    place of its lane 0, then the post-processing above for that one column (any INT8 output
    type; per-row parameters with ``lane_scales``).

``ELTWISE`` (opcode 6): lane-wise operations the array cannot do exactly, SPAD rows in, ACC
rows out: TFLite's INT8 ADD (the two input rescalings), the maximum of MAX_POOL_2D and the
per-lane multiply-accumulate of depthwise convolution and global pooling (``mac``).
    w0: ``opcode``, ``precision`` [4] (:class:`~dure.rtl.npu.isa.Precision` of the SPAD lanes),
    ``op`` [5] (:class:`EltwiseOp`), ``accumulate`` [6] (MAX and MAC), ``mac`` [7], ``reduce``
    [8] (MAC only), ``pair`` [9] (MAC only: two taps per row), ``zp_a`` [23:16], ``zp_b``
    [31:24] (ADD only; int8 zero points, two's complement).
    w1: ``a_addr`` [15:0], ``b_addr`` [31:16] (ADD: B's first row; MAC: the weight row).
    w2: ``mult_a`` (ADD only, int32); for a ``pair`` MAC bits 15:0 are ``tap_step`` (bits
    31:16 reserved).
    w3: ``acc_addr`` [15:0], ``rshift_a`` [20:16], ``rshift_b`` [28:24] (ADD only; 0..31).
    w4: ``m`` [15:0] (>= 1), ``n`` [31:24] (1..C); w5 / w6: the walk of A (``a_cols``,
    ``a_rows``, ``a_col_step``, ``a_row_step``), exactly as COMPUTE's. w7: ``mult_b`` (ADD only).
    Row i = 0 .. m-1 reads SPAD row ``a(i) = a_addr + off(i)`` (``off(i) = i``, or the walk's
    ``(i // a_cols) * a_row_step + (i % a_cols) * a_col_step``) and, for ADD, ``b(i) = b_addr +
    off(i)`` (the same walk), and writes lanes j < n of ACC row ``acc_addr + i``; other lanes of
    the row are kept. Validation as COMPUTE's for the walk (``RESERVED`` walk fields with
    ``a_cols == 0``, ``ZERO_DIM``, ``BAD_COMBINATION`` for ``m != a_rows * a_cols``,
    ``LOCAL_RANGE`` for the largest row of A, of B (ADD) and ``acc_addr + m``); the ADD-only
    fields must be 0 for MAX (MAC: all but ``b_addr``), ``reduce`` 0 without ``mac``, and
    ``accumulate`` and ``mac`` 0 for ADD (``RESERVED``); ``BAD_COMBINATION``
    for ADD with FP16 precision, FP16 on hardware without FP16, an FP16 MAC with ``reduce`` or
    on hardware without the FP16 MAC (``config.npu_eltwise_fp16_mac`` False), and every
    ELTWISE on hardware built without the unit (``config.npu_eltwise`` False).

    - ``ADD`` (INT8 only): with ``x`` the int8 in bits 7:0 of a lane, ``ACC = s(A, zp_a,
      mult_a, rshift_a) + s(B, zp_b, mult_b, rshift_b)`` as int32, where ``s(x, zp, M, r) =
      RoundingDivideByPOT(SaturatingRoundingDoublingHighMul((x - zp) << 20, M), r)`` (gemmlowp;
      ``M`` any int32; TFLite's ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` with shift
      ``-r``; ``|s| < 2**28``, nothing wraps). A STORE INT8 -> INT8 in
      ``TFLITE_DOUBLE_ROUNDING`` with the output multiplier / shift rows, the output zero point
      and the clamp then gives TFLite's ADD exactly (:func:`dure.sim.golden_tflite.add_int8`).
    - ``MAC`` (``mac`` set, ``op`` = 0 (MAX's code)): INT8: lane j < n of row i gets
      ``init + A[a(i), j] * W[j]`` as int32 (wrapping modulo 2**32; the int8 lanes in bits 7:0,
      sign-extended, the product exact), where ``W`` is SPAD row ``b_addr`` (one row for the
      whole command, no walk) and ``init`` is the ACC row's value with ``accumulate``, else 0.
      Without ``reduce`` row i writes ACC row ``acc_addr + i``. With ``reduce`` every row
      writes ACC row ``acc_addr``, in order: ``ACC[acc_addr] = init + sum_i A[a(i)] * W``
      (``LOCAL_RANGE``: ``acc_addr`` must lie in the ACC, in place of ``acc_addr + m``). A
      depthwise tap is one MAC (the tap's weights in ``W``, A the walk of the tap over the
      image tile, ``accumulate`` after the first tap):
      C channels per cycle, like a diagonal COMPUTE, with no weight load and no array latency
      between taps; global pooling is one ``reduce`` MAC per channel chunk with a row of ones
      as ``W``. The ADD-only fields other than ``b_addr`` must be 0 (``RESERVED``), ``op`` must
      be 0 and ``reduce`` needs ``mac`` (``RESERVED``); ``b_addr`` must lie in the SPAD
      (``LOCAL_RANGE``).

      FP16 (needs the FP16 MAC, ``config.npu_eltwise_fp16_mac``, else ``BAD_COMBINATION``):
      lane j of row i gets ``init + A[a(i), j] * W[j]`` with the lanes and ``W`` as binary16,
      the product exact in binary32 and the sum binary32 round-to-nearest-even
      (:func:`dure.sim.golden.lanes_mac_fp16`: subnormals kept, Inf propagates, Inf * 0 and
      Inf + (-Inf) NaN, every NaN ``0x7FC00000``); ``init`` the ACC row as fp32 with
      ``accumulate``, else +0.0. With ``pair`` the second tap is added after the first, a
      second binary32 RNE addition: ``(init + A W) + A2 W2``, so taps in kernel order keep the
      FP16 contract's sequential order. ``reduce`` with FP16 is ``BAD_COMBINATION`` (its sum
      over rows would need another order). Timing (not contract): the FP16 lanes are a
      16-stage pipeline (4 multiply, 6 + 6 add), one row per cycle; a command takes ``m +
      20`` cycles.

      Pair (``pair`` set, needs ``mac``, else ``RESERVED``): every row takes two taps: lane j
      of row i gets ``init + A[a(i), j] * W[j] + A[a(i) + tap_step, j] * W2[j]`` (int32,
      wrapping; ``W2`` is SPAD row ``b_addr + 1``), so two taps of a depthwise window whose
      tile rows lie ``tap_step`` apart (``tap_step`` = 1: horizontal neighbours; ``Wp - kw +
      1``: the last tap of a kernel row and the first of the next) cost one row, and a
      ``reduce`` sums two pixels per row. ``LOCAL_RANGE`` also when ``a_last + tap_step`` or
      ``b_addr + 1`` lies past the SPAD (``a_last`` the largest row of A's walk). Without
      ``pair``, bits 15:0 of w2 are ``mult_a``'s and must be 0 like the rest (``RESERVED``).
      Timing (not contract): the unit reads the weight row(s) once, in one cycle before the
      rows, then one row (two SPAD reads with ``pair``) per cycle: ``C`` MACs per cycle, ``2
      C`` with ``pair``.

      PERF_MACS counts the products of a MAC: ``m * n`` per command, ``2 * m * n`` with
      ``pair`` (``reduce`` or not); ADD and MAX count none.
    - ``MAX``: ``v`` = the lane as int32 (INT8: bits 7:0 sign-extended) or as fp32 (FP16: the
      exact widening). Without ``accumulate`` ``ACC = v``; with it ``ACC = max(ACC, v)``: INT8
      the signed int32 maximum; FP16 the IEEE maximum in binary32 where a NaN operand (either)
      gives the canonical NaN ``0x7FC00000`` and ``+0.0`` is above ``-0.0``. (Without
      ``accumulate`` an fp16 NaN also becomes ``0x7FC00000``.) A window's maximum is one MAX per
      tap, the first without ``accumulate``; a STORE FP16 -> FP16 (optional clamp) or INT8 ->
      INT8 (TFLite mode with multiplier ``2**30`` and shift 1, which is the identity on
      |acc| < 2**30, zero point 0, the clamp) writes it.

``FENCE`` (opcode 4): waits until every earlier command has finished (all DMA writes done),
    then, if ``irq`` [4] is set, sets STATUS.fence_irq (an interrupt when enabled).
    w1..w7 reserved.

``LIST`` (opcode 5): runs a command list from main memory (one DOORBELL for a whole layer).
    w0: ``opcode`` only. w1: ``list_addr`` (byte address of entry 0, a multiple of 4).
    w2: ``count`` [15:0] (>= 1; bits 31:16 reserved). w3..w7 reserved.
    The list is ``count`` entries of :data:`DESCRIPTOR_WORDS` little-endian words (32 bytes)
    each, entry i at ``list_addr + 32 * i``; all of ``[list_addr, list_addr + 32 * count)``
    must lie inside the DMA window (``DMA_WINDOW``). The NPU fetches the entries by DMA (ahead
    of execution) and they take effect exactly as if they had been written to DOORBELL one
    after another in place of the LIST: each entry is validated like a pushed command and
    ordered by the same rules; commands pushed after the LIST come after its last entry.

    - Sequence numbers: a LIST whose word 2 bits 15:0 hold ``c`` occupies ``c + 1`` numbers
      whatever happens to it: ``s`` for the LIST itself, ``s + 1 + i`` for entry i; the next
      pushed command gets ``s + c + 1``. ISSUED grows by ``c + 1`` at the DOORBELL write; DONE
      grows by 1 when the LIST is accepted and by 1 per entry as it finishes (executed or
      refused). A refused LIST (any error code; nothing is fetched) adds ``c + 1`` to DONE at
      once, so DONE == ISSUED means "all done" as for single commands.
    - A refused entry records its code, its own sequence number and its index i (ERROR,
      ERROR_INDEX) like any refusal; the list goes on with entry i + 1.
    - No nesting: an entry whose opcode is LIST is refused with ``BAD_COMBINATION`` (after the
      ``RESERVED`` and ``ZERO_DIM`` checks, in :class:`ErrorCode` order; it occupies one
      sequence number only). Chaining lists is the core's job (or one longer list).
    - A bus error while fetching entry i: ERROR = (``BUS_ERROR``, ``s + 1 + i``), ERROR_INDEX =
      i; entries 0..i-1 execute normally, entries i..c-1 do not execute (DONE counts them as
      finished at that point), and the NPU goes on with the next pushed command.
    - Main memory is not hazard-tracked: entries are read some time after the DOORBELL write
      and before the entries in front of them finish, so a list written by an earlier STORE
      needs a FENCE between that STORE and the LIST (the core's own stores are complete before
      its DOORBELL write). The list must not be changed until the LIST's entries are done (a
      FENCE after the LIST or DONE reaching ``s + c + 1``).
    - Timing (not contract): entries are fetched up to 4 ahead of the validator, through the
      same bus port as the DMA (round-robin with it); their bytes are not counted in
      PERF_DMA_RD.

Ordering
--------
Commands take effect as if executed one at a time in queue order, as far as SPAD and ACC
contents are concerned: the hardware tracks hazards between LOAD, COMPUTE and STORE on their
local row ranges and overlaps only independent commands (LOAD of the next tile with COMPUTE of
this one and STORE of the previous one). COMPUTEs also overlap each other when one accumulates
onto ACC rows an earlier one writes (a K-tiled chain): the execute unit orders that per ACC
row, reading an init row only after the earlier command's result row has been written.
Main memory is not tracked: a LOAD that reads bytes an earlier STORE writes must be separated
from it by a FENCE.

Validation
----------
Every command is checked completely before it starts, in the order of :class:`ErrorCode` (the
first failing check gives the code). A refused command does nothing at all: it touches no
memory, SPAD or ACC. The NPU records the code and the command's sequence number in ``ERROR``,
sets STATUS.error (an interrupt when enabled), and goes on with the next command. Errors that
arise during execution (``BUS_ERROR``: the bus answered err to a DMA access, possible only if
memory inside the window is not backed) are recorded the same way; the command stops at the
failing access.
"""

from amaranth.lib import enum

from .isa import Dataflow, Precision

__all__ = [
    "DESCRIPTOR_WORDS", "SEQ_BITS", "Opcode", "LoadTarget", "ElemType", "OutType", "ErrorCode",
    "RequantMode", "EltwiseOp", "WeightFormat", "load_source", "FOUR_ROW_FORMATS",
    "KEEP_BASE6_FORMAT",
    "LANE_SPARSE_FORMATS", "FP16_FORMATS", "read_bytes",
    "STORE_COMBINATIONS", "Register", "PERF_COUNTERS", "Status", "Control", "ID_MAGIC",
    "CONFIG_FIELDS", "ERROR_FIELDS", "config_word", "elem_bytes", "out_bytes", "Precision",
    "Dataflow",
]

#: Words (32-bit) per descriptor.
DESCRIPTOR_WORDS = 8

#: Width of command sequence numbers: commands are numbered from 0 in queue order since reset
#: (the ERROR register's ``seq`` field [31:8], the ISSUED / DONE counters).
SEQ_BITS = 24

#: Value of the ID register: "DNPU" in ASCII, little-endian.
ID_MAGIC = 0x5550_4E44


class Opcode(enum.Enum, shape=4):
    """Command opcodes (descriptor word 0, bits 3:0). 0 is never valid (zeroed memory)."""

    LOAD = 1
    COMPUTE = 2
    STORE = 3
    FENCE = 4
    LIST = 5
    ELTWISE = 6


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


class OutType(enum.Enum, shape=2):
    """Element type a STORE writes to main memory."""

    INT8 = 0
    INT32 = 1
    FP16 = 2
    FP32 = 3


class EltwiseOp(enum.Enum, shape=1):
    """Operation of an ELTWISE command (descriptor word 0, bit 5)."""

    MAX = 0    # maximum (MAX_POOL_2D), INT8 or FP16, optionally into the ACC row's value
    ADD = 1    # TFLite INT8 ADD: both inputs rescaled, summed as int32


class RequantMode(enum.Enum, shape=2):
    """Requantization of an INT8 -> INT8 STORE (descriptor word 0, bits 10:9); 3 is reserved."""

    FLOAT_SCALE = 0             # fp32 scale per column (ONNX / onnxruntime)
    TFLITE_DOUBLE_ROUNDING = 1  # int32 multiplier + shift, SRDHM then RoundingDivideByPOT
    TFLITE_SINGLE_ROUNDING = 2  # int32 multiplier + shift, one rounding (ties toward +inf)


#: The STORE table above: legal (acc_type, out) pairs -> scale rule, ``"required"``,
#: ``"forbidden"`` or ``"optional"``. Any pair not listed is refused (``BAD_COMBINATION``).
#: The order is the table's: per precision, its default output type comes first.
STORE_COMBINATIONS = {
    (Precision.INT8, OutType.INT8): "required",
    (Precision.INT8, OutType.INT32): "forbidden",
    (Precision.INT8, OutType.FP16): "required",
    (Precision.FP16, OutType.FP16): "optional",
    (Precision.FP16, OutType.FP32): "optional",
}


def elem_bytes(elem):
    """Bytes per element of an :class:`ElemType`."""
    return {ElemType.INT8: 1, ElemType.FP16: 2, ElemType.WORD32: 4}[ElemType(elem)]


def out_bytes(out):
    """Bytes per element of an :class:`OutType`."""
    return {OutType.INT8: 1, OutType.INT32: 4, OutType.FP16: 2, OutType.FP32: 4}[OutType(out)]


class ErrorCode(enum.Enum, shape=4):
    """Why a command was refused; checks run in this order, the first failure wins.

    ``BAD_OPCODE``       opcode not in :class:`Opcode`.
    ``RESERVED``         a reserved bit or field is not zero; or an encoding value that is not
                         defined (LoadTarget 2-3, ElemType 3, RequantMode 3); w5 of a
                         LOAD neither fill nor INT4_FP16; walk fields
                         with a_cols zero; placement fields with local_cols zero; dram_addr,
                         dram_stride or broadcast of a fill LOAD; an ELTWISE field its op
                         does not read.
    ``ZERO_DIM``         rows, cols, m, k, n or a LIST's count is zero; a_rows zero with a_cols
                         non-zero; local_groups zero with local_cols non-zero.
    ``DIM_TOO_LARGE``    cols, k or n larger than the array allows (see the opcode).
    ``BAD_COMBINATION``  LOAD target/elem mismatch; a weight format with ACC, fill,
                         broadcast or the wrong elem, or a 2:4 one or INT4_FP16_ROWS with rows % 4
                         (lane-grouped 2:4: cols % 4; with ``keep``: cols % 2, and with
                         ``keep`` and ``SPARSE24_INT4``: rows % 3, not rows % 4); ``keep``
                         without a lane-grouped 2:4 format or ``SPARSE24_INT4``; a
                         COMPUTE ``gather`` with FP16, ``diagonal`` or ``init_row``; a
                         STORE ``lane_sum`` with FP16 acc_type or cols != 1;
                         any of ``keep`` / ``gather`` / ``lane_sum`` without
                         ``npu_gather``; INT4_FP16(_ROWS)
                         on hardware without FP16; FP16
                         precision or OS dataflow on hardware without it; STORE
                         acc_type/out/scale combination not in the table;
                         INT8 lo > hi or outside [-128, 127]; fp clamp bound NaN or lo > hi;
                         a TFLite ``requant`` mode outside INT8 -> INT8; a walked COMPUTE
                         with m != a_rows * a_cols; a placed LOAD with
                         rows != local_groups * local_cols; a LIST entry that is itself a LIST;
                         on hardware without the fp32 post-processing (``npu_float_post``
                         False), an INT8 -> FP16 STORE or an INT8 -> INT8 one with
                         ``FLOAT_SCALE``; an ELTWISE ADD in FP16, an FP16 MAC with reduce
                         or without ``npu_eltwise_fp16_mac``, or any ELTWISE without
                         the unit (``npu_eltwise`` False).
    ``MISALIGNED``       dram_addr or dram_stride not a multiple of the element size (not
                         checked for a fill LOAD); a LIST's list_addr not a multiple of 4.
    ``STRIDE``           dram_stride shorter than one row (cols * element size), unless
                         broadcast or fill.
    ``LOCAL_RANGE``      a SPAD or ACC row range (including scale_addr, and scale_addr + 1 in a
                         TFLite ``requant`` mode; the largest row of a COMPUTE walk or of a
                         LOAD placement) runs past the memory.
    ``DMA_WINDOW``       some byte of the 2-D main-memory footprint lies outside the DMA window
                         (the check covers the first byte of the first row to the last byte of
                         the last row, computed without 32-bit overflow; none for a fill); for a
                         LIST, some byte of its 32 * count bytes of entries.
    ``BUS_ERROR``        during execution, the bus answered err to a DMA access (of a LOAD, a
                         STORE, or the fetch of a LIST entry).
    """

    NONE = 0
    BAD_OPCODE = 1
    RESERVED = 2
    ZERO_DIM = 3
    DIM_TOO_LARGE = 4
    BAD_COMBINATION = 5
    MISALIGNED = 6
    STRIDE = 7
    LOCAL_RANGE = 8
    DMA_WINDOW = 9
    BUS_ERROR = 10


class Register(enum.Enum):
    """Byte offsets of the NPU registers inside the ``npu`` region.

    ``ID``          RO  :data:`ID_MAGIC`.
    ``CONFIG``      RO  the array shape and memory sizes, see :func:`config_word`.
    ``STATUS``      RW  :class:`Status` bits; the sticky bits are cleared by writing 1.
    ``CONTROL``     RW  :class:`Control` bits.
    ``DMA_BASE``    RW  first byte of the DMA window.
    ``DMA_SIZE``    RW  size of the DMA window in bytes (0: empty; base + size may not exceed
                        2**32, otherwise the window is empty).
    ``ERROR``       RO  code [3:0] (:class:`ErrorCode`) and sequence number [31:8] of the first
                        refused command since the error bit was last cleared.
    ``ISSUED``      RO  sequence numbers handed out since reset (24 bits used): 1 per pushed
                        command, ``count + 1`` per pushed LIST (see ``LIST``).
    ``DONE``        RO  commands finished (executed or refused) since reset, LIST entries
                        included (see ``LIST``).
    ``ERROR_INDEX`` RO  written together with ERROR: the index within its LIST of the command
                        ERROR names when that command is a LIST entry (refused, failed to be
                        fetched, or a LOAD / STORE entry that hit a bus error), 0xFFFF_FFFF
                        when it is not (and at reset).
    ``CMD0..CMD7``  WO  descriptor staging words.
    ``DOORBELL``    WO  any write pushes the staged descriptor into the queue; the write is
                        held off (no grant) while the queue is full, so firmware never loses a
                        command. Read STATUS.queue_full to avoid waiting.
    ``PERF_*``      RO  64-bit performance counters as LO/HI pairs (read LO first: HI is
                        latched when LO is read); cleared by CONTROL.perf_clear. A build
                        with ``config.npu_perf_bits = 32`` keeps 32 bits (HI reads 0).
                        FILL, GAPS and DRAIN split the cycles since the clear that are not
                        rows of work (a layer's fixed cost; a row: a COMPUTE row the array
                        takes or an ELTWISE row the element-wise unit computes): FILL from
                        the first cycle with STATUS.busy to the first row, GAPS the cycles
                        without a row between the first and the last row, DRAIN after the
                        last row up to and including the last busy cycle (a run with no row
                        counts all of its cycles from the first busy one to the last in
                        FILL).
    """

    ID = 0x00
    CONFIG = 0x04
    STATUS = 0x08
    CONTROL = 0x0C
    DMA_BASE = 0x10
    DMA_SIZE = 0x14
    ERROR = 0x18
    ISSUED = 0x1C
    DONE = 0x20
    ERROR_INDEX = 0x24
    CMD0 = 0x40
    CMD1 = 0x44
    CMD2 = 0x48
    CMD3 = 0x4C
    CMD4 = 0x50
    CMD5 = 0x54
    CMD6 = 0x58
    CMD7 = 0x5C
    DOORBELL = 0x60
    PERF_BUSY_LO = 0x80        # cycles with any command in flight
    PERF_BUSY_HI = 0x84
    PERF_MACS_LO = 0x88        # products: COMPUTE m*k*n (m*min(k,n) diagonal), ELTWISE MAC m*n
    PERF_MACS_HI = 0x8C
    PERF_COMPUTE_LO = 0x90     # cycles the array accepted an activation row
    PERF_COMPUTE_HI = 0x94
    PERF_DMA_RD_LO = 0x98      # bytes of the bus words DMA read from main memory (read_bytes)
    PERF_DMA_RD_HI = 0x9C
    PERF_DMA_WR_LO = 0xA0      # bytes written to main memory by DMA
    PERF_DMA_WR_HI = 0xA4
    PERF_STALL_DEP_LO = 0xA8   # cycles a ready command waited on a hazard with an earlier one
    PERF_STALL_DEP_HI = 0xAC
    PERF_STALL_MEM_LO = 0xB0   # cycles a DMA request waited for the bus (no grant)
    PERF_STALL_MEM_HI = 0xB4
    PERF_STALL_OUT_LO = 0xB8   # cycles the array was stalled by its output (ACC write)
    PERF_STALL_OUT_HI = 0xBC
    PERF_FILL_LO = 0xC0        # cycles from the first busy cycle to the first row
    PERF_FILL_HI = 0xC4
    PERF_GAPS_LO = 0xC8        # cycles between the first and the last row, no row
    PERF_GAPS_HI = 0xCC
    PERF_DRAIN_LO = 0xD0       # cycles after the last row up to the last busy one
    PERF_DRAIN_HI = 0xD4


#: The performance counters in register order (``PERF_<name>_LO`` / ``_HI`` of
#: :class:`Register`).
PERF_COUNTERS = ("BUSY", "MACS", "COMPUTE", "DMA_RD", "DMA_WR", "STALL_DEP", "STALL_MEM",
                 "STALL_OUT", "FILL", "GAPS", "DRAIN")


class Status(enum.Flag):
    """Bits of the STATUS register."""

    BUSY = 1 << 0         # RO: a command is queued or in flight
    QUEUE_FULL = 1 << 1   # RO: DOORBELL would wait
    ERROR = 1 << 2        # W1C: a command was refused or failed (see ERROR)
    FENCE_IRQ = 1 << 3    # W1C: a FENCE with irq set completed


class Control(enum.Flag):
    """Bits of the CONTROL register."""

    IRQ_ERROR = 1 << 0    # interrupt while STATUS.ERROR is set
    IRQ_FENCE = 1 << 1    # interrupt while STATUS.FENCE_IRQ is set
    PERF_CLEAR = 1 << 2   # write 1: clear the performance counters (reads 0)


#: Bit fields of the CONFIG register, {name: (lsb, width)}.
CONFIG_FIELDS = {"ROWS": (0, 6), "COLS": (6, 6), "FP16": (12, 1), "GATHER": (13, 1),
                 "LOG2_SPAD_ROWS": (16, 5), "LOG2_ACC_ROWS": (24, 5)}

#: Bit fields of the ERROR register, {name: (lsb, width)}: the :class:`ErrorCode` and the
#: refused command's sequence number.
ERROR_FIELDS = {"CODE": (0, 4), "SEQ": (8, SEQ_BITS)}


def config_word(config):
    """Value of the CONFIG register for an :class:`~dure.config.SoCConfig`.

    rows [5:0], cols [11:6], fp16 [12], gather [13] (the 2:4 MAC-skipping path,
    ``config.npu_gather``: LOAD ``keep``, its shared base-6 variant, COMPUTE ``gather``, STORE
    ``lane_sum``), log2(spad_rows) [20:16], log2(acc_rows) [28:24] (:data:`CONFIG_FIELDS`).
    """
    values = {"ROWS": config.npu_rows, "COLS": config.npu_cols, "FP16": int(config.npu_fp16),
              "GATHER": int(config.npu_gather),
              "LOG2_SPAD_ROWS": config.npu_spad_rows.bit_length() - 1,
              "LOG2_ACC_ROWS": config.npu_acc_rows.bit_length() - 1}
    word = 0
    for name, (lsb, width) in CONFIG_FIELDS.items():
        word |= (values[name] & ((1 << width) - 1)) << lsb
    return word
