"""The binary layer table a compiled :class:`~.program.Program` becomes on the SoC: its format,
the enumerations of its words (:class:`LayerKind`, :class:`CoreOp`, :class:`TableError`) and
:func:`pack_layer_table` / :func:`unpack_layer_table` / :func:`unpack_results`. The records
of core layers are :mod:`.core_record`'s; :meth:`.program.Program.layer_records` assembles
them. The firmware's mirror is ``firmware/npu_jobs/npu_model_run/layer_table.h``.

Binary layer table (what the ``npu_model_run`` firmware walks; little-endian 32-bit words)
    Header, 16 words: 0 magic ``TABLE_MAGIC`` (``"DULT"``), 1 version ``TABLE_VERSION`` (1),
    2 number of layers (at most ``MAX_LAYERS``), 3 words per record (32), 4 size of the table
    in bytes (header and records), 5 address of the results area; the rest 0.

    One record of 32 words per layer, in execution order; ``alias`` layers (a layout-only
    RESHAPE / TRANSPOSE aliased to its input's buffer) run nothing and have no record
    (:meth:`.program.Program.table_layers` maps records to layers). Word 0 the kind
    (:class:`LayerKind`: 1 NPU command list, 2 core operator), word 1 the core op code
    (:class:`CoreOp`, 0 for NPU layers). NPU record: 2 address of the first descriptor (8 words
    each), 3 number of descriptors (the layer's list ends with a FENCE). NPU-tiles record (a
    layer split across tiles, :mod:`.tile_split`; kind 3): 1 the tiles T (1..8), then per tile t
    words 2 + 2t / 3 + 2t its list's address and descriptor count (each list ends with a FENCE;
    the firmware rings every tile's list, then waits for all of them). Core record: 2 / 3 input
    addresses (0 if unused), 4 output address, 5 output element count (``COPY``: bytes), 6..9
    input shape ``n, h, w, c`` (``SOFTMAX_INT8``: 6 rows, 7 depth), 10..13 window ``kh, kw, sh,
    sw``, 14 SAME padding (1) or VALID (0) for pooling, the element size in bytes for
    ``IM2COL``, 15 / 16 clamp bounds (int32 for INT8; binary32 bits for FP16), 17 FP16 clamp on
    (1) / off, 18.. operator parameters: ``ADD_INT8`` the 12 int32 fields of ``struct
    cpu_add_int8`` (``left_shift``, the three multiplier / shift pairs, the three zero points,
    lo, hi); ``SOFTMAX_INT8`` multiplier, left shift, diff_min; ``QUANTIZE_ONNX`` /
    ``DEQUANTIZE_ONNX`` (15 the scale's binary32 bits) 18 the zero point, ``QUANTIZE_ONNX`` 19 /
    20 the clamp ``lo`` / ``hi`` (inside [-128, 127]: a float Relu / Clip before a
    QuantizeLinear); ``ADD_ONNX`` (15 / 16 / 17 the binary32 bits of ``r_a``, ``r_b``, ``fixed``
    of :func:`.reference.onnx_add_params`) 18 the raw-value offset (0, or 128 for uint8), 19 /
    20 lo / hi, 21 the address of the layer's 64 KB output table (every int8 pair, from
    :func:`.reference.onnx_add_table`, in the weights; 0: compute with the fused multiply-adds);
    inputs 2 / 3 may be constants in the weights; ``TRANSPOSE`` 6..9 the input shape and 10..13
    the permutation (both padded to 4 axes in front), 14 the element size; ``QUANTIZE_TFLITE``
    15 the scale's bits, 18 the zero point (TFLite's DEQUANTIZE uses ``DEQUANTIZE_ONNX``: the
    same arithmetic); ``PAD`` 6..9 the input shape, 10..13 the pads before and 18..21 after each
    axis (padded to 4 axes in front), 14 the element size, 15 the constant's bit pattern;
    ``REQUANTIZE_TFLITE`` (int8 -> int8 QUANTIZE) 18 / 19 the multiplier / shift of
    ``QuantizeMultiplier(s_in / s_out)``, 20 / 21 the input / output zero points;
    ``SOFTMAX_FP16`` 6 rows, 7 depth, 18 beta's binary32 bits; ``AVG_POOL_ONNX`` 6..9 the input
    shape, 10..13 ``kh, kw, sh, sw``, 14 count_include_pad, 15 ``s_x`` bits, 16 / 17 lo / hi, 18
    ``z_x``, 19 the raw ``z_y``, 20 the raw-value offset, 21 ``s_y`` bits, 22 / 23 pad top /
    left, 24 / 25 out h / w; ``DEPTHWISE_ONNX`` 3 the weights ``(1, KH, KW, C)``, 6..9 the input
    shape, 10..13 ``kh, kw, sh, sw``, 14 the int32 bias (0: none), 15 the float32 scales ``(x_s
    * w_s[c]) / y_s``, 16 / 17 lo / hi, 18 ``z_x``, 19 ``z_y``, 20 the int32 weight zero points,
    21 / 26 dilation h / w, 22 / 23 pad top / left, 24 / 25 out h / w (addresses in the
    weights); ``CONV_FLOAT_ONNX`` (:mod:`.onnx_float`) 3 the float32 weights ``(cout, K)``, ``K
    = cin / group * kh * kw`` in ``(ci, kh, kw)`` order, 6..9 the input shape, 10..13 ``kh, kw,
    sh, sw``, 14 the float32 bias (0: none), 15 ``s_x`` bits, 16 / 17 lo / hi, 18 ``z_x``, 19
    ``z_y``, 20 / 26 dilation h / w, 21 ``s_y`` bits, 22 / 23 pad top / left, 24 / 25 out h / w,
    27 cout, 28 group, 29 the chain table (uint32 ``start, count, stride_k`` per output pixel
    segment), 30 its segment count (addresses in the weights); ``CONV_FAST_ONNX``
    (:mod:`.onnx_fast`) the same words, plus 31 the address of the int32 sums ``S`` the layer's
    NPU half stored (``(n, oh, ow, cout)``), and after the chain table the fast table
    (:func:`.onnx_fast.fast_table`: 5 binary32 words per output channel, then ``|w|`` as uint8
    ``(cout, kh, kw, cin)``); ``GLOBAL_AVG_POOL_ONNX`` 6..9 the input shape, 15 the scale's bits
    (:func:`.reference.onnx_global_pool_scale`), 16 / 17 lo / hi, 18 / 19 the input / output
    zero points; ``SOFTMAX_ONNX`` 6 rows, 7 depth, 15 ``floor(1 / y_scale)`` bits, 18 the raw
    output zero point, 19 the raw-value offset (0 / 128), 20 the address of the 256-entry
    float32 exp table (:func:`.reference.onnx_softmax_table`, in the weights); ``IM2COL`` pad
    top, pad left, dilation h, dilation w, out h, out w, pad value (the int8 zero point, or fp16
    bits). ``DENSE_DOT_INT8``
    (:mod:`.dot_target`, only in the ``dot_model_run`` firmware of the dot-unit variants) 2
    the int8 operand ``(batch, K)``, 3 the int8 weights ``(N, K)``, 5 ``batch * N``, 6 batch,
    7 K, 8 N, 9 the int32 bias with the input zero point folded in, 10 / 11 the int32
    multipliers / shifts (addresses in the weights), 12 the rounding (0 single, 1 double, 2
    LiteRT's float64 rescale with 10 / 11 each unit's scale's low / high words:
    :mod:`.fc_store`'s fallback), 13
    1: stream on the unit (K a multiple of 4), 0: the core's loop, 14 the output zero point,
    15 / 16 lo / hi; ``DEPTHWISE_DOT_INT8`` (:mod:`.dot_depthwise`, the same firmware) 3 the
    packed filter rows ``(C, KK4)``, 6..9 the input shape, 10..13 ``kh, kw, sh, sw``, 14 the
    folded int32 bias, 15 / 16 the multipliers / shifts (addresses in the weights), 17 the
    scratch rows ``(C, KK4)`` in the arena, 18 / 19 pad top / left, 20 / 21 dilation h / w,
    22 / 23 out h / w, 24 / 25 the input / output zero points, 26 / 27 lo / hi, 28 1: streams
    on the unit, 0: the core's loop, 29 ``KK4`` (``kh * kw`` rounded up to a multiple of 4).
    ``FC_RESCALE_TFLITE`` (:mod:`.fc_store`'s fallback) 2 the int32 sums ``(rows, units)``, 3
    the units' float64 scales (little-endian IEEE patterns, in the weights), 5 ``rows *
    units``, 6 rows, 7 units, 15 / 16 lo / hi, 18 the output zero point.
    Every address must lie in main memory (with the whole operand), else the firmware
    stops with ``TableError.RANGE``.

    Results area (written by the firmware), 16 + 2 * layers words: 0 status
    (:class:`TableError`, 0 ok), 1 index of the failing layer, 2 the NPU's error code,
    3 the failing descriptor's index within that layer, 4/5 cycles of the whole walk (low,
    high), 6/7 PERF_MACS, 8/9 PERF_BUSY, 10/11 DMA bytes read, 12/13 written; then per layer
    its cycles (64 bits, first doorbell or kernel call to idle / return).

    :meth:`.program.Program.layer_records` makes the records (:func:`.core_record.core_record`
    per core layer: None
    for an operator without a C kernel yet, e.g. explicit-padding TFLite / FP16 pools),
    :func:`pack_layer_table` / :func:`unpack_layer_table` write and read the table.
"""

