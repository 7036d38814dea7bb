"""Defining properties of the FP16 operator golden model (dure.sim.golden_tflite_fp16).

These operators are the contract, not a copy of a runtime, so they are checked against explicit
scalar statements of the contract: float32 scalar loops in the stated order (kh, kw, cin), padded
taps as +0.0 operands, the average as the in-bounds sum times float32(1/n), IEEE maximum with
canonical NaN, and the fp16 add equal to the correctly rounded sum (float64 is exact for it).
"""

import numpy as np
import pytest
from dure.sim import golden
from dure.sim import golden_tflite_fp16 as g16
from dure.sim.golden_padding import conv_padding

SEEDS = range(12)


def _fp16(rng, shape, specials=False):
    """fp16 values: mostly moderate, some grid values (ties in sums), subnormals, and with
    ``specials`` Inf and NaN with payloads."""
    size = int(np.prod(shape))
    kind = rng.integers(0, 4 if specials else 3, size)
    near = rng.uniform(-4, 4, size).astype(np.float16).view(np.uint16)
    grid = (rng.integers(-7, 8, size) * np.exp2(rng.integers(-8, 6, size))).astype(np.float16)
    sub = (rng.integers(0, 0x0400, size) | (rng.integers(0, 2, size) << 15)).astype(np.uint16)
    special = rng.choice(np.array([0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55], np.uint16), size)
    out = np.where(kind == 0, near, np.where(kind == 1, grid.view(np.uint16), sub))
    out = np.where(kind == 3, special, out).astype(np.uint16)
    return out.view(np.float16).reshape(shape)


def _bits(x):
    return golden.bits(golden.canonicalize_nan(x))


def _tap(x, n, y, xx, c):
    """Input value at (y, xx) or +0.0 outside the image (the padded operand)."""
    if 0 <= y < x.shape[1] and 0 <= xx < x.shape[2]:
        return np.float32(x[n, y, xx, c])
    return np.float32(0.0)


