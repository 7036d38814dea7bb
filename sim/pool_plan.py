"""AVERAGE_POOL_2D lowered onto the NPU: diagonal COMPUTEs with identity weights sum the taps,
the STORE divides.

:func:`average_pool_int8_program` computes :func:`dure.sim.golden_tflite.average_pool_int8` and
:func:`average_pool_fp16_program` :func:`dure.sim.golden_tflite_fp16.average_pool_fp16`, bit for
bit, through the engine of :mod:`dure.sim.walk_layer`: the window walk of a depthwise
convolution whose weight matrix is the identity (one matrix for every tap and chunk). Padded
taps are FILLed with 0 (INT8) / +0.0 (FP16), so they add nothing: the ACC holds the sum of the
in-bounds taps (INT8 exactly; FP16 the binary32 chain from +0.0 in (kh, kw) order, where a +0.0
pad term changes nothing, as the golden says).

The division by the window count ``n`` (in-bounds taps, which varies at SAME-padded borders) is
the STORE's: every run of output pixels of one output row with equal ``n`` is one STORE with its
own constant rows (:data:`StoreRun`); distinct counts are few (at most 9 for any window on a
large image: 3 row counts x 3 column counts, fewer here).

INT8: the STORE's ``TFLITE_SINGLE_ROUNDING`` mode computes
``(acc * M + 2**(p - 1)) >> p`` with ``p = 31 - shift`` (floor of ``acc * M / 2**p + 1/2``).
:func:`pool_multiplier` picks ``p = 30 + floor(log2 n)`` and ``M = floor(2**p / n) + 1``, so
``M / 2**p = 1/n + e`` with ``0 < e <= 2**-p``. Claim: for every integer ``|acc| <= 128 n`` this
equals TFLite's ``(acc + n/2) / n`` for ``acc > 0`` and ``(acc - n/2) / n`` otherwise (C
truncating division), i.e. ``acc / n`` rounded to nearest with ties away from zero. Proof: let
``v = acc / n`` and ``u = acc * M / 2**p = v + acc * e``. (a) If ``v`` is not a tie,
its distance to the nearest half-integer ``h`` is ``|2 acc - (2i + 1) n| / (2n) >= 1 / (2n)``,
while ``|acc * e| <= 128 n * 2**-p <= 128 n / (2**29 n) < 1 / (2n)`` (as ``2**p > 2**29 n``
and ``n < 2**21``); so ``u`` lies strictly on the same side of every half-integer as ``v``
and ``floor(u + 1/2) = round(v)``. (b) If ``v = i + 1/2`` with ``acc > 0``: ``u > v``
and ``u < v + 1/2``, so ``floor(u + 1/2) = i + 1``, away from zero. (c) If ``v = -(i + 1/2)``
(``acc < 0``): ``u < v`` (``acc * e < 0``) and ``u > v - 1/2``, so ``floor(u + 1/2) = -(i + 1)``,
away from zero. ``acc = 0`` gives 0. The single rounding's ties-toward-+infinity never meets a
tie. ``M < 2**31`` (``2**p / n <= 2**30``) and ``shift = 1 - floor(log2 n)`` lies in
[-30, 1] for ``n < 2**31`` (inside the STORE's [-31, 30]). The zero point is 0 and the clamp
[lo, hi] follows: exactly TFLite's order (average, then clamp).
tests/sim/test_pool_plan.py checks it exhaustively for every n up to :data:`MAX_WINDOW`.

Global pooling (one output pixel whose window holds every input pixel) takes a shorter path,
:func:`_global_pool`: the image's pixels of a channel chunk are the *weight* rows of a COMPUTE
whose A is one row of ones (``m = 1``, ``k`` = R pixels, ``n`` = the chunk's channels), so each
COMPUTE sums R pixels of C channels at once (R*C useful products, not the R of a diagonal
COMPUTE); chunks of R pixels accumulate in pixel order, the (kh, kw) order of the golden, from
0 / +0.0. Then the same STORE.

INT8 on an NPU with the element-wise unit (:func:`_global_pool_mac`): one ELTWISE ``MAC``
with ``reduce`` per channel chunk and image sums the chunk's pixels, in pixel order, against a
row of ones into one ACC row (``m`` = the image's pixels, one row per cycle; the next chunk's
LOAD overlaps it), then the same STORE: C channels per cycle instead of R*C products per
single-row COMPUTE whose per-command cost (~60 cycles on the 8x8 `sim` SoC) bounded the array
path.

FP16: the STORE's fp32 scale row holds ``float32(1 / n)`` (one binary32 multiply, then the clamp
and the fp16 conversion), the golden's definition.

MAX_POOL_2D (:func:`max_pool_int8_program`, :func:`max_pool_fp16_program`) is not a sum of
products: it runs on the element-wise unit, through the same engine with one ELTWISE ``MAX`` per
tap in place of each COMPUTE (the first tap without ``accumulate``, the others folding into the
ACC rows). Padded taps are FILLed with the lowest value, -128 (INT8) / -Inf (FP16), which is
exact: TFLite skips padded taps, and ``max(S, lowest) = max(S)`` for every non-empty set S of
in-bounds taps (the INT8 reference starts its maximum at -128 anyway; in FP16 a NaN tap still
wins, -0.0 / +0.0 are unaffected, and a window of -Inf stays -Inf). The STORE writes the ACC
value back: INT8 through the ``TFLITE_DOUBLE_ROUNDING`` mode with multiplier ``2**30`` and
shift 1 (``SRDHM(2 acc, 2**30) = acc`` exactly for |acc| < 2**30, both nudges rounding to acc)
with zero point 0 and the clamp [lo, hi]; FP16 with the FP16 -> FP16 STORE (exact for an fp16
value widened to fp32; NaN canonical) and the optional clamp, TFLite's order (maximum, then
clamp).
"""

