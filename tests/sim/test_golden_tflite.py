"""The TFLite INT8 golden operators against LiteRT's reference kernels, bit for bit.

Each case builds a one-operator full-integer model in memory (dure.sim.verif.tflite_builder),
runs it with ``OpResolverType.BUILTIN_REF`` (dure.sim.verif.litert_ref) and compares with the
golden operator fed the numbers the model implies (multipliers, or FULLY_CONNECTED's double
scales, from the float32 scales as the kernels compute them, the activation clamp from the
output quantization).

Random layers: batch 1-2, H/W 1-12, channels 1-17, kernels 1x1..5x5 and 10x4, strides 1/2,
SAME/VALID, per-channel filter scales spanning several binades with multipliers above 1 (shift
> 0) as well as far below, zero points including -128 and 127, inputs salted with -128 and 127,
fused NONE/RELU/RELU6/RELU_N1_TO_1, biases large enough to saturate. The default run draws a
few hundred layers; ``-m slow`` draws ten times as many.
"""

import numpy as np
import pytest
from dure.sim import golden_fixedpoint as gf
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_params as gp
from dure.sim.golden_double_rescale import scale_round_int32
from dure.sim.golden_padding import conv_padding
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

FAST = 60
SLOW = 600
KERNELS = [(1, 1), (2, 2), (3, 3), (5, 5), (10, 4), (1, 3), (3, 1), (4, 5), (2, 3)]
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def _seeds(name, n_fast, n_slow):
    base = sum(map(ord, name)) * 100_003
    fast = [base + s for s in range(n_fast)]
    slow = [pytest.param(base + s, marks=pytest.mark.slow) for s in range(n_fast, n_slow)]
    return fast + slow


def _zero_point(rng):
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _int8(rng, shape, lo=-128):
    x = rng.integers(lo, 128, shape).astype(np.int8)
    salt = rng.random(shape)
    x[salt < 0.05] = lo
    x[salt > 0.95] = 127
    return x


def _binades(rng, lo, hi, n):
    """float32 values 2**u with u uniform in [lo, hi): several binades, random mantissas."""
    return np.exp2(rng.uniform(lo, hi, n)).astype(np.float32)


def _spatial(rng, kernel, stride, padding, dilation=(1, 1)):
    """H, W in 1..12 that give at least one output for the padding."""
    out = []
    for k, d in zip(kernel, dilation, strict=True):
        ext = (k - 1) * d + 1
        lo = ext if padding == "VALID" else 1
        out.append(int(rng.integers(lo, max(lo, 12) + 1)))
    return out


def _out_scale(rng, x_scale, w_scales, k, tiny):
    """Output scale from the expected accumulator spread over ``k`` taps: typical outputs of
    a few to a few hundred steps (some saturate), with per-channel multipliers from ~2**-20 to
    above 1 (tiny layers) so that both right and left shifts occur."""
    spread = np.sqrt(k) * (2.0 if tiny else 74.0) * (2.0 if tiny else 73.0)
    return float(x_scale * np.median(w_scales) * spread / 2.0 ** rng.uniform(2.0, 8.0))


def _conv_case(rng, depthwise=False):
    kh, kw = KERNELS[rng.integers(len(KERNELS))]
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilation = (1, 1) if rng.random() < 0.85 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = str(rng.choice(["SAME", "VALID"]))
    h, w = _spatial(rng, (kh, kw), stride, padding, dilation)
    n = int(rng.integers(1, 3))
    cin = int(rng.integers(1, 18))
    mult = int(rng.choice([1, 1, 1, 2, 3])) if depthwise else 1
    cout = cin * mult if depthwise else int(rng.integers(1, 18))
    tiny = rng.random() < 0.25        # inputs near the zero point, weights in [-3, 3]
    x_scale = float(_binades(rng, -8, 0, 1)[0])
    w_scales = _binades(rng, -10, -7, cout)
    if rng.random() < 0.2:
        w_scales = w_scales[:1]       # per-tensor weights
    k = kh * kw * (1 if depthwise else cin)
    return dict(n=n, h=h, w=w, cin=cin, cout=cout, kh=kh, kw=kw, stride=stride,
                dilation=dilation, padding=padding, mult=mult, x_scale=x_scale,
                w_scales=w_scales, y_scale=_out_scale(rng, x_scale, w_scales, k, tiny),
                x_zp=_zero_point(rng), y_zp=_zero_point(rng), tiny=tiny,
                act=str(rng.choice(ACTIVATIONS)),
                bias_mag=int(rng.choice([0, 2 ** 6, 2 ** 12, 2 ** 22] if not tiny else [0, 8])))


