"""The compiled program: what the SoC runs for one model.

A :class:`Program` is

- a **layer table** (:class:`Layer`, in execution order): per layer where it runs (``npu``: a
  command list of NPU descriptors; ``core``: an operator the control core computes, identified
  by its IR operator and the addresses of its operands), the GEMM shape and MACs, the bytes it
  reads and writes;
- **weights**: one blob placed at ``weights_base`` in main memory (every constant the layers
  use: NPU operands already in the layout the commands read, and the model's constants for the
  core operators), with the address of each;
- **activations**: every other tensor at its address in the arena (``arena_base``, placed by
  :mod:`.memory_plan`; graph inputs and outputs included);
- the **command lists**, whose DMA addresses are absolute (the window is the ``main`` region).

:meth:`Program.save` writes a folder: ``program.json`` (the layer table, tensor and weight
addresses, variant, precision), ``weights.bin`` (the blob) and ``commands.bin`` (every
descriptor, 8 little-endian 32-bit words each, layer after layer; a layer's ``first_command``
and ``commands`` index it), ``layers.bin`` (the binary layer table below, with the commands
placed right after the arena and the results area after the table, as
:func:`dure.compiler.soc.run_program_soc` loads them).

Binary layer table (what the ``npu_model_run`` firmware walks; little-endian 32-bit words)
    Header, 16 words: 0 magic ``TABLE_MAGIC`` (``"DULT"``), 1 version ``TABLE_VERSION`` (1),
    2 number of layers (at most ``MAX_LAYERS``), 3 words per record (32), 4 size of the table
    in bytes (header and records), 5 address of the results area; the rest 0.

    One record of 32 words per layer, in execution order; ``alias`` layers (a layout-only
    RESHAPE / TRANSPOSE aliased to its input's buffer) run nothing and have no record
    (:meth:`Program.table_layers` maps records to layers). Word 0 the kind (:class:`LayerKind`:
    1 NPU command list, 2 core operator), word 1 the core op code (:class:`CoreOp`, 0 for NPU
    layers). NPU record: 2 address of the first descriptor (8 words each), 3 number of
    descriptors (the layer's list ends with a FENCE). NPU-tiles record (a layer split across
    tiles, :mod:`.tile_split`; kind 3): 1 the tiles T (1..8), then per tile t words 2 + 2t /
    3 + 2t its list's address and descriptor count (each list ends with a FENCE; the firmware
    rings every tile's list, then waits for all of them). Core record: 2 / 3 input addresses (0 if
    unused), 4 output address, 5 output element count (``COPY``: bytes), 6..9 input shape
    ``n, h, w, c`` (``SOFTMAX_INT8``: 6 rows, 7 depth), 10..13 window ``kh, kw, sh, sw``,
    14 SAME padding (1) or VALID (0) for pooling, the element size in bytes for ``IM2COL``,
    15 / 16 clamp bounds (int32 for INT8; binary32 bits for FP16), 17 FP16 clamp on (1) / off,
    18.. operator parameters: ``ADD_INT8`` the 12 int32 fields of ``struct cpu_add_int8``
    (``left_shift``, the three multiplier / shift pairs, the three zero points, lo, hi);
    ``SOFTMAX_INT8`` multiplier, left shift, diff_min; ``QUANTIZE_ONNX`` / ``DEQUANTIZE_ONNX``
    (15 the scale's binary32 bits) 18 the zero point, ``QUANTIZE_ONNX`` 19 / 20 the clamp
    ``lo`` / ``hi`` (inside [-128, 127]: a float Relu / Clip before a QuantizeLinear);
    ``ADD_ONNX`` (15 / 16 / 17 the binary32 bits of ``r_a``, ``r_b``, ``fixed`` of
    :func:`.reference.onnx_add_params`) 18 the raw-value offset (0, or 128 for uint8), 19 / 20
    lo / hi, 21 the address of the layer's 64 KB output table (every int8 pair, from
    :func:`.reference.onnx_add_table`, in the weights; 0: compute with the fused
    multiply-adds); inputs 2 / 3 may be constants in the weights; ``TRANSPOSE`` 6..9 the input
    shape and 10..13 the permutation (both padded to 4 axes in front), 14 the element size;
    ``QUANTIZE_TFLITE`` 15 the scale's bits, 18 the zero point (TFLite's DEQUANTIZE uses
    ``DEQUANTIZE_ONNX``: the same arithmetic); ``PAD`` 6..9 the input shape, 10..13 the
    pads before and 18..21 after each axis (padded to 4 axes in front), 14 the element size,
    15 the constant's bit pattern; ``REQUANTIZE_TFLITE`` (int8 -> int8 QUANTIZE) 18 / 19 the
    multiplier / shift of ``QuantizeMultiplier(s_in / s_out)``, 20 / 21 the input / output zero
    points; ``SOFTMAX_FP16`` 6 rows, 7 depth, 18 beta's binary32 bits;
    ``AVG_POOL_ONNX`` 6..9 the input shape, 10..13 ``kh, kw, sh, sw``, 14
    count_include_pad, 15 ``s_x`` bits, 16 / 17 lo / hi, 18 ``z_x``, 19 the raw ``z_y``,
    20 the raw-value offset, 21 ``s_y`` bits, 22 / 23 pad top / left, 24 / 25 out h / w;
    ``DEPTHWISE_ONNX`` 3 the weights ``(1, KH, KW, C)``, 6..9 the input shape, 10..13
    ``kh, kw, sh, sw``, 14 the int32 bias (0: none), 15 the float32 scales ``(x_s * w_s[c]) /
    y_s``, 16 / 17 lo / hi, 18 ``z_x``, 19 ``z_y``, 20 the int32 weight zero points, 21 / 26
    dilation h / w, 22 / 23 pad top / left, 24 / 25 out h / w (addresses in the weights);
    ``CONV_FLOAT_ONNX`` (:mod:`.onnx_float`) 3 the float32 weights ``(cout, K)``, ``K =
    cin / group * kh * kw`` in ``(ci, kh, kw)`` order, 6..9 the input shape, 10..13 ``kh, kw,
    sh, sw``, 14 the float32 bias (0: none), 15 ``s_x`` bits, 16 / 17 lo / hi, 18 ``z_x``, 19
    ``z_y``, 20 / 26 dilation h / w, 21 ``s_y`` bits, 22 / 23 pad top / left, 24 / 25 out h /
    w, 27 cout, 28 group, 29 the chain table (uint32 ``start, count, stride_k`` per output
    pixel segment), 30 its segment count (addresses in the weights); ``CONV_FAST_ONNX``
    (:mod:`.onnx_fast`) the same words, plus 31 the address of the int32 sums ``S`` the
    layer's NPU half stored (``(n, oh, ow, cout)``), and after the chain table the fast
    table (:func:`.onnx_fast.fast_table`: 5 binary32 words per output channel, then ``|w|``
    as uint8 ``(cout, kh, kw, cin)``);
    ``GLOBAL_AVG_POOL_ONNX`` 6..9 the input shape, 15 the scale's bits
    (:func:`.reference.onnx_global_pool_scale`), 16 / 17 lo / hi, 18 / 19 the input / output
    zero points; ``SOFTMAX_ONNX`` 6 rows, 7 depth, 15 ``floor(1 / y_scale)`` bits, 18 the raw
    output zero point, 19 the raw-value offset (0 / 128), 20 the address of the 256-entry
    float32 exp table (:func:`.reference.onnx_softmax_table`, in the weights);
    ``IM2COL`` pad top, pad left, dilation h, dilation w, out h, out w, pad value (the int8
    zero point, or fp16 bits). Every address must lie in main memory (with the whole
    operand), else the firmware stops with ``TableError.RANGE``.

    Results area (written by the firmware), 16 + 2 * layers words: 0 status
    (:class:`TableError`, 0 ok), 1 index of the failing layer, 2 the NPU's error code,
    3 the failing descriptor's index within that layer, 4/5 cycles of the whole walk (low,
    high), 6/7 PERF_MACS, 8/9 PERF_BUSY, 10/11 DMA bytes read, 12/13 written; then per layer
    its cycles (64 bits, first doorbell or kernel call to idle / return).

    :meth:`Program.layer_records` makes the records (:func:`core_record` per core layer: None
    for an operator without a C kernel yet, e.g. explicit-padding TFLite / FP16 pools),
    :func:`pack_layer_table` / :func:`unpack_layer_table` write and read the table.
"""

