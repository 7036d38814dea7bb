"""Reference validator of NPU commands: the Validation section of :mod:`dure.rtl.npu.commands`.

:func:`validate` returns the :class:`~dure.rtl.npu.commands.ErrorCode` the NPU gives a
descriptor: the first failing check in ``ErrorCode`` order, or ``NONE``. The RTL validator
(:mod:`dure.rtl.npu.validate`) is tested against it, and the golden command model uses it to
decide which commands take effect.

Readings of the contract where the prose leaves room (the RTL implements the same):

* ``RESERVED`` also covers STORE fields the command does not read: ``lo`` / ``hi`` unless the
  output is INT8 or (FP16 / FP32 output with ``clamp``), and ``zero_point`` unless the output is
  INT8. ``scale_addr`` without ``scale`` and ``dram_stride`` of a broadcast LOAD are ignored
  (any value; no alignment, stride or range check).
* ``BAD_COMBINATION``: on hardware without FP16 (``config.npu_fp16`` False) a COMPUTE with FP16
  precision and a STORE with FP16 ``acc_type`` are refused; LOADs of FP16 elements and STOREs
  of INT8 accumulators to FP16 output are plain data movement / dequantisation and allowed.
  Without the fp32 post-processing (``config.npu_float_post`` False) a STORE of INT8
  accumulators to FP16 output, or to INT8 output with ``requant = FLOAT_SCALE``, is refused.
  ``dataflow = OS`` is always refused (the array is weight-stationary only). ``clamp`` with INT32
  output is refused (the raw path has no clamp); ``clamp`` with INT8 output is allowed and
  changes nothing (INT8 output always clamps to ``[lo, hi]``).
* ``requant``: value 3 is ``RESERVED`` for every (acc_type, out); a TFLite mode with any pair
  but INT8 -> INT8 is ``BAD_COMBINATION``; in a TFLite mode the STORE reads ACC rows
  ``scale_addr`` and ``scale_addr + 1`` (both checked for ``LOCAL_RANGE``).
* ``lane_scales`` without ``scale`` or with ``cols != 1`` is ``BAD_COMBINATION`` (checked after
  the (acc_type, out) rules); its ``LOCAL_RANGE`` covers every parameter group's rows.
* ``STRIDE`` applies whatever ``rows`` is (also for a single row).
* ``DMA_WINDOW``: the window is ``[DMA_BASE, DMA_BASE + DMA_SIZE)``; it is empty when
  ``DMA_SIZE`` is 0 or ``DMA_BASE + DMA_SIZE > 2**32``. A broadcast LOAD's footprint is its
  first source row; a fill LOAD has none (it is never refused for the window).
* Walk (COMPUTE ``a_cols``) and placement (LOAD ``local_cols``): when ``a_cols`` /
  ``local_cols`` is 0, any non-zero ``a_rows``, ``a_col_step``, ``a_row_step`` /
  ``local_groups``, ``local_row_step`` is ``RESERVED`` (bits 31:16 of LOAD w7 are reserved
  bits in every case). ``m == a_rows * a_cols`` and ``rows == local_groups * local_cols`` are
  compared exactly (the product of two 16-bit fields, no truncation to 16 bits). The largest
  row of ``LOCAL_RANGE`` is computed exactly, without overflow.
* Fill: with ``fill`` set, non-zero ``dram_addr``, ``dram_stride`` or ``broadcast`` is
  ``RESERVED``, whatever the other fields; with ``fill`` clear, non-zero ``fill_value`` is
  ``RESERVED``. The bits of ``fill_value`` above the element (31:8 for INT8, 31:16 for FP16)
  are ignored, any value. ``MISALIGNED``, ``STRIDE`` and ``DMA_WINDOW`` never refuse a fill.
* ``diagonal`` is legal with every k and n (also k != n).
* Gather path (LOAD ``keep``, COMPUTE ``gather``, STORE ``lane_sum``): each is
  ``BAD_COMBINATION`` on hardware without it (``config.npu_gather``); ``keep`` also with a
  format that is not lane-grouped 2:4 or ``SPARSE24_INT4`` (the shared base-6 codes, then
  also with ``rows % 3``; its ``rows % 4`` rule is replaced) or with an odd ``cols`` (the
  ``cols % 4`` rule is replaced), ``gather`` with FP16 precision, ``diagonal`` or
  ``init_row``, ``lane_sum`` with FP16 ``acc_type`` or ``cols != 1``. ``STRIDE`` and
  ``DMA_WINDOW`` of a ``keep`` LOAD use ``load_source(..., keep=True)``.
* COMPUTE ``init_row``: ``init_addr`` non-zero without it is ``RESERVED``; with it,
  ``accumulate`` set or ``init_addr`` among the rows it writes (``[acc_addr, acc_addr + m)``)
  is ``BAD_COMBINATION`` and ``init_addr`` outside the ACC ``LOCAL_RANGE``.
* ``ELTWISE``: for ``op = MAX`` every ADD-only field (``b_addr``, ``zp_a``, ``zp_b``,
  ``mult_a``, ``mult_b``, ``rshift_a``, ``rshift_b``) must be 0 (with ``mac`` all but
  ``b_addr``; with ``pair`` also ``tap_step``, the low half of ``mult_a``'s word; with
  ``init_row`` also ``init_addr``, the low half of ``mult_b``'s), for
  ``op = ADD`` ``accumulate`` and ``mac`` must be 0, ``reduce``, ``pair`` or ``init_row``
  without ``mac`` is ``RESERVED``; the walk fields as COMPUTE's. ``BAD_COMBINATION`` (ADD in
  FP16; an ``init_row`` MAC with ``accumulate`` or ``init_addr`` among the rows it writes;
  an FP16 MAC with ``reduce``, or on hardware without the FP16 MAC,
  ``config.npu_eltwise_fp16_mac`` False; FP16 without FP16; no unit; a walk's ``m``): the
  order of its causes does not matter (one code). B's largest row is ``b_addr + (a_last -
  a_addr)``; ``n`` is limited by the ACC's C lanes; an ``init_row`` MAC's ``init_addr``
  outside the ACC is ``LOCAL_RANGE``.
* Weight formats: every ``weight_format`` value is defined; w5 (``fill_value`` /
  ``scale_addr``) non-zero is ``RESERVED`` unless ``fill`` or ``INT4_FP16`` (a fill with a
  weight format is then ``BAD_COMBINATION``); ``INT4_FP16`` on hardware without FP16 is
  ``BAD_COMBINATION`` (its dequantizers are not built). ``MISALIGNED`` checks only
  ``scale_addr`` (even) of a packed LOAD; ``STRIDE`` and ``DMA_WINDOW`` use
  :func:`~dure.rtl.npu.commands.load_source`; the window must also hold the ``2 * cols``
  scale bytes of ``INT4_FP16``.
* ``LIST``: ``count`` zero is ``ZERO_DIM``; a LIST that is itself a list entry (``in_list``)
  is ``BAD_COMBINATION``, so a nested LIST with reserved bits set gets ``RESERVED`` and one
  with count 0 ``ZERO_DIM``; its footprint is ``[list_addr, list_addr + 32 * count)``.
"""

