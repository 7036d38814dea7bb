"""The transposed GEMV plan's weights in main memory: the formats it takes and their layouts.

The plan (:mod:`dure.sim.gemv_plan`) streams the weight matrix through the array as activation
rows, so the weights are stored transposed (N x K rows, K contiguous): dense, int4 (two k per
byte, the LOAD's ``INT4`` format), 2:4 sparse along K (the lane-grouped formats
``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES``) and W4A16 (``INT4_FP16_ROWS``). The 2:4 gather
plan (:mod:`dure.sim.gemv_gather_plan`) shares the tile-major record layout.

The packed formats (int4, 2:4) are stored tile-major (:func:`transposed_weights`): a k tile's
records of all N channels one after the other, so a LOAD reads contiguous bytes and the DMA
reader's coalescing (consecutive rows share their boundary word, ``rtl/npu/dma_reader.py``)
makes a record shorter than a bus word (a 2-byte int4 row on the 4x4, a 3-byte 2:4 row) cost
its own bytes, not a whole word. The LOAD still takes a cycle per bus word a record covers, so a
3-byte record (2:4 int4 on the 8x8, 2:4 int8 on the 4x4), which straddles two words in three
of four cases, costs about 1.5 cycles: measured on the 8x8 SoC, 1x1024x1024 2:4 int4 ran at
5.09 MACs/cycle with 3-byte records (394,240 bytes read) and 7.42 with records padded to 4
bytes (525,312 bytes; the array's ceiling is 8 MACs/cycle, one row of 8 lanes per cycle), so
3-byte records are padded by default (``word_records``). (Measured before the DMA reader
issued a row that starts in the previous row's last word from its second word; on an NPU with
the gather path the 2:4 GEMV takes :mod:`dure.sim.gemv_gather_plan` instead, with 6- / 10-byte
records of 16 dense k and the zero MACs skipped.)
"""

import numpy as np
from dure.rtl.npu.commands import ElemType, WeightFormat, load_source

from .golden_int4 import GROUP_SIZES, dequantize_w4a16, pack_int4
from .golden_sparse24 import compress_24

__all__ = ["FORMATS", "lane_sparse_tiles", "tile_major", "transposed_weights", "w4a16_rows",
           "eb_w"]


#: Weight formats of the plan -> the LOAD's weight format.
FORMATS = {"dense": WeightFormat.DENSE, "int4": WeightFormat.INT4,
           "int8-sparse24": WeightFormat.SPARSE24_LANES,
           "int4-sparse24": WeightFormat.SPARSE24_INT4_LANES}


def lane_sparse_tiles(b, fmt, tile):
    """Per k tile of ``tile`` lanes, the (N, bytes) uint8 ``SPARSE24_LANES`` /
    ``SPARSE24_INT4_LANES`` source rows of the N columns of ``b`` (the tile's kept values,
    group by group, then its 4-bit codes), from the golden compression
    (:func:`~dure.sim.golden_sparse24.compress_24`)."""
    k, n = b.shape
    try:
        values, meta = compress_24(b)
    except ValueError as error:
        raise ValueError(str(error).replace("w is not", "B is not")) from None
    codes = np.empty((meta.shape[0], 2 * meta.shape[1]), np.uint8)
    codes[:, 0::2], codes[:, 1::2] = meta & 0xF, meta >> 4
    vt, ct = np.ascontiguousarray(values.T), np.ascontiguousarray(codes[:, :n].T)
    tiles = []
    for k0 in range(0, k, tile):
        g0, g = k0 // 4, min(tile, k - k0) // 4
        v = vt[:, 2 * g0:2 * g0 + 2 * g]
        c = ct[:, g0:g0 + g]
        if g % 2:
            c = np.concatenate([c, np.zeros((n, 1), np.uint8)], axis=1)
        tiles.append(np.concatenate([v.view(np.uint8) if fmt == "int8-sparse24"
                                     else pack_int4(v),
                                     (c[:, 0::2] | (c[:, 1::2] << 4)).astype(np.uint8)],
                                    axis=1))
    return tiles


def tile_major(tiles, per):
    """The k tiles' (N, bytes) records one tile after the other, each record padded with
    zeros to ``per`` bytes: ``(bytes, per, offset)`` for :func:`transposed_weights`."""
    n = tiles[0].shape[0] if tiles else 0
    out = np.zeros((len(tiles), n, per), np.uint8)
    for t, rec in enumerate(tiles):
        out[t, :, :rec.shape[1]] = rec
    return out.tobytes(), per, n * per


