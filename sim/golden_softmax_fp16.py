"""Golden model of SOFTMAX in FP16 (float models run in FP16), defined so that the core's C
kernel (firmware/npu/cpu_ops_softmax.c, integer-only soft-float) computes it bit for bit.

Every step is one IEEE binary32 operation rounded to nearest even (subnormals kept), in the
order written; numpy's float32 scalar / array operations are exactly those. No library ``exp``
is involved: :func:`exp_f32` is the project's own binary32 exponential (below), within ~2 ulp
of the exact value, so FP16 outputs stay within an fp16 rounding of the float32 runtime's.

``exp_f32(d)``:

- NaN gives the canonical NaN; ``d < -104`` (and ``-Inf``) gives +0.0; ``d > 89`` (and
  ``+Inf``) gives +Inf;
- ``n = rint(d * L2E)`` (ties to even; ``L2E = f32(log2(e))``), an integer in [-151, 129];
- ``r = (d - f32(n) * LN2_HI) - f32(n) * LN2_LO`` with ``LN2_HI = 0x3F317200`` (its product
  with ``n`` is exact) and ``LN2_LO = 0x35BFBE8E``, each product and difference rounded;
- ``p = C7``, then ``p = p * r + C_k`` for k = 6 .. 0 (Horner, a multiply then an add each,
  ``C_k = f32(1 / k!)``);
- ``y = (p * 2**n1) * 2**n2`` with ``n1 = floor(n / 2)``, ``n2 = n - n1`` (the first product
  is exact, the second rounds once: subnormal results and overflow to +Inf come out right).

``softmax_fp16(x, beta)`` over the last axis of an fp16 array, per row of ``D`` values:

- a row holding a NaN gives the canonical NaN (0x7E00) everywhere;
- ``m`` = the row's maximum (as float32, exact); ``d_i = f32(beta) * (f32(x_i) - m)``;
  ``e_i = exp_f32(d_i)``; ``s`` = the sequential sum ``((0 + e_0) + e_1) + ...``;
  ``y_i = fp16_rne(e_i / s)`` (one binary32 division, then RNE to fp16 with overflow to Inf);
  a NaN result (``+Inf`` in the row: ``Inf - Inf``) is the canonical NaN.
"""

import numpy as np

__all__ = ["exp_f32", "softmax_fp16", "EXP_CONSTANTS"]

_F = np.float32
L2E = _F(1.4426950408889634)
LN2_HI = np.uint32(0x3F317200).view(np.float32)
LN2_LO = np.uint32(0x35BFBE8E).view(np.float32)
_COEF = [_F(1.0 / f) for f in (1, 1, 2, 6, 24, 120, 720, 5040)]        # C0 .. C7
#: The constants as binary32 bit patterns (the C kernel's literals are checked against these).
EXP_CONSTANTS = {"L2E": int(L2E.view(np.uint32)), "LN2_HI": 0x3F317200,
                 "LN2_LO": 0x35BFBE8E,
                 **{f"C{k}": int(c.view(np.uint32)) for k, c in enumerate(_COEF)}}


def _pow2(k):
    return (np.asarray(k, np.int64) + 127).astype(np.uint32) << np.uint32(23)


def exp_f32(d):
    """The project's binary32 exponential of a float32 array (module docstring), as float32."""
    d = np.asarray(d, np.float32)
    with np.errstate(all="ignore"):
        low, high, nan = d < _F(-104), d > _F(89), np.isnan(d)
        dd = np.where(low | high | nan, _F(0), d).astype(np.float32)
        n = np.rint(dd * L2E).astype(np.float32)          # float32 multiply, then RNE
        nf = n.astype(np.float32)
        r = (dd - nf * LN2_HI).astype(np.float32)
        r = (r - nf * LN2_LO).astype(np.float32)
        p = np.full_like(r, _COEF[7])
        for c in reversed(_COEF[:7]):
            p = (p * r).astype(np.float32)
            p = (p + c).astype(np.float32)
        ni = n.astype(np.int64)
        n1 = np.floor_divide(ni, 2)
        s1, s2 = _pow2(n1).view(np.float32), _pow2(ni - n1).view(np.float32)
        y = ((p * s1).astype(np.float32) * s2).astype(np.float32)
    y = np.where(low, _F(0), y)
    y = np.where(high, _F(np.inf), y)
    return np.where(nan, np.uint32(0x7FC00000).view(np.float32), y).astype(np.float32)


def softmax_fp16(x, beta=1.0):
    """SOFTMAX of an fp16 array over its last axis (module docstring), fp16 out."""
    x = np.asarray(x)
    if x.dtype != np.float16 or x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError("softmax_fp16 takes a float16 array with a non-empty last axis")
    beta = _F(beta)
    x32 = x.astype(np.float32)
    with np.errstate(all="ignore"):
        m = x32.max(axis=-1, keepdims=True)
        d = (beta * (x32 - m).astype(np.float32)).astype(np.float32)
        e = exp_f32(d)
        s = np.zeros(e.shape[:-1] + (1,), np.float32)
        for i in range(e.shape[-1]):
            s = (s + e[..., i:i + 1]).astype(np.float32)
        y = (e / s).astype(np.float32).astype(np.float16)
    bad = np.isnan(y) | np.isnan(x32).any(axis=-1, keepdims=True)
    return np.where(bad, np.uint16(0x7E00).view(np.float16), y)