def _inputs(rng, shape, zp, tiny):
    if tiny:
        return np.clip(zp + rng.integers(-3, 4, shape), -128, 127).astype(np.int8)
    return _int8(rng, shape)


def _weights(rng, shape, tiny):
    return rng.integers(-3, 4, shape).astype(np.int8) if tiny else _int8(rng, shape, lo=-127)


def _out_hw(c):
    oh, _, _ = conv_padding(c["h"], c["kh"], c["stride"][0], c["padding"], c["dilation"][0])
    ow, _, _ = conv_padding(c["w"], c["kw"], c["stride"][1], c["padding"], c["dilation"][1])
    return oh, ow


def _bias(rng, c):
    """int32 bias (LiteRT 2.3's int8 CONV_2D refuses to prepare without one; zeros here)."""
    if c["bias_mag"] == 0 and rng.random() < 0.5:
        return np.zeros(c["cout"], np.int32)
    m = max(c["bias_mag"], 1)
    return rng.integers(-m, m + 1, c["cout"]).astype(np.int32)


def _assert_same(got, ref, what):
    assert got.dtype == ref.dtype and got.shape == ref.shape, (got.shape, ref.shape)
    bad = np.argwhere(got != ref)
    assert bad.size == 0, (f"{what}: {len(bad)} of {got.size} differ, first at "
                           f"{tuple(bad[0])}: golden {got[tuple(bad[0])]} "
                           f"LiteRT {ref[tuple(bad[0])]}")


@pytest.mark.parametrize("seed", _seeds("conv", FAST, SLOW))
def test_conv2d_matches_litert(seed):
    rng = np.random.default_rng(seed)
    c = _conv_case(rng)
    x = _inputs(rng, (c["n"], c["h"], c["w"], c["cin"]), c["x_zp"], c["tiny"])
    w = _weights(rng, (c["cout"], c["kh"], c["kw"], c["cin"]), c["tiny"])
    bias = _bias(rng, c)
    oh, ow = _out_hw(c)
    model = tb.conv2d_model(
        x.shape, w, bias, tb.Quant(c["x_scale"], c["x_zp"]), tb.Quant(c["w_scales"], 0, 0),
        tb.Quant(c["y_scale"], c["y_zp"]), (c["n"], oh, ow, c["cout"]), stride=c["stride"],
        padding=c["padding"], dilation=c["dilation"], activation=c["act"])
    (ref,) = run_reference(model, x)
    m, s = gp.conv_multipliers(c["x_scale"], c["w_scales"], c["y_scale"], channels=c["cout"])
    lo, hi = gp.activation_range_int8(c["act"], c["y_scale"], c["y_zp"])
    got = gt.conv2d_int8(x, w, bias, input_zero_point=c["x_zp"], output_zero_point=c["y_zp"],
                         multiplier=m, shift=s, stride=c["stride"], padding=c["padding"],
                         dilation=c["dilation"], lo=lo, hi=hi)
    _assert_same(got, ref, f"conv {c}")


@pytest.mark.parametrize("seed", _seeds("depthwise", FAST, SLOW))
def test_depthwise_conv2d_matches_litert(seed):
    rng = np.random.default_rng(seed)
    c = _conv_case(rng, depthwise=True)
    x = _inputs(rng, (c["n"], c["h"], c["w"], c["cin"]), c["x_zp"], c["tiny"])
    w = _weights(rng, (1, c["kh"], c["kw"], c["cout"]), c["tiny"])
    bias = _bias(rng, c)
    oh, ow = _out_hw(c)
    model = tb.depthwise_conv2d_model(
        x.shape, w, bias, tb.Quant(c["x_scale"], c["x_zp"]), tb.Quant(c["w_scales"], 0, 3),
        tb.Quant(c["y_scale"], c["y_zp"]), (c["n"], oh, ow, c["cout"]), stride=c["stride"],
        padding=c["padding"], dilation=c["dilation"], depth_multiplier=c["mult"],
        activation=c["act"])
    (ref,) = run_reference(model, x)
    m, s = gp.conv_multipliers(c["x_scale"], c["w_scales"], c["y_scale"], channels=c["cout"])
    lo, hi = gp.activation_range_int8(c["act"], c["y_scale"], c["y_zp"])
    got = gt.depthwise_conv2d_int8(
        x, w, bias, input_zero_point=c["x_zp"], output_zero_point=c["y_zp"], multiplier=m,
        shift=s, stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
        depth_multiplier=c["mult"], lo=lo, hi=hi)
    _assert_same(got, ref, f"depthwise {c}")


