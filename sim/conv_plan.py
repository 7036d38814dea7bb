"""CONV_2D and DEPTHWISE_CONV_2D lowered onto the NPU (implicit GEMM over walked COMPUTEs).

Each function takes the layer as the golden operator does (NHWC input shape, TFLite filter
layout, bias, quantization) plus where things live in main memory, and returns a
:class:`~dure.sim.layer_program.LayerProgram`: the parameter bytes to place at ``param_addr``
and the descriptors that turn the NHWC input at ``x_addr`` into the NHWC output at
``out_addr``. The engine (blocking, tiles, order, buffers) is :mod:`dure.sim.walk_layer`.

Contracts (bit for bit, tested on the command model in tests/sim/test_conv_plan.py):

- :func:`conv2d_int8_program` computes :func:`dure.sim.golden_tflite.conv2d_int8`. The input
  zero point is folded into the bias: ``bias'[o] = bias[o] - zp_in * sum over ALL (kh, kw, ci)
  of w[o, kh, kw, ci]`` (int32, wrapping), and padded taps are FILLed with ``zp_in``, so the
  COMPUTEs sum ``w * x`` over raw int8 inputs and ``bias' + sum = bias + sum w * (x - zp_in)``
  modulo 2**32 (the golden's wrapping int32). The STORE requantizes with the TFLite
  double-rounding mode (per-channel multiplier and shift rows in ACC), adds the output zero
  point and clamps.
- :func:`conv2d_fp16_program` computes :func:`dure.sim.golden_tflite_fp16.conv2d_fp16`:
  padding +0.0, the ACC starts from the fp32 bias (or +0.0), one accumulation chain per output
  in (kh, kw, cin) order (the engine's order: taps outer, input chunks inner), then the FP16
  STORE with the optional scale row and clamp. Few input channels (``kw * Cin <= R``) take the
  tap-packed plan of :mod:`dure.sim.conv_pack` as INT8 does (its docstring shows the same
  order and an exact gather).
- :func:`depthwise_conv2d_int8_program` / :func:`depthwise_conv2d_fp16_program`: channel
  multiplier 1, the same walk with ``diagonal`` COMPUTEs whose weight matrix is
  ``diag(w[ky, kx, chunk])``; bias folding and order as above. A diagonal COMPUTE does
  ``m * k`` useful products of the array's ``m * R * C`` slots: at most 1/R of peak. INT8
  depthwise runs on the element-wise unit instead where the NPU has one: one ELTWISE ``MAC``
  per two taps (``pair``: the same walk, each tap's weights one SPAD row, the second tap
  ``tap_step`` rows after the first), 2 C products per cycle (1/4 of the 8x8's peak) without
  the COMPUTE's weight load and array latency between taps.
- :func:`fully_connected_int8_program`: FULLY_CONNECTED as a 1x1 convolution of a
  ``(1, B, 1, K)`` image, stored with the single-rounding mode (LiteRT's FULLY_CONNECTED).

- :func:`conv2d_int8_float_scale_program` / :func:`depthwise_conv2d_int8_float_scale_program`:
  the same walks (and the same tap packing for few input channels) with the ``FLOAT_SCALE``
  STORE instead of a TFLite mode, i.e. ONNX QLinearConv as onnxruntime computes it:
  ``y = clamp(rne(f32(acc) * scale_j) + zp_out, lo, hi)`` with ``acc = bias + sum w * (x -
  zp_in)`` (int32, wrapping; padded taps hold ``zp_in``; weights zero point 0) and one fp32
  ``scale_j`` per output channel (:func:`dure.sim.golden.requantize`). The scale rows sit in
  ACC where the TFLite modes keep their multiplier rows (one row per chunk; the packed plan
  keeps its two-row slots, the second row unused).

Unsupported parameters raise ValueError naming the parameter: dilation other than 1, depth
multiplier other than 1, a shift outside [-31, 30] (the STORE saturates there), FP16 on an NPU
without FP16.
"""

import numpy as np
from dure.rtl.npu.commands import OutType, Precision, RequantMode

from dure.gemm_cost import WALK_MAC_PIXELS

