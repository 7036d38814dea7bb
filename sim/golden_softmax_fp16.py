"""Golden model of SOFTMAX in FP16 (float models run in FP16), defined in integer fixed point
so that the core's C kernel (firmware/npu/cpu_ops_softmax.c, RV32IM integer instructions only)
computes it bit for bit and fast (a few hundred cycles per value instead of a soft-float
``exp``). No library ``exp`` and no float rounding is involved until the one RNE rounding of
each output to fp16.

``softmax_fp16(x, beta)`` over the last axis of an fp16 array, per row; ``beta`` must round to
a positive finite binary32 (``ValueError`` otherwise):

- a row holding a NaN or a +Inf, or made only of -Inf, gives the canonical NaN (0x7E00)
  everywhere (``Inf - Inf`` in the float definition); a -Inf value's output is +0.0;
- ``m`` = the row's maximum; ``D_i = (m - x_i) * 2**24``, an exact integer ``< 2**41``
  (fp16 values are multiples of ``2**-24``);
- ``beta * log2(e)`` as ``wm * 2**wexp``: ``P = bs * LOG2E_Q`` (``f32(beta) = bs * 2**be``,
  ``LOG2E_Q = round(log2(e) * 2**31)``), ``wm`` = the top 32 bits of ``P`` (truncated),
  ``wexp = be - 31 + (bits of P dropped)``;
- ``Z_i = floor(dm_i * wm * 2**(dsh_i + wexp + 3))`` with ``dm_i`` the top 32 bits of ``D_i``
  (truncated, ``dsh_i`` bits dropped): ``beta * (m - x_i) * log2(e)`` in units of ``2**-27``.
  ``Z_i >= 2**32`` (``2**-(Z/2**27) < 2**-32``) gives ``e_i = 0``;
- ``2**-(Z/2**27)`` as ``E_i * 2**(-31 - I_i)``: ``I_i = Z_i >> 27``, ``j`` the next 6 bits,
  ``u`` = the low 21 bits times 32 (the remainder below ``2**-6`` in Q32), ``t = mulhu(u, C3)``,
  ``t = mulhu(u, C2 - t)``, ``t = mulhu(u, C1 - t)`` (``mulhu(a, b) = (a * b) >> 32``,
  ``C_k = round(ln(2)**k / k! * 2**32)``: ``t`` ~ ``1 - 2**-r``), ``E_i = T[j] - mulhu(T[j],
  t)`` with ``T[j] = round(2**(-j/64) * 2**31)``; ``E_i`` lies in ``(2**30, 2**31]``;
- ``S = sum_i floor(E_i * 2**(9 - I_i))`` (the sum in units of ``2**-40``, exact integers);
  ``sb`` = the bit length of ``S``, ``Sm = S >> (sb - 32)``, ``R = floor((2**63 - 1) / Sm)``;
- ``y_i = fp16_rne(E_i * R * 2**(-22 - I_i - sb))``: the exact integer product rounded once
  to fp16 (subnormals kept; ties to even).

Accuracy (docs/numerics.md; measured by tests/sim/test_golden_softmax_fp16.py): before the
final rounding every value is within ``ERROR_BOUND`` relative of the exact softmax of the fp16
inputs, so each output is the exact softmax correctly rounded to fp16 unless that lies within
``ERROR_BOUND`` of an fp16 rounding boundary, and always within half an fp16 ulp plus
``ERROR_BOUND`` relative.
"""

from decimal import Decimal, localcontext

import numpy as np

__all__ = ["softmax_fp16", "softmax_fp16_unrounded", "exp2_neg", "beta_weight", "CONSTANTS",
           "EXP2_TABLE", "ERROR_BOUND", "Z_FRAC_BITS"]

Z_FRAC_BITS = 27            # Z is beta * (m - x) * log2(e) in units of 2**-27
SUM_FRAC_BITS = 40          # S in units of 2**-40
#: Relative error bound of the values before the final rounding (as stated in docs/numerics.md;
#: measured by the tests): the output is within half an fp16 ulp plus this much of the exact
#: softmax, plus the terms dropped below 2**-32 of the maximum (at most depth * 2**-32).
ERROR_BOUND = 2.0 ** -24


def _constants():
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        two31, two32 = Decimal(2) ** 31, Decimal(2) ** 32
        table = [int((-(Decimal(j) / 64) * ln2).exp() * two31 + Decimal("0.5"))
                 for j in range(64)]
        consts = {"LOG2E_Q": int(two31 / ln2 + Decimal("0.5")),
                  "C1": int(ln2 * two32 + Decimal("0.5")),
                  "C2": int(ln2 ** 2 / 2 * two32 + Decimal("0.5")),
                  "C3": int(ln2 ** 3 / 6 * two32 + Decimal("0.5"))}
    return consts, table


#: The integer constants (the C kernel's literals are checked against these) and T[0..63].
CONSTANTS, EXP2_TABLE = _constants()
_T = np.array(EXP2_TABLE, np.uint64)
_U64 = np.uint64


def _bitlen(v):
    """Bit length of each element of a uint64 array (0 for 0)."""
    v = np.asarray(v, np.uint64)
    n = np.zeros(v.shape, np.int64)
    for k in range(64):
        n += (v >> _U64(k)) != 0
    return n


def _mulhu(a, b):
    return (np.asarray(a, np.uint64) * np.asarray(b, np.uint64)) >> _U64(32)