import math
import struct

from dure.rtl.npu.commands import (
    DESCRIPTOR_WORDS,
    FOUR_ROW_FORMATS,
    FP16_FORMATS,
    KEEP_BASE6_FORMAT,
    LANE_SPARSE_FORMATS,
    STORE_COMBINATIONS,
    ElemType,
    EltwiseOp,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    RequantMode,
    WeightFormat,
    elem_bytes,
    load_source,
    out_bytes,
)
from dure.rtl.npu.descriptor import decode, reserved_masks
from dure.rtl.npu.isa import Dataflow

__all__ = ["validate", "check", "footprint", "scale_span", "window", "a_rows_read",
           "local_rows_written"]


def _s32(value):
    return value - (1 << 32) if value >> 31 else value


def _f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def window(dma_base, dma_size):
    """``(first, end)`` byte range of the DMA window, or None when it is empty."""
    if dma_size == 0 or dma_base + dma_size > 1 << 32:
        return None
    return dma_base, dma_base + dma_size


def footprint(opcode, fields):
    """``(first, last)`` byte addresses (inclusive, Python ints, no overflow) of the main-memory
    bytes a LOAD or STORE touches or a LIST's entries occupy; None for COMPUTE, FENCE and a
    fill LOAD.

    The last byte of a 2-D transfer is ``dram_addr + (rows - 1) * stride + cols * elem - 1``;
    a broadcast LOAD reads one row only; a packed LOAD its ``load_source`` rows (the scale
    row of ``INT4_FP16`` is :func:`scale_span`).
    """
    if opcode == Opcode.LIST:
        first = fields["list_addr"]
        return first, first + 4 * DESCRIPTOR_WORDS * fields["count"] - 1
    if opcode == Opcode.LOAD:
        if fields.get("fill"):
            return None
        fmt = fields.get("weight_format", 0)
        fmt = fmt if fmt in (w.value for w in WeightFormat) else 0    # refused (RESERVED)
        rows, size = load_source(fields["rows"], fields["cols"], fmt, fields["elem"],
                                 fields.get("keep", 0))
        rows = 1 if fields["broadcast"] else rows
        first = fields["dram_addr"]
        return first, first + (rows - 1) * fields["dram_stride"] + size - 1
    elif opcode == Opcode.STORE:
        size = out_bytes(fields["out"])
        rows = fields["rows"]
    else:
        return None
    first = fields["dram_addr"]
    return first, first + (rows - 1) * fields["dram_stride"] + fields["cols"] * size - 1