from .conv_pack import (
    IDENTITY_MULTIPLIER,
    IDENTITY_SHIFT,
    pack_applies,
    pack_layout,
    packed_conv_descriptors,
    packed_weights,
)
from .golden_args import array_arg, pair_arg, vector_arg
from .golden_fixedpoint import wrap_int32
from .layer_program import LayerProgram, ParamArea
from .npu_model import perf_macs
from .walk_emit import walk_descriptors
from .walk_layer import WalkLayer, geometry
from .walk_plan import plan_walk

__all__ = ["conv2d_int8_program", "conv2d_fp16_program", "depthwise_conv2d_int8_program",
           "depthwise_conv2d_fp16_program", "fully_connected_int8_program",
           "conv2d_int8_float_scale_program", "depthwise_conv2d_int8_float_scale_program"]


def _check_common(config, x_shape, stride, dilation, precision, depth_multiplier=1):
    if not config.npu_rows:
        raise ValueError(f"config {config.name!r} has no NPU")
    if precision == Precision.FP16 and not config.npu_fp16:
        raise ValueError(f"precision: config {config.name!r} has no FP16 NPU")
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be (N, H, W, C) of positive sizes, not {x_shape}")
    if pair_arg("dilation", dilation) != (1, 1):
        raise ValueError(f"dilation must be 1, not {dilation!r}")
    if depth_multiplier != 1:
        raise ValueError(f"depth_multiplier must be 1, not {depth_multiplier!r}")
    return pair_arg("stride", stride)


def _zp(name, v):
    v = int(v)
    if not -128 <= v <= 127:
        raise ValueError(f"{name} must lie in [-128, 127], not {v}")
    return v


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


def _program(config, layer, x_shape, cout, dtype, notes=(), wmodes=None, spread=False):
    g = layer.geo
    pointwise = (g.kh, g.kw, g.sh, g.sw) == (1, 1, 1, 1)
    plan = plan_walk(config, layer, wmodes, startup=spread and pointwise,
                     startup_tiebreak=pointwise and not spread and not layer.diagonal)
    words = walk_descriptors(config, layer, plan, spread=spread)
    g = layer.geo
    r, c = config.npu_rows, config.npu_cols
    array_macs = perf_macs(words)
    computes = sum(1 for w in words if w[0] & 0xF == 2)
    macs_cmds = sum(1 for w in words if w[0] & 0xF == 6)
    slots = sum((w[4] & 0xFFFF) * r * c for w in words if w[0] & 0xF in (2, 6))
    return LayerProgram(words, layer.blobs, layer.out_addr, (g.batch, g.oh, g.ow, cout), dtype,
                        macs=layer.macs, array_macs=array_macs,
                        lane_use=layer.macs / slots if slots else 0.0, plan=plan,
                        notes=list(notes) + [f"{computes} COMPUTEs"] +
                        ([f"{macs_cmds} ELTWISE MAC"] if macs_cmds else []))


