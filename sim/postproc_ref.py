"""Reference of :class:`~dure.rtl.npu.postproc.PostProcess` on bit patterns, built on
:mod:`dure.sim.golden`.

:func:`postprocess` maps a block of ACC rows with one set of STORE parameters (as one STORE
command has) to the 32-bit output words the hardware emits. Every legal combination with
finite scales is computed by the golden functions themselves; this module only converts bit
patterns and composes them:

- INT8 -> INT8: ``golden.requantize`` (``FLOAT_SCALE``), or in a TFLite ``requant`` mode
  ``golden_requant_tflite.requantize_tflite`` of the multiplier lanes (``scale``, int32) and
  the shift lanes (``shift``, int32, saturated to [-31, 30] as the hardware does); INT8 ->
  INT32: the bits.
- INT8 -> FP16: ``golden.dequantize_fp16``, or with clamp ``golden.fp16_postprocess`` of
  ``f32(acc)`` (the same f32 product, then the clamp, then ``to_fp16``).
- FP16 -> FP16: ``golden.fp16_postprocess``.
- FP16 -> FP32 (no golden function): ``acc * scale`` (one float32 multiply) and the clamp
  written as ``fp16_postprocess`` does, NaN canonical; the raw bits if neither is set.

Scales that are not finite (the golden model refuses them, but an ACC row may hold anything)
follow the same numpy expressions with IEEE semantics; a NaN product (0 x Inf) requantizes as
0, as ``Fp32ToInt8Rne`` does.
"""

import numpy as np
from dure.rtl.npu.commands import STORE_COMBINATIONS, OutType, RequantMode
from dure.rtl.npu.isa import Precision

from . import golden
from .golden_requant_tflite import SHIFT_MAX, SHIFT_MIN, requantize_tflite

__all__ = ["postprocess", "LEGAL", "tflite_shift"]

#: :data:`~dure.rtl.npu.commands.STORE_COMBINATIONS` as (acc_type, out) -> whether scale is
#: required (True), forbidden (False) or optional (None).
LEGAL = {pair: {"required": True, "forbidden": False, "optional": None}[rule]
         for pair, rule in STORE_COMBINATIONS.items()}


