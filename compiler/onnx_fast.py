"""The exact fast path of the float32 convolutions onnxruntime runs unfused (``ort_float``).

:mod:`.onnx_float` models what onnxruntime computes for a QDQ Conv it leaves unfused on x86-64:
``y = clamp(rne(fl(v / s_y)) + z_y)`` where ``v`` is MLAS's float32 sum of the dequantized
products plus the bias. Computing ``v`` in soft float costs the core ~390 cycles per MAC. The
fast path gets the same bits from the exact integer sums instead:

1. the NPU computes ``S = sum (x - z_x) * w`` per output exactly
   (:func:`dure.sim.conv_plan.conv2d_int8_sum_program`, raw INT32 STORE);
2. per output the core (and :func:`decide`, the same integer arithmetic in numpy) computes
   ``X = S * M_j + B_j``, the exact value ``T = S * s_x * s_w[j] / s_y + b[j] / s_y`` in
   fixed point (``2^-F_j`` units), and a rigorous integer bound
   ``E = K0_j + K2_j * A + K1_j * |S|`` on ``|fl(v / s_y) - X 2^-F_j|`` (derivation:
   docs/onnx_fast_path.md); ``fl(v / s_y)`` then rounds to an integer in
   ``[ceil((X - E) 2^-F - 1/2), floor((X + E) 2^-F + 1/2)]``, and when both ends give the
   same clamped output, that is the output. ``A`` is first the per-channel worst case
   ``max|x - z_x| * sum |w|`` (``KC_j = K0_j + K2_j * A_max``);
3. otherwise the bound is redone with the exact ``A = sum |x - z_x| |w|`` of that output
   (integer MACs);
4. the outputs still undecided are recomputed with the exact float32 chain (the slow kernel).

Applies to ungrouped CONV_2D with weight zero point 0, dilation 1 and normal float32 scales
(:func:`fast_params` returns None otherwise: the slow kernel then computes the layer).

Per-channel table (:func:`fast_table`, little-endian 32-bit words): ``cout`` rows of 10
words ``M, F, B (2 words), K1, K2, K0 (2), KC (2)`` (int64 as low then high word), then
``|w|`` as uint8 ``(cout, kh, kw, cin)``.
"""

import dataclasses
import math
from fractions import Fraction

import numpy as np

from .ir import OpKind, explicit_padding, pair
from .onnx_float import conv_chains

__all__ = ["FastParams", "fast_params", "fast_table", "decide", "exact_a", "sums", "finish",
           "TABLE_WORDS"]

_U = Fraction(1, 1 << 24)       # unit roundoff of binary32
_ETA = Fraction(1, 1 << 150)    # absolute error of one rounding into the subnormal range
TABLE_WORDS = 10                # per output channel (module docstring)
_COLS = ("M", "F", "B", "K1", "K2", "K0", "KC")


@dataclasses.dataclass
class FastParams:
    """What the fast path of one convolution needs (module docstring)."""

    w: np.ndarray           # int8 (cout, kh, kw, cin), zero point 0
    table: dict             # int64 (cout,) arrays "M", "F", "B", "K1", "K2", "K0", "KC"
    zx: int
    zy: int
    lo: int                 # the output clamp, inside [-128, 127]
    hi: int
    stride: tuple
    pads: tuple             # (top, left, bottom, right); negative: rows / columns unread
    padding: object         # the operator's own padding attribute (for the NPU planner)
    roundings: int          # m of the bound: roundings on any product's path


def _normal(s):
    s = np.asarray(s, np.float64)
    return bool(np.all(np.isfinite(s)) and np.all(s >= 2.0 ** -126) and np.all(s < 2.0 ** 100))


