"""The float32 arithmetic of QDQ nodes that onnxruntime runs unfused on x86-64.

onnxruntime fuses ``DequantizeLinear -> op -> QuantizeLinear`` groups into its QLinear kernels,
but on x86-64 it does not take int8 activations into QLinearConv / QLinearMatMul / QGemm
(``QDQIsInt8Allowed()`` is false there): first its ``QDQS8ToU8Transformer`` turns an int8
``QuantizeLinear -> DequantizeLinear`` pair into uint8 (zero point + 128) when the
QuantizeLinear has exactly one consumer, that DequantizeLinear, and the DequantizeLinear one
consumer (onnxruntime gives every consumer its own DequantizeLinear first, so a tensor read by
two nodes keeps int8). A Conv whose input or output activation stayed int8, and an Add whose
three activations do not end up of one type, are left as float nodes. This module computes
what onnxruntime computes for them, so the compiler matches it bit for bit
(:func:`conv_nhwc`, :func:`add`, :func:`quantize`):

- ``DequantizeLinear``: ``f32(q - zp) * scale`` (one float32 multiply); the int32 bias:
  ``f32(b) * bias_scale``;
- ``Add``: one float32 addition of the two dequantized operands;
- ``Conv`` (MLAS ``MlasConv``, im2col then SGEMM): the weights as a ``cout x K`` matrix with
  ``K = cin / group * kh * kw`` in ``(ci, kh, kw)`` order, the padded taps 0.0; every output
  is a chain of float32 fused multiply-adds from +0 over ``k`` in that order, restarted every
  ``StrideK`` values of ``k`` and each restarted chain added (float32) to the running sum;
  then the bias is added (float32), then a kept Relu / Clip. ``StrideK`` is the SGEMM's: 128,
  doubled while ``StrideN`` (128, halved alongside, not below 16) halves to at least the
  number of output pixels ``N`` of the GEMM call, or, when ``N >= K``, left at 128 or above
  ``K`` (one chain). ``N`` is the whole image for grouped convolutions and for 1x1 stride-1
  unpadded ones (one GEMM), else the segment of output pixels one thread of onnxruntime's
  intra-op pool takes (``MlasConvPrepare``: ``threads = min(F * N * K / 65536 + 1,
  pool)``, segments of ``ceil(N / threads)`` rounded up to 16);
- ``QuantizeLinear``: ``clamp(rne(v / scale) + zp)`` (one float32 division).

Only ``K`` above 128 makes the chain restarts (and so the thread count) matter;
:data:`ORT_THREADS` is the intra-op pool size onnxruntime takes by default on the machine
(its physical cores; 2 on the project's machines): a program compiled for comparison with
onnxruntime on another machine needs that machine's count (``DURE_ORT_THREADS``).
"""

import os

import numpy as np

__all__ = ["ORT_THREADS", "fma32", "dequantize", "quantize", "add", "conv_nhwc",
           "sgemm_stride_k", "conv_segments", "gemm_segments", "chain_segments"]

def _physical_cores():
    """The machine's physical cores (distinct package / core ids of the online CPUs), as
    onnxruntime sizes its default intra-op pool; the logical CPU count where the topology is
    not readable."""
    import glob

    cores = set()
    for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology"):
        try:
            with open(f"{path}/physical_package_id") as f1, open(f"{path}/core_id") as f2:
                cores.add((f1.read().strip(), f2.read().strip()))
        except OSError:
            return os.cpu_count() or 1
    return len(cores) or os.cpu_count() or 1


#: onnxruntime's default intra-op thread count on this machine (``DURE_ORT_THREADS`` overrides).
ORT_THREADS = int(os.environ.get("DURE_ORT_THREADS", "0")) or _physical_cores()
_STRIDE_N, _STRIDE_K, _THREAD_ALIGN, _THREAD_COMPLEXITY, _MAX_THREADS = 128, 128, 16, 65536, 16