@pytest.mark.parametrize("seed", _seeds("fc", FAST, SLOW))
def test_fully_connected_matches_litert(seed):
    rng = np.random.default_rng(seed)
    b, k, units = int(rng.integers(1, 4)), int(rng.integers(1, 200)), int(rng.integers(1, 18))
    x_scale = float(_binades(rng, -8, 0, 1)[0])
    per_channel = rng.random() < 0.5
    w_scales = _binades(rng, -10, -7, units if per_channel else 1)
    tiny = rng.random() < 0.25
    y_scale = _out_scale(rng, x_scale, w_scales, k, tiny)
    x_zp, y_zp = _zero_point(rng), _zero_point(rng)
    act = str(rng.choice(ACTIVATIONS))
    x = _inputs(rng, (b, k), x_zp, tiny)
    w = _weights(rng, (units, k), tiny)
    bias = None if rng.random() < 0.2 else rng.integers(-2 ** 18, 2 ** 18, units).astype(np.int32)
    model = tb.fully_connected_model(x.shape, w, bias, tb.Quant(x_scale, x_zp),
                                     tb.Quant(w_scales, 0, 0), tb.Quant(y_scale, y_zp),
                                     activation=act)
    (ref,) = run_reference(model, x)
    sc = gp.fully_connected_scales(x_scale, w_scales, y_scale, channels=units)
    lo, hi = gp.activation_range_int8(act, y_scale, y_zp)
    got = gt.fully_connected_int8(x, w, bias, input_zero_point=x_zp, output_zero_point=y_zp,
                                  scale=sc, lo=lo, hi=hi)
    _assert_same(got, ref, f"fc b={b} k={k} units={units} per_channel={per_channel}")


def _pool_case(rng):
    kh, kw = KERNELS[rng.integers(len(KERNELS))]
    if rng.random() < 0.15:            # global pooling
        stride, padding = (1, 1), "VALID"
        h, w = kh, kw
    else:
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = str(rng.choice(["SAME", "VALID"]))
        h, w = _spatial(rng, (kh, kw), stride, padding)
    n, ch = int(rng.integers(1, 3)), int(rng.integers(1, 18))
    scale = float(_binades(rng, -8, 2, 1)[0])
    return n, h, w, ch, (kh, kw), stride, padding, scale, _zero_point(rng)


@pytest.mark.parametrize("kind", ["average", "max"])
@pytest.mark.parametrize("seed", _seeds("pool", FAST, SLOW))
def test_pool_matches_litert(kind, seed):
    rng = np.random.default_rng(seed)
    n, h, w, ch, fs, stride, padding, scale, zp = _pool_case(rng)
    act = str(rng.choice(ACTIVATIONS))
    x = _int8(rng, (n, h, w, ch))
    oh, _, _ = conv_padding(h, fs[0], stride[0], padding)
    ow, _, _ = conv_padding(w, fs[1], stride[1], padding)
    model = tb.pool2d_model(kind, x.shape, (n, oh, ow, ch), tb.Quant(scale, zp), fs,
                            stride=stride, padding=padding, activation=act)
    (ref,) = run_reference(model, x)
    lo, hi = gp.activation_range_int8(act, scale, zp)
    op = gt.average_pool_int8 if kind == "average" else gt.max_pool_int8
    got = op(x, fs, stride=stride, padding=padding, lo=lo, hi=hi)
    _assert_same(got, ref, f"{kind} pool {x.shape} {fs} {stride} {padding} {act}")


@pytest.mark.parametrize("seed", _seeds("add", FAST, SLOW))
def test_add_matches_litert(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(1, 5))))
    s1, s2 = (float(v) for v in _binades(rng, -8, 1, 2))
    if rng.random() < 0.2:
        s2 = s1
    # Output scale from well below to well above the inputs' (saturating both ways).
    so = float(max(s1, s2) * 2.0 ** rng.uniform(-6, 3))
    z1, z2, zo = _zero_point(rng), _zero_point(rng), _zero_point(rng)
    act = str(rng.choice(ACTIVATIONS))
    x1, x2 = _int8(rng, shape), _int8(rng, shape)
    model = tb.add_model(shape, tb.Quant(s1, z1), tb.Quant(s2, z2), tb.Quant(so, zo),
                         activation=act)
    (ref,) = run_reference(model, x1, x2)
    lo, hi = gp.activation_range_int8(act, so, zo)
    got = gt.add_int8(x1, x2, gp.add_params(s1, s2, so), input1_zero_point=z1,
                      input2_zero_point=z2, output_zero_point=zo, lo=lo, hi=hi)
    _assert_same(got, ref, f"add {shape} scales {s1} {s2} {so} zps {z1} {z2} {zo} {act}")


