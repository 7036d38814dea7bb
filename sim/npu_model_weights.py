"""The command model's unpacking of compressed weights (LOAD ``weight_format``).

:func:`unpack_rows` turns the source rows a packed LOAD reads (the bytes of
:func:`dure.rtl.npu.commands.load_source`) into the dense SPAD lanes the LOAD writes, as the
``LOAD`` section of :mod:`dure.rtl.npu.commands` defines them. It works on raw bytes, not
through :mod:`dure.sim.golden_int4` / :mod:`dure.sim.golden_sparse24`, so the tests that
compare the two check one against the other.
"""

import numpy as np
from dure.rtl.npu.commands import WeightFormat

from .golden_bits import check_fpu, to_fp16

__all__ = ["unpack_rows", "tagged_rows", "tagged_rows_base6"]


def _nibbles(raw, cols):
    """Signed int4 lanes (int16) of packed rows ``raw`` (rows, >= ceil(cols/2)) uint8."""
    half = (cols + 1) // 2
    nib = np.empty((raw.shape[0], 2 * half), np.int16)
    nib[:, 0::2] = raw[:, :half] & 0xF
    nib[:, 1::2] = raw[:, :half] >> 4
    return (np.where(nib >= 8, nib - 16, nib))[:, :cols]


def unpack_rows(weight_format, raw, rows, cols, scales=None):
    """Dense lanes (``rows`` x ``cols`` uint16 SPAD bit patterns) of a packed LOAD.

    ``raw``: (src_rows, src_row_bytes) uint8 source rows; ``scales``: the ``cols`` fp16 scale
    bit patterns (uint16) of ``INT4_FP16``.
    """
    fmt = WeightFormat(weight_format)
    half = (cols + 1) // 2
    if fmt == WeightFormat.INT4:
        return _nibbles(raw, cols).view(np.uint16)
    if fmt == WeightFormat.INT4_FP16:
        q = _nibbles(raw, cols).astype(np.float32)
        s = np.asarray(scales, np.uint16).view(np.float16).astype(np.float32)
        check_fpu()
        with np.errstate(invalid="ignore", over="ignore"):
            return to_fp16(q * s[None, :]).view(np.uint16)   # NaN canonical (0x7E00)
    if fmt == WeightFormat.INT4_FP16_ROWS:
        # Per source row: the fp16 scale (little-endian), then 4 rows of int4 values.
        s = (raw[:, 0].astype(np.uint16) | (raw[:, 1].astype(np.uint16) << 8)).view(np.float16)
        q = _nibbles(raw[:, 2:].reshape(rows, half), cols).astype(np.float32)
        check_fpu()
        with np.errstate(invalid="ignore", over="ignore"):
            prod = q * np.repeat(s.astype(np.float32), 4)[:, None]
            return to_fp16(prod).view(np.uint16)
    if fmt in (WeightFormat.SPARSE24_LANES, WeightFormat.SPARSE24_INT4_LANES):
        return _lanes24(fmt, raw, rows, cols)
    if fmt == WeightFormat.SPARSE24:
        v0 = raw[:, :cols].view(np.int8).astype(np.int16)
        v1 = raw[:, cols:2 * cols].view(np.int8).astype(np.int16)
        codes = raw[:, 2 * cols:2 * cols + half]
    else:
        v0 = _nibbles(raw[:, :half], cols)
        v1 = _nibbles(raw[:, half:2 * half], cols)
        codes = raw[:, 2 * half:3 * half]
    code = np.empty((raw.shape[0], 2 * half), np.int16)
    code[:, 0::2] = codes & 0xF
    code[:, 1::2] = codes >> 4
    p0, p1 = code[:, :cols] & 3, code[:, :cols] >> 2
    out = np.zeros((rows // 4, 4, cols), np.int16)
    for p in range(4):
        out[:, p, :] = np.where(p0 == p, v0, np.where(p1 == p, v1, 0))
    return out.reshape(rows, cols).view(np.uint16)


def _lane_groups(fmt, raw, rows, g):
    """``(v0, v1, p0, p1)``, each (rows, g) int16, of lane-grouped 2:4 source rows of ``g``
    groups: the first / second kept values and their 2-bit positions as coded."""
    if fmt == WeightFormat.SPARSE24_LANES:
        vals = raw[:, :2 * g].view(np.int8).astype(np.int16)
        codes = raw[:, 2 * g:2 * g + (g + 1) // 2]
    else:
        vals = _nibbles(raw[:, :g], 2 * g)
        codes = raw[:, g:g + (g + 1) // 2]
    code = np.empty((rows, 2 * codes.shape[1]), np.int16)
    code[:, 0::2] = codes & 0xF
    code[:, 1::2] = codes >> 4
    return vals[:, 0::2], vals[:, 1::2], code[:, :g] & 3, code[:, :g] >> 2


def tagged_rows(weight_format, raw, rows, cols):
    """Lanes (``rows`` x ``cols`` uint16) of a ``keep`` LOAD of a lane-grouped 2:4 format:
    lane ``2 j + s`` is group j's value s in bits 7:0 and its position in bits 9:8."""
    fmt = WeightFormat(weight_format)
    if fmt not in (WeightFormat.SPARSE24_LANES, WeightFormat.SPARSE24_INT4_LANES) or cols % 2:
        raise ValueError(f"a keep LOAD needs a lane-grouped 2:4 format and even cols, not "
                         f"{fmt.name} with cols = {cols}")
    v0, v1, p0, p1 = _lane_groups(fmt, raw, rows, cols // 2)
    out = np.zeros((rows, cols // 2, 2), np.uint16)
    out[:, :, 0] = (v0.astype(np.uint16) & 0xFF) | (p0.astype(np.uint16) << 8)
    out[:, :, 1] = (v1.astype(np.uint16) & 0xFF) | (p1.astype(np.uint16) << 8)
    return out.reshape(rows, cols)


#: The position pairs of a group, by base-6 digit (the contract's ``PAIRS`` written out again,
#: so that the model does not decode through the golden model it is compared with).
_BASE6_PAIRS = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]], np.uint16)


def tagged_rows_base6(raw, rows, cols):
    """Lanes (``rows`` x ``cols`` uint16) of a ``keep`` LOAD with shared base-6 codes (format
    ``SPARSE24_INT4``): source row i (``2 cols`` bytes) holds records ``3 i .. 3 i + 2`` (``g
    = cols / 2`` int4 value bytes each), then ``g`` code bytes ``i0 + 6 i1 + 36 i2``; lane ``2
    j + s`` of row ``3 i + t`` is record t's group j value s in bits 7:0 and position s of its
    pair in bits 9:8. A code byte above 215 gives its groups zero lanes."""
    if cols % 2 or rows % 3:
        raise ValueError(f"a base-6 keep LOAD needs even cols and rows % 3 == 0, not "
                         f"rows = {rows}, cols = {cols}")
    g = cols // 2
    trip = raw[:, :4 * g]
    vals = _nibbles(trip[:, :3 * g].reshape(rows, g), cols)          # (rows, cols) int16
    code = trip[:, 3 * g:].astype(np.uint16)                          # (rows / 3, g)
    legal = code < 216
    digit = np.stack([code % 6, code // 6 % 6, np.minimum(code // 36, 5)], axis=1)
    pos = _BASE6_PAIRS[digit]                                         # (rows/3, 3, g, 2)
    pos = np.where(legal[:, None, :, None], pos, 0).reshape(rows, cols)
    vals = np.where(np.repeat(np.repeat(legal, 3, axis=0), 2, axis=1), vals, 0)
    return ((vals.astype(np.uint16) & 0xFF) | (pos << 8)).astype(np.uint16)


def _lanes24(fmt, raw, rows, cols):
    """Lanes of a lane-grouped 2:4 LOAD: per row, ``2 g`` values (int8 bytes or int4 nibbles,
    group j's first then second) then ``g`` 4-bit codes, ``g = cols / 4``."""
    g = cols // 4
    v0, v1, p0, p1 = _lane_groups(fmt, raw, rows, g)
    out = np.zeros((rows, g, 4), np.int16)
    for p in range(4):
        out[:, :, p] = np.where(p0 == p, v0, np.where(p1 == p, v1, 0))
    return out.reshape(rows, cols).view(np.uint16)