import enum
import struct

__all__ = ["LayerKind", "CoreOp", "TableError", "pack_layer_table", "unpack_layer_table",
           "unpack_results", "results_bytes", "TABLE_MAGIC", "TABLE_VERSION", "RECORD_WORDS",
           "HEADER_WORDS", "RESULT_HEAD_WORDS", "MAX_LAYERS"]

TABLE_MAGIC = 0x544C_5544           # "DULT" little-endian
TABLE_VERSION = 1
HEADER_WORDS = 16
RECORD_WORDS = 32
RESULT_HEAD_WORDS = 16
MAX_LAYERS = 4096


class LayerKind(enum.IntEnum):
    """Word 0 of a record."""
    NPU = 1         # a command list: LIST doorbell(s), wait for idle
    CORE = 2        # an operator computed by the control core (C kernel)
    NPU_TILES = 3   # one command list per NPU tile, all rung, then every tile waited for


class CoreOp(enum.IntEnum):
    """Word 1 of a core record: which C kernel (firmware/include/npu_cpu_ops.h)."""
    COPY = 1            # RESHAPE that is not an alias (a byte copy, memmove semantics)
    ADD_INT8 = 2        # cpu_add_int8 (TFLite)
    MAX_POOL_INT8 = 3   # cpu_max_pool_int8
    AVG_POOL_INT8 = 4   # cpu_avg_pool_int8 (TFLite)
    SOFTMAX_INT8 = 5    # cpu_softmax_int8 (TFLite)
    ADD_FP16 = 6        # cpu_add_fp16
    MAX_POOL_FP16 = 7   # cpu_max_pool_fp16
    AVG_POOL_FP16 = 8   # cpu_avg_pool_fp16
    IM2COL = 9          # patch gather for a following NPU GEMM (firmware's own)
    QUANTIZE_ONNX = 10  # float32 -> int8: clamp(rint(f32(x / scale)) + zp), NaN -> 0
    DEQUANTIZE_ONNX = 11  # int8 -> float32: f32(q - zp) * scale
    ADD_ONNX = 12       # QLinearAdd (MLAS AVX2 arithmetic, compiler/reference.py)
    TRANSPOSE = 13      # a permutation of up to 4 axes, elements of 1, 2 or 4 bytes
    GLOBAL_AVG_POOL_ONNX = 14  # QLinearGlobalAveragePool: int32 sum, float-scale requantize
    SOFTMAX_ONNX = 15   # QLinearSoftmax with its exp table in the weights
    PAD = 16            # constant padding of up to 4 axes, elements of 1, 2 or 4 bytes
    QUANTIZE_TFLITE = 17  # float32 -> int8: TfLiteRound (half away from zero) of f32(x / s)
    AVG_POOL_ONNX = 18  # QLinearAveragePool's float path (windows other than global)
    DEPTHWISE_ONNX = 19  # QLinearConv with group = channels: int32 sums, float-scale requant
    REQUANTIZE_TFLITE = 20  # int8 -> int8 QUANTIZE: cpu_requantize_int8 (double rounding)
    SOFTMAX_FP16 = 21   # cpu_softmax_fp16 (sim/golden_softmax_fp16.py)
    CONV_FLOAT_ONNX = 22  # a QDQ Conv onnxruntime runs unfused: MLAS's float32 (onnx_float.py)
    CONV_FAST_ONNX = 23  # the same from the NPU's exact sums, float32 only near ties (onnx_fast)
    DENSE_DOT_INT8 = 24  # a TFLite dense / im2col convolution on the dot-product unit (dot_target)
    DEPTHWISE_DOT_INT8 = 25  # a TFLite depthwise convolution on the dot unit (dot_depthwise)
    FC_RESCALE_TFLITE = 26  # LiteRT's double rescale of FULLY_CONNECTED sums (fc_store fallback)


