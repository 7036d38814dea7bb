"""The transposed GEMV with the zero MACs of 2:4-sparse weights skipped (``docs/sparse_skip.md``).

On an NPU built with the gather path (``config.npu_gather``), :func:`gather_gemv_program`
computes ``y = a @ b (+ bias)`` for int8 ``a`` (1 x K) and 2:4-sparse ``b`` (K x N, int8 or
int4 values) with the three commands of that path (``rtl/npu/commands.py``):

* the activation as *candidates*: SPAD row ``2 j + s`` (s = 0, 1) holds the four activations
  ``a[4 j .. 4 j + 3]`` of group j in lanes 0..3, built once by two placed LOADs of the whole
  vector (source rows j at stride 4 bytes, ``cols = 4``, ``local_cols = 1``,
  ``local_row_step = 2``, at ``base`` and ``base + 1``): K / 2 SPAD rows;
* the weights as *tagged rows*: per k tile of 2 R dense k (R = the array's rows) and block of
  channels, one LOAD ``keep`` writing R kept lanes per channel, each with its position. Int4
  weights by default (``codes="base6"``) use the shared base-6 codes (``keep`` with
  ``SPARSE24_INT4``): one source row per 3 consecutive channels, their int4 values (``R / 2``
  bytes each) then ``R / 2`` code bytes, ``i(c) + 6 i(c + 1) + 36 i(c + 2)`` per group (16
  bytes for 3 x 16 dense k on the 8x8 array: 1/3 byte per dense weight); N is padded to a
  multiple of 3 with zero channels and the blocks hold a multiple of 3 channels. Int8 weights
  (and int4 with ``codes="nibble"``) use the lane-grouped 2:4 records with 4-bit codes (the
  same bytes as ``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES`` records of 2 R lanes), one per
  channel. Either way tile-major as in :func:`dure.sim.gemv_weights.transposed_weights`;
* per k tile a COMPUTE ``gather`` (``k = R`` kept lanes, ``n = 4``, accumulating in lanes 0..3
  of the block's ACC rows): lane i of a channel's row meets the candidate row of its group,
  and only the PE of the column its position names takes part;
* per block one STORE ``lane_sum`` (``cols = 1``): lanes 0..3 summed, then raw int32, or with
  ``scale`` the per-channel requantization (``lane_scales``, the block's scales ``C`` per ACC
  row).

By the contract the result is the dense GEMV of the expanded weights bit for bit (int32
wrapping). A bias is loaded into lane 0 of the block's ACC rows (``cols = 1``, so lanes 1..3
start at zero). The blocking follows :mod:`dure.sim.gemv_plan`: blocks in two ACC halves by
parity, three weight buffers with the LOADs two steps ahead, one or two COMPUTEs per k tile
(:func:`~dure.sim.gemv_schedule.split_tiles`); two buffers (one LOAD ahead) when their larger
blocks make fewer blocks (1 x 1024 x 1024 int4 with base-6 codes: 2 blocks of 513 channels
instead of 3 of 342, 92,898 -> 92,000 cycles on the 8x8 SoC).
"""

import numpy as np
from dure.rtl.npu.commands import (
    KEEP_BASE6_FORMAT,
    ElemType,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    load_source,
)
from dure.rtl.npu.descriptor import encode

from .gemv_schedule import split_tiles
from .gemv_weights import FORMATS, lane_sparse_tiles, tile_major
from .golden_int4 import pack_int4
from .golden_sparse24 import compress_24, pack_pair_codes
from .layer_program import LayerProgram, ParamArea

__all__ = ["gather_fits", "gather_gemv_program", "base6_tiles"]

_BUFFERS = 3