def _conv_layer(config, x_shape, w2, kernel, stride, padding, precision, *, x_addr, out_addr,
                params, acc_init, pad_value, store, const, const_per_chunk, cout, diagonal):
    """Shared tail: the weight matrices (already (taps * kin, cout) per chunk) and the layer."""
    r, c = config.npu_rows, config.npu_cols
    lc = min(r, c)
    k_chunk, n_chunk = (lc, lc) if diagonal else (r, c)
    geo = geometry(x_shape, kernel, stride, padding)
    nt = -(-cout // n_chunk)
    eb = 2 if precision == Precision.FP16 else 1
    weights = []
    for j in range(nt):
        mat = w2(j, n_chunk)
        weights.append((params.add(mat), mat.shape[0]))
    const_addr = params.add(const) if const is not None else 0
    cin = x_shape[3]
    taps = kernel[0] * kernel[1]
    macs = geo.pixels * taps * cout * (1 if diagonal else cin)
    layer = WalkLayer(
        geo=geo, precision=precision, cin=cin, cout=cout, k_chunk=k_chunk, n_chunk=n_chunk,
        diagonal=diagonal, x_addr=x_addr, out_addr=out_addr, pad_value=pad_value,
        out_bytes=eb, store=store, weights=lambda j: weights[j], acc_init=acc_init,
        const_addr=const_addr, const_rows=0 if const is None else const.shape[0],
        const_stride=4 * n_chunk, const_per_chunk=const_per_chunk, macs=macs)
    layer.blobs = params.blobs
    return layer


def _int8_store(output_zero_point, lo, hi, rounding):
    lo, hi = int(lo), int(hi)
    if not (-128 <= lo <= hi <= 127):
        raise ValueError(f"lo/hi must satisfy -128 <= lo <= hi <= 127, not ({lo}, {hi})")
    return dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1, requant=rounding,
                zero_point=_zp("output_zero_point", output_zero_point),
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


def _conv_weights_matrix(w):
    """OHWI -> per chunk ``(KH*KW*Cin, nn)``: row ``(kh*KW + kw)*Cin + ci``."""
    cout = w.shape[0]
    flat = w.reshape(cout, -1)
    return lambda j, nc: np.ascontiguousarray(flat[j * nc:(j + 1) * nc].T)


def _diag_weights_matrix(w):
    """(1, KH, KW, C) -> per chunk ``(KH*KW*nn, nn)`` with ``diag(w[kh, kw, chunk])`` per tap."""
    taps = w.shape[1] * w.shape[2]
    flat = w.reshape(taps, -1)

    def chunk(j, nc):
        part = flat[:, j * nc:(j + 1) * nc]
        nn = part.shape[1]
        mat = np.zeros((taps, nn, nn), w.dtype)
        idx = np.arange(nn)
        mat[:, idx, idx] = part
        return mat.reshape(taps * nn, nn)
    return chunk


#: INT8 depthwise goes to the element-wise MAC by default when an output image has fewer pixels
#: than this many times the array's rows (dure.gemm_cost.WALK_MAC_PIXELS, where the measurement
#: behind the value is recorded; the firmware's C port reads the same constant).
MAC_PIXELS = WALK_MAC_PIXELS


def _depthwise_mac(config, x_shape, kernel, stride, padding, mac, pair):
    """Whether an INT8 depthwise layer runs on the element-wise MAC (``mac`` None: the default
    of :func:`depthwise_conv2d_int8_program`); ValueError for ``mac`` without the unit."""
    if mac is None:
        g = geometry(x_shape, kernel, stride, padding)
        mac = config.npu_eltwise and (pair or g.oh * g.ow < MAC_PIXELS * config.npu_rows)
    if mac and not config.npu_eltwise:
        raise ValueError(f"mac: config {config.name!r} has no element-wise unit (npu_eltwise)")
    return bool(mac)


def _tap_rows_matrix(w):
    """(1, KH, KW, C) -> per chunk ``(KH*KW, nn)``: row ``kh*KW + kw`` holds ``w[kh, kw, chunk]``
    (the weight rows of the element-wise MAC)."""
    flat = w.reshape(w.shape[1] * w.shape[2], -1)
    return lambda j, nc: np.ascontiguousarray(flat[:, j * nc:(j + 1) * nc])


def conv2d_int8_program(config, x_shape, w, bias, *, input_zero_point, output_zero_point,
                        multiplier, shift, stride=1, padding="SAME", dilation=1, lo=-128,
                        hi=127, x_addr, out_addr, param_addr,
                        rounding=RequantMode.TFLITE_DOUBLE_ROUNDING, wmodes=None, spread=True):
    """CONV_2D INT8 (:func:`dure.sim.golden_tflite.conv2d_int8`) as a
    :class:`~dure.sim.layer_program.LayerProgram` (see the module docstring). A layer with
    few input channels (``kw * Cin <= R``, :func:`dure.sim.conv_pack.pack_applies`) packs
    kernel taps into the array's K lanes (:mod:`dure.sim.conv_pack`) unless ``wmodes`` is
    given. ``spread``: as :func:`dure.sim.walk_emit.walk_descriptors`' (the first unit's
    unused tile LOADs spread between its COMPUTEs), and for a 1x1 stride-1 layer the blocking
    search counts the first unit's wait for its data (:func:`~dure.sim.walk_plan.plan_walk`
    ``startup``). The firmware's C port (firmware/npu/npu_conv.c, npu_conv_pack.c) emits the
    stream of the defaults word for word.

    ``x_shape``: (N, H, W, Cin); ``w``: int8 (Cout, KH, KW, Cin); ``bias``: int32 (Cout,) or
    None; the output (N, OH, OW, Cout) int8 goes to ``out_addr`` (dense NHWC); the parameter
    bytes take ``program.param_bytes`` from ``param_addr`` (16-byte aligned). ``wmodes``
    restricts the weight buffering the planner may pick (:func:`dure.sim.walk_plan.plan_walk`;
    tests force each)."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.INT8)
    array_arg("w", w, np.int8, 4)
    cout, kh, kw, cin = w.shape
    if x_shape[3] != cin:
        raise ValueError(f"x_shape has {x_shape[3]} channels but w expects {cin}")
    zi = _zp("input_zero_point", input_zero_point)
    b = np.zeros(cout, np.int64) if bias is None else \
        vector_arg("bias", bias, np.int32, cout).astype(np.int64)
    folded = wrap_int32(b - zi * w.reshape(cout, -1).astype(np.int64).sum(axis=1))
    params = ParamArea(param_addr)
    acc_init = params.add(folded)
    n_chunk = config.npu_cols
    const = _requant_rows(multiplier, shift, cout, n_chunk)
    store = _int8_store(output_zero_point, lo, hi, rounding)
    geo = geometry(x_shape, (kh, kw), stride, padding)
    if wmodes is None and pack_applies(config, geo, cin, cout):
        return _packed_program(config, geo, x_shape, w, params, acc_init, const, store, zi,
                               x_addr=x_addr, out_addr=out_addr)
    layer = _conv_layer(config, x_shape, _conv_weights_matrix(w), (kh, kw), stride, padding,
                        Precision.INT8, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=zi & 0xFFFF, store=store, const=const,
                        const_per_chunk=2, cout=cout, diagonal=False)
    return _program(config, layer, x_shape, cout, np.int8, wmodes=wmodes, spread=spread)


def _packed_program(config, geo, x_shape, w, params, acc_init, const, store, zi, *, x_addr,
                    out_addr, precision=Precision.INT8):
    """The :mod:`dure.sim.conv_pack` plan of an INT8 or FP16 convolution (parameters as in
    :func:`conv2d_int8_program`, plus the identity matrix and the scratch rows; FP16: ``const``
    the scale rows or None, ``acc_init`` None without bias, ``zi`` 0)."""
    cout, kh, kw, cin = w.shape
    r, c = config.npu_rows, config.npu_cols
    fp16 = precision == Precision.FP16
    lay = pack_layout(config, geo, cin, cout, precision)
    weights = [params.add(m) for m in packed_weights(w, lay, c)]
    if fp16:
        const_addr = 0
        if const is not None:                     # the scale rows in the two-row slots
            slots = np.zeros((2 * const.shape[0], c), np.float32)
            slots[0::2] = const
            const_addr = params.add(slots)
    else:
        ident_rows = np.zeros((2, c), np.int32)
        ident_rows[0], ident_rows[1] = IDENTITY_MULTIPLIER, IDENTITY_SHIFT
        const_addr = params.add(np.concatenate([const, ident_rows]))
    ident_addr = params.add(np.eye(r, dtype=w.dtype))
    scratch_addr = params.add(np.zeros(geo.batch * lay.pos * lay.lanes, w.dtype))
    words = packed_conv_descriptors(
        config, geo, cin, cout, x_addr=x_addr, out_addr=out_addr, weights=weights,
        acc_init=acc_init, const_addr=const_addr, ident_addr=ident_addr,
        scratch_addr=scratch_addr, store=store, pad_value=zi & 0xFFFF, precision=precision)
    macs = geo.pixels * kh * kw * cin * cout
    array_macs = perf_macs(words)
    slots = sum((x[4] & 0xFFFF) * r * c for x in words if x[0] & 0xF == 2)
    computes = sum(1 for x in words if x[0] & 0xF == 2)
    return LayerProgram(words, params.blobs, out_addr, (geo.batch, geo.oh, geo.ow, cout),
                        w.dtype, macs=macs, array_macs=array_macs, lane_use=macs / slots,
                        plan=None, notes=[f"taps packed {lay.lanes} to a COMPUTE",
                                          f"{computes} COMPUTEs"])


def conv2d_fp16_program(config, x_shape, w, bias=None, *, stride=1, padding="SAME",
                        dilation=1, scale=None, lo=None, hi=None, x_addr, out_addr,
                        param_addr, wmodes=None, spread=False):
    """CONV_2D FP16 (:func:`dure.sim.golden_tflite_fp16.conv2d_fp16`); arguments as
    :func:`conv2d_int8_program` with float16 ``w``, float32 ``bias`` / ``scale`` (optional)
    and float clamp bounds (optional). A layer with few input channels packs kernel taps
    into the K lanes (:mod:`dure.sim.conv_pack`) unless ``wmodes`` is given: DS-CNN's 10x4 / 2
    first layer on the 8x8 `sim` SoC 44.1 k -> 12.9 k cycles. ``spread`` defaults to False
    here: on the 8x8 `sim` SoC the spread stream made FP16 pointwise layers slower (DS-CNN pw
    15.8 k vs 14.7 k cycles, MobileNetV1-0.25 674 k vs 657 k per inference), unlike INT8.
    Without it a 1x1 stride-1 layer's blocking search breaks ties by the first unit's wait
    for its data (:func:`~dure.sim.walk_plan.plan_walk` ``startup_tiebreak``)."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.FP16)
    array_arg("w", w, np.float16, 4)
    cout, kh, kw, cin = w.shape
    if x_shape[3] != cin:
        raise ValueError(f"x_shape has {x_shape[3]} channels but w expects {cin}")
    params = ParamArea(param_addr)
    acc_init = None if bias is None else \
        params.add(vector_arg("bias", bias, np.float32, cout))
    n_chunk = config.npu_cols
    const = None if scale is None else _scale_rows(scale, cout, n_chunk)
    store = _fp16_store(scale, lo, hi)
    geo = geometry(x_shape, (kh, kw), stride, padding)
    if wmodes is None and pack_applies(config, geo, cin, cout, Precision.FP16):
        return _packed_program(config, geo, x_shape, w, params, acc_init, const, store, 0,
                               x_addr=x_addr, out_addr=out_addr, precision=Precision.FP16)
    layer = _conv_layer(config, x_shape, _conv_weights_matrix(w), (kh, kw), stride, padding,
                        Precision.FP16, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=0, store=store, const=const,
                        const_per_chunk=1, cout=cout, diagonal=False)
    return _program(config, layer, x_shape, cout, np.float16, wmodes=wmodes, spread=spread)


def depthwise_conv2d_int8_program(config, x_shape, w, bias, *, input_zero_point,
                                  output_zero_point, multiplier, shift, stride=1,
                                  padding="SAME", dilation=1, depth_multiplier=1, lo=-128,
                                  hi=127, x_addr, out_addr, param_addr, spread=True,
                                  mac=None, pair=True):
    """DEPTHWISE_CONV_2D INT8 (:func:`dure.sim.golden_tflite.depthwise_conv2d_int8`), channel
    multiplier 1; ``w``: int8 (1, KH, KW, C). Other arguments as :func:`conv2d_int8_program`;
    ``spread``: :func:`dure.sim.walk_emit.walk_descriptors`'. ``mac``: every tap an ELTWISE
    ``MAC`` on the element-wise unit (no weight load or array latency between taps) instead of
    a diagonal COMPUTE; default: when the NPU has the unit and either ``pair`` or an output
    image has fewer pixels than :data:`MAC_PIXELS` x R (measurements at
    :data:`dure.gemm_cost.WALK_MAC_PIXELS`). ``pair``: with ``mac``, two taps per ELTWISE
    (``pair`` MACs, :attr:`~dure.sim.walk_layer.WalkLayer.eltwise_pair`), which makes the MAC
    the default on every map: measured on the 8x8 RTL NPU alone (Amaranth simulator, the layer
    as one LIST, PERF_BUSY), 25x5x64 3x3 one tap per MAC 13,119 -> pair 9,466 cycles; 48x48x8
    3x3 diagonal 27,223 -> pair 16,019. The firmware's C port (firmware/npu/npu_conv.c) writes
    the default stream (``mac=None``, ``pair=True``, ``spread=True``) word for word.
    """
    stride = _check_common(config, x_shape, stride, dilation, Precision.INT8, depth_multiplier)
    array_arg("w", w, np.int8, 4)
    one, kh, kw, cout = w.shape
    if one != 1 or cout != x_shape[3]:
        raise ValueError(f"w must have shape (1, KH, KW, {x_shape[3]}), not {w.shape}")
    mac = _depthwise_mac(config, x_shape, (kh, kw), stride, padding, mac, pair)
    zi = _zp("input_zero_point", input_zero_point)
    b = np.zeros(cout, np.int64) if bias is None else \
        vector_arg("bias", bias, np.int32, cout).astype(np.int64)
    folded = wrap_int32(b - zi * w.reshape(-1, cout).astype(np.int64).sum(axis=0))
    params = ParamArea(param_addr)
    acc_init = params.add(folded)
    lc = min(config.npu_rows, config.npu_cols)
    const = _requant_rows(multiplier, shift, cout, lc)
    store = _int8_store(output_zero_point, lo, hi, RequantMode.TFLITE_DOUBLE_ROUNDING)
    weights = _tap_rows_matrix(w) if mac else _diag_weights_matrix(w)
    layer = _conv_layer(config, x_shape, weights, (kh, kw), stride, padding,
                        Precision.INT8, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=zi & 0xFFFF, store=store, const=const,
                        const_per_chunk=2, cout=cout, diagonal=True)
    layer.eltwise_mac = mac
    layer.eltwise_pair = mac and bool(pair)
    return _program(config, layer, x_shape, cout, np.int8, spread=spread)


def depthwise_conv2d_fp16_program(config, x_shape, w, bias=None, *, stride=1, padding="SAME",
                                  dilation=1, depth_multiplier=1, scale=None, lo=None, hi=None,
                                  x_addr, out_addr, param_addr, spread=True):
    """DEPTHWISE_CONV_2D FP16 (:func:`dure.sim.golden_tflite_fp16.depthwise_conv2d_fp16`),
    channel multiplier 1; arguments as :func:`conv2d_fp16_program`, ``spread`` as
    :func:`depthwise_conv2d_int8_program`'s."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.FP16, depth_multiplier)
    array_arg("w", w, np.float16, 4)
    one, kh, kw, cout = w.shape
    if one != 1 or cout != x_shape[3]:
        raise ValueError(f"w must have shape (1, KH, KW, {x_shape[3]}), not {w.shape}")
    params = ParamArea(param_addr)
    acc_init = None if bias is None else \
        params.add(vector_arg("bias", bias, np.float32, cout))
    lc = min(config.npu_rows, config.npu_cols)
    const = None if scale is None else _scale_rows(scale, cout, lc)
    store = _fp16_store(scale, lo, hi)
    layer = _conv_layer(config, x_shape, _diag_weights_matrix(w), (kh, kw), stride, padding,
                        Precision.FP16, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=0, store=store, const=const,
                        const_per_chunk=1, cout=cout, diagonal=True)
    return _program(config, layer, x_shape, cout, np.float16, spread=spread)


def fully_connected_int8_program(config, x_shape, w, bias, *, input_zero_point,
                                 output_zero_point, multiplier, shift, lo=-128, hi=127,
                                 x_addr, out_addr, param_addr):
    """FULLY_CONNECTED INT8 (:func:`dure.sim.golden_tflite.fully_connected_int8`, weights zero
    point 0): ``x_shape`` (B, K), ``w`` int8 (units, K); lowered as a 1x1 convolution of the
    (1, B, 1, K) image with the single-rounding STORE. The output is (1, B, 1, units) NHWC,
    i.e. (B, units) row-major."""
    if len(x_shape) != 2:
        raise ValueError(f"x_shape must be (B, K), not {x_shape}")
    array_arg("w", w, np.int8, 2)
    return conv2d_int8_program(
        config, (1, x_shape[0], 1, x_shape[1]), w[:, None, None, :], bias,
        input_zero_point=input_zero_point, output_zero_point=output_zero_point,
        multiplier=multiplier, shift=shift, padding="VALID", lo=lo, hi=hi, x_addr=x_addr,
        out_addr=out_addr, param_addr=param_addr,
        rounding=RequantMode.TFLITE_SINGLE_ROUNDING)


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


def conv2d_int8_float_scale_program(config, x_shape, w, bias, *, input_zero_point,
                                    output_zero_point, scale, stride=1, padding="SAME",
                                    dilation=1, lo=-128, hi=127, x_addr, out_addr, param_addr,
                                    wmodes=None, spread=True):
    """CONV_2D INT8 with the float-scale requantization (ONNX QLinearConv, module docstring):
    arguments as :func:`conv2d_int8_program` with ``scale`` (float32, one per output channel
    or one for all) instead of the multiplier and shift; ``padding`` may also be explicit
    ``(top, left, bottom, right)`` amounts (:func:`dure.sim.walk_layer.geometry`). The
    firmware's C port (``npu_op_conv2d`` with a scale and no multiplier, firmware/npu/npu_conv.c
    and npu_conv_pack.c) emits the default stream word for word, SAME / VALID padding only."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.INT8)
    if not config.npu_float_post:
        raise ValueError(f"config {config.name!r} has no fp32 post-processing (FLOAT_SCALE)")
    array_arg("w", w, np.int8, 4)
    cout, kh, kw, cin = w.shape
    if x_shape[3] != cin:
        raise ValueError(f"x_shape has {x_shape[3]} channels but w expects {cin}")
    zi = _zp("input_zero_point", input_zero_point)
    s = _float_scale_vector(scale, cout)
    params = ParamArea(param_addr)
    acc_init = params.add(_folded_int8_bias(
        bias, zi, w.reshape(cout, -1).astype(np.int64).sum(axis=1), cout))
    n_chunk = config.npu_cols
    store = _float_scale_store(output_zero_point, lo, hi)
    geo = geometry(x_shape, (kh, kw), stride, padding)
    if wmodes is None and pack_applies(config, geo, cin, cout):
        rows = _scale_rows(s, cout, n_chunk)          # the packed plan's two-row slots
        const = np.zeros((2 * rows.shape[0], n_chunk), np.float32)
        const[0::2] = rows
        return _packed_program(config, geo, x_shape, w, params, acc_init,
                               const.view(np.int32), store, zi, x_addr=x_addr,
                               out_addr=out_addr)
    layer = _conv_layer(config, x_shape, _conv_weights_matrix(w), (kh, kw), stride, padding,
                        Precision.INT8, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=zi & 0xFFFF, store=store,
                        const=_scale_rows(s, cout, n_chunk), const_per_chunk=1, cout=cout,
                        diagonal=False)
    return _program(config, layer, x_shape, cout, np.int8, wmodes=wmodes, spread=spread)


