"""GEMV (M = 1) on the weight-stationary array at the memory roofline: the transposed plan.

A 1 x K x N GEMV uses every weight once. On the array's usual mapping (weights stationary) each
R x C weight set serves one activation row, so the array's weight intake (a new set only every
~15 cycles on the 8x8 dual-precision build with its four shadow weight banks, ~57 with one)
bounds it below the memory roofline. This plan swaps the operands: ``y^T = B^T a^T``. The
activation vector is the stationary operand (a K tile of R values in lane 0 of R SPAD rows: one
new weight set per K tile, ``n = 1``), and the weight matrix streams through the array as
activation rows, one row of R weights of one output channel per cycle (R MACs per cycle, R bytes
of int8 or R / 2 of int4 weights per cycle: more than main memory delivers at 4 B/cycle, so the
GEMV is memory-bound). The weights are stored transposed (N x K rows, K contiguous), as a
prepared model stores them; int4 weights pack two k per byte (the LOAD's ``INT4`` format on the
transposed rows); 2:4 sparse weights (sparse along K, so along the lanes of the transposed rows)
use the lane-grouped formats ``SPARSE24_LANES`` / ``SPARSE24_INT4_LANES``: each row of a k tile
is R / 2 kept values (int8, or int4 two per byte) and R / 8 bytes of position codes, expanded by
the LOAD into the R dense lanes, so the bytes streamed per weight are 0.625 (int8) / 0.375
(int4) instead of 1.

Blocking: N is cut into blocks of ``nb`` rows (ACC rows ``n``, lane 0; two ACC halves by block
parity so one block's STORE overlaps the next block), K into tiles of R. Per K tile: one LOAD of
the ``nb x R`` weight tile into one of three SPAD buffers (issued two tiles ahead, so the load
unit always has the next one waiting); unless the whole activation vector was loaded once at the
start (``rows = K, cols = 1``, when it fits in SPAD beside the buffers), one LOAD of its R
values; then the COMPUTEs (``k = R, n = 1``): two, one per half of the block, so neither waits
for its own previous result, when the block is small enough for the accumulate chain (a COMPUTE
onto the rows the previous one writes waits for it, ~``m + 72`` cycles on the 8x8) to outlast
the tile's LOAD, else one over the whole block (one descriptor fewer per tile on the shared bus;
:func:`~dure.sim.gemv_schedule.split_tiles`), accumulating in the block's ACC rows (FP16: the
sequential order over k, earlier tiles' sum as the start). One STORE per block (``rows = nb,
cols = 1``, stride = the output element: a contiguous vector).

Dense weights come in chunks of up to ``c`` k tiles per LOAD (``chunk``; by default the most, up
to :data:`~dure.sim.gemv_schedule.MAX_CHUNK`, that keeps the activation vector resident and the
blocks as long as with one tile per LOAD): the weights are laid out chunk after chunk, chunk
(k0, w) being the N x w values of k in [k0, k0 + w) with channel n's tiles one after the other,
so one LOAD of ``c nb`` rows of R values brings ``c`` k tiles of the block (destination row ``c
i + j``: tile j of channel i) and the COMPUTEs walk every c-th row, as for W4A16 below. The
schedule (:func:`~dure.sim.gemv_schedule.chunk_schedule`) puts the remainder first and the last
two k tiles one per LOAD, so the block's last COMPUTEs wait for a short LOAD. Each LOAD saves
its descriptor (8 bus words) and the DMA's turnaround (~16 cycles at a 10-cycle latency); the
COMPUTEs of a long chunk only start once it is in. Measured on the FC autoencoder (8x8 `sim`
SoC, consecutive layers flipped, below; its 128 -> 8 layer still two COMPUTEs per tile), INT8
per-channel / per-tensor / FP16 cycles: c = 2 82,713 / - / 145,469, c = 3 82,153 / 79,313 /
144,881, c = 4 82,041 / 79,693 / 144,937, c = 6 82,049 / - / 145,061, c = 8 82,085 / - /
145,273; so :data:`~dure.sim.gemv_schedule.MAX_CHUNK` is 3 (earlier, before the flip and with
one COMPUTE per tile, c = 4 was slower than c = 2: 84,465 against 83,329). Blocks whose
accumulate chain outlasts a tile's LOAD (a few channels) take at most
:data:`~dure.sim.gemv_schedule.CHAINED_CHUNK` tiles per LOAD
(:func:`~dure.sim.gemv_schedule.auto_chunk`).

``flip`` places the layout at the top of SPAD (the buffers and the resident activation vector
end at the last row) and starts the first block in the upper ACC half (``acc_upper`` chooses
the half alone): the compiler flips every other one of consecutive GEMV layers and starts each
in the ACC half the previous one did not end in, so the next layer's LOADs that
:func:`dure.compiler.npu_gemv.prefetch_next` moves in front of this layer's FENCE write SPAD
and ACC rows this layer does not use (no hazard wait on its last COMPUTEs and STOREs) unless
the two layers together need more than the whole SPAD.

W4A16 (int4 weights with fp16 group scales, FP16 precision) loads 4 k tiles per step with
``INT4_FP16_ROWS`` (one source row per channel: its scale, then 4 R int4 values; destination
row 4 c + j is k tile j of channel c) and walks each k tile's rows (``a_cols = 1``,
``a_row_step = 4``) in k order, so the FP16 sum keeps its sequential order.

The output is raw (INT8: int32; FP16: fp32 or fp16) with an optional bias (one int32 / fp32 per
output channel, loaded into the ACC rows). A per-channel scale is per ACC row here while the
STORE's scale is per lane, so a scaled output (int8 requantized, or fp16) takes one
one-element STORE per channel: fine for a small head (kws_fc's 12 outputs), not for large N.

Files: the weight layouts are :mod:`dure.sim.gemv_weights`, the timing choices (block room,
chunks, split COMPUTEs) :mod:`dure.sim.gemv_schedule`; this module emits the descriptors.
"""

