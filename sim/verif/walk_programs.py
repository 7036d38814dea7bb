"""NPU command programs that exercise walked COMPUTEs, fill LOADs and 2-D placement.

:func:`conv_tap_program` is a direct convolution as the implicit-GEMM contract of
:mod:`dure.rtl.npu.commands` intends it: an NHWC input tile held one pixel per SPAD row with its
padding border (fill LOADs paint the border, 2-D LOADs place the image rows with the row pitch
``Wp``), one walked COMPUTE per (kernel tap, input-channel chunk, output-channel tile) with the
taps accumulated in ACC, and STOREs of raw int32 / fp32 accumulators in NHWC order. Image
tiles of ``tile_rows`` output rows are double buffered in SPAD and ACC, and the next tile's
LOADs are queued before this tile's COMPUTEs, so they and the STOREs of the previous tile
overlap the COMPUTEs.

:func:`random_walk_program` draws random SPAD contents, walked and diagonal COMPUTEs and the
STOREs of every ACC row written. :func:`conv_reference` is an independent numpy convolution
with the accumulation order of the tap program (for FP16 bit-exactness).

These are test programs (fixed layouts, raw outputs), not the product's conv planner.
"""

from dataclasses import dataclass

import numpy as np
from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.descriptor import encode

__all__ = ["ConvProgram", "conv_tap_program", "conv_reference", "random_walk_program"]