def transposed_weights(b, fmt="dense", tile=None, *, word_records=True):
    """``(bytes, row stride, offset)`` of the transposed weights of ``b`` (K x N, int8 or
    float16) in main memory: the record of channel n in the k tile starting at ``k0`` is at
    ``offset(k0) + n * stride``. ``dense``: N x K elements, row by row (``offset(k0)`` =
    ``k0`` elements). The packed formats are *tile-major* with ``tile`` lanes per k tile
    (``tile`` given): per k tile the N channels' records one after the other, each ``stride``
    bytes (the last, partial tile's records padded with zeros), so one LOAD of a tile's
    channels reads contiguous bytes and the DMA's coalescing makes records shorter than a bus
    word cost their own bytes only: ``int4`` (int8 values in [-8, 7], ``ceil(tile / 2)`` bytes
    per record, k pairs low nibble first; without ``tile``: N x ceil(K / 2) bytes row by row,
    ``offset(k0) = k0 / 2``), ``int8-sparse24`` / ``int4-sparse24`` (2:4 along K, K % 4 ==
    0, ``tile`` a multiple of 4: the lane-grouped 2:4 source row of the tile, ``tile / 2 +
    tile / 8`` bytes for int8 values, ``tile / 4 + tile / 8`` for int4: 0.625 / 0.375 bytes
    per weight). With ``word_records`` (the default) a 3-byte 2:4 record (int4 values on an
    8-row array, int8 values on a 4-row one) is padded to 4 bytes so that no record straddles
    two bus words: the LOAD then takes one record per cycle instead of about 1.5 (module
    docstring), at 4 / 3 the bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"the GEMV plan takes weights {', '.join(FORMATS)}, not {fmt!r}")
    bt = np.ascontiguousarray(b.T)
    if fmt == "dense":
        return bt.tobytes(), bt.shape[1] * bt.itemsize, lambda k0: k0 * bt.itemsize
    if fmt == "int4" and tile is None:
        packed = pack_int4(bt)
        return packed.tobytes(), packed.shape[1], lambda k0: k0 // 2
    if fmt == "int4":
        if tile < 1:
            raise ValueError(f"tile must be >= 1, not {tile}")
        data, per, size = tile_major([pack_int4(bt[:, k0:k0 + tile])
                                       for k0 in range(0, bt.shape[1], tile)],
                                      (tile + 1) // 2)
        return data, per, lambda k0: (k0 // tile) * size
    if b.dtype != np.int8 or b.shape[0] % 4 or tile is None or tile % 4:
        raise ValueError("2:4 GEMV weights are int8 with K % 4 == 0, on k tiles of a "
                         "multiple of 4 lanes")
    if fmt == "int4-sparse24" and b.size and (b.min() < -8 or b.max() > 7):
        raise ValueError("int4 weights must lie in [-8, 7]")
    _, per = load_source(1, tile, FORMATS[fmt], ElemType.INT8)
    if word_records and per == 3:
        per = 4
    data, per, size = tile_major(lane_sparse_tiles(b, fmt, tile), per)
    return data, per, lambda k0: (k0 // tile) * size


def w4a16_rows(q, scales, group_size, r):
    """``(bytes, record bytes)`` of W4A16 weights for the transposed plan on an array of
    ``r`` rows, tile-major: per step t of 4 r k (``ceil(K / 4r)`` steps) the N channels'
    ``INT4_FP16_ROWS`` source rows one after the other (channel n's at ``(t N + n) * (2 + 2
    r)``), each the fp16 scale of its group (``scales[(t * 4r) // G, n]``) and the int4 values
    of ``k`` in ``[4 r t, 4 r (t + 1))`` (zero beyond K), ``2 + 2 r`` bytes: a step's LOAD
    reads contiguous bytes, so the DMA's coalescing reads each bus word once. ``q``: K x N
    int8 values in [-8, 7]; ``scales``: (ceil(K / G), N) float16; ``4 r`` must divide G, so a
    source row never spans two groups."""
    k, n = q.shape
    span = 4 * r
    if r % 2 or group_size not in GROUP_SIZES or group_size % span:
        raise ValueError(f"W4A16 GEMV needs a group size in {GROUP_SIZES} that is a multiple "
                         f"of 4 x the array's rows ({span}), not {group_size}")
    dequantize_w4a16(q, scales, group_size)      # checks values, shapes, dtype, finiteness
    t = -(-k // span)
    qt = np.zeros((n, t * span), np.int8)
    qt[:, :k] = q.T
    vals = pack_int4(qt).reshape(n, t, 2 * r)
    sc = np.ascontiguousarray(scales[(np.arange(t) * span) // group_size].T)   # (N, T)
    rows = np.concatenate([sc.view(np.uint8).reshape(n, t, 2), vals], axis=2)
    return np.ascontiguousarray(rows.transpose(1, 0, 2)).tobytes(), 2 + 2 * r


def eb_w(b):
    """Bytes per weight element of ``b`` (int8 or float16)."""
    return np.dtype(b.dtype).itemsize