import numpy as np
from dure.rtl.npu.commands import (
    ElemType,
    EltwiseOp,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    RequantMode,
)
from dure.rtl.npu.descriptor import encode

from dure.gemm_cost import POOL_MAX_WINDOW, WALK_GLOBAL_PAIR, WALK_GLOBAL_SLAB

from .conv_plan import _check_common, _fp16_store
from .golden_args import pair_arg
from .layer_program import LayerProgram, ParamArea
from .npu_model import perf_macs
from .walk_emit import walk_descriptors
from .walk_layer import StoreRun, WalkLayer, geometry
from .walk_plan import plan_walk

__all__ = ["MAX_WINDOW", "pool_multiplier", "average_pool_int8_program",
           "average_pool_fp16_program", "max_pool_int8_program", "max_pool_fp16_program",
           "global_average_pool_int8_float_scale_program"]

#: Largest window (KH * KW) the pooling programs accept (the exhaustive test covers 1..this).
MAX_WINDOW = POOL_MAX_WINDOW
#: Channel chunks per unit of the global-pooling stream (:func:`_global_pool`): measured on the
#: 8x8 `sim` SoC (DS-CNN's 25x5x64 pool): 1: 9,862 cycles, 2: 8,294, 4: 8,746, all 8 chunks
#: with every LOAD first (the earlier stream): 9,714. INT8 only: FP16 takes every chunk of an
#: image in one unit, whose longer accumulation chains need more of them interleaved (the same
#: pool in FP16 through the firmware's C port, NPU busy cycles: 13,722 in pairs, 7,874 with
#: every chunk).
GLOBAL_PAIR = WALK_GLOBAL_PAIR
#: COMPUTE steps (R pixels each) per slab of the first unit's chunk LOADs
#: (dure.gemm_cost.WALK_GLOBAL_SLAB).
GLOBAL_SLAB = WALK_GLOBAL_SLAB


def pool_multiplier(n):
    """``(M, shift)`` for the single-rounding STORE so that the result is TFLite's rounded
    average ``acc / n`` for every ``|acc| <= 128 n`` (proof in the module docstring)."""
    n = int(n)
    if not 1 <= n < 1 << 21:
        raise ValueError(f"window count must lie in [1, 2**21), not {n}")
    p = 30 + n.bit_length() - 1
    return (1 << p) // n + 1, 31 - p


def _counts(g):
    """In-bounds tap count per output row and column."""
    def axis(out, size, k, s, before):
        return [min(size, o * s - before + k) - max(0, o * s - before) for o in range(out)]
    return (axis(g.oh, g.height, g.kh, g.sh, g.pt), axis(g.ow, g.width, g.kw, g.sw, g.pl))