def _ceil(a, b):
    return -(-a // b)


@dataclass
class ConvProgram:
    """Descriptors and memory image of a convolution; the output (raw int32 / fp32 bits,
    NHWC, ``(out_h, out_w, out_c)``) is at byte ``out_at`` of the image."""
    descriptors: list
    image: bytearray
    base: int
    out_at: int
    out_shape: tuple
    macs: int            # multiply-accumulates of the convolution (out pixels * taps * C * O)
    computes: int

    def output(self, memory):
        """The output array (uint32 bit patterns) read from a final memory image."""
        size = 4 * int(np.prod(self.out_shape))
        return np.frombuffer(bytes(memory[self.out_at:self.out_at + size]),
                             np.uint32).reshape(self.out_shape)


def conv_tap_program(config, x, w, *, stride=1, pad=None, tile_rows=None, base=0x4000_0000,
                     fill_value=0):
    """A direct convolution ``y = conv(x, w)`` of one NHWC image as walked COMPUTEs.

    Parameters
    ----------
    x : numpy.ndarray
        int8 or float16, ``(H, W, C)``.
    w : numpy.ndarray
        Same dtype, ``(KH, KW, C, O)`` (HWIO).
    stride : int
    pad : int, optional
        Padding on every side (default SAME for odd kernels at stride 1: ``(KH - 1) // 2`` rows,
        ``(KW - 1) // 2`` columns).
    tile_rows : int, optional
        Output rows per image tile (default: as many as SPAD and ACC allow, double buffered).
    fill_value : int
        The padding value's bits (INT8 zero point in bits 7:0, or fp16 bits).
    """
    precision = Precision.FP16 if x.dtype == np.float16 else Precision.INT8
    elem = ElemType.FP16 if precision == Precision.FP16 else ElemType.INT8
    eb = x.itemsize
    h, wd, c = x.shape
    kh, kw, wc, o = w.shape
    if wc != c or w.dtype != x.dtype:
        raise ValueError("w must be (KH, KW, C, O) of x's dtype")
    ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if pad is None else (pad, pad)
    oh = (h + 2 * ph - kh) // stride + 1
    ow = (wd + 2 * pw - kw) // stride + 1
    rows, cols = config.npu_rows, config.npu_cols
    chunks = _ceil(c, rows)
    ntiles = _ceil(o, min(cols, config.npu_lanes))
    nt_w = min(cols, config.npu_lanes)
    wp = wd + 2 * pw
    taps = kh * kw
    w_rows = taps * c                       # SPAD rows of one N tile's weights
    if tile_rows is None:
        tile_rows = oh
        while True:
            in_rows = (tile_rows - 1) * stride + kh
            spad_need = 2 * chunks * in_rows * wp + ntiles * w_rows
            acc_need = 2 * ntiles * tile_rows * ow
            if (spad_need <= config.npu_spad_rows and acc_need <= config.npu_acc_rows
                    and tile_rows * ow < 1 << 16) or tile_rows == 1:
                break
            tile_rows -= 1
        tile_rows = _ceil(oh, _ceil(oh, tile_rows))      # balanced tiles
    in_rows = (tile_rows - 1) * stride + kh
    buf_rows = chunks * in_rows * wp
    w_base = 2 * buf_rows
    if w_base + ntiles * w_rows > config.npu_spad_rows or \
            2 * ntiles * tile_rows * ow > config.npu_acc_rows:
        raise ValueError("the convolution does not fit SPAD / ACC with this tile size")

    # Main memory: x (NHWC), w (HWIO), y (NHWC raw words).
    x_at = 0
    w_at = _ceil(x.nbytes, 64) * 64
    out_at = w_at + _ceil(w.nbytes, 64) * 64
    image = bytearray(out_at + oh * ow * o * 4)
    image[x_at:x_at + x.nbytes] = x.tobytes()
    image[w_at:w_at + w.nbytes] = w.tobytes()

    d = []
    spad_elem = dict(target=LoadTarget.SPAD, elem=elem)
    # Weights: per N tile, every (ky, kx, ci) row's lanes n0 .. n0 + nt_w - 1.
    for nt in range(ntiles):
        n = min(nt_w, o - nt * nt_w)
        d.append(encode(Opcode.LOAD, **spad_elem, dram_addr=base + w_at + nt * nt_w * eb,
                        dram_stride=o * eb, rows=w_rows, cols=n, local_addr=w_base + nt * w_rows))
    # The left and right padding columns of both buffers (never overwritten by image rows).
    fill = dict(**spad_elem, fill=1, fill_value=fill_value)
    for buf in range(2):
        for chunk in range(chunks):
            at = buf * buf_rows + chunk * in_rows * wp
            kc = min(rows, c - chunk * rows)
            for col in [*range(pw), *range(pw + wd, wp)]:
                d.append(encode(Opcode.LOAD, **fill, rows=in_rows, cols=kc,
                                local_addr=at + col, local_cols=1, local_groups=in_rows,
                                local_row_step=wp))
    computes = 0
    loads, work = [], []                     # per tile: its LOADs; its COMPUTEs and STOREs
    for tile, oy0 in enumerate(range(0, oh, tile_rows)):
        th = min(tile_rows, oh - oy0)
        buf = (tile % 2) * buf_rows
        acc_base = (tile % 2) * ntiles * tile_rows * ow
        y_first = oy0 * stride - ph                  # input row of the tile's SPAD row 0
        need = (th - 1) * stride + kh
        tl, tw = [], []
        for chunk in range(chunks):
            at = buf + chunk * in_rows * wp
            kc = min(rows, c - chunk * rows)
            lo, hi = max(0, y_first), min(h, y_first + need)
            # Padding rows above and below the image: whole SPAD rows of Wp pixels.
            for r0, r1 in ((y_first, min(lo, y_first + need)), (max(hi, y_first), y_first + need)):
                if r1 > r0:
                    tl.append(encode(Opcode.LOAD, **fill, rows=(r1 - r0) * wp, cols=kc,
                                     local_addr=at + (r0 - y_first) * wp))
            if hi > lo:                              # image rows, placed with pitch Wp
                tl.append(encode(Opcode.LOAD, **spad_elem,
                                 dram_addr=base + x_at + (lo * wd * c + chunk * rows) * eb,
                                 dram_stride=c * eb, rows=(hi - lo) * wd, cols=kc,
                                 local_addr=at + (lo - y_first) * wp + pw, local_cols=wd,
                                 local_groups=hi - lo, local_row_step=wp))
        first = True
        for ky in range(kh):
            for kx in range(kw):
                for chunk in range(chunks):
                    kc = min(rows, c - chunk * rows)
                    for nt in range(ntiles):
                        n = min(nt_w, o - nt * nt_w)
                        tw.append(encode(
                            Opcode.COMPUTE, precision=precision, accumulate=not first,
                            a_addr=buf + chunk * in_rows * wp + ky * wp + kx,
                            w_addr=w_base + nt * w_rows + (ky * kw + kx) * c + chunk * rows,
                            acc_addr=acc_base + nt * tile_rows * ow, m=th * ow, k=kc, n=n,
                            a_cols=ow, a_rows=th, a_col_step=stride, a_row_step=stride * wp))
                        computes += 1
                    first = False
        out_type = OutType.FP32 if precision == Precision.FP16 else OutType.INT32
        for nt in range(ntiles):
            n = min(nt_w, o - nt * nt_w)
            tw.append(encode(Opcode.STORE, out=out_type, acc_type=precision,
                             dram_addr=base + out_at + (oy0 * ow * o + nt * nt_w) * 4,
                             dram_stride=o * 4, rows=th * ow, cols=n,
                             acc_addr=acc_base + nt * tile_rows * ow))
        loads.append(tl)
        work.append(tw)
    # Software pipelining: the next tile's LOADs go before this tile's COMPUTEs, so the
    # dispatcher (in-order front, one pending slot per unit) issues them while these run.
    d += loads[0]
    for tile in range(len(work)):
        if tile + 1 < len(loads):
            d += loads[tile + 1]
        d += work[tile]
    return ConvProgram(d, image, base, out_at, (oh, ow, o), oh * ow * taps * c * o, computes)


def conv_reference(x, w, *, stride=1, pad=None, tile_chunk=8, fill_value=0):
    """Independent reference of :func:`conv_tap_program`'s output (uint32 bit patterns).

    INT8: the exact int32 sum (wrapping). FP16: binary32 sums in the program's order: for each
    tap (ky, kx), for each input channel in order (chunks of ``tile_chunk`` = the array's rows
    keep that order), ``acc = acc + x * w`` from +0.0, NaN canonical at the end.
    """
    h, wd, c = x.shape
    kh, kw, _, o = w.shape
    ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if pad is None else (pad, pad)
    if x.dtype == np.float16:
        padded = np.full((h + 2 * ph, wd + 2 * pw, c),
                         np.uint16(fill_value).view(np.float16), np.float16)
    else:
        padded = np.full((h + 2 * ph, wd + 2 * pw, c), np.int8(np.uint8(fill_value & 0xFF)),
                         np.int8)
    padded[ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - kh) // stride + 1
    ow = (wd + 2 * pw - kw) // stride + 1
    if x.dtype != np.float16:
        acc = np.zeros((oh, ow, o), np.int64)
        for ky in range(kh):
            for kx in range(kw):
                patch = padded[ky:ky + (oh - 1) * stride + 1:stride,
                               kx:kx + (ow - 1) * stride + 1:stride].astype(np.int64)
                acc += patch @ w[ky, kx].astype(np.int64)
        return (acc & 0xFFFF_FFFF).astype(np.uint32)
    acc = np.zeros((oh, ow, o), np.float32)
    with np.errstate(all="ignore"):
        for ky in range(kh):
            for kx in range(kw):
                patch = padded[ky:ky + (oh - 1) * stride + 1:stride,
                               kx:kx + (ow - 1) * stride + 1:stride].astype(np.float32)
                wt = w[ky, kx].astype(np.float32)
                for ci in range(c):
                    acc = acc + patch[:, :, ci:ci + 1] * wt[ci][np.newaxis, np.newaxis, :]
    bits = acc.view(np.uint32).copy()
    bits[np.isnan(acc)] = 0x7FC0_0000
    return bits


def random_walk_program(config, rng, *, commands=24, base=0x4000_0000, fp16=True, pitch=None,
                        eltwise=False):
    """Random SPAD contents (INT8 and FP16 values with Inf / NaN / -0.0), random walked,
    diagonal and linear COMPUTEs (with and without accumulate), random fill and placed LOADs,
    then STOREs of the ACC rows (raw words). Returns ``(descriptors, image, out_at, out_rows)``:
    the STOREs write ``out_rows`` rows of ``npu_cols`` words at ``out_at``. ``pitch``: every
    placement and walk has that row step, inside the first ``8 * pitch`` SPAD rows, with
    narrow column windows that meet or miss each other (the column-window hazards of
    ``config.npu_row_hazard``), and the LOADs are half of the commands. ``eltwise``: about
    half of the walks are INT8 ELTWISE MACs instead (one tap, or a ``pair`` MAC whose second
    tap reads the walk ``tap_step`` rows on) on the element-wise unit."""
    rows, cols, lanes = config.npu_rows, config.npu_cols, config.npu_lanes
    spad_rows = min(config.npu_spad_rows, 256)
    acc_rows = min(config.npu_acc_rows, 128)
    src = np.zeros((spad_rows, lanes), np.uint16)
    ints = rng.integers(-128, 128, (spad_rows, lanes)).astype(np.int16).view(np.uint16)
    halves = rng.normal(0, 2, (spad_rows, lanes)).astype(np.float16)
    flat = halves.reshape(-1)
    pick = rng.random(flat.shape) < 0.04
    flat[pick] = rng.choice(np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 6e-8], np.float16),
                            pick.sum())
    src[:] = np.where(rng.random((spad_rows, 1)) < 0.5, ints, halves.view(np.uint16))
    out_at = _ceil(src.nbytes, 64) * 64
    image = bytearray(out_at + acc_rows * cols * 4)
    image[:src.nbytes] = src.tobytes()
    d = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=base,
                dram_stride=lanes * 2, rows=spad_rows, cols=lanes, local_addr=0),
         encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                fill_value=0, rows=acc_rows, cols=cols, local_addr=0)]
    precisions = [Precision.INT8, Precision.FP16] if fp16 else [Precision.INT8]
    for _ in range(commands):
        kind = rng.random()
        if kind < (0.5 if pitch else 0.15):             # a fill or placed LOAD into SPAD
            lc, groups = int(rng.integers(1, 5)), int(rng.integers(1, 5))
            step = int(rng.integers(0, 12))
            at = int(rng.integers(0, spad_rows - (groups - 1) * step - lc + 1))
            if pitch:
                lc, step = min(lc, pitch), pitch
                at = int(rng.integers(0, (8 - groups) * pitch))
            filled = rng.random() < 0.5
            elem = ElemType(int(rng.integers(0, 2)))
            d.append(encode(
                Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, fill=filled,
                fill_value=int(rng.integers(0, 1 << 32)) if filled else 0,
                dram_addr=0 if filled else base + int(rng.integers(0, 64)) * 2,
                dram_stride=0 if filled else lanes * 2, rows=lc * groups,
                cols=int(rng.integers(1, lanes + 1)), local_addr=at, local_cols=lc,
                local_groups=groups, local_row_step=step))
            continue
        k, n = int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))
        walk = rng.random() < 0.75
        if walk:
            a_cols, a_rows = int(rng.integers(1, 9)), int(rng.integers(1, 9))
            col_step, row_step = int(rng.choice([0, 1, 2, 3])), int(rng.integers(0, 40))
            if a_rows > 1:      # the window must fit in SPAD: shorten the row step if not
                row_step = min(row_step, (spad_rows - 1 - (a_cols - 1) * col_step)
                               // (a_rows - 1))
            if pitch:
                col_step, row_step = int(rng.integers(1, 3)), pitch
                a_cols = min(a_cols, (pitch - 1) // col_step + 1)
                a_rows = min(a_rows, 4)
            m = a_cols * a_rows
            span = (a_rows - 1) * row_step + (a_cols - 1) * col_step + 1
            walk_fields = dict(a_cols=a_cols, a_rows=a_rows, a_col_step=col_step,
                               a_row_step=row_step)
        else:
            m = int(rng.integers(1, 40))
            span, walk_fields = m, {}
        if eltwise and walk and rng.random() < 0.5:
            pair = rng.random() < 0.3
            step = int(rng.integers(1, pitch or 8)) if pair else 0
            top = max(1, (8 * pitch if pitch else spad_rows) - span - step + 1)
            extra = dict(pair=1, tap_step=step) if pair else {}
            d.append(encode(
                Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, precision=Precision.INT8,
                accumulate=bool(rng.random() < 0.6), a_addr=int(rng.integers(0, top)),
                b_addr=int(rng.integers(0, spad_rows - 1)),
                acc_addr=int(rng.integers(0, acc_rows - m + 1)), m=m,
                n=int(rng.integers(1, min(lanes, cols) + 1)), **walk_fields, **extra))
            continue
        d.append(encode(
            Opcode.COMPUTE, precision=precisions[int(rng.integers(0, len(precisions)))],
            accumulate=bool(rng.random() < 0.6), diagonal=bool(rng.random() < 0.3),
            a_addr=int(rng.integers(0, (8 * pitch if pitch and walk else spad_rows) - span + 1)),
            w_addr=int(rng.integers(0, spad_rows - k + 1)),
            acc_addr=int(rng.integers(0, acc_rows - m + 1)), m=m, k=k, n=n, **walk_fields))
    d.append(encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                    dram_addr=base + out_at, dram_stride=cols * 4, rows=acc_rows, cols=cols,
                    acc_addr=0))
    return d, image, out_at, acc_rows