import dataclasses
import enum
import json
import pathlib
import struct

import numpy as np

__all__ = ["Layer", "Program", "LayerKind", "CoreOp", "TableError", "core_record",
           "pack_layer_table", "unpack_layer_table", "unpack_results", "results_bytes",
           "TABLE_MAGIC", "TABLE_VERSION", "RECORD_WORDS", "HEADER_WORDS", "MAX_LAYERS"]


@dataclasses.dataclass
class Layer:
    """One entry of the layer table.

    ``kind``: ``gemm`` (NPU GEMM), ``npu_op`` (a whole operator lowered by an operator planner
    of :mod:`dure.sim`, :mod:`.npu_ops`; ``params["planner"]`` names the operator),
    ``alias`` (``where`` ``alias`` too: a layout-only RESHAPE / TRANSPOSE whose output is its
    input's bytes at the same address, :func:`.ir.is_layout_view`; it runs nothing, has no
    record in the binary table and takes 0 cycles),
    ``im2col`` (the core gathers a convolution's patches for the
    following NPU GEMM) or the IR operator name (a core operator). ``op``: the IR operator the
    layer belongs to. ``gemm``: ``(M, K, N)`` or None. ``reads`` / ``writes``: tensor or
    buffer names in the arena. ``est_cycles``: the planner's cost estimate for NPU layers
    (None for core layers). ``array_macs``: the products the layer's COMPUTEs take part in
    (what the NPU's PERF_MACS counter and the command model count: ``m * k * n``, diagonal
    ``m * min(k, n)``); equal to ``macs`` for GEMMs and convolutions, nonzero for average
    pooling and ADD, whose ``macs`` are 0.
    ``plan``: for ``npu_op`` layers, the planner and its parameter bytes (not saved; the
    commands and the weights are).
    """

    kind: str
    where: str
    op: object
    reads: list
    writes: list
    gemm: tuple | None = None
    macs: int = 0
    commands: list = dataclasses.field(default_factory=list)
    weight_bytes: int = 0
    est_cycles: int | None = None
    params: dict = dataclasses.field(default_factory=dict)
    plan: object = dataclasses.field(default=None, repr=False)
    array_macs: int = 0