def test_all_inputs_exhaustively_through_one_conv_channel():
    """Every int8 input value with every zero point extreme, through a 1x1 conv whose
    multipliers straddle 1 (shift > 0 and < 0) and whose ties hit the rounding."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    w = np.array([1, -1, 127, -127, 3, 64], np.int8).reshape(6, 1, 1, 1)
    w_scales = np.array([2.0 ** -1, 2.0 ** -2, 0.37, 1.9, 3.0, 2.0 ** -9], np.float32)
    for x_zp in (-128, 0, 127):
        for y_zp in (-128, 0, 127):
            model = tb.conv2d_model(x.shape, w, np.zeros(6, np.int32), tb.Quant(1.0, x_zp),
                                    tb.Quant(w_scales, 0, 0), tb.Quant(1.0, y_zp),
                                    (1, 16, 16, 6), padding="VALID")
            (ref,) = run_reference(model, x)
            m, s = gp.conv_multipliers(1.0, w_scales, 1.0)
            got = gt.conv2d_int8(x, w, None, input_zero_point=x_zp, output_zero_point=y_zp,
                                 multiplier=m, shift=s, padding="VALID")
            _assert_same(got, ref, f"1x1 zps {x_zp} {y_zp}")


def _distinguishing_accs(fa, fb, real, rng, want=16):
    """Accumulators whose requantized outputs (within int8) differ between two requantizers
    ``fa``, ``fb`` (functions of the accumulator) of about the same ``real`` multiplier:
    bias-only layers built from them tell which one the runtime computes."""
    # Near each rounding boundary (k + 1/2) / real the two disagree for some accumulators
    # (different multipliers straddle it, or the two rounding forms treat ties differently).
    est = []
    for k in range(30, 127):
        for sign in (1, -1):
            centre = int(round(sign * (k + 0.5) / real))
            est.append(np.arange(centre - 300, centre + 301))
    acc = np.unique(np.concatenate(est))
    acc = acc[np.abs(acc) < 2 ** 31]
    ya, yb = fa(acc), fb(acc)
    hit = rng.permutation(acc[(ya != yb) & (np.abs(ya) <= 127) & (np.abs(yb) <= 127)])
    assert hit.size >= want, "no distinguishing accumulators found"
    return hit[:want].astype(np.int32)


def _mbqm(pair, single_rounding):
    f = (gf.multiply_by_quantized_multiplier_single_rounding if single_rounding
         else gf.multiply_by_quantized_multiplier)
    return lambda acc: f(acc, *pair)


def _scales_with_different_products(rng):
    """Scales for which float32(x*w)/y and double(x)*double(w)/y quantize differently."""
    while True:
        xs = float(np.float32(2.0 ** rng.uniform(-8, 0)))
        ws = np.float32(2.0 ** rng.uniform(-10, -7))
        ys = float(np.float32(xs * float(ws) * 2.0 ** rng.uniform(19, 22)))
        pf = gf.quantize_multiplier(float(np.float32(np.float32(xs) * ws)) / ys)
        pd = gf.quantize_multiplier(xs * float(ws) / ys)
        if pf != pd and pf[1] == pd[1]:
            return xs, ws, ys, pf, pd


def _fc_bias_only(bias, xs, ws, ys, y_zp=0, per_channel=False):
    """LiteRT's and the golden's outputs of a FULLY_CONNECTED whose accumulators are ``bias``
    (one input 0 at zero point 0, weights 1): one unit per accumulator."""
    units = bias.size
    x = np.zeros((1, 1), np.int8)
    w = np.ones((units, 1), np.int8)
    wq = tb.Quant(np.full(units, ws, np.float32) if per_channel else ws, 0, 0)
    model = tb.fully_connected_model(x.shape, w, bias.astype(np.int32), tb.Quant(xs, 0), wq,
                                     tb.Quant(ys, y_zp))
    (ref,) = run_reference(model, x)
    sc = gp.fully_connected_scales(xs, ws, ys, channels=units)
    got = gt.fully_connected_int8(x, w, bias.astype(np.int32), input_zero_point=0,
                                  output_zero_point=y_zp, scale=sc)
    return got, ref


def _round_scaled(scale):
    """The golden's rescale of an accumulator by one double ``scale`` (no zero point)."""
    return lambda acc: np.clip(scale_round_int32(acc, scale), -128, 127)