def _pool(config, x_shape, filter_size, stride, padding, precision, lo, hi, x_addr, out_addr,
          param_addr):
    kernel = pair_arg("filter_size", filter_size)
    stride = _check_common(config, x_shape, stride, 1, precision)
    if kernel[0] * kernel[1] > MAX_WINDOW:
        raise ValueError(f"filter_size: window of {kernel[0] * kernel[1]} taps exceeds "
                         f"{MAX_WINDOW}")
    g = geometry(x_shape, kernel, stride, padding)
    cy, cx = _counts(g)
    if min(cy) < 1 or min(cx) < 1:
        raise ValueError("padding: a pooling window lies entirely in the padding")
    counts = sorted({a * b for a in cy for b in cx})
    index = {n: i for i, n in enumerate(counts)}
    lc = min(config.npu_rows, config.npu_cols)
    params = ParamArea(param_addr)
    eb = 2 if precision == Precision.FP16 else 1
    ident = np.eye(lc, dtype=np.float16 if precision == Precision.FP16 else np.int8)
    w_addr = params.add(ident)
    if precision == Precision.INT8:
        const = np.zeros((2 * len(counts), lc), np.int32)
        for i, n in enumerate(counts):
            const[2 * i], const[2 * i + 1] = pool_multiplier(n)
        lo, hi = int(lo), int(hi)
        if not -128 <= lo <= hi <= 127:
            raise ValueError(f"lo/hi must satisfy -128 <= lo <= hi <= 127, not ({lo}, {hi})")
        store = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                     requant=RequantMode.TFLITE_SINGLE_ROUNDING, zero_point=0,
                     lo=lo & 0xFFFF_FFFF, hi=hi & 0xFFFF_FFFF)
        per = 2
    else:
        const = np.zeros((len(counts), lc), np.float32)
        for i, n in enumerate(counts):
            const[i] = np.float32(np.float64(1.0) / n)
        store = _fp16_store(np.ones(1), lo, hi)
        per = 1
    const_addr = params.add(const)

    def runs(oy):
        out = []
        for ox in range(g.ow):
            n = cy[oy] * cx[ox]
            if out and out[-1][2] == n:
                out[-1][1] += 1
            else:
                out.append([ox, 1, n])
        return [StoreRun(first, rows, per * index[n]) for first, rows, n in out]

    ch = x_shape[3]
    if counts == [g.height * g.width] and g.oh == g.ow == 1:
        if precision == Precision.INT8 and config.npu_eltwise:
            prog = _global_pool_mac(config, g, ch, store, const, params, x_addr, out_addr)
        else:
            prog = _global_pool(config, g, ch, precision, store, const, params, x_addr,
                                out_addr, const_addr)
        if prog is not None:
            return prog
    layer = WalkLayer(
        geo=g, precision=precision, cin=ch, cout=ch, k_chunk=lc, n_chunk=lc, diagonal=True,
        x_addr=x_addr, out_addr=out_addr, pad_value=0, out_bytes=eb, store=store,
        shared_weight=(w_addr, lc), const_addr=const_addr, const_rows=const.shape[0],
        const_stride=4 * lc, runs=runs, macs=g.pixels * kernel[0] * kernel[1] * ch)
    plan = plan_walk(config, layer)
    words = walk_descriptors(config, layer, plan)
    comp = [w for w in words if w[0] & 0xF == 2]
    slots = sum((w[4] & 0xFFFF) * config.npu_rows * config.npu_cols for w in comp)
    array_macs = perf_macs(words)
    return LayerProgram(words, params.blobs, out_addr, (g.batch, g.oh, g.ow, ch),
                        np.dtype(np.float16 if precision == Precision.FP16 else np.int8),
                        macs=layer.macs, array_macs=array_macs,
                        lane_use=layer.macs / slots if slots else 0.0, plan=plan,
                        notes=[f"{len(comp)} COMPUTEs", f"window counts {counts}"])