@dataclasses.dataclass
class Program:
    """A compiled model (module docstring)."""

    graph: object
    config: object
    precision: str
    layers: list
    weights: bytes
    weights_base: int
    weight_addr: dict
    tensor_addr: dict
    buffers: dict
    arena_base: int
    arena_size: int
    arena_total: int

    @property
    def macs(self):
        return sum(layer.macs for layer in self.layers)

    def table(self):
        """The layer table as JSON-ready dicts (``record``: the layer's index in the binary
        table ``layers.bin``, None for an ``alias`` layer, which has no record)."""
        rows, first = [], 0
        record = {i: k for k, i in enumerate(self.table_layers())}
        for i, layer in enumerate(self.layers):
            rows.append({
                "index": i, "kind": layer.kind, "where": layer.where,
                "record": record.get(i),
                "node": {"index": layer.op.index, "name": layer.op.name,
                         "type": layer.op.source},
                "reads": [[n, self.tensor_addr[n]] for n in layer.reads],
                "writes": [[n, self.tensor_addr[n]] for n in layer.writes],
                "gemm": list(layer.gemm) if layer.gemm else None, "macs": layer.macs,
                "array_macs": layer.array_macs,
                "first_command": first, "commands": len(layer.commands),
                "params": {k: (v if isinstance(v, (int, float, str, list, type(None)))
                               else str(v)) for k, v in layer.params.items()},
            })
            first += len(layer.commands)
        return rows

    def table_layout(self):
        """``(commands_base, table_addr, results_addr)``: the command lists right after the
        arena (64-byte aligned), the layer table after them, the results after the table."""
        def up(v):
            return (v + 63) // 64 * 64
        commands_base = up(self.arena_base + self.arena_size)
        table_addr = up(commands_base + 32 * sum(len(la.commands) for la in self.layers))
        size = 4 * (HEADER_WORDS + RECORD_WORDS * len(self.table_layers()))
        return commands_base, table_addr, up(table_addr + size)

    def commands_bytes(self):
        """Every descriptor, layer after layer (8 little-endian words each)."""
        words = [w for layer in self.layers for d in layer.commands for w in d]
        return np.array(words, "<u4").tobytes()

    def table_layers(self):
        """Indices of the layers that have a record in the binary layer table: every layer
        but the ``alias`` ones (a view of its input's bytes runs nothing)."""
        return [i for i, la in enumerate(self.layers) if la.kind != "alias"]

    def layer_records(self, commands_base):
        """One record (32 words, module docstring) per layer of :meth:`table_layers` (``alias``
        layers have none), the command lists placed from ``commands_base`` on as
        :meth:`commands_bytes` orders them; None for a core layer no C kernel computes."""
        records, first = [], 0
        for layer in self.layers:
            if layer.kind == "alias":
                continue
            if layer.where == "npu":
                rec = [0] * RECORD_WORDS
                rec[0] = LayerKind.NPU
                rec[2] = commands_base + 32 * first
                rec[3] = len(layer.commands)
                records.append(rec)
            else:
                records.append(core_record(self, layer))
            first += len(layer.commands)
        return records

    def save(self, folder):
        """Write ``program.json``, ``weights.bin`` and ``commands.bin`` into ``folder``
        (created if missing); returns the folder as a Path."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "commands.bin").write_bytes(self.commands_bytes())
        (folder / "weights.bin").write_bytes(self.weights)
        commands_base, table_addr, results_addr = self.table_layout()
        records = self.layer_records(commands_base)
        if all(r is not None for r in records):
            (folder / "layers.bin").write_bytes(pack_layer_table(records, results_addr))
        meta = {
            "format": "dure-program-1", "variant": self.config.name,
            "precision": self.precision, "arithmetic": self.graph.arithmetic,
            "weights_base": self.weights_base, "weights_bytes": len(self.weights),
            "arena_base": self.arena_base, "arena_bytes": self.arena_size,
            "inputs": [[n, self.tensor_addr[n], list(self.buffers[n][1]),
                        str(self.buffers[n][0])] for n in self.graph.inputs],
            "outputs": [[n, self.tensor_addr[n], list(self.buffers[n][1]),
                         str(self.buffers[n][0])] for n in self.graph.outputs],
            "weights": {n: a for n, a in self.weight_addr.items()},
            "commands_base": commands_base, "layer_table": table_addr,
            "results": results_addr,
            "layers": self.table(),
        }
        (folder / "program.json").write_text(json.dumps(meta, indent=1) + "\n")
        return folder


# --- the binary layer table the firmware walks (firmware/npu_jobs/npu_model_run/) ---------------

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


def _f32_bits(v, default):
    return int(np.array(default if v is None else v, np.float32).view(np.uint32))


def _pool_words(graph, op):
    """Words 6..14 of a pooling record, or None when the C kernels do not take the padding."""
    from .ir import pair
    a = op.attrs
    if not isinstance(a["padding"], str):
        return None
    n, h, w, c = graph.tensors[op.inputs[0]].shape
    (kh, kw), (sh, sw) = pair(a["filter"]), pair(a["stride"])
    return [n, h, w, c, kh, kw, sh, sw, int(a["padding"] == "SAME")]


def core_record(program, layer):
    """The 32 record words of a core layer, or None when no C kernel computes it (the layer
    then needs the host: :func:`dure.compiler.soc.run_program_soc` with ``host_fallback``)."""
    from .ir import OpKind, explicit_padding, pair

    graph = program.graph
    op = layer.op
    addr = program.tensor_addr
    rec = [0] * RECORD_WORDS
    rec[0] = LayerKind.CORE
    ins = [addr[n] for n in layer.reads]
    out = addr[layer.writes[0]]
    rec[2] = ins[0] if ins else 0
    rec[3] = ins[1] if len(ins) > 1 else 0
    rec[4] = out
    dtype, shape = program.buffers[layer.writes[0]]
    count = int(np.prod(shape))
    rec[5] = count
    arith = graph.arithmetic
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")
    if layer.kind == "im2col":
        x = graph.tensors[layer.reads[0]].shape
        w = graph.tensors[op.inputs[1]].shape
        a = op.attrs
        oh, ow, pads = explicit_padding(a["padding"], x[1], x[2], w[1], w[2], a["stride"],
                                        a["dilation"])
        (sh, sw), (dh, dw) = pair(a["stride"]), pair(a["dilation"])
        eb = np.dtype(program.buffers[layer.reads[0]][0]).itemsize
        pad = int(layer.params["pad_value"])
        rec[1] = CoreOp.IM2COL
        rec[6:15] = [*x, w[1], w[2], sh, sw, eb]
        rec[18:25] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, dh, dw, oh, ow,
                      pad & (0xFF if eb == 1 else 0xFFFF)]
        return rec
    kind = op.kind
    T = graph.tensors
    if op.attrs.get("ort_float") and kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        # onnxruntime's float32 convolution (compiler/onnx_float.py) from the float32
        # weights, bias and chain table the compiler placed (lower.py)
        a = op.attrs
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        wa = program.weight_addr
        key = op.outputs[0]
        chains = wa.get(f"{key}/chains")
        if chains is None:
            return None
        from .reference import onnx_float_conv_params
        wg, bd, group = onnx_float_conv_params(graph, op)
        cout, kh, kw, _ = wg.shape
        (sh, sw), (dh, dw) = pair(a["stride"]), pair(a["dilation"])
        oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], kh, kw,
                                        (sh, sw), (dh, dw))
        from .onnx_float import conv_chains
        nseg = len(conv_chains(src.shape, wg.shape, (sh, sw), (dh, dw), pads, group))
        rec[1] = CoreOp.CONV_FLOAT_ONNX
        rec[3] = wa[f"{key}/float_weights"]
        rec[6:15] = [*src.shape, kh, kw, sh, sw, wa.get(f"{key}/float_bias", 0)]
        rec[15] = _f32_bits(src.quant.s, 0)
        rec[16:22] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp, dst.quant.zp, dh,
                                                      0)]
        rec[21] = _f32_bits(dst.quant.s, 0)
        rec[22:31] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow, dw, cout, group,
                      chains, nseg]
        if layer.kind == "conv_fast":   # the NPU's sums, the fast table after the chains
            rec[1] = CoreOp.CONV_FAST_ONNX
            rec[31] = addr[layer.params["sums"]]
        return rec
    if arith == "onnx" and kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        quant = kind is OpKind.QUANTIZE
        if (src.dtype, dst.dtype) != ((np.float32, np.int8) if quant else (np.int8, np.float32)):
            return None
        q = dst.quant if quant else src.quant
        rec[1] = CoreOp.QUANTIZE_ONNX if quant else CoreOp.DEQUANTIZE_ONNX
        rec[15] = _f32_bits(q.s, 0)
        rec[18] = q.zp & 0xFFFF_FFFF
        if quant:
            rec[19] = (-128 if lo is None else int(lo)) & 0xFFFF_FFFF
            rec[20] = (127 if hi is None else int(hi)) & 0xFFFF_FFFF
        return rec
    if arith == "tflite" and kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        quant = kind is OpKind.QUANTIZE
        if quant and (src.dtype, dst.dtype) == (np.int8, np.int8):
            from dure.sim.golden_tflite_quantize import requantize_multiplier
            mult, shift = requantize_multiplier(src.quant.s, dst.quant.s)
            rec[1] = CoreOp.REQUANTIZE_TFLITE
            rec[18:22] = [int(mult) & 0xFFFF_FFFF, int(shift) & 0xFFFF_FFFF,
                          src.quant.zp & 0xFFFF_FFFF, dst.quant.zp & 0xFFFF_FFFF]
            return rec
        if (src.dtype, dst.dtype) != ((np.float32, np.int8) if quant else (np.int8, np.float32)):
            return None
        q = dst.quant if quant else src.quant
        # TFLite's DEQUANTIZE, f32(double(s) * (q - zp)), is the exact product rounded once:
        # ONNX's DequantizeLinear kernel computes the same
        rec[1] = CoreOp.QUANTIZE_TFLITE if quant else CoreOp.DEQUANTIZE_ONNX
        rec[15] = _f32_bits(q.s, 0)
        rec[18] = q.zp & 0xFFFF_FFFF
        return rec
    if kind is OpKind.RESHAPE:
        rec[1] = CoreOp.COPY
        rec[5] = count * np.dtype(dtype).itemsize
        return rec
    if kind is OpKind.TRANSPOSE:
        shape = graph.tensors[op.inputs[0]].shape
        if len(shape) > 4 or np.dtype(dtype).itemsize not in (1, 2, 4):
            return None
        lead = 4 - len(shape)
        rec[1] = CoreOp.TRANSPOSE
        rec[6:10] = [1] * lead + list(shape)
        rec[10:14] = list(range(lead)) + [p + lead for p in op.attrs["perm"]]
        rec[14] = np.dtype(dtype).itemsize
        return rec
    if kind is OpKind.PAD:
        shape = graph.tensors[op.inputs[0]].shape
        eb = np.dtype(dtype).itemsize
        if len(shape) > 4 or eb not in (1, 2, 4):
            return None
        lead = 4 - len(shape)
        pads = [(0, 0)] * lead + [tuple(p) for p in op.attrs["pads"]]
        rec[1] = CoreOp.PAD
        rec[6:10] = [1] * lead + list(shape)
        rec[10:14] = [b for b, _ in pads]
        rec[14] = eb
        rec[15] = int(np.array(np.array(op.attrs["value"]).astype(dtype)).view(
            f"u{eb}")) & 0xFFFF_FFFF
        rec[18:22] = [e for _, e in pads]
        return rec
    if arith == "onnx" and kind is OpKind.AVERAGE_POOL_2D:
        from .reference import onnx_global_pool, onnx_global_pool_scale
        src = T[op.inputs[0]]
        if not onnx_global_pool(graph, op):
            a = op.attrs
            (kh, kw), (sh, sw) = pair(a["filter"]), pair(a["stride"])
            oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], kh, kw,
                                            (sh, sw), 1)
            off = 128 if a.get("uint8") else 0
            yq = T[op.outputs[0]].quant
            rec[1] = CoreOp.AVG_POOL_ONNX
            rec[6:15] = [*src.shape, kh, kw, sh, sw, int(bool(a.get("count_include_pad")))]
            rec[15] = _f32_bits(src.quant.s, 0)
            rec[16:22] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp, yq.zp + off,
                                                          off, 0)]
            rec[21] = _f32_bits(yq.s, 0)
            rec[22:26] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow]
            return rec
        rec[1] = CoreOp.GLOBAL_AVG_POOL_ONNX
        rec[6:10] = list(src.shape)
        rec[15] = _f32_bits(onnx_global_pool_scale(graph, op), 0)
        rec[16:20] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp,
                                                      T[op.outputs[0]].quant.zp)]
        return rec
    if arith == "onnx" and kind is OpKind.SOFTMAX:
        from .lower import softmax_table_name
        from .reference import onnx_softmax_y_scale
        xs = T[op.inputs[0]].shape
        off = 128 if op.attrs.get("uint8") else 0
        rec[1] = CoreOp.SOFTMAX_ONNX
        rec[6:8] = [count // xs[-1], xs[-1]]
        rec[15] = _f32_bits(onnx_softmax_y_scale(T[op.outputs[0]].quant), 0)
        rec[18:21] = [(T[op.outputs[0]].quant.zp + off) & 0xFFFF_FFFF, off,
                      program.weight_addr[softmax_table_name(op)]]
        return rec
    if arith == "float":
        clamp = lo is not None or hi is not None
        rec[15:18] = [_f32_bits(lo, -np.inf), _f32_bits(hi, np.inf), int(clamp)]
        if kind is OpKind.ADD:
            rec[1] = CoreOp.ADD_FP16
            return rec
        if kind is OpKind.SOFTMAX:
            depth = T[op.inputs[0]].shape[-1]
            rec[1] = CoreOp.SOFTMAX_FP16
            rec[6:8] = [count // depth, depth]
            rec[18] = _f32_bits(op.attrs["beta"], 1.0)
            return rec
        if kind in (OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D):
            words = _pool_words(graph, op)
            if words is None:
                return None
            rec[1] = (CoreOp.MAX_POOL_FP16 if kind is OpKind.MAX_POOL_2D
                      else CoreOp.AVG_POOL_FP16)
            rec[6:15] = words
            return rec
        return None
    if arith == "onnx" and kind is OpKind.DEPTHWISE_CONV_2D:
        a = op.attrs
        src, w = T[op.inputs[0]], T[op.inputs[1]]
        scales = program.weight_addr.get(f"{op.outputs[0]}/scales")
        if a.get("depth_multiplier", 1) != 1 or scales is None:
            return None
        (sh, sw), (dh, dw) = pair(a["stride"]), pair(a["dilation"])
        oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], w.shape[1],
                                        w.shape[2], (sh, sw), (dh, dw))
        bias = op.inputs[2]
        rec[1] = CoreOp.DEPTHWISE_ONNX
        rec[3] = program.weight_addr[op.inputs[1]]
        rec[6:15] = [*src.shape, w.shape[1], w.shape[2], sh, sw,
                     program.weight_addr[bias] if bias else 0]
        rec[15:22] = [scales, int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF,
                      src.quant.zp & 0xFFFF_FFFF, T[op.outputs[0]].quant.zp & 0xFFFF_FFFF,
                      program.weight_addr[f"{op.outputs[0]}/weight_zero_points"], dh]
        rec[22:27] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow, dw]
        return rec
    if arith == "onnx" and kind is OpKind.ADD:
        from .reference import onnx_add_params
        ra, rb, fixed, off = onnx_add_params(graph, op)
        where = {**program.weight_addr, **addr}          # an operand may be a constant
        rec[1] = CoreOp.ADD_ONNX
        rec[2], rec[3] = where[op.inputs[0]], where[op.inputs[1]]
        rec[15:18] = [_f32_bits(v, 0) for v in (ra, rb, fixed)]
        rec[18:21] = [off, int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        from .lower import add_table_name
        rec[21] = program.weight_addr.get(add_table_name(op), 0)
        if op.attrs.get("ort_float") and not rec[21]:
            return None         # the float32 Add of an unfused QDQ group: the table only
        return rec
    if kind is OpKind.MAX_POOL_2D:
        words = _pool_words(graph, op)
        if words is None:
            return None
        rec[1] = CoreOp.MAX_POOL_INT8
        rec[6:15] = words
        rec[15:17] = [int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        return rec
    if arith != "tflite":
        return None
    if kind is OpKind.AVERAGE_POOL_2D:
        words = _pool_words(graph, op)
        if words is None:
            return None
        rec[1] = CoreOp.AVG_POOL_INT8
        rec[6:15] = words
        rec[15:17] = [int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        return rec
    if kind is OpKind.ADD:
        from dure.sim.golden_tflite_params import add_params
        q1, q2, qo = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        try:
            p = add_params(q1.s, q2.s, qo.s)
        except (ValueError, FloatingPointError):
            return None                 # the reference refuses these scales too
        words = [p.left_shift, p.input1_multiplier, p.input1_shift, p.input2_multiplier,
                 p.input2_shift, p.output_multiplier, p.output_shift, q1.zp, q2.zp, qo.zp,
                 int(lo), int(hi)]
        rec[1] = CoreOp.ADD_INT8
        rec[18:30] = [int(v) & 0xFFFF_FFFF for v in words]
        return rec
    if kind is OpKind.SOFTMAX:
        from dure.sim.golden_tflite_softmax import softmax_params
        xs = T[op.inputs[0]].shape
        try:
            mult, shift, diff_min = softmax_params(op.attrs["beta"], T[op.inputs[0]].quant.s)
        except ValueError:
            return None                 # the reference refuses these parameters too
        rec[1] = CoreOp.SOFTMAX_INT8
        rec[6:8] = [count // xs[-1], xs[-1]]
        rec[18:21] = [int(mult) & 0xFFFF_FFFF, int(shift) & 0xFFFF_FFFF,
                      int(diff_min) & 0xFFFF_FFFF]
        return rec
    return None


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