@pytest.mark.parametrize("seed", range(4))
def test_fully_connected_per_tensor_scale_uses_double_products(seed):
    """LiteRT 2.3 forms FULLY_CONNECTED's per-tensor scale as
    double(x_scale) * double(w_scale) / double(y_scale), not from a float32 product as older
    sources' GetQuantizedConvolutionMultipler did."""
    rng = np.random.default_rng(seed)
    xs, ws, ys, _, _ = _scales_with_different_products(rng)
    sd = xs * float(ws) / ys
    sf = float(np.float32(np.float32(xs) * ws)) / ys
    bias = _distinguishing_accs(_round_scaled(sd), _round_scaled(sf), sd, rng)
    got, ref = _fc_bias_only(bias, xs, ws, ys)
    assert gp.fully_connected_scales(xs, ws, ys, channels=1)[0] == sd
    _assert_same(got, ref, "fc per-tensor scale")


#: A per-tensor FULLY_CONNECTED found by session 19's rotating seed (20261207): scales
#: 0.16719 / 0.0038432 / 661.93, Q0.31 multiplier 1092903130 with shift -19. The exact scaled
#: values of these accumulators lie 5.2e-9 and 1.3e-8 *above* the ties 56.5 and 49.5, but the
#: Q0.31 multiplier (rounded down) puts them 1.45e-8 and 4.1e-9 *below*: single rounding gives
#: 56 / 49, LiteRT (double product) 57 / 50; and the negatives symmetrically.
KNIFE_EDGE = (0.1671888679265976, np.float32(0.0038431561551988125), 661.9321899414062)
KNIFE_EDGE_ACCS = np.array([-58205840, -50994497, 50994497, 58205840], np.int32)


@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_knife_edge(per_channel):
    """The golden rescales in double as LiteRT does: the knife-edge accumulators come out as
    LiteRT's (-57, -50, 50, 57), which the fixed-point form (session 19's golden) misses."""
    got, ref = _fc_bias_only(KNIFE_EDGE_ACCS, *KNIFE_EDGE, per_channel=per_channel)
    _assert_same(got, ref, "fc knife edge")
    assert ref[0].tolist() == [-57, -50, 50, 57]
    m, s = gp.fully_connected_multipliers(*KNIFE_EDGE, channels=4)
    fixed = gt.fully_connected_int8_fixed(np.zeros((1, 1), np.int8), np.ones((4, 1), np.int8),
                                          KNIFE_EDGE_ACCS, input_zero_point=0,
                                          output_zero_point=0, multiplier=m, shift=s)
    assert fixed[0].tolist() == [-56, -49, 49, 56]


@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_exact_halves_round_away_from_zero(per_channel):
    """Scale 0.5 (and 1.5): every odd accumulator is an exact half; LiteRT's round() sends
    -3.5 to -4 (the single-rounding multiply sends it to -3)."""
    for ws in (0.5, 1.5):
        got, ref = _fc_bias_only(np.arange(-41, 42), 1.0, np.float32(ws), 1.0,
                                 per_channel=per_channel)
        _assert_same(got, ref, f"fc halves, scale {ws}")
    assert got[0, :3].tolist() == [-62, -60, -59]          # -61.5 -> -62, -59.5 -> -60 ...


@pytest.mark.parametrize("y_zp", [-128, -1, 0, 1, 127])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_int32_overflow(y_zp, per_channel):
    """A rescaled value outside int32 becomes INT32_MIN (x86's cvttsd2si) and the zero point is
    added with int32 wrap-around: a huge positive value is -128 at zero point >= 0 and 127
    at a negative zero point; -2**31 exactly fits (no overflow) and wraps with a negative zero
    point."""
    bias = np.array([2 ** 28, 2 ** 28 - 1, 2 ** 28 - 16, -2 ** 28, -2 ** 28 - 1, 2 ** 31 - 1,
                     -2 ** 31, 5, -5], np.int64)
    got, ref = _fc_bias_only(bias, 1.0, np.float32(8.0), 1.0, y_zp, per_channel)
    _assert_same(got, ref, f"fc overflow zp {y_zp}")
    assert got[0, 0] == (127 if y_zp < 0 else -128)


@pytest.mark.parametrize("seed", range(4))
def test_conv_multiplier_uses_double_products(seed):
    """CONV_2D forms double(x_scale) * double(w_scale) / double(y_scale) (no float32 step),
    and requantizes with the double-rounding multiply."""
    rng = np.random.default_rng(seed)
    xs, ws, ys, pf, pd = _scales_with_different_products(rng)
    bias = _distinguishing_accs(_mbqm(pd, False), _mbqm(pf, False), xs * float(ws) / ys, rng)
    cout = bias.size
    x = np.zeros((1, 1, 1, 1), np.int8)
    w = np.ones((cout, 1, 1, 1), np.int8)
    model = tb.conv2d_model(x.shape, w, bias, tb.Quant(xs, 0), tb.Quant(np.full(cout, ws), 0, 0),
                            tb.Quant(ys, 0), (1, 1, 1, cout))
    (ref,) = run_reference(model, x)
    m, s = gp.conv_multipliers(xs, np.full(cout, ws), ys)
    assert (int(m[0]), int(s[0])) == pd
    got = gt.conv2d_int8(x, w, bias, input_zero_point=0, output_zero_point=0, multiplier=m,
                         shift=s)
    _assert_same(got, ref, "conv multiplier")