def _conv_loop(x, w, bias, stride, padding, dilation):
    cout, kh, kw, cin = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh, pt, _ = conv_padding(x.shape[1], kh, sh, padding, dh)
    ow, pl, _ = conv_padding(x.shape[2], kw, sw, padding, dw)
    out = np.empty((x.shape[0], oh, ow, cout), np.float32)
    with np.errstate(all="ignore"):
        for n in range(x.shape[0]):
            for oy in range(oh):
                for ox in range(ow):
                    for o in range(cout):
                        acc = np.float32(0.0) if bias is None else bias[o]
                        for i in range(kh):
                            for j in range(kw):
                                for c in range(cin):
                                    v = _tap(x, n, oy * sh - pt + i * dh, ox * sw - pl + j * dw, c)
                                    acc = np.float32(acc + v * np.float32(w[o, i, j, c]))
                        out[n, oy, ox, o] = acc
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_is_the_sequential_loop_over_kh_kw_cin(seed):
    rng = np.random.default_rng(seed)
    kh, kw = [(1, 1), (3, 3), (2, 3), (5, 2)][seed % 4]
    stride = (1 + seed % 2, 1 + (seed // 2) % 2)
    dilation = (1, 1) if seed < 8 else (2, 1)
    padding = "SAME" if seed % 3 else "VALID"
    h, w_ = int(rng.integers((kh - 1) * dilation[0] + 1, 12)), int(rng.integers(kw, 9))
    x = _fp16(rng, (2, h, w_, 3), specials=seed % 4 == 3)
    w = _fp16(rng, (4, kh, kw, 3), specials=seed % 4 == 3)
    bias = None if seed % 2 else rng.standard_normal(4).astype(np.float32)
    got = g16.conv2d_fp16(x, w, bias, stride=stride, padding=padding, dilation=dilation)
    want = golden.to_fp16(_conv_loop(x, w, bias, stride, padding, dilation))
    assert (_bits(got) == _bits(want)).all()


def test_conv_order_is_observable():
    """Products 2**24, 1, 1, 1, -2**24 sum to 0 in this order (each +1 is a tie to even and is
    lost) but to 4 if the ones come first: the output shows which order ran. Along cin the big
    product comes first; along kh the ones do (taps at kh = 0..2), so the order is kh-major."""
    big, one = np.float16(4096), np.float16(1)
    x = np.array([big, one, one, one, big], np.float16).reshape(1, 1, 1, 5)
    w = np.array([big, one, one, one, -big], np.float16).reshape(1, 1, 1, 5)
    assert g16.conv2d_fp16(x, w, padding="VALID")[0, 0, 0, 0] == 0          # cin order
    assert np.sum(x.astype(np.float64) * w.astype(np.float64)) == 3           # other orders
    xk = np.array([one, one, one, big, big], np.float16).reshape(1, 5, 1, 1)
    wk = np.array([one, one, one, big, -big], np.float16).reshape(1, 5, 1, 1)
    assert g16.conv2d_fp16(xk, wk, padding="VALID")[0, 0, 0, 0] == 4        # kh order
    # kh outer, cin inner: taps (kh=0: cin 0, 1), (kh=1: cin 0, 1)
    x2 = np.array([[big, one], [one, big]], np.float16).reshape(1, 2, 1, 2)
    w2 = np.array([[big, one], [one, -big]], np.float16).reshape(1, 2, 1, 2)
    assert g16.conv2d_fp16(x2, w2, padding="VALID")[0, 0, 0, 0] == 0   # 2**24 +1 +1 -2**24


@pytest.mark.parametrize("seed", SEEDS)
def test_same_padding_is_explicit_plus_zero_padding(seed):
    """SAME equals VALID on the input padded with +0.0 (pad before/after from conv_padding),
    even with infinite weights (padded taps are +0.0 operands: 0 * Inf = NaN)."""
    rng = np.random.default_rng(seed)
    kh, kw = [(3, 3), (5, 5), (2, 2), (4, 1)][seed % 4]
    s = 1 + seed % 2
    x = _fp16(rng, (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)), 2),
              specials=seed % 3 == 0)
    w = _fp16(rng, (3, kh, kw, 2), specials=seed % 3 == 0)
    _, pt, pb = conv_padding(x.shape[1], kh, s, "SAME")
    _, pl, pr = conv_padding(x.shape[2], kw, s, "SAME")
    xp = np.pad(x, ((0, 0), (pt, max(pb, 0)), (pl, max(pr, 0)), (0, 0)))
    got = g16.conv2d_fp16(x, w, stride=s, padding="SAME")
    want = g16.conv2d_fp16(xp, w, stride=s, padding="VALID")
    assert (_bits(got) == _bits(want)[:, :got.shape[1], :got.shape[2]]).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_depthwise_is_the_sequential_loop_over_kh_kw(seed):
    rng = np.random.default_rng(seed)
    kh, kw = [(3, 3), (1, 1), (5, 5), (10, 4)][seed % 4]
    mult = 1 + seed % 3
    stride = 1 + seed % 2
    padding = "SAME" if seed % 2 else "VALID"
    x = _fp16(rng, (1, int(rng.integers(kh, 12)), int(rng.integers(kw, 12)), 3),
              specials=seed % 5 == 0)
    w = _fp16(rng, (1, kh, kw, 3 * mult), specials=seed % 5 == 0)
    bias = rng.standard_normal(3 * mult).astype(np.float32)
    got = g16.depthwise_conv2d_fp16(x, w, bias, stride=stride, padding=padding,
                                    depth_multiplier=mult)
    # The same as a grouped conv: one dense conv per output channel on its input channel.
    want = np.empty(got.shape, np.float16)
    for o in range(3 * mult):
        c = o // mult
        wo = w[0, :, :, o].reshape(1, kh, kw, 1)
        ref = _conv_loop(x[:, :, :, c:c + 1], wo, bias[o:o + 1], (stride, stride), padding,
                         (1, 1))
        want[..., o] = golden.to_fp16(ref)[..., 0]
    assert (_bits(got) == _bits(want)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_connected_is_gemm_fp16(seed):
    rng = np.random.default_rng(seed)
    x = _fp16(rng, (3, 40), specials=seed % 4 == 0)
    w = _fp16(rng, (5, 40), specials=seed % 4 == 0)
    bias = rng.standard_normal(5).astype(np.float32)
    scale = rng.uniform(0.5, 2, 5).astype(np.float32)
    got = g16.fully_connected_fp16(x, w, bias, scale=scale, lo=0.0)
    want = golden.fp16_postprocess(golden.gemm_fp16(x, w.T.copy(), bias), scale, 0.0)
    assert (golden.bits(got) == golden.bits(want)).all()


def _pool_loop(x, fs, stride, padding, kind):
    (kh, kw), (sh, sw) = fs, stride
    oh, pt, _ = conv_padding(x.shape[1], kh, sh, padding)
    ow, pl, _ = conv_padding(x.shape[2], kw, sw, padding)
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), np.float32)
    with np.errstate(all="ignore"):
        for n in range(x.shape[0]):
            for oy in range(oh):
                for ox in range(ow):
                    for c in range(x.shape[3]):
                        taps = [np.float32(x[n, y, xx, c])
                                for y in range(oy * sh - pt, oy * sh - pt + kh)
                                for xx in range(ox * sw - pl, ox * sw - pl + kw)
                                if 0 <= y < x.shape[1] and 0 <= xx < x.shape[2]]
                        if kind == "average":
                            acc = np.float32(0.0)
                            for t in taps:
                                acc = np.float32(acc + t)
                            out[n, oy, ox, c] = np.float32(acc * np.float32(1.0 / len(taps)))
                        elif any(np.isnan(t) for t in taps):
                            out[n, oy, ox, c] = np.nan
                        else:
                            m = max(taps)
                            if m == 0:
                                m = np.float32(0.0) if any(t == 0 and not np.signbit(t)
                                                           for t in taps) else np.float32(-0.0)
                            out[n, oy, ox, c] = m
    return out