def gather_fits(config, k, n):
    """Whether the gather plan applies on ``config``: the gather path built, an even array
    row count, K % 4 == 0, and the K / 2 candidate rows beside three buffers of at least
    min(N, 64) channels in SPAD."""
    return bool(config.npu_rows and config.npu_gather and config.npu_rows % 2 == 0
                and k % 4 == 0 and k // 2 + _BUFFERS * min(n, 64) <= config.npu_spad_rows)


def base6_tiles(b, span):
    """Per k tile of ``span`` dense k (the last one shorter), the (ceil(N / 3), bytes) uint8
    source rows of a ``keep`` LOAD with shared base-6 codes (``LOAD`` in
    :mod:`dure.rtl.npu.load_cmd`) for int4 2:4 weights ``b`` (K x N, K % 4 == 0): row i holds
    channels 3 i, 3 i + 1, 3 i + 2 (zero channels beyond N), each as its ``g`` bytes of kept
    int4 values, then the ``g`` code bytes (``pack_pair_codes`` over the three channels)."""
    k, n = b.shape
    n3 = -(-n // 3) * 3
    try:
        values, meta = compress_24(b)
    except ValueError as error:
        raise ValueError(str(error).replace("w is not", "B is not")) from None
    vt = np.zeros((n3, k // 2), np.int8)
    vt[:n] = values.T
    codes = np.empty((meta.shape[0], 2 * meta.shape[1]), np.uint8)
    codes[:, 0::2], codes[:, 1::2] = meta & 0xF, meta >> 4
    ct = np.ascontiguousarray(codes[:, :n].T)                   # (N, K / 4): channel's codes
    if ct.shape[1] % 2:
        ct = np.concatenate([ct, np.zeros((n, 1), np.uint8)], axis=1)
    # pack_pair_codes packs three consecutive rows of its "meta": here three channels.
    packed = pack_pair_codes((ct[:, 0::2] | (ct[:, 1::2] << 4)).astype(np.uint8), k // 4)
    tiles = []
    for k0 in range(0, k, span):
        g0, g = k0 // 4, min(span, k - k0) // 4
        vals = pack_int4(vt[:, 2 * g0:2 * g0 + 2 * g]).reshape(n3 // 3, 3 * g)
        tiles.append(np.concatenate([vals, packed[:, g0:g0 + g]], axis=1))
    return tiles


def gather_gemv_program(config, b, *, fmt, a_addr, out_addr, param_addr, bias=None,
                        scale=None, zero_point=0, lo=None, hi=None, nb=None, split=None,
                        pad_records=False, codes=None):
    """The :class:`~dure.sim.layer_program.LayerProgram` of the 2:4 GEMV with skipped zero MACs
    (module docstring). ``fmt``: ``int8-sparse24`` or ``int4-sparse24``; ``b``: K x N int8
    (values in [-8, 7] for int4), 2:4 sparse along K; output int32, or with ``scale`` (N
    float32) int8 with ``zero_point`` and the clamp ``[lo, hi]``. ``ValueError`` when the plan
    does not apply (:func:`gather_fits`) or the weights are not 2:4 sparse. ``pad_records``:
    pad each record to whole bus words (timing and bytes only, the result is the same).
    ``codes``: ``"base6"`` (int4 only; the default for int4) or ``"nibble"`` (the default for
    int8), the position codes' layout (module docstring)."""
    if fmt not in ("int8-sparse24", "int4-sparse24"):
        raise ValueError(f"the gather GEMV takes int8-sparse24 or int4-sparse24, not {fmt!r}")
    if not isinstance(b, np.ndarray) or b.dtype != np.int8 or b.ndim != 2:
        raise ValueError("b must be a 2-D int8 array")
    k, n = b.shape
    if not gather_fits(config, k, n):
        raise ValueError(f"the gather GEMV needs an NPU with npu_gather, even rows, K % 4 == 0 "
                         f"and K / 2 + 3 blocks of SPAD rows; K = {k}, N = {n} on "
                         f"{config.name!r}")
    if fmt == "int4-sparse24" and b.size and (b.min() < -8 or b.max() > 7):
        raise ValueError("int4 weights must lie in [-8, 7]")
    if codes is None:
        codes = "base6" if fmt == "int4-sparse24" else "nibble"
    if codes not in ("base6", "nibble") or (codes == "base6" and fmt != "int4-sparse24"):
        raise ValueError(f"codes must be 'nibble', or 'base6' with int4-sparse24; not {codes!r} "
                         f"with {fmt}")
    base6 = codes == "base6"
    r, c_lanes = config.npu_rows, config.npu_cols
    span = 2 * r                                   # dense k per tagged row
    wfmt = KEEP_BASE6_FORMAT if base6 else FORMATS[fmt]
    per = load_source(3 if base6 else 1, span // 2 if base6 else span, wfmt, ElemType.INT8,
                      keep=base6)[1]
    if pad_records and per % 4:
        per += 4 - per % 4
    tiles = base6_tiles(b, span) if base6 else lane_sparse_tiles(b, fmt, span)
    data, per, size = tile_major(tiles, per)
    rec = 3 if base6 else 1                        # channels per source row
    area = ParamArea(param_addr)
    w_addr = area.add(np.frombuffer(data, np.uint8))
    bias_addr = area.add(np.asarray(bias, np.int32)) if bias is not None else None
    scale_addr = None
    if scale is not None:        # padded to whole ACC rows of C scales
        padded = np.zeros(-(-n // c_lanes) * c_lanes, np.float32)
        padded[:n] = np.asarray(scale, np.float32)
        scale_addr = area.add(padded)
    out_type, ob = (OutType.INT8, 1) if scale is not None else (OutType.INT32, 4)
    quarter = config.npu_acc_rows // 4
    half = 2 * quarter
    cand = k // 2                                  # candidate rows at SPAD 0 ..
    def most(buffers):
        top = min(quarter if scale is not None else half,
                  (config.npu_spad_rows - cand) // buffers, 0xFFFF)
        return top - top % rec

    # Each weight LOAD costs ~15 cycles of bus idle (the reader drains before the next LOAD
    # starts; measured on the 8x8 SoC), so fewer, longer LOADs win: two weight buffers when
    # their larger blocks make fewer blocks than three buffers do (the third only lets the
    # LOADs run further ahead of COMPUTEs that are faster than them anyway).
    buffers = _BUFFERS
    if nb is None and -(-n // most(2)) < -(-n // most(3)):
        buffers = 2
    limit = most(buffers)
    if nb is None:
        nb = -(-n // -(-n // limit))
        nb += -nb % rec
    if not 1 <= nb <= limit or nb % rec:
        raise ValueError(f"nb must be in 1..{limit}{' and a multiple of 3' if base6 else ''}, "
                         f"not {nb}")
    tiles = [(k0, min(span, k - k0)) for k0 in range(0, k, span)]
    steps = [(blk, n0, min(nb, n - n0), t, k0, kk)
             for blk, n0 in enumerate(range(0, n, nb)) for t, (k0, kk) in enumerate(tiles)]
    post = {}
    if scale is not None:
        post = dict(scale=1, lane_scales=1, zero_point=zero_point,
                    lo=(-128 if lo is None else lo) & 0xFFFF_FFFF,
                    hi=(127 if hi is None else hi) & 0xFFFF_FFFF)

    def buffer(i):
        return cand + (i % buffers) * nb

    def loads(i):
        _, n0, rows, t, _, kk = steps[i]
        return [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                       weight_format=wfmt, keep=1,
                       dram_addr=w_addr + t * size + n0 // rec * per, dram_stride=per,
                       rows=rows + -rows % rec, cols=kk // 2, local_addr=buffer(i))]

    def compute(i):
        blk, n0, rows, t, k0, kk = steps[i]
        acc = (blk % 2) * half
        out = []
        if t == 0 and scale_addr is not None:
            out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                              dram_addr=scale_addr + 4 * n0, dram_stride=4 * c_lanes,
                              rows=-(-rows // c_lanes), cols=c_lanes, local_addr=acc + quarter))
        if t == 0 and bias_addr is not None:
            out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                              dram_addr=bias_addr + 4 * n0, dram_stride=4, rows=rows, cols=1,
                              local_addr=acc))
        cut = (rows + 1) // 2
        halves = split_tiles(config, rows, per / rec) if split is None else split
        for lo_, hi_ in ((0, cut), (cut, rows)) if rows > 1 and halves else ((0, rows),):
            out.append(encode(Opcode.COMPUTE, precision=Precision.INT8, gather=1,
                              accumulate=int(t > 0 or bias_addr is not None),
                              a_addr=buffer(i) + lo_, w_addr=k0 // 2, acc_addr=acc + lo_,
                              m=hi_ - lo_, k=kk // 2, n=4))
        if k0 + kk == k:
            out.append(encode(Opcode.STORE, out=out_type, acc_type=Precision.INT8, lane_sum=1,
                              **post, dram_addr=out_addr + n0 * ob, dram_stride=ob, rows=rows,
                              cols=1, acc_addr=acc,
                              scale_addr=acc + quarter if scale is not None else 0))
        return out

    groups = k // 4
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=a_addr,
                    dram_stride=4, rows=groups, cols=4, local_addr=s, local_cols=1,
                    local_groups=groups, local_row_step=2) for s in (0, 1)]
    ahead = buffers - 1
    for i in range(min(ahead, len(steps))):
        words += loads(i)
    for i in range(len(steps)):
        words += compute(i)
        if i + ahead < len(steps):
            words += loads(i + ahead)
    array_macs = sum(rows * (kk // 2) for _, _, rows, _, _, kk in steps)
    return LayerProgram(words, area.blobs, out_addr, (1, n),
                        np.dtype(np.int8 if scale is not None else np.int32),
                        macs=k * n, array_macs=array_macs)