@pytest.mark.parametrize("op", ["conv", "depthwise", "fc"])
@pytest.mark.parametrize("seed", range(3))
def test_rounding_form_per_operator(op, seed):
    """Near ties: CONV_2D and DEPTHWISE_CONV_2D round twice (gemmlowp doubling high multiply,
    then rounding shift), not once; FULLY_CONNECTED rescales in double (round(acc * scale)),
    not with the single-rounding fixed-point multiply, in LiteRT 2.3."""
    rng = np.random.default_rng(seed)
    ws = np.float32(2.0 ** rng.uniform(-12, -4))     # x_scale = y_scale = 1: real = ws
    real = float(ws)
    pair = gf.quantize_multiplier(real)
    if op == "fc":     # the double rescale against the double-rounding multiply (against the
        # single-rounding one only knife edges and exact halves tell: the tests above)
        bias = _distinguishing_accs(_round_scaled(real), _mbqm(pair, False), real, rng)
    else:
        bias = _distinguishing_accs(_mbqm(pair, False), _mbqm(pair, True), real, rng)
    c = bias.size
    m, s = np.full(c, pair[0]), np.full(c, pair[1])
    if op == "conv":
        x = np.zeros((1, 1, 1, 1), np.int8)
        w = np.ones((c, 1, 1, 1), np.int8)
        model = tb.conv2d_model(x.shape, w, bias, tb.Quant(1.0, 0), tb.Quant(np.full(c, ws), 0, 0),
                                tb.Quant(1.0, 0), (1, 1, 1, c))
        got = gt.conv2d_int8(x, w, bias, input_zero_point=0, output_zero_point=0,
                             multiplier=m, shift=s)
    elif op == "depthwise":
        x = np.zeros((1, 1, 1, c), np.int8)
        w = np.ones((1, 1, 1, c), np.int8)
        model = tb.depthwise_conv2d_model(x.shape, w, bias, tb.Quant(1.0, 0),
                                          tb.Quant(np.full(c, ws), 0, 3), tb.Quant(1.0, 0),
                                          (1, 1, 1, c))
        got = gt.depthwise_conv2d_int8(x, w, bias, input_zero_point=0, output_zero_point=0,
                                       multiplier=m, shift=s)
    else:
        x = np.zeros((1, 1), np.int8)
        w = np.ones((c, 1), np.int8)
        model = tb.fully_connected_model(x.shape, w, bias, tb.Quant(1.0, 0), tb.Quant(ws, 0, 0),
                                         tb.Quant(1.0, 0))
        got = gt.fully_connected_int8(x, w, bias, input_zero_point=0, output_zero_point=0,
                                      scale=real)
    (ref,) = run_reference(model, x)
    _assert_same(got, ref, f"{op} rounding form")


_D = np.arange(-128, 128, dtype=np.int64)
D1, D2 = (a.ravel() for a in np.meshgrid(_D, _D))     # every pair of int8 inputs (zp 0)


def _add_pipeline(p, mbqm):
    """ADD on every input pair with zero points 0, parameters ``p`` and multiply ``mbqm``."""
    s1 = mbqm((D1 << p.left_shift), p.input1_multiplier, p.input1_shift).astype(np.int64)
    s2 = mbqm((D2 << p.left_shift), p.input2_multiplier, p.input2_shift).astype(np.int64)
    return mbqm(s1 + s2, p.output_multiplier, p.output_shift)


def _add_case_where(rng, variant):
    """Scales for which ``variant(s1, s2, so)`` (outputs on every input pair) differs from the
    golden model somewhere inside the int8 range; returns the scales and those pairs."""
    for _ in range(3000):
        s1, s2 = (float(v) for v in _binades(rng, -8, 0, 2))
        so = float(np.float32(max(s1, s2) * 2.0 ** rng.uniform(-1, 2)))
        golden = _add_pipeline(gp.add_params(s1, s2, so),
                               gf.multiply_by_quantized_multiplier_smaller_than_one_exp)
        hit = (golden != variant(s1, s2, so)) & (np.abs(golden) <= 127)
        if hit.any():
            return s1, s2, so, D1[hit][:64], D2[hit][:64]
    raise AssertionError("no distinguishing scales found")