def fast_params(graph, op):
    """:class:`FastParams` of an ``ort_float`` convolution, or None when the fast path does
    not apply (grouped or depthwise, weight zero point, dilation, scales outside the normal
    range, depth too large for the bound)."""
    from .reference import constant, onnx_float_conv_params
    T = graph.tensors
    a = op.attrs
    if not a.get("ort_float") or op.kind is not OpKind.CONV_2D or int(a.get("ort_group", 1)) \
            != 1 or pair(a["dilation"]) != (1, 1):
        return None
    x, wt, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    w = constant(graph, op.inputs[1])
    if w.dtype != np.int8 or np.any(np.asarray(wt.quant.zero_point) != 0):
        return None
    cout, kh, kw, cin = w.shape
    sw = np.broadcast_to(np.asarray(wt.quant.scale, np.float32), (cout,))
    sx, sy = np.float32(x.quant.s), np.float32(y.quant.s)
    if not (_normal(sw) and _normal(sx) and _normal(sy)):
        return None
    wg, bd, _ = onnx_float_conv_params(graph, op)
    want = (w.astype(np.float32) * sw[:, None, None, None]).astype(np.float32)
    if not np.array_equal(wg, want):    # the float weights are the one-rounding products
        return None
    stride = pair(a["stride"])
    pads = tuple(int(p) for p in explicit_padding(a["padding"], x.shape[1], x.shape[2], kh, kw,
                                                  stride, (1, 1))[2])
    k = kh * kw * cin
    chains = conv_chains(x.shape, wg.shape, stride, (1, 1), pads, 1)
    sk = min(c[2] for c in chains)
    m = k + -(-k // sk) + 2             # FMAs / adds of a chain, chain sums, bias
    if m * _U > Fraction(1, 1 << 10):
        return None
    zx = int(x.quant.zp)
    table = _table(sx, sw, sy, bd, k, m, w, zx)
    if table is None:
        return None
    lo, hi = a.get("lo"), a.get("hi")
    lo = -128 if lo is None else max(int(lo), -128)
    hi = 127 if hi is None else min(int(hi), 127)
    return FastParams(w, table, zx, int(y.quant.zp), lo, hi, stride, pads, a["padding"], m)


def _ceil(q):
    return -((-q.numerator) // q.denominator)


def _table(sx, sw, sy, bd, k, m, w, zx):
    """The per-channel integers of the bound (docs/onnx_fast_path.md), exact (Fractions), or
    None when a value leaves the ranges the 64-bit arithmetic is checked for."""
    u, eta = _U, _ETA
    gamma = m * u / (1 - m * u)
    fy = Fraction(float(sy))
    xmax = max(zx + 128, 127 - zx)
    rows = {c: [] for c in _COLS}
    for j in range(w.shape[0]):
        mu = Fraction(float(sx)) * Fraction(float(sw[j])) / fy
        beta = Fraction(0) if bd is None else Fraction(float(bd[j])) / fy
        f = 31 - math.frexp(float(mu))[1]       # mu * 2^F in [2^30, 2^31)
        if round(mu * 2 ** f) >= 1 << 31:
            f -= 1
        if not 1 <= f <= 62:
            return None
        one = Fraction(1 << f)
        k2 = _ceil(one * (1 + u) * mu * ((2 * u + u * u) + gamma * (1 + u) ** 2))
        k1 = _ceil(one * u * mu) + 1
        k0 = _ceil(one * ((1 + u) * gamma * abs(beta) + u * abs(beta) +
                          (1 + u) * (2 * k + 4) * eta / fy + eta)) + 1
        wsum = int(np.abs(w[j].astype(np.int64)).sum())
        kc = k0 + k2 * xmax * wsum
        vals = dict(M=round(mu * one), F=f, B=round(beta * one), K1=k1, K2=k2, K0=k0, KC=kc)
        smax = xmax * wsum
        if max(k1, k2) >= 1 << 31 or abs(vals["B"]) + smax * (vals["M"] + k1) + kc + \
                k2 * smax + one >= 1 << 62:
            return None
        for c in _COLS:
            rows[c].append(vals[c])
    return {c: np.asarray(v, np.int64) for c, v in rows.items()}


def fast_table(p):
    """The bytes of the per-channel table and ``|w|`` (module docstring)."""
    t = p.table

    def lo(v):
        return v & 0xFFFF_FFFF

    def hi(v):
        return (v >> 32) & 0xFFFF_FFFF
    words = np.stack([lo(t["M"]), t["F"], lo(t["B"]), hi(t["B"]), t["K1"], t["K2"],
                      lo(t["K0"]), hi(t["K0"]), lo(t["KC"]), hi(t["KC"])], axis=1)
    return words.astype("<u4").tobytes() + \
        np.abs(p.w.astype(np.int16)).astype(np.uint8).tobytes()


def _taps(x, p, fill):
    """``(n, oh, ow, kh, kw, cin)`` int64 windows of ``x`` padded with ``fill``."""
    pt, pl, pb, pr = p.pads
    kh, kw = p.w.shape[1:3]
    sy, sx = p.stride
    x = x[:, :x.shape[1] + min(pb, 0), :x.shape[2] + min(pr, 0)]   # rows / columns never read
    n, h, wd, c = x.shape
    xp = np.full((n, h + pt + max(pb, 0), wd + pl + max(pr, 0), c), fill, np.int64)
    xp[:, pt:pt + h, pl:pl + wd] = x
    oh = (xp.shape[1] - kh) // sy + 1
    ow = (xp.shape[2] - kw) // sx + 1
    return np.stack([np.stack([xp[:, i:i + sy * (oh - 1) + 1:sy, j:j + sx * (ow - 1) + 1:sx]
                               for j in range(kw)], axis=3) for i in range(kh)], axis=3)


def sums(x, p):
    """``S = sum (x - z_x) * w`` per output, int64 ``(n, oh, ow, cout)`` (what the NPU
    stores)."""
    t = _taps(np.asarray(x, np.int64) - p.zx, p, 0)
    return np.tensordot(t, p.w.astype(np.int64), axes=([3, 4, 5], [1, 2, 3]))


def exact_a(x, p):
    """``A = sum |x - z_x| * |w|`` per output over the taps inside the image."""
    t = np.abs(_taps(np.asarray(x, np.int64) - p.zx, p, 0))
    return np.tensordot(t, np.abs(p.w.astype(np.int64)), axes=([3, 4, 5], [1, 2, 3]))


def decide(s, a, p):
    """``(y, decided)`` from the sums ``s`` (int, last axis the channel) and ``a``: None for
    the per-channel worst case, else the exact ``A`` per output (module docstring); int64
    arithmetic, as the C kernel's."""
    t = p.table
    s = np.asarray(s, np.int64)
    x = s * t["M"] + t["B"]
    e = (t["KC"] if a is None else t["K0"] + t["K2"] * np.asarray(a, np.int64)) + \
        t["K1"] * np.abs(s)
    h = np.left_shift(np.int64(1), t["F"] - 1)
    n_lo = -np.right_shift(-(x - e - h), t["F"])        # ceil((X - E) 2^-F - 1/2)
    n_hi = np.right_shift(x + e + h, t["F"])            # floor((X + E) 2^-F + 1/2)
    lim = 1 << 20
    q_lo = np.clip(np.clip(n_lo, -lim, lim) + p.zy, p.lo, p.hi)
    q_hi = np.clip(np.clip(n_hi, -lim, lim) + p.zy, p.lo, p.hi)
    return q_lo.astype(np.int8), q_lo == q_hi


def finish(graph, op, x, s, p=None, slow=None):
    """The output of an ``ort_float`` convolution from its input ``x`` and sums ``s``, as the
    ``CONV_FAST_ONNX`` C kernel computes it, and ``{"outputs", "crude", "exact",
    "recomputed"}``: how many outputs each tier decided. ``slow()`` gives the slow path's
    whole output (default: :func:`.reference.run_op` on ``x``)."""
    p = p or fast_params(graph, op)
    y, done = decide(s, None, p)
    crude = int(done.sum())
    if not done.all():
        y2, done2 = decide(s, exact_a(x, p), p)
        y = np.where(done, y, y2)
        exact = int((done2 & ~done).sum())
        done = done | done2
    else:
        exact = 0
    rest = int((~done).sum())
    if rest:
        if slow is None:
            from .reference import run_op
            full = run_op(graph, op, {op.inputs[0]: x})
        else:
            full = slow()
        y = np.where(done, y, full)
    return y.astype(np.int8), {"outputs": int(y.size), "crude": crude, "exact": exact,
                               "recomputed": rest}