def beta_weight(beta):
    """``(wm, wexp)`` with ``beta * log2(e) ~ wm * 2**wexp``, ``wm`` 32 bits (docstring)."""
    with np.errstate(over="ignore"):
        b = np.float32(beta)
    if not (np.isfinite(b) and b > 0):
        raise ValueError(f"softmax_fp16 needs a positive finite beta, not {beta!r}")
    bits = int(b.view(np.uint32))
    e, frac = (bits >> 23) & 0xFF, bits & 0x7FFFFF
    bs, be = (frac | 1 << 23, e - 150) if e else (frac, -149)
    p = bs * CONSTANTS["LOG2E_Q"]
    drop = p.bit_length() - 32
    wm = p >> drop if drop >= 0 else p << -drop
    return wm, be - 31 + drop


def exp2_neg(z):
    """``(E, I)`` for ``Z`` (uint64 array, each ``< 2**32``): ``2**-(Z / 2**27) ~ E * 2**(-31
    - I)`` (docstring)."""
    z = np.asarray(z, np.uint64)
    if np.any(z >> _U64(32)):
        raise ValueError("exp2_neg takes Z < 2**32")
    i = (z >> _U64(Z_FRAC_BITS)).astype(np.int64)
    j = ((z >> _U64(21)) & _U64(63)).astype(np.int64)
    u = (z & _U64((1 << 21) - 1)) << _U64(5)
    t = _mulhu(u, CONSTANTS["C3"])
    t = _mulhu(u, _U64(CONSTANTS["C2"]) - t)
    t = _mulhu(u, _U64(CONSTANTS["C1"]) - t)
    tj = _T[j]
    return tj - _mulhu(tj, t), i


def _fp16_rne(v, p):
    """fp16 bits of ``v * 2**p`` (v uint64 in [2**61, 2**63)), rounded once, ties to even."""
    msb = _bitlen(v) - 1
    lsb = np.maximum(msb + p - 10, -24)
    shift = lsb - p                                   # >= 51
    big = shift >= 64
    sh = np.where(big, 63, shift).astype(np.uint64)
    q = v >> sh
    rem = v & ((_U64(1) << sh) - _U64(1))
    half = _U64(1) << (sh - _U64(1))
    q = q + ((rem > half) | ((rem == half) & ((q & _U64(1)) == 1))).astype(np.uint64)
    q = np.where(big, _U64(0), q)
    return (q.astype(np.int64) + ((lsb + 24) << 10)).astype(np.uint16)


def _rows(x, beta):
    """Per-row integer pipeline: (E, I, alive, R, sb, bad) over a 2-D fp16 array."""
    wm, wexp = beta_weight(beta)
    x32 = x.astype(np.float32)
    bad = (np.isnan(x32) | (x32 == np.inf)).any(axis=-1) | (x32 == -np.inf).all(axis=-1)
    finite = np.isfinite(x32)
    xi = np.where(finite, x.astype(np.float64) * 2.0 ** 24, -(2.0 ** 50)).astype(np.int64)
    m = xi.max(axis=-1, keepdims=True)
    d = np.where(finite, m - xi, 0).astype(np.uint64)
    dsh = np.maximum(_bitlen(d) - 32, 0)
    dm = d >> dsh.astype(np.uint64)
    prod = dm * _U64(wm)                              # < 2**64, exact
    k = dsh + wexp + 3
    left = np.clip(k, 0, 63).astype(np.uint64)
    right = np.clip(-k, 0, 63).astype(np.uint64)
    over = (k > 0) & (((prod >> np.clip(32 - k, 0, 63).astype(np.uint64)) != 0) | (k >= 32))
    z = np.where(k >= 0, prod << left, np.where(-k >= 64, _U64(0), prod >> right))
    alive = finite & ~((prod != 0) & over) & ((z >> _U64(32)) == 0)
    e, i = exp2_neg(np.where(alive, z, 0).astype(np.uint64))
    e = np.where(alive, e, _U64(0))
    s = np.zeros(x.shape[:-1], np.uint64)
    for c in range(x.shape[-1]):                      # exact: the order does not matter
        s = s + ((e[..., c] << _U64(SUM_FRAC_BITS - 31)) >> i[..., c].astype(np.uint64))
    s = np.where(bad, _U64(1) << _U64(40), s)         # any value: those rows are NaN
    sb = _bitlen(s)
    sm = s >> (sb - 32).astype(np.uint64)
    r = (_U64((1 << 63) - 1) // sm)
    return e, i, alive, r, sb, bad


def softmax_fp16(x, beta=1.0):
    """SOFTMAX of an fp16 array over its last axis (module docstring), fp16 out."""
    x = np.asarray(x)
    if x.dtype != np.float16 or x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError("softmax_fp16 takes a float16 array with a non-empty last axis")
    x2 = x.reshape(-1, x.shape[-1])
    e, i, alive, r, sb, bad = _rows(x2, beta)
    v = e * r[:, None]
    v = np.where(alive, v, _U64(1) << _U64(62))
    y = _fp16_rne(v, -22 - i - sb[:, None])
    y = np.where(alive, y, np.uint16(0))
    y = np.where(bad[:, None], np.uint16(0x7E00), y)
    return y.view(np.float16).reshape(x.shape)


def softmax_fp16_unrounded(x, beta=1.0):
    """The values ``E_i * R * 2**(-22 - I_i - sb)`` before the final fp16 rounding, as float64
    (exact to ~2**-52 relative), for measuring the definition's error; NaN for NaN rows."""
    x = np.asarray(x)
    x2 = x.reshape(-1, x.shape[-1])
    e, i, alive, r, sb, bad = _rows(x2, beta)
    v = (e * r[:, None]).astype(np.float64) * np.exp2((-22 - i - sb[:, None]).astype(float))
    v = np.where(alive, v, 0.0)
    return np.where(bad[:, None], np.nan, v).reshape(x.shape)