def _f32(words):
    return np.asarray(words, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _int8_bound(word):
    value = int(word) & 0xFF
    return value - 256 if value >= 128 else value


def _clamp(y, lo, hi):
    """The clamp of golden.fp16_postprocess (IEEE comparisons, sequential)."""
    with np.errstate(invalid="ignore"):
        y = np.where(y < lo, lo, y).astype(np.float32)
        return np.where(y > hi, hi, y).astype(np.float32)


def tflite_shift(words):
    """The shifts a TFLite-mode STORE uses: the int32 lanes of ACC row ``scale_addr + 1``,
    saturated to [-31, 30]."""
    lanes = np.asarray(words, dtype=np.uint64).astype(np.uint32).view(np.int32)
    return np.clip(lanes, SHIFT_MIN, SHIFT_MAX).astype(np.int32)


def postprocess(acc, scale, *, acc_type, out, scale_en, clamp_en, zero_point=0, lo=0, hi=0,
                numpy_only=False, requant=RequantMode.FLOAT_SCALE, shift=None):
    """Output words of a block of rows that share their STORE parameters.

    Parameters
    ----------
    acc : array_like
        Accumulator bit patterns (int32 or fp32 bits), shape (rows, cols).
    scale : array_like
        fp32 bit patterns of the per-column scales, shape (cols,).
    acc_type : Precision
    out : OutType
    scale_en, clamp_en : bool
    zero_point : int
        int8 zero point (INT8 output).
    lo, hi : int
        Descriptor words 5 and 6 (bits 7:0 as int8 for INT8 output, else fp32 bits).
    numpy_only : bool
        Compute with the numpy expressions below instead of the golden functions, as is
        always done for non-finite scales (the tests check that both agree where the golden
        model is defined).
    requant : RequantMode
        INT8 -> INT8 only: ``FLOAT_SCALE`` (``scale`` holds fp32 scales) or a TFLite mode
        (``scale`` holds the int32 multipliers, ``shift`` the int32 shift lanes).
    shift : array_like or None
        Bit patterns of the shift lanes, shape (cols,); required in a TFLite mode.

    Returns
    -------
    numpy.ndarray
        uint32, shape (rows, cols): int8 / fp16 in the low bits (upper bits zero), or 32 bits.
    """
    acc_type, out = Precision(acc_type), OutType(out)
    if (acc_type, out) not in LEGAL:
        raise ValueError(f"acc_type {acc_type.name} with out {out.name} is not a legal STORE")
    need = LEGAL[(acc_type, out)]
    if need is not None and bool(scale_en) != need:
        raise ValueError(f"{acc_type.name} -> {out.name} {'needs' if need else 'forbids'} "
                         f"scale")
    words = np.asarray(acc, dtype=np.uint64).astype(np.uint32)
    if words.ndim != 2:
        raise ValueError(f"acc must be 2-D (rows, cols), not of shape {words.shape}")
    requant = RequantMode(requant)
    if requant != RequantMode.FLOAT_SCALE:
        if (acc_type, out) != (Precision.INT8, OutType.INT8):
            raise ValueError(f"{requant.name} needs INT8 -> INT8, not {acc_type.name} -> "
                             f"{out.name}")
        mult = np.asarray(scale, dtype=np.uint64).astype(np.uint32).view(np.int32)
        if shift is None or mult.shape != (words.shape[1],):
            raise ValueError(f"{requant.name} needs scale and shift of shape "
                             f"({words.shape[1]},)")
        y = requantize_tflite(words.view(np.int32), mult, tflite_shift(shift),
                              int(zero_point), _int8_bound(lo), _int8_bound(hi),
                              single_rounding=requant == RequantMode.TFLITE_SINGLE_ROUNDING)
        return y.view(np.uint8).astype(np.uint32)
    scale = _f32(scale)
    if scale.shape != (words.shape[1],):
        raise ValueError(f"scale must have shape ({words.shape[1]},), not {scale.shape}")
    use_golden = bool(np.all(np.isfinite(scale))) and not numpy_only
    flo, fhi = (np.uint32(int(b) & 0xFFFF_FFFF).view(np.float32) for b in (lo, hi))
    if out == OutType.INT32:
        return words.copy()
    if out == OutType.INT8:
        acc_i = words.view(np.int32)
        lo8, hi8 = _int8_bound(lo), _int8_bound(hi)
        if use_golden:
            y = golden.requantize(acc_i, scale, int(zero_point), lo8, hi8)
        else:
            with np.errstate(all="ignore"):
                x = acc_i.astype(np.float32) * scale
            x = np.clip(np.rint(np.nan_to_num(x, nan=0.0)), -1024.0, 1024.0)
            y = np.clip(x.astype(np.int32) + int(zero_point), lo8, hi8).astype(np.int8)
        return y.view(np.uint8).astype(np.uint32)
    x = words.view(np.int32).astype(np.float32) if acc_type == Precision.INT8 else \
        words.view(np.float32)
    if out == OutType.FP16:
        if use_golden:
            if acc_type == Precision.INT8 and not clamp_en:
                y = golden.dequantize_fp16(words.view(np.int32), scale)
            else:
                y = golden.fp16_postprocess(x, scale if scale_en else None,
                                            flo if clamp_en else None,
                                            fhi if clamp_en else None)
        else:
            with np.errstate(all="ignore"):
                y = x * scale if scale_en else x
            y = golden.to_fp16(_clamp(y, flo, fhi) if clamp_en else y)
        return y.view(np.uint16).astype(np.uint32)
    # FP32 output: no golden function; the steps of fp16_postprocess without to_fp16.
    if not scale_en and not clamp_en:
        return words.copy()
    y = x
    if scale_en:
        with np.errstate(all="ignore"):
            y = y * scale
    if clamp_en:
        y = _clamp(y, flo, fhi)
    return golden.canonicalize_nan(y).view(np.uint32).copy()