def _global_pool(config, g, ch, precision, store, const, params, x_addr, out_addr,
                 const_addr):
    """The global-pooling path (module docstring), or None when an image does not fit the
    SPAD. SPAD: row 0 the ones row, then per image (two buffers by image parity when they fit)
    the chunk tiles, chunk j's pixel p at ``tile + j * P + p``; ACC: the constant rows at row 0,
    then per image (two halves by parity) one row per chunk."""
    r, c = config.npu_rows, config.npu_cols
    eb = 2 if precision == Precision.FP16 else 1
    elem = ElemType.FP16 if precision == Precision.FP16 else ElemType.INT8
    pixels = g.height * g.width
    nt = -(-ch // c)
    tile = nt * pixels
    bufs = 2 if g.batch > 1 and 1 + 2 * tile <= config.npu_spad_rows else 1
    if 1 + tile > config.npu_spad_rows:
        return None
    ones = np.ones((1, r), np.float16 if precision == Precision.FP16 else np.int8)
    ones_addr = params.add(ones)
    const = np.ascontiguousarray(np.repeat(const[:, :1], c, axis=1))   # C lanes wide
    const_addr = params.add(const)
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=const_addr, dram_stride=4 * const.shape[1],
                    rows=const.shape[0], cols=const.shape[1], local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=ones_addr,
                    dram_stride=r * eb, rows=1, cols=r, local_addr=0)]
    acc0 = const.shape[0]
    # Units of GLOBAL_PAIR chunks of one image (FP16: every chunk of the image): the unit's
    # COMPUTEs pixel-major over its chunks (accumulation chains interleaved, so a COMPUTE
    # seldom waits for the one before it), the next unit's chunk LOADs spread between them,
    # then the unit's STOREs.
    pair = GLOBAL_PAIR if precision == Precision.INT8 else nt
    units = [(n, j0, min(nt, j0 + pair)) for n in range(g.batch) for j0 in range(0, nt, pair)]

    def chunk_load(n, j, p_lo=0, p_hi=pixels):
        base = 1 + (n % bufs) * tile
        return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                      dram_addr=x_addr + (n * pixels * ch + p_lo * ch + j * c) * eb,
                      dram_stride=ch * eb, rows=p_hi - p_lo, cols=min(c, ch - j * c),
                      local_addr=base + j * pixels + p_lo)

    # The first unit's chunks come in slabs of GLOBAL_SLAB * R pixels: slab 0 up front, slab
    # s + 1 spread between slab s's COMPUTEs (nothing else hides the first unit's LOADs).
    slab = GLOBAL_SLAB * r
    words += [chunk_load(units[0][0], j, 0, min(slab, pixels))
              for j in range(units[0][1], units[0][2])]
    for u, (n, j0, j1) in enumerate(units):
        base = 1 + (n % bufs) * tile
        acc = acc0 + (n % 2) * nt
        comp = []
        for s0 in range(0, pixels, slab):
            sc = [encode(Opcode.COMPUTE, precision=precision, accumulate=int(p0 > 0), a_addr=0,
                         w_addr=base + j * pixels + p0, acc_addr=acc + j, m=1,
                         k=min(r, pixels - p0), n=min(c, ch - j * c))
                  for p0 in range(s0, min(pixels, s0 + slab), r) for j in range(j0, j1)]
            s1 = s0 + slab
            if u == 0 and s1 < pixels:
                loads = [chunk_load(n, j, s1, min(pixels, s1 + slab)) for j in range(j0, j1)]
                sgap = max(1, len(sc) // (len(loads) + 1))
                for i, cmd in enumerate(sc):
                    comp.append([cmd])
                    if loads and (i + 1) % sgap == 0:
                        comp[-1].append(loads.pop(0))
                comp[-1] += loads
            else:
                comp += [[cmd] for cmd in sc]
        side = []
        gap = 1
        if u + 1 < len(units):
            nn_, a_, b_ = units[u + 1]
            side = [chunk_load(nn_, j) for j in range(a_, b_)]
            gap = max(1, len(comp) // (len(side) + 1))
            if nn_ % bufs == n % bufs and a_ < j1 and j0 < b_:
                gap = len(comp) + 1     # they overwrite rows this unit reads: after it
        for i, cmds in enumerate(comp):
            words += cmds
            if side and (i + 1) % gap == 0:
                words.append(side.pop(0))
        words += side
        for j in range(j0, j1):
            words.append(encode(Opcode.STORE, **store,
                                dram_addr=out_addr + (n * ch + j * c) * eb,
                                dram_stride=ch * eb, rows=1, cols=min(c, ch - j * c),
                                acc_addr=acc + j, scale_addr=0))
    comp = [w for w in words if w[0] & 0xF == 2]
    macs = g.batch * pixels * ch
    return LayerProgram(words, params.blobs, out_addr, (g.batch, 1, 1, ch),
                        np.dtype(np.float16 if precision == Precision.FP16 else np.int8),
                        macs=macs, array_macs=macs, lane_use=macs / (len(comp) * r * c),
                        notes=[f"{len(comp)} COMPUTEs", f"global pooling over {pixels} pixels"])


def _global_pool_mac(config, g, ch, store, const, params, x_addr, out_addr):
    """INT8 global pooling on the element-wise unit (module docstring), or None when an image's
    chunk does not fit the SPAD. SPAD: row 0 the ones row, then two buffers of one chunk's
    pixels (by chunk parity: the next chunk's LOAD overlaps this chunk's MAC); ACC: the
    constant rows at row 0, then one row per chunk (two halves by image parity)."""
    c, lanes = config.npu_cols, config.npu_lanes
    pixels = g.height * g.width
    nt = -(-ch // c)
    if 1 + 2 * pixels > config.npu_spad_rows or pixels > 0xFFFF:
        return None
    ones_addr = params.add(np.ones((1, lanes), np.int8))
    const = np.ascontiguousarray(np.repeat(const[:, :1], c, axis=1))   # C lanes wide
    const_addr = params.add(const)
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=const_addr, dram_stride=4 * c, rows=const.shape[0], cols=c,
                    local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=ones_addr,
                    dram_stride=lanes, rows=1, cols=lanes, local_addr=0)]
    acc0 = const.shape[0]
    chunks = [(n, j) for n in range(g.batch) for j in range(nt)]

    def load(i):
        n, j = chunks[i]
        return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                      dram_addr=x_addr + n * pixels * ch + j * c, dram_stride=ch,
                      rows=pixels, cols=min(c, ch - j * c), local_addr=1 + (i % 2) * pixels)

    words.append(load(0))
    for i, (n, j) in enumerate(chunks):
        if i + 1 < len(chunks):
            words.append(load(i + 1))
        acc = acc0 + (n % 2) * nt + j
        nn = min(c, ch - j * c)
        words.append(encode(Opcode.ELTWISE, precision=Precision.INT8, op=EltwiseOp.MAX, mac=1,
                            reduce=1, a_addr=1 + (i % 2) * pixels, b_addr=0, acc_addr=acc,
                            m=pixels, n=nn))
        words.append(encode(Opcode.STORE, **store, dram_addr=out_addr + n * ch + j * c,
                            dram_stride=ch, rows=1, cols=nn, acc_addr=acc, scale_addr=0))
    macs = g.batch * pixels * ch
    return LayerProgram(words, params.blobs, out_addr, (g.batch, 1, 1, ch), np.dtype(np.int8),
                        macs=macs, array_macs=perf_macs(words),
                        notes=[f"{len(chunks)} ELTWISE MAC (reduce)",
                               f"global pooling over {pixels} pixels"])