def depthwise_conv2d_int8_float_scale_program(config, x_shape, w, bias, *, input_zero_point,
                                              output_zero_point, scale, stride=1,
                                              padding="SAME", dilation=1, depth_multiplier=1,
                                              lo=-128, hi=127, x_addr, out_addr, param_addr,
                                              spread=True, mac=None, pair=True):
    """DEPTHWISE_CONV_2D INT8 with the float-scale requantization (ONNX QLinearConv with
    ``group`` = channels, module docstring), channel multiplier 1; arguments as
    :func:`depthwise_conv2d_int8_program` with ``scale`` instead of the multiplier and shift
    (``mac`` / ``pair`` too: pair MACs on the element-wise unit by default where the NPU has
    one), ``padding`` as :func:`conv2d_int8_float_scale_program`'s; C port (``npu_op_depthwise``
    with a scale and no multiplier) likewise."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.INT8, depth_multiplier)
    if not config.npu_float_post:
        raise ValueError(f"config {config.name!r} has no fp32 post-processing (FLOAT_SCALE)")
    array_arg("w", w, np.int8, 4)
    one, kh, kw, cout = w.shape
    if one != 1 or cout != x_shape[3]:
        raise ValueError(f"w must have shape (1, KH, KW, {x_shape[3]}), not {w.shape}")
    zi = _zp("input_zero_point", input_zero_point)
    s = _float_scale_vector(scale, cout)
    params = ParamArea(param_addr)
    acc_init = params.add(_folded_int8_bias(
        bias, zi, w.reshape(-1, cout).astype(np.int64).sum(axis=0), cout))
    lc = min(config.npu_rows, config.npu_cols)
    store = _float_scale_store(output_zero_point, lo, hi)
    mac = _depthwise_mac(config, x_shape, (kh, kw), stride, padding, mac, pair)
    weights = _tap_rows_matrix(w) if mac else _diag_weights_matrix(w)
    layer = _conv_layer(config, x_shape, weights, (kh, kw), stride, padding,
                        Precision.INT8, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=zi & 0xFFFF, store=store,
                        const=_scale_rows(s, cout, lc), const_per_chunk=1, cout=cout,
                        diagonal=True)
    layer.eltwise_mac = mac
    layer.eltwise_pair = mac and bool(pair)
    return _program(config, layer, x_shape, cout, np.int8, spread=spread)
