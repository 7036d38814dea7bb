"""What a job's layers compute, per :mod:`dure.sim.golden`: :func:`reference` for a GEMM layer
(:meth:`dure.sim.npu_job.Job.gemm`), :func:`reference_conv2d` for a convolution layer
(:meth:`dure.sim.npu_job.Job.conv2d`) through :func:`im2col`, the matrix ``npu_conv2d``
builds, and :func:`conv_out_size`."""

import numpy as np

from . import golden
from .npu_job_table import LEGAL_OUT

__all__ = ["reference", "conv_out_size", "im2col", "reference_conv2d"]


def reference(precision, a, b, *, out_dtype, bias=None, scale=None, zero_point=0, lo=None,
              hi=None):
    """The layer's output per :mod:`dure.sim.golden` (the STORE table composed of it).

    ``lo``/``hi`` as in :meth:`~dure.sim.npu_job.Job.gemm` (INT8 output: ints, default full
    range; float outputs: floats or None for no bound)."""
    if precision == "int8":
        acc = golden.gemm_int8(a, b, bias)
        if out_dtype == "int32":
            return acc
        if out_dtype == "int8":
            return golden.requantize(acc, scale, zero_point,
                                     -128 if lo is None else lo, 127 if hi is None else hi)
        if lo is None and hi is None:
            return golden.dequantize_fp16(acc, scale)
        # the same f32 product, then the clamp, then fp16
        return golden.fp16_postprocess(acc.astype(np.float32), scale, lo, hi)
    acc = golden.gemm_fp16(a, b, bias)
    if out_dtype == "fp16":
        return golden.fp16_postprocess(acc, scale, lo, hi)
    y = acc
    with np.errstate(all="ignore"):
        if scale is not None:
            y = (y * scale).astype(np.float32)
        if lo is not None:
            y = np.where(y < np.float32(lo), np.float32(lo), y).astype(np.float32)
        if hi is not None:
            y = np.where(y > np.float32(hi), np.float32(hi), y).astype(np.float32)
    return golden.canonicalize_nan(y)


def conv_out_size(size, kernel, stride, pad):
    """Output height (or width) of a convolution: ``(size + 2 pad - kernel) // stride + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


def im2col(x, kh, kw, stride=1, pad=0, pad_value=0):
    """The im2col matrix of an NHWC ``x`` as ``npu_conv2d`` builds it: one row per output pixel
    in (image, oy, ox) order, ``kh*kw*cin`` columns in (ky, kx, ci) order, padding pixels equal
    to ``pad_value`` (cast to x's dtype: +0.0 for float16 with the default 0)."""
    batch, h, w, cin = x.shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    padded = np.full((batch, h + 2 * pad, w + 2 * pad, cin), pad_value, dtype=x.dtype)
    padded[:, pad:pad + h, pad:pad + w, :] = x
    cols = np.empty((batch, oh, ow, kh, kw, cin), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            cols[:, :, :, ky, kx, :] = padded[:, ky:ky + stride * (oh - 1) + 1:stride,
                                              kx:kx + stride * (ow - 1) + 1:stride, :]
    return cols.reshape(batch * oh * ow, kh * kw * cin)


def reference_conv2d(precision, x, weights, *, stride=1, pad=0, pad_value=0, bias=None,
                     scale=None, zero_point=0, lo=None, hi=None):
    """A :meth:`~dure.sim.npu_job.Job.conv2d` layer's output per :mod:`dure.sim.golden`, NHWC
    ``(batch, oh, ow, cout)``: :func:`reference` of the GEMM of ``im2col(x)`` with the HWIO
    weights as a ``(kh*kw*cin, cout)`` matrix (FP16: accumulated over k = (ky, kx, ci) in that
    order), with int8 output for INT8 and fp16 for FP16."""
    kh, kw, cin, cout = weights.shape
    cols = im2col(x, kh, kw, stride, pad, pad_value)
    y = reference(precision, cols, np.ascontiguousarray(weights).reshape(kh * kw * cin, cout),
                  out_dtype=LEGAL_OUT[precision][0], bias=bias, scale=scale,
                  zero_point=zero_point, lo=lo, hi=hi)
    batch, h, w = x.shape[:3]
    return y.reshape(batch, conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad),
                     cout)
