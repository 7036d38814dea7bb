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
  the COMPUTE's weight load and array latency between taps. FP16 depthwise does the same on
  the unit's FP16 MAC where the NPU has it (``config.npu_eltwise_fp16_mac``): a pair MAC adds
  its two taps one after the other, ``(acc + x w[t]) + x' w[t + 1]``, so the taps still go in
  (kh, kw) order from the bias.
- :func:`fully_connected_int8_program`: FULLY_CONNECTED as a 1x1 convolution of a
  ``(1, B, 1, K)`` image, stored with the single-rounding mode (the hardware's fixed-point
  form, :func:`dure.sim.golden_tflite.fully_connected_int8_fixed`; LiteRT rescales in double,
  and the compiler's FC layers take STORE parameters proven equal to it, compiler/fc_store.py).

- :func:`conv2d_int8_float_scale_program` / :func:`depthwise_conv2d_int8_float_scale_program`:
  the same walks (and the same tap packing for few input channels) with the ``FLOAT_SCALE``
  STORE instead of a TFLite mode, i.e. ONNX QLinearConv as onnxruntime computes it:
  ``y = clamp(rne(f32(acc) * scale_j) + zp_out, lo, hi)`` with ``acc = bias + sum w * (x -
  zp_in)`` (int32, wrapping; padded taps hold ``zp_in``; weights zero point 0) and one fp32
  ``scale_j`` per output channel (:func:`dure.sim.golden.requantize`). The scale rows sit in
  ACC where the TFLite modes keep their multiplier rows (one row per chunk; the packed plan
  keeps its two-row slots, the second row unused).

- :func:`conv2d_int8_sum_program`: the same walk (never tap-packed) with a raw ``INT32``
  STORE: ``acc = sum w * (x - zp_in)`` exactly (no bias; padded taps hold ``zp_in``), for
  the exact fast path of the float32 convolutions onnxruntime runs unfused
  (``compiler/onnx_fast.py``).

Unsupported parameters raise ValueError naming the parameter: dilation other than 1, depth
multiplier other than 1, a shift outside [-31, 30] (the STORE saturates there), FP16 on an NPU
without FP16.
"""

import numpy as np
from dure.rtl.npu.commands import OutType, Precision, RequantMode

from .conv_emit import (
    MAC_PIXELS,  # noqa: F401 (re-exported: the depthwise MAC threshold)
    _conv_layer,
    _depthwise_mac,
    _packed_program,
    _program,
)
from .conv_layout import (
    _check_common,
    _conv_weights_matrix,
    _diag_weights_matrix,
    _tap_rows_matrix,
)
from .conv_pack import pack_applies
from .conv_requant import (
    _float_scale_store,
    _float_scale_vector,
    _folded_int8_bias,
    _fp16_store,
    _int8_store,
    _requant_rows,
    _scale_rows,
)
from .golden_args import array_arg, vector_arg, zero_point_arg
from .golden_fixedpoint import wrap_int32
from .layer_program import ParamArea
from .walk_layer import geometry

__all__ = ["conv2d_int8_program", "conv2d_fp16_program", "depthwise_conv2d_int8_program",
           "depthwise_conv2d_fp16_program", "fully_connected_int8_program",
           "conv2d_int8_float_scale_program", "depthwise_conv2d_int8_float_scale_program",
           "conv2d_int8_sum_program"]


def conv2d_int8_program(config, x_shape, w, bias, *, input_zero_point, output_zero_point,
                        multiplier, shift, stride=1, padding="SAME", dilation=1, lo=-128,
                        hi=127, x_addr, out_addr, param_addr,
                        rounding=RequantMode.TFLITE_DOUBLE_ROUNDING, wmodes=None, spread=True,
                        listed=False):
    """CONV_2D INT8 (:func:`dure.sim.golden_tflite.conv2d_int8`) as a
    :class:`~dure.sim.layer_program.LayerProgram` (see the module docstring). A layer with
    few input channels (``kw * Cin <= R``, :func:`dure.sim.conv_pack.pack_applies`) packs
    kernel taps into the array's K lanes (:mod:`dure.sim.conv_pack`) unless ``wmodes`` is
    given. ``spread``: as :func:`dure.sim.walk_emit.walk_descriptors`' (the first unit's
    unused tile LOADs spread between its COMPUTEs), and for a 1x1 stride-1 layer the blocking
    search counts the first unit's wait for its data (:func:`~dure.sim.walk_plan.plan_walk`
    ``startup``). ``listed``: the layer runs as one LIST (the NPU fetches the descriptors
    itself, :meth:`dure.sim.npu_job.Job.commands` ``as_list``), not pushed by the core; it
    may order the head differently (:func:`dure.sim.walk_emit.walk_descriptors`). The
    firmware's C port (firmware/npu/npu_conv.c, npu_conv_pack.c; ``listed``: struct
    npu_op_conv's) emits the stream of the defaults word for word.

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
    zi = zero_point_arg("input_zero_point", input_zero_point)
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
    return _program(config, layer, x_shape, cout, np.int8, wmodes=wmodes, spread=spread,
                    listed=listed)


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
    zi = zero_point_arg("input_zero_point", input_zero_point)
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
                                  x_addr, out_addr, param_addr, spread=True, mac=None,
                                  pair=True):
    """DEPTHWISE_CONV_2D FP16 (:func:`dure.sim.golden_tflite_fp16.depthwise_conv2d_fp16`),
    channel multiplier 1; arguments as :func:`conv2d_fp16_program`, ``spread``, ``mac`` and
    ``pair`` as :func:`depthwise_conv2d_int8_program`'s, with the element-wise unit's FP16 MAC
    (``config.npu_eltwise_fp16_mac``) in place of the unit: by default every two taps are one
    FP16 ``pair`` MAC, ``(acc + x w[t]) + x' w[t + 1]``, taps in (kh, kw) order from the bias,
    which is the golden's sequential order."""
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
    mac = _depthwise_mac(config, x_shape, (kh, kw), stride, padding, mac, pair,
                         Precision.FP16)
    weights = _tap_rows_matrix(w) if mac else _diag_weights_matrix(w)
    layer = _conv_layer(config, x_shape, weights, (kh, kw), stride, padding,
                        Precision.FP16, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=0, store=store, const=const,
                        const_per_chunk=1, cout=cout, diagonal=True)
    layer.eltwise_mac = mac
    layer.eltwise_pair = mac and bool(pair)
    return _program(config, layer, x_shape, cout, np.float16, spread=spread)