def _run_add_pairs(s1, s2, so, d1, d2):
    x1, x2 = d1.astype(np.int8).reshape(1, -1), d2.astype(np.int8).reshape(1, -1)
    (ref,) = run_reference(tb.add_model(x1.shape, tb.Quant(s1, 0), tb.Quant(s2, 0),
                                        tb.Quant(so, 0)), x1, x2)
    got = gt.add_int8(x1, x2, gp.add_params(s1, s2, so), input1_zero_point=0,
                      input2_zero_point=0, output_zero_point=0)
    _assert_same(got, ref, f"add scales {s1} {s2} {so}")


@pytest.mark.parametrize("seed", range(3))
def test_add_rounds_twice(seed):
    """ADD rescales with the double-rounding multiply (not ruy's single rounding)."""
    rng = np.random.default_rng(seed)

    def single(s1, s2, so):
        return _add_pipeline(gp.add_params(s1, s2, so),
                             gf.multiply_by_quantized_multiplier_single_rounding)

    _run_add_pairs(*_add_case_where(rng, single))


@pytest.mark.parametrize("seed", range(3))
def test_add_output_multiplier_is_a_double_quotient(seed):
    """real_out = twice_max_input_scale / (2**20 * output_scale) is a double division (a float32
    division would round the multiplier to 24 bits)."""
    rng = np.random.default_rng(seed)

    def float_quotient(s1, s2, so):
        p = gp.add_params(s1, s2, so)
        real = float(np.float32(2 * max(s1, s2)) / np.float32(2.0 ** 20 * so))
        m, sh = gf.quantize_multiplier_smaller_than_one_exp(real)
        p = gp.AddParams(p.left_shift, p.input1_multiplier, p.input1_shift, p.input2_multiplier,
                         p.input2_shift, m, sh)
        return _add_pipeline(p, gf.multiply_by_quantized_multiplier_smaller_than_one_exp)

    _run_add_pairs(*_add_case_where(rng, float_quotient))


@pytest.mark.parametrize("seed", range(6))
def test_small_graph_residual_block(seed):
    """conv(3x3, RELU) -> depthwise(3x3) -> ADD(residual with the input) -> average pool
    (global): one model through LiteRT, the golden operators chained."""
    rng = np.random.default_rng(seed)
    n, h, w, c = 1 + seed % 2, int(rng.integers(3, 10)), int(rng.integers(3, 10)), 8
    xq, aq, bq, oq = (tb.Quant(float(_binades(rng, -6, -2, 1)[0]), _zero_point(rng))
                      for _ in range(4))
    w1 = _int8(rng, (c, 3, 3, c), lo=-127)
    w1q = tb.Quant(_binades(rng, -10, -8, c), 0, 0)
    w2 = _int8(rng, (1, 3, 3, c), lo=-127)
    w2q = tb.Quant(_binades(rng, -8, -6, c), 0, 3)
    b1 = rng.integers(-2 ** 12, 2 ** 12, c).astype(np.int32)
    b2 = rng.integers(-2 ** 10, 2 ** 10, c).astype(np.int32)
    x = _int8(rng, (n, h, w, c))

    mb = tb.ModelBuilder()
    xi = mb.tensor("input", x.shape, np.int8, xq)
    t1 = tb.add_conv2d(mb, xi, xq, w1, b1, w1q, aq, x.shape, activation="RELU")
    t2 = tb.add_depthwise_conv2d(mb, t1, aq, w2, b2, w2q, bq, x.shape)
    t3 = tb.add_add(mb, t2, xi, x.shape, oq, activation="RELU6")
    t4 = tb.add_pool2d(mb, "average", t3, (n, 1, 1, c), oq, (h, w))
    (ref,) = run_reference(mb.build([xi], [t4]), x)

    m1, s1 = gp.conv_multipliers(xq.scale, w1q.scale, aq.scale)
    lo, hi = gp.activation_range_int8("RELU", aq.scale, aq.zero_point)
    y1 = gt.conv2d_int8(x, w1, b1, input_zero_point=xq.zero_point,
                        output_zero_point=aq.zero_point, multiplier=m1, shift=s1, lo=lo, hi=hi)
    m2, s2 = gp.conv_multipliers(aq.scale, w2q.scale, bq.scale)
    y2 = gt.depthwise_conv2d_int8(y1, w2, b2, input_zero_point=aq.zero_point,
                                  output_zero_point=bq.zero_point, multiplier=m2, shift=s2)
    lo, hi = gp.activation_range_int8("RELU6", oq.scale, oq.zero_point)
    y3 = gt.add_int8(y2, x, gp.add_params(bq.scale, xq.scale, oq.scale),
                     input1_zero_point=bq.zero_point, input2_zero_point=xq.zero_point,
                     output_zero_point=oq.zero_point, lo=lo, hi=hi)
    y4 = gt.average_pool_int8(y3, (h, w))
    _assert_same(y4, ref, "residual block")


