"""The exact fast path of the float32 convolutions onnxruntime runs unfused (``ort_float``).

:mod:`.onnx_float` models what onnxruntime computes for a QDQ Conv it leaves unfused on x86-64:
``y = clamp(rne(fl(v / s_y)) + z_y)`` where ``v`` is MLAS's float32 sum of the dequantized
products plus the bias. Computing ``v`` in soft float costs the core ~390 cycles per MAC. The
fast path gets the same bits from the exact integer sums instead:

1. the NPU computes ``S = sum (x - z_x) * w`` per output exactly
   (:func:`dure.sim.conv_plan.conv2d_int8_sum_program`, raw INT32 STORE);
2. per output the core (and :func:`finish`, the same float32 operations in numpy) computes
   ``T ~ S * s_x * s_w[j] / s_y + b[j] / s_y`` and a rigorous bound ``E2`` on
   ``|fl(v / s_y) - T|`` (derivation: docs/onnx_fast_path.md); when ``[T - E2, T + E2]``
   holds no rounding boundary (``|T - rint(T)| + E2 < 1/2``), or lies wholly below the
   lower / above the upper clamp edge, the output is decided from ``T`` alone;
3. otherwise the bound is redone with the exact ``A = sum |x - z_x| |w|`` of that output
   (integer MACs, instead of the per-channel worst case ``A <= max|x - z_x| * sum |w|``);
4. the outputs still undecided are recomputed with the exact float32 chain (the slow kernel).

Applies to ungrouped CONV_2D with weight zero point 0, dilation 1 and normal float32 scales
(:func:`fast_params` returns None otherwise: the slow kernel then computes the layer).

Per-channel table (:func:`fast_table`, little-endian): ``cout`` rows of 5 binary32 words
``m, bt, e1, e0, ec`` (``m = f32(s_x s_w / s_y)``, ``bt = f32(b / s_y)``, ``e1`` the bound per
unit of ``A``, ``e0`` the constant part, ``ec = e1 * A_max + e0`` with the per-channel worst
case, all rounded up), then ``|w|`` as uint8 ``(cout, kh, kw, cin)``.
"""

import dataclasses

import numpy as np

from .ir import OpKind, explicit_padding, pair
from .onnx_float import conv_chains

__all__ = ["FastParams", "fast_params", "fast_table", "decide", "exact_a", "sums", "finish",
           "U", "MARGIN_T"]

U = 2.0 ** -24          # unit roundoff of binary32
_ETA = 2.0 ** -150      # absolute error of one rounding into the subnormal range
MARGIN_T = np.float32(2.0 ** -19)   # runtime margin per unit of G = |S m| + |bt| (32 u)
_INFLATE = 1.0 + 2.0 ** -17         # covers the runtime roundings of the E terms
_LIMIT_RINT = 1 << 22               # |T| from here: only the clamp tests apply


@dataclasses.dataclass
class FastParams:
    """What the fast path of one convolution needs (module docstring)."""

    w: np.ndarray           # int8 (cout, kh, kw, cin), zero point 0
    table: np.ndarray       # float32 (cout, 5): m, bt, e1, e0, ec
    zx: int
    zy: int
    lo: int                 # the output clamp, inside [-128, 127]
    hi: int
    stride: tuple
    pads: tuple             # (top, left, bottom, right); negative: rows / columns unread
    padding: object         # the operator's own padding attribute (for the NPU planner)
    roundings: int          # m of the bound: roundings on any product's path


def _up(v):
    """The least binary32 >= ``v`` (float64, nonnegative)."""
    f = np.float32(v)
    return np.nextafter(f, np.float32(np.inf)) if float(f) < v else f


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
    if m * U > 2.0 ** -10:
        return None
    gamma = m * U / (1 - m * U)
    zx = int(x.quant.zp)
    mu = np.float64(sx) * sw.astype(np.float64) / np.float64(sy)
    b = np.zeros(cout) if bd is None else np.abs(bd.astype(np.float64))
    e1 = mu * ((2 * U + U * U) + gamma * (1 + U) ** 2) * (1 + U) * _INFLATE
    e0 = ((gamma * b + (2 * k + 4) * _ETA) / np.float64(sy) + 2 * _ETA) * _INFLATE + 2.0 ** -140
    amax = max(zx + 128, 127 - zx) * np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1)
    table = np.zeros((cout, 5), np.float32)
    table[:, 0] = mu.astype(np.float32)
    table[:, 1] = (np.zeros(cout) if bd is None else bd.astype(np.float64) / np.float64(sy)
                   ).astype(np.float32)
    for j in range(cout):
        table[j, 2], table[j, 3] = _up(e1[j]), _up(e0[j])
        table[j, 4] = _up((float(amax[j]) * float(table[j, 2]) + float(table[j, 3])) *
                          (1 + 2.0 ** -20))
    lo, hi = a.get("lo"), a.get("hi")
    lo = -128 if lo is None else max(int(lo), -128)
    hi = 127 if hi is None else min(int(hi), 127)
    return FastParams(w, table, zx, int(y.quant.zp), lo, hi, stride, pads, a["padding"], m)


def fast_table(p):
    """The bytes of the per-channel table and ``|w|`` (module docstring)."""
    return p.table.tobytes() + np.abs(p.w.astype(np.int16)).astype(np.uint8).tobytes()


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


def decide(s, e, p):
    """``(y, decided)`` from the sums ``s`` (int, last axis the channel) and the bound's
    ``E`` part ``e`` (float32, broadcast): binary32 operations in the C kernel's order."""
    f32 = np.float32
    t = p.table
    sm = np.asarray(s, np.int64).astype(f32) * t[:, 0]
    tt = (sm + t[:, 1]).astype(f32)
    g = (np.abs(sm) + np.abs(t[:, 1])).astype(f32)
    e2 = (np.asarray(e, f32) + (g * MARGIN_T).astype(f32)).astype(f32)
    ni = np.clip(np.rint(tt), -_LIMIT_RINT, _LIMIT_RINT)
    d = (tt - ni.astype(f32)).astype(f32)
    near = (np.abs(ni) < _LIMIT_RINT) & ((np.abs(d) + e2).astype(f32) < f32(0.5))
    q = np.clip(np.clip(ni, -(1 << 20), 1 << 20).astype(np.int64) + p.zy, p.lo, p.hi)
    low = (tt + e2).astype(f32) < f32(p.lo - p.zy + 0.5)
    high = (tt - e2).astype(f32) > f32(p.hi - p.zy - 0.5)
    y = np.where(near, q, np.where(low, p.lo, p.hi)).astype(np.int8)
    return y, near | low | high


def finish(graph, op, x, s, p=None, slow=None):
    """The output of an ``ort_float`` convolution from its input ``x`` and sums ``s``, as the
    ``CONV_FAST_ONNX`` C kernel computes it, and ``{"outputs", "crude", "exact",
    "recomputed"}``: how many outputs each tier decided. ``slow()`` gives the slow path's
    whole output (default: :func:`.reference.run_op` on ``x``)."""
    p = p or fast_params(graph, op)
    t = p.table
    y, done = decide(s, t[:, 4], p)
    crude = int(done.sum())
    if not done.all():
        a = exact_a(x, p).astype(np.float32)
        e = ((a * t[:, 2]).astype(np.float32) + t[:, 3]).astype(np.float32)
        y2, done2 = decide(s, e, p)
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