def fma32(a, b, c):
    """float32 ``a * b + c`` rounded once (IEEE fused multiply-add), elementwise: the product
    of two float32 is exact in float64; the sum is rounded to odd in float64 (exact error by
    TwoSum) so that the final rounding to float32 is the correctly rounded one."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    c = np.asarray(c, np.float64)
    p, c = np.broadcast_arrays(p, c)
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)
    even = (s.view(np.int64) & 1) == 0
    fix = (err != 0) & even & np.isfinite(s)
    s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def dequantize(q, scale, zp):
    """``DequantizeLinear``: ``f32(q - zp) * scale`` in float32 (``scale`` / ``zp``
    broadcast, e.g. per channel on the last axis)."""
    d = (np.asarray(q, np.int64) - np.asarray(zp, np.int64)).astype(np.float32)
    return (d * np.asarray(scale, np.float32)).astype(np.float32)


def quantize(v, scale, zp, lo=-128, hi=127):
    """``QuantizeLinear`` to int8 values: ``clamp(rne(v / scale) + zp, lo, hi)``."""
    with np.errstate(all="ignore"):
        r = np.rint((np.asarray(v, np.float32) / np.float32(scale)).astype(np.float32))
    r = np.clip(np.nan_to_num(r, nan=0.0), -2.0 ** 31, 2.0 ** 31 - 1) + int(zp)
    return np.clip(r, lo, hi).astype(np.int8)


def add(a, b):
    """onnxruntime's float ``Add`` of two dequantized operands (float32)."""
    return (np.asarray(a, np.float32) + np.asarray(b, np.float32)).astype(np.float32)


def sgemm_stride_k(n, k):
    """``StrideK`` of MLAS's ``MlasSgemmOperation`` for an ``n``-column, depth-``k`` GEMM."""
    sn, sk = _STRIDE_N, _STRIDE_K
    if n >= k:
        while sk // 2 >= k:
            sn, sk = sn * 2, sk // 2
    else:
        while sn > 16 and sn // 2 >= n:
            sn, sk = sn // 2, sk * 2
    return sk