import numpy as np
from dure.rtl.npu.commands import (
    ElemType,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    WeightFormat,
)
from dure.rtl.npu.descriptor import encode

from .gemv_schedule import BUFFERS, auto_chunk, chunk_schedule, spad_room, split_tiles
from .gemv_weights import FORMATS, eb_w, transposed_weights, w4a16_rows
from .layer_program import LayerProgram, ParamArea

__all__ = ["gemv_program"]


def gemv_program(config, b, *, precision, a_addr, out_addr, param_addr, out_dtype=None,
                 bias=None, fmt="dense", nb=None, scales=None, group_size=None, scale=None,
                 zero_point=0, lo=None, hi=None, chunk=None, split=None, word_records=True,
                 flip=False, acc_upper=None, gather=None, codes=None):
    """The :class:`~dure.sim.layer_program.LayerProgram` of ``y = a @ b (+ bias)`` for ``a``
    (1 x K at ``a_addr``, int8 or fp16 per ``precision``) and ``b`` (K x N), placed transposed
    in the parameter area (``fmt`` one of :data:`FORMATS`, see :func:`transposed_weights`;
    the compressed ones with INT8 precision; ``int4`` with FP16 precision is W4A16: ``b`` the
    int4 values (int8 in [-8, 7]), ``scales`` (ceil(K / G), N) float16 and ``group_size`` G,
    laid out by :func:`w4a16_rows`, each step loading 4 k tiles); ``y`` (1 x
    N, ``out_dtype`` int32 for INT8, fp32 (default) or fp16 for FP16) at ``out_addr``.

    ``chunk``: dense weights only, k tiles per weight LOAD (the weights laid out chunk by
    chunk, module docstring); None or 1: the plain transposed layout.

    ``split``: whether each k tile is two COMPUTEs (the block's two halves) or one over the
    whole block; None picks by :func:`split_tiles` (timing only, the result is the same).

    ``word_records``: 2:4 weights only, pad 3-byte records to a bus word
    (:func:`transposed_weights`; timing and bytes only, the result is the same).

    ``flip``: the SPAD layout at the top of SPAD and (unless ``acc_upper`` says otherwise) the
    first block in the upper ACC half (module docstring); ``acc_upper``: whether the first
    block is in the upper ACC half (None: as ``flip``). Timing only, the result is the same.

    With ``scale`` (N float32) the output goes through the STORE's per-column post-processing
    (INT8: int8 with ``zero_point`` and the clamp ``[lo, hi]``, or fp16; FP16: fp16 / fp32
    scaled): the block's scales are loaded one per ACC row and every output channel is its own
    one-element STORE (the STORE's scale is per lane, and here the channels are ACC rows), so
    this suits small N (a batch-1 classifier head), not the large GEMVs.

    ``gather``: 2:4 weights with INT8 precision on an NPU with the gather path: skip the zero
    MACs (:func:`dure.sim.gemv_gather_plan.gather_gemv_program`; one lane_sum STORE per block,
    also with a scale; int32 or int8 output). None: whenever it applies (``gather_fits``, no
    ``flip`` / ``acc_upper`` / ``chunk``; ``nb`` and ``split`` passed on); False: the expanding
    LOADs. ``codes``: the gather plan's position-code layout (``base6``, the int4 default, or
    ``nibble``)."""
    r = config.npu_rows
    k, n = b.shape
    fp16 = precision == "fp16"
    if "sparse24" in fmt and precision == "int8" and gather is not False and not flip \
            and acc_upper is None and chunk in (None, 1) \
            and out_dtype in (None, "int8" if scale is not None else "int32"):
        from .gemv_gather_plan import gather_fits, gather_gemv_program
        if gather or gather_fits(config, k, n):
            return gather_gemv_program(config, b, fmt=fmt, a_addr=a_addr, out_addr=out_addr,
                                       param_addr=param_addr, bias=bias, scale=scale,
                                       zero_point=zero_point, lo=lo, hi=hi, nb=nb,
                                       split=split, codes=codes)
    prec = Precision.FP16 if fp16 else Precision.INT8
    out_dtype = out_dtype or ("fp32" if fp16 else "int32")
    legal = ("fp32", "fp16") if fp16 else ("int8", "fp16") if scale is not None else ("int32",)
    if out_dtype not in legal:
        raise ValueError(f"the GEMV plan writes {' or '.join(legal)} for {precision}"
                         f"{' with a scale' if scale is not None else ''}")
    if (zero_point or lo is not None or hi is not None) and out_dtype != "int8":
        raise ValueError("zero_point and the clamp are for int8 output")
    if fmt not in FORMATS:
        raise ValueError(f"the GEMV plan takes weights {', '.join(FORMATS)}, not {fmt!r}")
    w4a16 = fp16 and fmt == "int4"
    if (scales is not None or group_size is not None) and not w4a16:
        raise ValueError("scales and group_size are for W4A16 (fp16 precision, int4 weights)")
    if fmt != "dense" and not w4a16 and (fp16 or r % (4 if "sparse24" in fmt else 2)):
        raise ValueError(f"{fmt} GEMV weights are int8-precision (W4A8 / 2:4) on an array with "
                         f"rows a multiple of {4 if 'sparse24' in fmt else 2}")
    out_type, odt = {"int32": (OutType.INT32, np.int32), "fp32": (OutType.FP32, np.float32),
                     "fp16": (OutType.FP16, np.float16), "int8": (OutType.INT8, np.int8)}[out_dtype]
    eb = 2 if fp16 else 1
    elem = ElemType.FP16 if fp16 else ElemType.INT8
    area = ParamArea(param_addr)
    # A step loads c k tiles of R lanes for `nb` output channels (destination row c i + j:
    # tile j of channel i): four with W4A16 (one INT4_FP16_ROWS source row per channel), one
    # for the compressed formats, up to `sub` for dense weights (chunks, module docstring).
    dense = fmt == "dense" and not w4a16
    if chunk is not None and (not isinstance(chunk, int) or chunk < 1 or chunk > 8
                              or (chunk > 1 and not dense)):
        raise ValueError(f"chunk must be None or 1..8 (more than 1 for dense weights only), "
                         f"not {chunk!r}")
    tiles = -(-k // r)
    if w4a16:
        sub = 4
    elif not dense:
        sub = 1
    elif chunk is not None:
        sub = chunk
    else:
        sub = auto_chunk(config, n, tiles, r, scale is not None)
    span = sub * r
    schedule = chunk_schedule(tiles, sub) if dense else [sub] * -(-k // span)
    kpad = -(-k // span) * span if w4a16 else tiles * r
    if w4a16:
        data, stride = w4a16_rows(b, scales, group_size, r)

        def source(n0, k0, c):
            return ((k0 // span) * n + n0) * stride, stride
        wfmt = WeightFormat.INT4_FP16_ROWS
    elif dense and sub > 1:
        # Chunked dense weights: chunk after chunk, chunk (k0, width) being the N x width
        # values of k in [k0, k0 + width) (channel n's tiles one after the other), so one LOAD
        # of c n_b rows of R elements brings the chunk's c k tiles of n_b channels.
        bt = np.ascontiguousarray(b.T)
        bounds = np.cumsum([0] + schedule) * r
        data = np.concatenate([np.ascontiguousarray(bt[:, k0:k1]).reshape(-1)
                               for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True)]
                              ).tobytes()

        def source(n0, k0, c):
            width = min(c * r, k - k0)
            return (k0 * n + n0 * width) * eb_w(b), min(r, width) * eb_w(b)
        wfmt = WeightFormat.DENSE
    else:
        data, stride, offset = transposed_weights(b, fmt, r, word_records=word_records)

        def source(n0, k0, c):
            return n0 * stride + offset(k0), stride
        wfmt = FORMATS[fmt]
    # Bytes the DMA fetches per channel and k tile (whole words: a row is fetched as the words
    # that cover it), for the choice of one or two COMPUTEs per tile.
    tile_bytes = ((2 + 2 * r) / 4 if w4a16 else r * eb_w(b) if sub > 1
                  else -(-r * eb_w(b) // 4) * 4 if dense
                  else stride)
    w_addr = area.add(np.frombuffer(data, np.uint8))
    bias_addr = area.add(bias) if bias is not None else None
    scale_addr = area.add(np.asarray(scale, np.float32)) if scale is not None else None
    resident, limit = spad_room(config, n, kpad, sub, r, scale is not None)
    if nb is None:
        blocks = -(-n // limit)
        nb = -(-n // blocks)
    if not 1 <= nb <= limit:
        raise ValueError(f"nb must be in 1..{limit}, not {nb}")
    quarter = config.npu_acc_rows // 4
    half = 2 * quarter
    ob = np.dtype(odt).itemsize
    post = {}
    if scale is not None:
        post = dict(scale=1)
        if out_type == OutType.INT8:
            post.update(zero_point=zero_point,
                        lo=(-128 if lo is None else lo) & 0xFFFF_FFFF,
                        hi=(127 if hi is None else hi) & 0xFFFF_FFFF)
    # SPAD: BUFFERS buffers of a B^T step (sub * nb rows), each followed by its a^T values
    # (span rows) unless the whole a^T sits after them.
    size = sub * nb if resident else sub * nb + span
    a_rows = BUFFERS * size
    # flip: the whole SPAD layout at the top of SPAD and the first block in the upper ACC half
    base = config.npu_spad_rows - a_rows - (kpad if resident else 0) if flip else 0
    starts = np.cumsum([0] + schedule[:-1]) * r
    steps = [(blk, n0, min(nb, n - n0), t, int(k0), min(c * r, k - int(k0)), c)
             for blk, n0 in enumerate(range(0, n, nb))
             for t, (k0, c) in enumerate(zip(starts, schedule, strict=True))]

    def loads(i):
        _, n0, rows, _, k0, kk, c = steps[i]
        at = base + (i % BUFFERS) * size
        offset, stride = source(n0, k0, c)
        out = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, weight_format=wfmt,
                      dram_addr=w_addr + offset, dram_stride=stride, rows=c * rows,
                      cols=r if c > 1 else kk, local_addr=at)]
        if not resident:
            out.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                              dram_addr=a_addr + k0 * eb, dram_stride=eb, rows=kk, cols=1,
                              local_addr=at + sub * nb))
        return out

    def compute(i):
        blk, n0, rows, t, k0, kk, c = steps[i]
        at = base + (i % BUFFERS) * size
        acc = ((blk + bool(flip if acc_upper is None else acc_upper)) % 2) * half
        out = []
        if t == 0 and scale_addr is not None:
            out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                              dram_addr=scale_addr + 4 * n0, dram_stride=4, rows=rows, cols=1,
                              local_addr=acc + quarter))
        if t == 0 and bias_addr is not None:
            out.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                              dram_addr=bias_addr + 4 * n0, dram_stride=4, rows=rows, cols=1,
                              local_addr=acc))
        # Two COMPUTEs per k tile on the two halves of the block (split): each one's
        # predecessor on the same ACC rows (previous tile) has drained while the other half
        # ran; or one COMPUTE per k tile when the tile's LOAD takes longer than the chained
        # COMPUTE anyway (one descriptor fewer per tile on the bus). With c > 1 a k tile's
        # rows are every c-th SPAD row (a walk of a_rows x 1).
        cut = (rows + 1) // 2
        halves = split_tiles(config, rows, tile_bytes) if split is None else split
        for j in range(-(-kk // r)):
            kj = min(r, kk - j * r)
            w_row = (base + a_rows + k0 if resident else at + sub * nb) + j * r
            for lo, hi in ((0, cut), (cut, rows)) if rows > 1 and halves else ((0, rows),):
                walk = dict(a_cols=1, a_rows=hi - lo, a_row_step=c) if c > 1 else {}
                out.append(encode(Opcode.COMPUTE, precision=prec,
                                  accumulate=int(t > 0 or j > 0 or bias_addr is not None),
                                  a_addr=at + c * lo + j, w_addr=w_row, acc_addr=acc + lo,
                                  m=hi - lo, k=kj, n=1, **walk))
        if k0 + kk == k and scale_addr is None:
            out.append(encode(Opcode.STORE, out=out_type, acc_type=prec,
                              dram_addr=out_addr + n0 * ob, dram_stride=ob, rows=rows, cols=1,
                              acc_addr=acc))
        elif k0 + kk == k:
            out.extend(encode(Opcode.STORE, out=out_type, acc_type=prec, **post,
                              dram_addr=out_addr + (n0 + j) * ob, dram_stride=ob, rows=1,
                              cols=1, acc_addr=acc + j, scale_addr=acc + quarter + j)
                       for j in range(rows))
        return out

    # The weight LOADs run BUFFERS - 1 steps ahead of the COMPUTEs, so the load unit always
    # has the next LOAD waiting and the DMA never idles behind a COMPUTE's dependency.
    ahead = BUFFERS - 1
    words = []
    if resident:
        words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=a_addr,
                            dram_stride=eb, rows=k, cols=1, local_addr=base + a_rows))
    for i in range(min(ahead, len(steps))):
        words += loads(i)
    for i in range(len(steps)):
        words += compute(i)
        if i + ahead < len(steps):
            words += loads(i + ahead)
    return LayerProgram(words, area.blobs, out_addr, (1, n), np.dtype(odt), macs=k * n,
                        array_macs=k * n)