def test_litert_version_is_the_one_characterised():
    """The rounding findings above (FC's double rescale, double products) are LiteRT 2.3.0's:
    a different wheel must be re-characterised before this golden model is trusted with it."""
    from dure.sim.verif.litert_ref import litert_version

    assert litert_version() == "2.3.0"


MLPERF_LAYERS = {
    # name: (op, input shape, kernel, cout, stride, padding)
    "dscnn_conv1": ("conv", (1, 49, 10, 1), (10, 4), 64, 2, "SAME"),
    "dscnn_dw": ("depthwise", (1, 25, 5, 64), (3, 3), 64, 1, "SAME"),
    "dscnn_pw": ("conv", (1, 25, 5, 64), (1, 1), 64, 1, "VALID"),
    "resnet8_conv": ("conv", (1, 32, 32, 16), (3, 3), 16, 1, "SAME"),
    "resnet8_down": ("conv", (1, 32, 32, 16), (3, 3), 32, 2, "SAME"),
    "mobilenet_dw_s2": ("depthwise", (1, 48, 48, 8), (3, 3), 8, 2, "SAME"),
}


@pytest.mark.parametrize("name", sorted(MLPERF_LAYERS))
def test_mlperf_tiny_layer_shapes(name):
    """Full-size layers of the MLPerf Tiny models (DS-CNN, ResNet-8, MobileNetV1)."""
    op, shape, (kh, kw), cout, stride, padding = MLPERF_LAYERS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    cin = shape[3]
    x = _int8(rng, shape)
    x_scale, x_zp, y_zp = 0.02, int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    w_scales = _binades(rng, -9, -7, cout)
    k = kh * kw * (1 if op == "depthwise" else cin)
    y_scale = _out_scale(rng, x_scale, w_scales, k, False)
    bias = rng.integers(-2 ** 14, 2 ** 14, cout).astype(np.int32)
    oh, _, _ = conv_padding(shape[1], kh, stride, padding)
    ow, _, _ = conv_padding(shape[2], kw, stride, padding)
    y_shape = (1, oh, ow, cout)
    m, s = gp.conv_multipliers(x_scale, w_scales, y_scale)
    lo, hi = gp.activation_range_int8("RELU", y_scale, y_zp)
    q = dict(input_zero_point=x_zp, output_zero_point=y_zp, multiplier=m, shift=s,
             stride=stride, padding=padding, lo=lo, hi=hi)
    if op == "conv":
        w = _int8(rng, (cout, kh, kw, cin), lo=-127)
        model = tb.conv2d_model(shape, w, bias, tb.Quant(x_scale, x_zp), tb.Quant(w_scales, 0, 0),
                                tb.Quant(y_scale, y_zp), y_shape, stride=stride,
                                padding=padding, activation="RELU")
        got = gt.conv2d_int8(x, w, bias, **q)
    else:
        w = _int8(rng, (1, kh, kw, cout), lo=-127)
        model = tb.depthwise_conv2d_model(shape, w, bias, tb.Quant(x_scale, x_zp),
                                          tb.Quant(w_scales, 0, 3), tb.Quant(y_scale, y_zp),
                                          y_shape, stride=stride, padding=padding,
                                          activation="RELU")
        got = gt.depthwise_conv2d_int8(x, w, bias, **q)
    (ref,) = run_reference(model, x)
    _assert_same(got, ref, name)


@pytest.mark.parametrize("scale", [0.09600000083446503, 0.09160305559635162, 0.08888889104127884,
                                   0.08633093535900116, 0.08053691685199738])
def test_relu6_bound_uses_a_float32_division(scale):
    """Output scales where float32(6 / scale) lands on k + 1/2 but the exact quotient is just
    below: the RELU6 upper bound is zp + round(6.0f / scale) = zp + k + 1 (a double division
    would give zp + k). A saturated 1x1 max pool shows the bound."""
    scale = float(np.float32(scale))
    zp = -128
    lo, hi = gp.activation_range_int8("RELU6", scale, zp)
    q6 = np.float32(6.0) / np.float32(scale)
    assert hi == zp + gf.tflite_round(q6) and gf.tflite_round(q6) != round(6.0 / scale)
    x = np.full((1, 1, 1, 1), 127, np.int8)
    model = tb.pool2d_model("max", x.shape, x.shape, tb.Quant(scale, zp), 1,
                            activation="RELU6")
    (ref,) = run_reference(model, x)
    _assert_same(gt.max_pool_int8(x, 1, lo=lo, hi=hi), ref, "relu6 bound")