def conv_segments(filters, n, k, threads=None):
    """The output-pixel segments ``[(start, count)]`` of one ungrouped, non-pointwise MLAS
    convolution (``MlasConvPrepare`` / ``MlasConvTryMultithread``)."""
    pool = ORT_THREADS if threads is None else threads
    cx = float(filters) * float(n) * float(k)
    target = int(cx / _THREAD_COMPLEXITY) + 1 if cx < _THREAD_COMPLEXITY * _MAX_THREADS \
        else _MAX_THREADS
    target = min(target, pool)
    stride = -(-n // target)
    if target > 1:
        stride = (stride + _THREAD_ALIGN - 1) & ~(_THREAD_ALIGN - 1)
    if stride >= n:
        return [(0, n)]
    return [(s, min(stride, n - s)) for s in range(0, n, stride)]


def gemm_segments(m, n, k, threads=None):
    """The column segments ``[(start, count)]`` of one threaded MLAS SGEMM (``MlasGemm``:
    ``m x k`` by ``k x n``): with more columns than rows the columns are split in blocks of 16
    between the threads, else the rows (every thread then sees all ``n`` columns)."""
    pool = ORT_THREADS if threads is None else threads
    cx = float(m) * float(n) * float(k)
    target = int(cx / _THREAD_COMPLEXITY) + 1 if cx < _THREAD_COMPLEXITY * _MAX_THREADS \
        else _MAX_THREADS
    target = min(target, pool)
    if n <= m or target <= 1:
        return [(0, n)]
    blocks = -(-n // _THREAD_ALIGN)
    target = min(target, blocks)
    per, extra = divmod(blocks, target)
    segs = []
    for t in range(target):
        start = (per + 1) * t if t < extra else per * t + extra
        count = per + 1 if t < extra else per
        s0, s1 = start * _THREAD_ALIGN, min(n, (start + count) * _THREAD_ALIGN)
        if s1 > s0:
            segs.append((s0, s1 - s0))
    return segs


def _m1_chain(a, b):
    """MLAS's one-row SGEMM kernel (``M = 1``) over one chain: ``k`` in groups of 4, then 2,
    then 1; each group's products (float32 multiplies, no FMA) summed left to right, then
    added (float32) to the running sum."""
    k = a.shape[0]
    prods = (a[:, None] * b).astype(np.float32)
    out = None
    k0 = 0
    while k0 < k:
        g = 4 if k - k0 >= 4 else (2 if k - k0 >= 2 else 1)
        t = prods[k0]
        for i in range(1, g):
            t = (t + prods[k0 + i]).astype(np.float32)
        out = t if out is None else (out + t).astype(np.float32)
        k0 += g
    return out


def chain_segments(batch, n, filters, k, group=1, pointwise=False, threads=None):
    """``[(start, count, stride_k)]``: the output-pixel segments of one image and group of an
    MLAS convolution (``n`` pixels, ``filters`` per group, depth ``k``) and the FMA chain
    length in each (``k`` for one filter per group: MLAS's one-row kernel, no restarts)."""
    if group > 1 or batch > 1 or filters > n:
        segs = [(0, n)]
    elif pointwise:
        segs = gemm_segments(filters, n, k, threads)
    else:
        segs = conv_segments(filters, n, k, threads)
    return [(s0, c, k if filters == 1 else sgemm_stride_k(c, k)) for s0, c in segs]


def conv_chains(x_shape, w_shape, stride, dilation, pads, group=1, threads=None):
    """:func:`chain_segments` of :func:`conv_nhwc` for an NHWC input of ``x_shape``, weights
    ``(cout, kh, kw, cin / group)``, ``stride``, ``dilation`` and ``pads`` ``(top, left,
    bottom, right)`` (a negative bottom / right: rows / columns never read)."""
    nb, h, wd, _ = x_shape
    cout, kh, kw, cg = w_shape
    pt, pl, pb, pr = (int(p) for p in pads)
    h, wd = h + min(pb, 0), wd + min(pr, 0)
    pb, pr = max(pb, 0), max(pr, 0)
    (sy, sx), (dy, dx) = stride, dilation
    oh = (h + pt + pb - dy * (kh - 1) - 1) // sy + 1
    ow = (wd + pl + pr - dx * (kw - 1) - 1) // sx + 1
    pointwise = kh == kw == 1 and sy == sx == 1 and not any((pt, pl, pb, pr))
    return chain_segments(nb, oh * ow, cout // group, cg * kh * kw, group, pointwise, threads)


def _gemm(w, cols, segments):
    """``w (F x K) @ cols (K x N)`` as the MLAS SGEMM kernels accumulate (module docstring),
    each segment ``(start, count, stride_k)`` of columns with its own chain length."""
    f, k = w.shape
    out = np.zeros((f, cols.shape[1]), np.float32)
    for start, count, sk in segments:
        c = cols[:, start:start + count]
        total = None
        for k0 in range(0, k, sk):
            k1 = min(k, k0 + sk)
            if f == 1:
                acc = _m1_chain(w[0, k0:k1], c[k0:k1])[None, :]
            else:
                acc = np.zeros((f, count), np.float32)
                for kk in range(k0, k1):
                    acc = fma32(w[:, kk:kk + 1], c[kk:kk + 1, :], acc)
            total = acc if total is None else (total + acc).astype(np.float32)
        out[:, start:start + count] = total
    return out


def conv_nhwc(x, w, bias, stride, dilation, pads, group=1, threads=None):
    """onnxruntime's float ``Conv`` (MLAS) of one NHWC float32 image batch.

    ``x``: ``(n, h, w, cin)`` float32; ``w``: ``(cout, kh, kw, cin / group)`` float32;
    ``bias``: ``(cout,)`` float32 or None; ``pads``: ``(top, left, bottom, right)`` (a negative
    bottom / right: input rows / columns never read). Returns ``(n, oh, ow, cout)`` float32
    (before any activation)."""
    x = np.asarray(x, np.float32)
    w = np.asarray(w, np.float32)
    pt, pl, pb, pr = (int(p) for p in pads)
    x = x[:, :x.shape[1] + min(pb, 0), :x.shape[2] + min(pr, 0)]
    pads = (pt, pl, max(pb, 0), max(pr, 0))
    nb, h, wd, cin = x.shape
    cout, kh, kw, cg = w.shape
    if cg * group != cin or cout % group:
        raise ValueError(f"weights {w.shape} do not fit {cin} channels in {group} groups")
    sy, sx = stride
    dy, dx = dilation
    pt, pl, pb, pr = pads
    oh = (h + pt + pb - dy * (kh - 1) - 1) // sy + 1
    ow = (wd + pl + pr - dx * (kw - 1) - 1) // sx + 1
    xp = np.zeros((nb, h + pt + pb, wd + pl + pr, cin), np.float32)
    xp[:, pt:pt + h, pl:pl + wd] = x
    segs = conv_chains((nb, h, wd, cin), w.shape, stride, dilation, pads, group, threads)
    fo = cout // group
    out = np.zeros((nb, oh * ow, cout), np.float32)
    for b in range(nb):
        for g in range(group):
            xg = xp[b, :, :, g * cg:(g + 1) * cg]
            # K rows in (ci, kh, kw) order, N columns the output pixels in raster order
            taps = np.stack([xg[i * dy:i * dy + sy * (oh - 1) + 1:sy,
                                j * dx:j * dx + sx * (ow - 1) + 1:sx]
                             for i in range(kh) for j in range(kw)], axis=0)
            cols = taps.reshape(kh * kw, oh * ow, cg).transpose(2, 0, 1).reshape(
                cg * kh * kw, oh * ow)
            wm = w[g * fo:(g + 1) * fo].transpose(0, 3, 1, 2).reshape(fo, -1)
            out[b, :, g * fo:(g + 1) * fo] = _gemm(wm, cols, segs).T
    if bias is not None:
        out = (out + np.asarray(bias, np.float32)).astype(np.float32)
    return out.reshape(nb, oh, ow, cout)