class TableError(enum.IntEnum):
    """The firmware's status word (results word 0) and exit code; 0 is success."""
    OK = 0
    NO_TABLE = 1        # the table pointer is outside main memory
    MAGIC = 2           # header word 0 is not TABLE_MAGIC
    VERSION = 3         # header word 1 is not TABLE_VERSION
    HEADER = 4          # bad layer count, record size or results address
    RANGE = 5           # an operand address range leaves main memory
    KIND = 6            # a record's kind is neither NPU nor CORE
    OP = 7              # unknown core op code
    ARG = 8             # a C kernel refused its arguments (NPU_E_ARG)
    NPU = 9             # the NPU reported an error (its code and descriptor in the results)
    NO_NPU = 10         # npu_init failed


def pack_layer_table(records, results_addr):
    """The table's bytes: the header, then the records (lists of 32 unsigned words)."""
    if len(records) > MAX_LAYERS:
        raise ValueError(f"{len(records)} layers; the table takes at most {MAX_LAYERS}")
    head = [0] * HEADER_WORDS
    head[:6] = [TABLE_MAGIC, TABLE_VERSION, len(records), RECORD_WORDS,
                4 * (HEADER_WORDS + RECORD_WORDS * len(records)), results_addr]
    words = head + [w for r in records for w in r]
    if any(len(r) != RECORD_WORDS for r in records):
        raise ValueError(f"every record has {RECORD_WORDS} words")
    return struct.pack(f"<{len(words)}I", *words)