def scale_span(fields):
    """``(first, last)`` bytes of an ``INT4_FP16`` LOAD's fp16 scales, else None."""
    if fields.get("weight_format") != WeightFormat.INT4_FP16.value or fields.get("fill"):
        return None
    return fields["scale_addr"], fields["scale_addr"] + 2 * fields["cols"] - 1


def a_rows_read(f):
    """SPAD rows a COMPUTE (or ELTWISE) reads as A (``fields`` as decoded), in order m = 0 ..
    M-1."""
    if not f.get("a_cols"):
        return [f["a_addr"] + i for i in range(f["m"])]
    return [f["a_addr"] + (i // f["a_cols"]) * f["a_row_step"] + (i % f["a_cols"]) *
            f["a_col_step"] for i in range(f["a_rows"] * f["a_cols"])]


def local_rows_written(f):
    """Destination rows of a LOAD's source rows r = 0 .. rows-1, in order."""
    if not f.get("local_cols"):
        return [f["local_addr"] + r for r in range(f["rows"])]
    lc = f["local_cols"]
    return [f["local_addr"] + (r // lc) * f["local_row_step"] + r % lc
            for r in range(f["local_groups"] * lc)]


_ADD_ONLY = ("b_addr", "zp_a", "zp_b", "mult_a", "mult_b", "rshift_a", "rshift_b")


def _a_last(f):
    """Largest SPAD row of A a COMPUTE or ELTWISE reads (exact, no overflow)."""
    if not f["a_cols"]:
        return f["a_addr"] + f["m"] - 1
    return f["a_addr"] + (f["a_rows"] - 1) * f["a_row_step"] + (f["a_cols"] - 1) * f["a_col_step"]


def _local_last(f):
    """Largest destination row of a LOAD (exact, no overflow)."""
    if not f["local_cols"]:
        return f["local_addr"] + f["rows"] - 1
    return f["local_addr"] + (f["local_groups"] - 1) * f["local_row_step"] + f["local_cols"] - 1


def _reserved(opcode, words, f):
    if any(word & mask for word, mask in zip(words, reserved_masks(opcode), strict=True)):
        return True
    if opcode == Opcode.LOAD:
        if f["target"] not in (t.value for t in LoadTarget) or \
                f["elem"] not in (e.value for e in ElemType) or \
                f["weight_format"] not in (w.value for w in WeightFormat):
            return True
        if not f["local_cols"] and (f["local_groups"] or f["local_row_step"]):
            return True
        if f["fill"]:
            return bool(f["dram_addr"] or f["dram_stride"] or f["broadcast"])
        return f["fill_value"] != 0 and f["weight_format"] != WeightFormat.INT4_FP16.value
    if opcode in (Opcode.COMPUTE, Opcode.ELTWISE):
        if not f["a_cols"] and (f["a_rows"] or f["a_col_step"] or f["a_row_step"]):
            return True
        if opcode == Opcode.COMPUTE and not f["init_row"] and f["init_addr"]:
            return True
        if opcode == Opcode.ELTWISE:
            if (f["reduce"] or f["pair"] or f["init_row"]) and not f["mac"]:
                return True
            if f["op"] == EltwiseOp.MAX.value:
                if f["mac"] and f["pair"] and f["mult_a"] >> 16:
                    return True               # a pair MAC's w2 is tap_step [15:0] only
                if f["mac"] and f["init_row"] and f["mult_b"] >> 16:
                    return True               # an init_row MAC's w7 is init_addr [15:0] only
                skip = ("b_addr",) if f["mac"] else ()
                skip += ("mult_a",) if f["mac"] and f["pair"] else ()
                skip += ("mult_b",) if f["mac"] and f["init_row"] else ()
                return any(f[name] for name in _ADD_ONLY if name not in skip)
            return bool(f["accumulate"] or f["mac"])
        return False
    if opcode == Opcode.STORE:
        out = OutType(f["out"])
        bounds_read = out == OutType.INT8 or (out in (OutType.FP16, OutType.FP32) and f["clamp"])
        if not bounds_read and (f["lo"] or f["hi"]):
            return True
        if out != OutType.INT8 and f["zero_point"]:
            return True
        if f["requant"] not in (r.value for r in RequantMode):
            return True
    return False


def _zero_dim(opcode, f):
    names = {Opcode.LOAD: ("rows", "cols"), Opcode.COMPUTE: ("m", "k", "n"),
             Opcode.STORE: ("rows", "cols"), Opcode.LIST: ("count",),
             Opcode.ELTWISE: ("m", "n")}.get(opcode, ())
    if any(f[name] == 0 for name in names):
        return True
    if opcode == Opcode.LOAD:
        return f["local_cols"] != 0 and f["local_groups"] == 0
    if opcode in (Opcode.COMPUTE, Opcode.ELTWISE):
        return f["a_cols"] != 0 and f["a_rows"] == 0
    return False


def _too_large(opcode, f, config):
    if opcode == Opcode.LOAD:
        limit = config.npu_lanes if f["target"] == LoadTarget.SPAD.value else config.npu_cols
        return f["cols"] > limit
    if opcode == Opcode.COMPUTE:
        return f["k"] > config.npu_rows or f["n"] > config.npu_cols
    if opcode == Opcode.STORE:
        return f["cols"] > config.npu_cols
    if opcode == Opcode.ELTWISE:
        return f["n"] > config.npu_cols
    return False


def _bad_combination(opcode, f, config, in_list):
    if opcode == Opcode.LIST:
        return in_list
    if opcode == Opcode.LOAD:
        legal = {LoadTarget.SPAD: (ElemType.INT8, ElemType.FP16),
                 LoadTarget.ACC: (ElemType.WORD32,)}
        if ElemType(f["elem"]) not in legal[LoadTarget(f["target"])]:
            return True
        fmt = WeightFormat(f["weight_format"])
        base6 = f["keep"] and fmt == KEEP_BASE6_FORMAT      # 3 records, shared codes
        if f["keep"] and ((fmt not in LANE_SPARSE_FORMATS and not base6) or f["cols"] % 2
                          or (base6 and f["rows"] % 3) or not config.npu_gather):
            return True
        if fmt != WeightFormat.DENSE:
            want = ElemType.FP16 if fmt in FP16_FORMATS else ElemType.INT8
            if f["target"] != LoadTarget.SPAD.value or f["fill"] or f["broadcast"] or \
                    f["elem"] != want.value or \
                    (fmt in FOUR_ROW_FORMATS and f["rows"] % 4 and not base6) or \
                    (fmt in LANE_SPARSE_FORMATS and f["cols"] % 4 and not f["keep"]) or \
                    (fmt in FP16_FORMATS and not config.npu_fp16):
                return True
        return bool(f["local_cols"]) and f["rows"] != f["local_groups"] * f["local_cols"]
    if opcode == Opcode.COMPUTE:
        if f["dataflow"] == Dataflow.OS.value:
            return True
        if f["a_cols"] and f["m"] != f["a_rows"] * f["a_cols"]:
            return True
        if f["gather"] and (f["precision"] != Precision.INT8.value or f["diagonal"]
                            or f["init_row"] or not config.npu_gather):
            return True
        if f["init_row"] and (f["accumulate"] or
                              f["acc_addr"] <= f["init_addr"] < f["acc_addr"] + f["m"]):
            return True
        return f["precision"] == Precision.FP16.value and not config.npu_fp16
    if opcode == Opcode.ELTWISE:
        fp16 = f["precision"] == Precision.FP16.value
        return (not config.npu_eltwise or (fp16 and not config.npu_fp16)
                or (fp16 and f["op"] == EltwiseOp.ADD.value)
                or (fp16 and f["mac"] and (f["reduce"] or not config.npu_eltwise_fp16_mac))
                or bool(f["a_cols"] and f["m"] != f["a_rows"] * f["a_cols"])
                or bool(f["mac"] and f["init_row"] and (
                    f["accumulate"] or f["acc_addr"] <= f["init_addr"] <
                    f["acc_addr"] + (1 if f["reduce"] else f["m"]))))
    if opcode == Opcode.STORE:
        acc_type, out = Precision(f["acc_type"]), OutType(f["out"])
        if acc_type == Precision.FP16 and not config.npu_fp16:
            return True
        if f["lane_sum"] and (acc_type != Precision.INT8 or f["cols"] != 1
                              or not config.npu_gather):
            return True
        if not config.npu_float_post and acc_type == Precision.INT8 and (
                out == OutType.FP16 or
                (out == OutType.INT8 and f["requant"] == RequantMode.FLOAT_SCALE.value)):
            return True
        rule = STORE_COMBINATIONS.get((acc_type, out))
        if rule is None:
            return True
        if (rule == "required" and not f["scale"]) or (rule == "forbidden" and f["scale"]):
            return True
        if out == OutType.INT32 and f["clamp"]:
            return True
        if f["requant"] != RequantMode.FLOAT_SCALE.value and \
                (acc_type, out) != (Precision.INT8, OutType.INT8):
            return True
        if f["lane_scales"] and (not f["scale"] or f["cols"] != 1):
            return True
        if out == OutType.INT8:
            lo, hi = _s32(f["lo"]), _s32(f["hi"])
            return not -128 <= lo <= hi <= 127
        if f["clamp"]:
            lo, hi = _f32(f["lo"]), _f32(f["hi"])
            return math.isnan(lo) or math.isnan(hi) or lo > hi
    return False


def _misaligned(opcode, f):
    if opcode == Opcode.LIST:
        return f["list_addr"] % 4 != 0
    if opcode == Opcode.LOAD:
        if f["fill"]:
            return False
        if f["weight_format"] != WeightFormat.DENSE.value:
            return f["weight_format"] == WeightFormat.INT4_FP16.value and f["scale_addr"] % 2
        size = elem_bytes(f["elem"])
        stride_checked = not f["broadcast"]
    elif opcode == Opcode.STORE:
        size = out_bytes(f["out"])
        stride_checked = True
    else:
        return False
    return f["dram_addr"] % size != 0 or (stride_checked and f["dram_stride"] % size != 0)


def _stride(opcode, f):
    if opcode == Opcode.LOAD and not f["broadcast"] and not f["fill"]:
        return f["dram_stride"] < load_source(f["rows"], f["cols"], f["weight_format"],
                                              f["elem"], f["keep"])[1]
    if opcode == Opcode.STORE:
        return f["dram_stride"] < f["cols"] * out_bytes(f["out"])
    return False


def _local_range(opcode, f, config):
    spad, acc = config.npu_spad_rows, config.npu_acc_rows
    if opcode == Opcode.LOAD:
        depth = spad if f["target"] == LoadTarget.SPAD.value else acc
        return _local_last(f) >= depth
    if opcode == Opcode.COMPUTE:
        return (_a_last(f) >= spad or f["w_addr"] + f["k"] > spad
                or f["acc_addr"] + f["m"] > acc or (f["init_row"] and f["init_addr"] >= acc))
    if opcode == Opcode.ELTWISE:
        a_last = _a_last(f)
        b_last = f["b_addr"] + a_last - f["a_addr"]
        pair = f["pair"]                 # RESERVED without mac: here pair implies mac
        return (a_last + (f["tap_step"] if pair else 0) >= spad
                or f["acc_addr"] + (1 if f["reduce"] else f["m"]) > acc
                or (f["mac"] and f["init_row"] and f["init_addr"] >= acc)
                or (f["op"] == EltwiseOp.ADD.value and b_last >= spad)
                or (f["mac"] and f["b_addr"] + pair >= spad))
    if opcode == Opcode.STORE:
        scale_rows = 1 if f["requant"] == RequantMode.FLOAT_SCALE.value else 2
        if f["lane_scales"]:          # a group of parameter rows per C output rows
            scale_rows *= (f["rows"] - 1) // config.npu_cols + 1
        return f["acc_addr"] + f["rows"] > acc or \
            (f["scale"] and f["scale_addr"] + scale_rows > acc)
    return False


def _outside_window(opcode, f, dma_base, dma_size):
    spans = [s for s in (footprint(opcode, f), opcode == Opcode.LOAD and scale_span(f)) if s]
    win = window(dma_base, dma_size)
    return any(win is None or s[0] < win[0] or s[1] >= win[1] for s in spans)


def check(words, config, dma_base, dma_size, *, in_list=False):
    """``(ErrorCode, opcode, fields)``: like :func:`validate`, plus the decoded descriptor
    (``opcode`` is the raw int and ``fields`` empty for a bad opcode)."""
    words = [int(word) for word in words]
    if len(words) != DESCRIPTOR_WORDS or any(not 0 <= w < 1 << 32 for w in words):
        raise ValueError(f"a descriptor is {DESCRIPTOR_WORDS} words of 32 bits, not {words!r}")
    if not 0 <= dma_base < 1 << 32 or not 0 <= dma_size < 1 << 32:
        raise ValueError("dma_base and dma_size are 32-bit register values")
    if not config.npu_rows:
        raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
    opcode, f = decode(words)
    if not isinstance(opcode, Opcode):
        return ErrorCode.BAD_OPCODE, opcode, f
    checks = [
        (ErrorCode.RESERVED, lambda: _reserved(opcode, words, f)),
        (ErrorCode.ZERO_DIM, lambda: _zero_dim(opcode, f)),
        (ErrorCode.DIM_TOO_LARGE, lambda: _too_large(opcode, f, config)),
        (ErrorCode.BAD_COMBINATION, lambda: _bad_combination(opcode, f, config, in_list)),
        (ErrorCode.MISALIGNED, lambda: _misaligned(opcode, f)),
        (ErrorCode.STRIDE, lambda: _stride(opcode, f)),
        (ErrorCode.LOCAL_RANGE, lambda: _local_range(opcode, f, config)),
        (ErrorCode.DMA_WINDOW, lambda: _outside_window(opcode, f, dma_base, dma_size)),
    ]
    for code, failed in checks:
        if failed():
            return code, opcode, f
    return ErrorCode.NONE, opcode, f


def validate(words, config, dma_base, dma_size, *, in_list=False):
    """The :class:`ErrorCode` the NPU gives descriptor ``words`` (8 ints) on a variant
    ``config`` with the DMA window registers ``dma_base`` / ``dma_size``; ``NONE`` if the
    command is executed. ``in_list``: the descriptor is an entry of a LIST."""
    return check(words, config, dma_base, dma_size, in_list=in_list)[0]