def average_pool_int8_program(config, x_shape, filter_size, *, stride=1, padding="VALID",
                              lo=-128, hi=127, x_addr, out_addr, param_addr):
    """AVERAGE_POOL_2D INT8 (:func:`dure.sim.golden_tflite.average_pool_int8`) as a
    :class:`~dure.sim.layer_program.LayerProgram`; ``x_shape`` (N, H, W, C), windows of up to
    :data:`MAX_WINDOW` taps. The firmware's C port (firmware/npu/npu_pool.c) emits the same
    stream word for word."""
    return _pool(config, x_shape, filter_size, stride, padding, Precision.INT8, lo, hi,
                 x_addr, out_addr, param_addr)


def average_pool_fp16_program(config, x_shape, filter_size, *, stride=1, padding="VALID",
                              lo=None, hi=None, x_addr, out_addr, param_addr):
    """AVERAGE_POOL_2D FP16 (:func:`dure.sim.golden_tflite_fp16.average_pool_fp16`), C port
    as :func:`average_pool_int8_program`'s."""
    return _pool(config, x_shape, filter_size, stride, padding, Precision.FP16, lo, hi,
                 x_addr, out_addr, param_addr)


def _max_pool(config, x_shape, filter_size, stride, padding, precision, lo, hi, x_addr,
              out_addr, param_addr):
    if not config.npu_eltwise:
        raise ValueError(f"config {config.name!r} has no element-wise unit (npu_eltwise)")
    kernel = pair_arg("filter_size", filter_size)
    stride = _check_common(config, x_shape, stride, 1, precision)
    if kernel[0] * kernel[1] > MAX_WINDOW:
        raise ValueError(f"filter_size: window of {kernel[0] * kernel[1]} taps exceeds "
                         f"{MAX_WINDOW}")
    g = geometry(x_shape, kernel, stride, padding)
    cy, cx = _counts(g)
    if min(cy) < 1 or min(cx) < 1:
        raise ValueError("padding: a pooling window lies entirely in the padding")
    lc = min(config.npu_rows, config.npu_cols)
    params = ParamArea(param_addr)
    if precision == Precision.INT8:
        lo, hi = int(lo), int(hi)
        if not -128 <= lo <= hi <= 127:
            raise ValueError(f"lo/hi must satisfy -128 <= lo <= hi <= 127, not ({lo}, {hi})")
        const = np.array([[1 << 30] * lc, [1] * lc], np.int32)     # identity requantization
        const_addr, const_rows = params.add(const), 2
        store = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                     requant=RequantMode.TFLITE_DOUBLE_ROUNDING, zero_point=0,
                     lo=lo & 0xFFFF_FFFF, hi=hi & 0xFFFF_FFFF)
        pad, eb = 0x80, 1
    else:
        const_addr, const_rows = 0, 0
        store = _fp16_store(None, lo, hi)
        pad, eb = 0xFC00, 2
    ch = x_shape[3]
    layer = WalkLayer(
        geo=g, precision=precision, cin=ch, cout=ch, k_chunk=lc, n_chunk=lc, diagonal=True,
        x_addr=x_addr, out_addr=out_addr, pad_value=pad, out_bytes=eb, store=store,
        shared_weight=(None, 0), const_addr=const_addr, const_rows=const_rows,
        const_stride=4 * lc, macs=0, eltwise_max=True)
    plan = plan_walk(config, layer)
    words = walk_descriptors(config, layer, plan)
    ops = sum(1 for w in words if w[0] & 0xF == Opcode.ELTWISE.value)
    return LayerProgram(words, params.blobs, out_addr, (g.batch, g.oh, g.ow, ch),
                        np.dtype(np.float16 if precision == Precision.FP16 else np.int8),
                        plan=plan, notes=[f"{ops} ELTWISE MAX"])