def fully_connected_int8_program(config, x_shape, w, bias, *, input_zero_point,
                                 output_zero_point, multiplier, shift, lo=-128, hi=127,
                                 x_addr, out_addr, param_addr):
    """FULLY_CONNECTED INT8 in the hardware's fixed-point form
    (:func:`dure.sim.golden_tflite.fully_connected_int8_fixed`, weights zero point 0):
    ``x_shape`` (B, K), ``w`` int8 (units, K); lowered as a 1x1 convolution of the
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


def conv2d_int8_float_scale_program(config, x_shape, w, bias, *, input_zero_point,
                                    output_zero_point, scale, stride=1, padding="SAME",
                                    dilation=1, lo=-128, hi=127, x_addr, out_addr, param_addr,
                                    wmodes=None, spread=True, listed=False):
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
    zi = zero_point_arg("input_zero_point", input_zero_point)
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
    return _program(config, layer, x_shape, cout, np.int8, wmodes=wmodes, spread=spread,
                    listed=listed)


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
    zi = zero_point_arg("input_zero_point", input_zero_point)
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


def conv2d_int8_sum_program(config, x_shape, w, *, input_zero_point, stride=1, padding="SAME",
                            dilation=1, x_addr, out_addr, param_addr, wmodes=None,
                            spread=True):
    """The exact integer sums of a CONV_2D INT8, ``S[n, y, x, o] = sum w[o, kh, kw, ci] *
    (x[...] - zp_in)`` over the taps inside the image (padded taps hold ``zp_in`` and add 0),
    stored raw as int32 (wrapping; exact while ``|S| < 2**31``): (N, OH, OW, Cout) int32 at
    ``out_addr``. Arguments as :func:`conv2d_int8_float_scale_program` without the output
    parameters; the walk is never tap-packed (the packed plan's gather stores int8)."""
    stride = _check_common(config, x_shape, stride, dilation, Precision.INT8)
    array_arg("w", w, np.int8, 4)
    cout, kh, kw, cin = w.shape
    if x_shape[3] != cin:
        raise ValueError(f"x_shape has {x_shape[3]} channels but w expects {cin}")
    zi = zero_point_arg("input_zero_point", input_zero_point)
    params = ParamArea(param_addr)
    acc_init = params.add(_folded_int8_bias(
        None, zi, w.reshape(cout, -1).astype(np.int64).sum(axis=1), cout))
    store = dict(out=OutType.INT32, acc_type=Precision.INT8, scale=0)
    layer = _conv_layer(config, x_shape, _conv_weights_matrix(w), (kh, kw), stride, padding,
                        Precision.INT8, x_addr=x_addr, out_addr=out_addr, params=params,
                        acc_init=acc_init, pad_value=zi & 0xFFFF, store=store, const=None,
                        const_per_chunk=0, cout=cout, diagonal=False)
    layer.out_bytes = 4
    return _program(config, layer, x_shape, cout, np.int32, wmodes=wmodes, spread=spread)
