"""The output side of a convolution layer lowered by :mod:`dure.sim.conv_plan`: zero points,
the STORE fields of each requantization mode, the constant rows the STORE reads from ACC and
the bias with the input zero point folded in.

- :func:`_int8_store` / :func:`_float_scale_store` / :func:`_fp16_store`: the STORE fields
  (output type, accumulator type, requantization mode, zero point, clamp bounds as 32-bit
  words); bad bounds raise ValueError.
- :func:`_requant_rows`: per chunk of ``n_chunk`` output channels the TFLite multiplier row
  then the shift row (int32; shift in [-31, 30], where the STORE saturates outside).
- :func:`_scale_rows`: per chunk one float32 scale row (FP16 scale, FLOAT_SCALE).
- :func:`_folded_int8_bias`: ``bias - zp_in * sum(w)`` over all taps, wrapping int32.
"""

import numpy as np
from dure.rtl.npu.commands import OutType, Precision, RequantMode

from .golden_args import vector_arg, zero_point_arg
from .golden_fixedpoint import wrap_int32


def _requant_rows(multiplier, shift, cout, n_chunk):
    """Constant rows of the TFLite STORE modes: per chunk, the multiplier row then the shift
    row (``n_chunk`` int32 lanes each)."""
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (cout,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (cout,))
    if m.min() < -(1 << 31) or m.max() >= 1 << 31:
        raise ValueError("multiplier must be int32")
    if s.min() < -31 or s.max() > 30:
        raise ValueError(f"shift must lie in [-31, 30], not [{s.min()}, {s.max()}]")
    nt = -(-cout // n_chunk)
    rows = np.zeros((2 * nt, n_chunk), np.int32)
    for j in range(nt):
        sl = slice(j * n_chunk, min(cout, (j + 1) * n_chunk))
        rows[2 * j, :sl.stop - sl.start] = m[sl]
        rows[2 * j + 1, :sl.stop - sl.start] = s[sl]
    return rows


def _scale_rows(scale, cout, n_chunk):
    nt = -(-cout // n_chunk)
    s = vector_arg("scale", scale, np.float32, cout)
    rows = np.zeros((nt, n_chunk), np.float32)
    for j in range(nt):
        part = s[j * n_chunk:(j + 1) * n_chunk]
        rows[j, :len(part)] = part
    return rows


def _f32_bits(v):
    return int(np.float32(v).view(np.uint32))


def _int8_store(output_zero_point, lo, hi, rounding):
    lo, hi = int(lo), int(hi)
    if not (-128 <= lo <= hi <= 127):
        raise ValueError(f"lo/hi must satisfy -128 <= lo <= hi <= 127, not ({lo}, {hi})")
    return dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1, requant=rounding,
                zero_point=zero_point_arg("output_zero_point", output_zero_point),
                lo=lo & 0xFFFF_FFFF, hi=hi & 0xFFFF_FFFF)


def _fp16_store(scale, lo, hi):
    store = dict(out=OutType.FP16, acc_type=Precision.FP16, scale=int(scale is not None))
    if lo is not None or hi is not None:
        flo = np.float32(-np.inf if lo is None else lo)
        fhi = np.float32(np.inf if hi is None else hi)
        if np.isnan(flo) or np.isnan(fhi) or flo > fhi:
            raise ValueError(f"lo/hi must be non-NaN with lo <= hi, not ({lo}, {hi})")
        store.update(clamp=1, lo=_f32_bits(flo), hi=_f32_bits(fhi))
    return store


def _float_scale_store(output_zero_point, lo, hi):
    return {**_int8_store(output_zero_point, lo, hi, RequantMode.TFLITE_DOUBLE_ROUNDING),
            "requant": RequantMode.FLOAT_SCALE}


def _float_scale_vector(scale, cout):
    s = np.broadcast_to(np.asarray(scale, np.float32), (cout,)) if np.ndim(scale) == 0 else \
        vector_arg("scale", scale, np.float32, cout)
    if not np.all(np.isfinite(s)):
        raise ValueError("scale must be finite")
    return s


def _folded_int8_bias(bias, zi, wsum, cout):
    b = np.zeros(cout, np.int64) if bias is None else \
        vector_arg("bias", bias, np.int32, cout).astype(np.int64)
    return wrap_int32(b - zi * wsum)