def unpack_layer_table(data):
    """``(header words, [record words])`` of a table (the inverse of
    :func:`pack_layer_table`); ValueError for a bad magic, version or size."""
    if len(data) < 4 * HEADER_WORDS:
        raise ValueError("the layer table is shorter than its header")
    head = list(struct.unpack_from(f"<{HEADER_WORDS}I", data))
    if head[0] != TABLE_MAGIC:
        raise ValueError(f"bad layer-table magic {head[0]:#x}")
    if head[1] != TABLE_VERSION:
        raise ValueError(f"layer-table version {head[1]}, expected {TABLE_VERSION}")
    n, rw = head[2], head[3]
    if rw != RECORD_WORDS or head[4] != 4 * (HEADER_WORDS + rw * n) or len(data) < head[4]:
        raise ValueError("bad layer-table size words")
    words = struct.unpack_from(f"<{rw * n}I", data, 4 * HEADER_WORDS)
    return head, [list(words[i * rw:(i + 1) * rw]) for i in range(n)]


def results_bytes(layers):
    """Size of the results area the firmware writes for ``layers`` records."""
    return 4 * (RESULT_HEAD_WORDS + 2 * layers)


def unpack_results(data, layers):
    """The firmware's results: ``{"status", "layer", "npu_error", "npu_index", "cycles",
    "macs", "busy", "dma_rd", "dma_wr", "layer_cycles": [...]}``."""
    w = struct.unpack_from(f"<{RESULT_HEAD_WORDS + 2 * layers}I", data)

    def u64(k):
        return w[k] | w[k + 1] << 32

    return {"status": w[0], "layer": w[1], "npu_error": w[2], "npu_index": w[3],
            "cycles": u64(4), "macs": u64(6), "busy": u64(8), "dma_rd": u64(10),
            "dma_wr": u64(12),
            "layer_cycles": [u64(RESULT_HEAD_WORDS + 2 * i) for i in range(layers)]}