@pytest.mark.parametrize("kind", ["average", "max"])
@pytest.mark.parametrize("seed", SEEDS)
def test_pool_is_the_stated_loop(kind, seed):
    rng = np.random.default_rng(seed)
    fs = [(2, 2), (3, 3), (10, 4), (1, 3)][seed % 4]
    stride = (1 + seed % 2, 1 + (seed // 2) % 2)
    padding = "SAME" if seed % 3 else "VALID"
    x = _fp16(rng, (2, int(rng.integers(fs[0], 12)), int(rng.integers(fs[1], 12)), 3),
              specials=seed % 4 == 1)
    if kind == "max" and seed % 4 == 2:
        x[x == 0] = np.float16(-0.0)
        x.reshape(-1)[::3] = np.float16(-0.0)
    op = g16.average_pool_fp16 if kind == "average" else g16.max_pool_fp16
    got = op(x, fs, stride=stride, padding=padding, lo=-1.5, hi=6.0)
    ref = _pool_loop(x, fs, stride, padding, kind)
    want = golden.fp16_postprocess(ref.reshape(-1, 3), None, -1.5, 6.0).reshape(ref.shape)
    assert (_bits(got) == _bits(want)).all()


def test_average_pool_padding_taps_as_plus_zero_change_nothing():
    """Summing +0.0 for padded taps (from the +0.0 start) equals skipping them; the count is
    still the in-bounds count."""
    rng = np.random.default_rng(7)
    x = _fp16(rng, (1, 5, 6, 4), specials=True)
    got = g16.average_pool_fp16(x, 3, padding="SAME")
    _, pt, pb = conv_padding(5, 3, 1, "SAME")
    _, pl, pr = conv_padding(6, 3, 1, "SAME")
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))).astype(np.float32)
    count = np.pad(np.ones((5, 6), np.float32), ((pt, pb), (pl, pr)))
    total = np.zeros((1, 5, 6, 4), np.float32)
    n = np.zeros((5, 6), np.float32)
    with np.errstate(all="ignore"):
        for i in range(3):
            for j in range(3):
                total = total + xp[:, i:i + 5, j:j + 6, :]
                n = n + count[i:i + 5, j:j + 6]
        want = golden.to_fp16(golden.canonicalize_nan(
            total * (1.0 / n.astype(np.float64)).astype(np.float32)[None, :, :, None]))
    assert (_bits(got) == _bits(want)).all()


def test_nan_in_gives_canonical_nan_out():
    x = np.zeros((1, 3, 3, 2), np.float16)
    x.view(np.uint16)[0, 1, 1, 0] = 0x7C01        # signalling NaN with a payload
    x.view(np.uint16)[0, 0, 0, 1] = 0xFE55        # negative quiet NaN with a payload
    w = np.ones((1, 3, 3, 2), np.float16)
    outs = [g16.conv2d_fp16(x, w), g16.depthwise_conv2d_fp16(x, np.ones((1, 3, 3, 2),
                                                                        np.float16)),
            g16.average_pool_fp16(x, 3, padding="SAME"), g16.max_pool_fp16(x, 2),
            g16.add_fp16(x, x), g16.fully_connected_fp16(x.reshape(1, -1),
                                                         np.ones((2, 18), np.float16))]
    for out in outs:
        nan_bits = golden.bits(out)[np.isnan(out)]
        assert nan_bits.size and (nan_bits == golden.F16_CANONICAL_NAN).all()


def test_add_is_the_correctly_rounded_fp16_sum():
    """float32 add then fp16 RNE equals the exact sum rounded once (float64 holds every sum of
    two fp16 values exactly), over a large sample of bit patterns incl. subnormals and Inf."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 0x10000, 200_000).astype(np.uint16).view(np.float16)
    b = rng.integers(0, 0x10000, 200_000).astype(np.uint16).view(np.float16)
    got = g16.add_fp16(a, b)
    with np.errstate(all="ignore"):
        want = golden.canonicalize_nan((a.astype(np.float64) + b.astype(np.float64))
                                       .astype(np.float16))
    assert (golden.bits(got) == golden.bits(want)).all()
    inf = np.array([np.inf], np.float16)
    assert golden.bits(g16.add_fp16(inf, -inf))[0] == golden.F16_CANONICAL_NAN


def test_im2col_column_order_is_kh_kw_cin():
    x = np.arange(2 * 3 * 4, dtype=np.float16).reshape(1, 2, 3, 4)
    cols = g16.im2col_fp16(x, (2, 2), padding="VALID")
    assert cols.shape == (2, 16)
    assert cols[0].tolist() == x[0, 0:2, 0:2, :].reshape(-1).tolist()