def max_pool_int8_program(config, x_shape, filter_size, *, stride=1, padding="VALID",
                          lo=-128, hi=127, x_addr, out_addr, param_addr):
    """MAX_POOL_2D INT8 (:func:`dure.sim.golden_tflite.max_pool_int8`) as a
    :class:`~dure.sim.layer_program.LayerProgram` of LOAD / ELTWISE MAX / STORE commands;
    ``x_shape`` (N, H, W, C), windows of up to :data:`MAX_WINDOW` taps. The firmware's C port
    (firmware/npu/npu_maxpool.c) emits the same stream word for word."""
    return _max_pool(config, x_shape, filter_size, stride, padding, Precision.INT8, lo, hi,
                     x_addr, out_addr, param_addr)


def max_pool_fp16_program(config, x_shape, filter_size, *, stride=1, padding="VALID",
                          lo=None, hi=None, x_addr, out_addr, param_addr):
    """MAX_POOL_2D FP16 (:func:`dure.sim.golden_tflite_fp16.max_pool_fp16`), C port as
    :func:`max_pool_int8_program`'s."""
    return _max_pool(config, x_shape, filter_size, stride, padding, Precision.FP16, lo, hi,
                     x_addr, out_addr, param_addr)


def global_average_pool_int8_float_scale_program(config, x_shape, *, input_zero_point,
                                                 output_zero_point, scale, lo=-128, hi=127,
                                                 x_addr, out_addr, param_addr):
    """ONNX QLinearGlobalAveragePool's integer path (and QLinearAveragePool whose window is
    the whole unpadded image) as onnxruntime computes it: per image and channel ``acc = sum
    over the H*W pixels of x - zp_in * H*W`` (int32, wrapping) then the ``FLOAT_SCALE`` STORE,
    ``y = clamp(rne(f32(acc) * scale) + zp_out, lo, hi)`` with the one float32 ``scale``
    (``s_x / f32(s_y * f32(H*W))``, computed by the caller). Output (N, 1, 1, C).

    Plan: the ACC row of each channel chunk starts from ``-zp_in * H*W`` (a LOAD of a constant
    row), then COMPUTEs whose A is one SPAD row of ones (``m = 1``) and whose weight rows are R
    pixels of the chunk (``k`` pixels, ``n`` channels) add the pixels, R at a time, exactly
    (int8 times 1, int32 sums; the order of an integer sum does not matter). Raises ValueError
    when an image's chunks do not fit the SPAD, for bad zero points / clamp, a non-finite
    scale, or a build without the fp32 post-processing."""
    if not config.npu_rows:
        raise ValueError(f"config {config.name!r} has no NPU")
    if not config.npu_float_post:
        raise ValueError(f"config {config.name!r} has no fp32 post-processing (FLOAT_SCALE)")
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be (N, H, W, C) of positive sizes, not {x_shape}")
    zi, zo, lo, hi = (int(v) for v in (input_zero_point, output_zero_point, lo, hi))
    for name, v in (("input_zero_point", zi), ("output_zero_point", zo)):
        if not -128 <= v <= 127:
            raise ValueError(f"{name} must lie in [-128, 127], not {v}")
    if not -128 <= lo <= hi <= 127:
        raise ValueError(f"lo/hi must satisfy -128 <= lo <= hi <= 127, not ({lo}, {hi})")
    s = np.float32(scale)
    if not np.isfinite(s):
        raise ValueError(f"scale must be finite, not {scale!r}")
    r, c = config.npu_rows, config.npu_cols
    batch, h, w, ch = (int(v) for v in x_shape)
    pixels = h * w
    nt = -(-ch // c)
    if 1 + nt * pixels > config.npu_spad_rows:
        raise ValueError(f"an image of {pixels} pixels x {nt} channel chunks does not fit the "
                         f"SPAD ({config.npu_spad_rows} rows)")
    params = ParamArea(param_addr)
    ones_addr = params.add(np.ones((1, r), np.int8))
    start = np.int64(-zi) * pixels                           # |zi * pixels| < 2**31 here
    const = np.zeros((2, c), np.int32)                       # row 0: scale, row 1: start
    const[0] = np.full(c, s, np.float32).view(np.int32)
    const[1] = start
    const_addr = params.add(const)
    store = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                 requant=RequantMode.FLOAT_SCALE, zero_point=zo,
                 lo=lo & 0xFFFF_FFFF, hi=hi & 0xFFFF_FFFF)
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=const_addr, dram_stride=4 * c, rows=1, cols=c, local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                    dram_addr=ones_addr, dram_stride=r, rows=1, cols=r, local_addr=0)]
    for n in range(batch):
        acc = 1 + (n % 2) * nt
        for j in range(nt):
            words.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                dram_addr=const_addr + 4 * c, dram_stride=4 * c, rows=1,
                                cols=c, local_addr=acc + j))
            words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                dram_addr=x_addr + n * pixels * ch + j * c, dram_stride=ch,
                                rows=pixels, cols=min(c, ch - j * c),
                                local_addr=1 + j * pixels))
        for p0 in range(0, pixels, r):
            for j in range(nt):
                words.append(encode(Opcode.COMPUTE, precision=Precision.INT8, accumulate=1,
                                    a_addr=0, w_addr=1 + j * pixels + p0, acc_addr=acc + j,
                                    m=1, k=min(r, pixels - p0), n=min(c, ch - j * c)))
        for j in range(nt):
            words.append(encode(Opcode.STORE, **store, dram_addr=out_addr + n * ch + j * c,
                                dram_stride=ch, rows=1, cols=min(c, ch - j * c),
                                acc_addr=acc + j, scale_addr=0))
    computes = sum(1 for x in words if x[0] & 0xF == Opcode.COMPUTE.value)
    macs = batch * pixels * ch
    return LayerProgram(words, params.blobs, out_addr, (batch, 1, 1, ch), np.dtype(np.int8),
                        macs=macs, array_macs=macs, lane_use=macs / (computes * r * c),
                        notes=[f"{computes} COMPUTEs", f"global pooling over {pixels} pixels"])
