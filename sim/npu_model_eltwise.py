"""Lane arithmetic of the ELTWISE command (``ELTWISE`` in :mod:`dure.rtl.npu.commands`): the
golden functions :class:`~dure.sim.npu_model.NpuModel` applies to the lanes of a command's rows
(INT8 ADD, MAX in both precisions, the INT8 and FP16 MACs)."""

import numpy as np
from dure.rtl.npu.commands import Precision

from . import golden
from .golden_fixedpoint import rounding_divide_by_pot, saturating_rounding_doubling_high_mul

__all__ = ["eltwise_add_int8", "eltwise_max", "eltwise_mac_int8", "eltwise_mac_fp16",
           "ADD_LEFT_SHIFT"]

#: ELTWISE ADD's left shift of ``x - zp`` (TFLite's 20 for 8-bit inputs).
ADD_LEFT_SHIFT = 20
_CANONICAL_NAN32 = 0x7FC0_0000


def _s32(bits):
    bits = int(bits) & 0xFFFF_FFFF
    return bits - (1 << 32) if bits >> 31 else bits


def eltwise_add_int8(a, b, zp_a, zp_b, mult_a, mult_b, rshift_a, rshift_b):
    """ELTWISE ADD on int8 arrays ``a``, ``b``: ``s(a) + s(b)`` as int32 (see ``ELTWISE`` in
    :mod:`dure.rtl.npu.commands`), with ``s(x) = RoundingDivideByPOT(
    SaturatingRoundingDoublingHighMul((x - zp) << 20, mult), rshift)``; ``mult_*`` are int32
    values (or their 32-bit patterns), ``rshift_*`` in [0, 31]."""
    def scaled(x, zp, mult, rshift):
        v = (np.asarray(x, np.int64) - int(zp)) << ADD_LEFT_SHIFT
        return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(v, _s32(mult)),
                                      int(rshift)).astype(np.int64)
    total = scaled(a, zp_a, mult_a, rshift_a) + scaled(b, zp_b, mult_b, rshift_b)
    return total.astype(np.int32)             # |total| < 2**29: no wrap


def eltwise_mac_int8(acc_bits, x, w, accumulate, reduce=False, x2=None, w2=None):
    """ELTWISE MAC (INT8): the new uint32 ACC lane patterns, ``init + x[i] * w`` per row i of
    the int8 rows ``x`` with the int8 weight row ``w`` (int32, wrapping), ``init`` the old
    patterns ``acc_bits`` with ``accumulate``, else 0; with ``reduce`` one row, the old row plus
    (``accumulate``) the sum over i. A ``pair`` MAC also adds ``x2[i] * w2`` (the second tap's
    rows and weight row). See ``ELTWISE`` in :mod:`dure.rtl.npu.commands`."""
    prod = np.asarray(x, np.int64) * np.asarray(w, np.int64)[None, :]
    if x2 is not None:
        prod = prod + np.asarray(x2, np.int64) * np.asarray(w2, np.int64)[None, :]
    if reduce:
        prod = prod.sum(axis=0, keepdims=True)
    if accumulate:
        prod = prod + np.asarray(acc_bits, np.uint32).view(np.int32)
    return (prod & 0xFFFF_FFFF).astype(np.uint32)


def eltwise_mac_fp16(acc_bits, x, w, accumulate, x2=None, w2=None):
    """ELTWISE MAC (FP16): the new uint32 ACC lane patterns, :func:`dure.sim.golden.
    lanes_mac_fp16` of the float16 rows ``x`` and weight row ``w`` (and ``x2``, ``w2`` of a
    ``pair`` MAC) from ``init`` = the old patterns ``acc_bits`` as fp32 with ``accumulate``,
    else +0.0. No ``reduce`` (refused for FP16). See ``ELTWISE`` in
    :mod:`dure.rtl.npu.commands`."""
    x = np.asarray(x, np.float16)
    init = np.asarray(acc_bits, np.uint32).view(np.float32).copy() if accumulate else \
        np.zeros(x.shape, np.float32)
    res = golden.lanes_mac_fp16(init, x, np.asarray(w, np.float16),
                                None if x2 is None else np.asarray(x2, np.float16),
                                None if w2 is None else np.asarray(w2, np.float16))
    return res.view(np.uint32).astype(np.uint32)


def eltwise_max(acc_bits, x, precision, accumulate):
    """ELTWISE MAX: the new uint32 ACC lane patterns from the old ones (``acc_bits``) and the
    SPAD operands ``x`` (int8 values for INT8, float16 for FP16); see ``ELTWISE`` in
    :mod:`dure.rtl.npu.commands`."""
    if Precision(precision) == Precision.INT8:
        v = np.asarray(x, np.int64)
        if accumulate:
            v = np.maximum(v, np.asarray(acc_bits, np.uint32).view(np.int32))
        return (v & 0xFFFF_FFFF).astype(np.uint32)
    v = np.asarray(x, np.float16).astype(np.float32)
    if accumulate:
        cur = np.asarray(acc_bits, np.uint32).view(np.float32)
        with np.errstate(invalid="ignore"):
            res = np.maximum(cur, v)                        # NaN if either is NaN
        zeros = (cur == 0) & (v == 0)
        res = np.where(zeros & ~(np.signbit(cur) & np.signbit(v)), np.float32(0.0), res)
        res = np.where(zeros & np.signbit(cur) & np.signbit(v), np.float32(-0.0), res)
        nan = np.isnan(cur) | np.isnan(v)
    else:
        res, nan = v, np.isnan(v)
    bits = res.astype(np.float32).view(np.uint32)
    return np.where(nan, np.uint32(_CANONICAL_NAN32), bits).astype(np.uint32)
