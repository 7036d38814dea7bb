"""Whole operators lowered onto the NPU by the operator planners of :mod:`dure.sim`.

:func:`layer_planner` decides whether an IR operator goes to the NPU through
:mod:`dure.sim.conv_plan` (CONV_2D, DEPTHWISE_CONV_2D), :mod:`dure.sim.pool_plan`
(AVERAGE_POOL_2D, MAX_POOL_2D) or :mod:`dure.sim.eltwise_plan` (ADD), and returns a function
``plan(x_addrs, out_addr, param_addr) -> LayerProgram`` (the planner called with this operator's
arguments), or None when the operator stays on the older paths (the GEMM planner / im2col, or
the core). The planners are bit-exact with the golden TFLite operators that the compiler's
reference uses for the same operators (:mod:`.reference`), so the cases taken here are exactly
those where the reference calls them:

- INT8 conv / depthwise with weight zero point 0: TFLite models with TFLite's double-rounding
  requantization (SAME / VALID padding), ONNX models (QLinearConv, QDQ Conv, group = channels
  for depthwise) with the ``FLOAT_SCALE`` STORE and onnxruntime's scales
  (:func:`.reference.onnx_scales`; SAME / VALID or explicit ``pads``, padded taps holding the
  input zero point; uint8 tensors are already int8 with shifted zero points, see
  :mod:`.onnx_quantized`); INT8 average pooling for TFLite models (TFLite's rounded
  average) and ONNX global average pooling (QLinearGlobalAveragePool's integer path: the sum
  minus ``zp * n`` then the FLOAT_SCALE STORE, ``global_average_pool_int8_float_scale_program``
  of :mod:`dure.sim.pool_plan`); other ONNX average pooling (its float path) stays on the
  core;
- INT8 max pooling for every model (its arithmetic is the same maximum in both front ends) and
  INT8 ADD of two activations, both on the NPU's element-wise unit (``config.npu_eltwise``):
  TFLite models with TFLite's per-input rescaling, ONNX models (QLinearAdd's float32
  arithmetic) with the fixed-point parameters :func:`.onnx_add.eltwise_add_params` proves
  equal to onnxruntime's on all 65,536 operand pairs (a layer without such parameters stays
  on the core); in ONNX models one operand may be a constant (the Dense layer's MatMul + Add:
  broadcast to the output's shape by the front end), stored first in the layer's parameter
  bytes;
- FP16 for float models (TFLite or ONNX): conv / depthwise (``SAME`` / ``VALID`` or explicit
  ``pads``, padded with +0.0) and average and max pooling with ``SAME`` / ``VALID`` padding
  (explicit pooling pads stay on the old path),
  ADD of two activations of the output's shape (no broadcasting, no constant operand);
- what a planner refuses (dilation, depth multiplier other than 1, a shift outside the STORE's
  range, a layer whose blocking does not fit the SPAD / ACC) raises ValueError there: the
  operator then stays on the old path too.

A crossed TFLite clamp (``lo > hi``, which the reference kernels resolve to ``hi``) becomes
``[hi, hi]``, as for the GEMMs.
"""

import numpy as np
from dure.sim.conv_plan import (
    conv2d_fp16_program,
    conv2d_int8_float_scale_program,
    conv2d_int8_program,
    depthwise_conv2d_fp16_program,
    depthwise_conv2d_int8_float_scale_program,
    depthwise_conv2d_int8_program,
)
from dure.sim.eltwise_plan import add_fp16_program, add_int8_program
from dure.sim.golden_tflite_params import add_params
from dure.sim.pool_plan import (
    average_pool_fp16_program,
    average_pool_int8_program,
    global_average_pool_int8_float_scale_program,
    max_pool_fp16_program,
    max_pool_int8_program,
)

from .ir import OpKind
from .onnx_add import eltwise_add_params
from .reference import (
    constant,
    onnx_global_pool,
    onnx_global_pool_scale,
    onnx_scales,
    tflite_multipliers,
)

__all__ = ["layer_planner", "param_image"]


def _int8_clamp(op):
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")
    lo, hi = -128 if lo is None else int(lo), 127 if hi is None else int(hi)
    return min(lo, hi), hi


def _conv(graph, op, config, precision, channels=None, rows=None):
    if rows is not None:
        return None
    T = graph.tensors
    a = op.attrs
    x = T[op.inputs[0]]
    w = constant(graph, op.inputs[1])
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    depthwise = op.kind is OpKind.DEPTHWISE_CONV_2D
    part = slice(None) if channels is None else slice(*channels)
    shape = tuple(x.shape)
    if channels is not None:            # output channels c0:c1 only (tile_split)
        w = w[..., part] if depthwise else w[part]
        b = None if b is None else b[part]
        if depthwise:
            shape = (*shape[:3], w.shape[-1])
    geo = dict(stride=a["stride"], padding=a["padding"], dilation=a["dilation"])
    if depthwise:
        geo["depth_multiplier"] = a["depth_multiplier"]
    if precision == "fp16":
        fn = depthwise_conv2d_fp16_program if depthwise else conv2d_fp16_program
        kw = dict(lo=a.get("lo"), hi=a.get("hi"),
                  bias=None if b is None else b.astype(np.float32))
    else:
        if np.any(T[op.inputs[1]].quant.zero_point != 0):
            return None
        lo, hi = _int8_clamp(op)
        kw = dict(bias=b, input_zero_point=x.quant.zp,
                  output_zero_point=T[op.outputs[0]].quant.zp, lo=lo, hi=hi)
        if graph.arithmetic == "onnx":
            fn = depthwise_conv2d_int8_float_scale_program if depthwise else \
                conv2d_int8_float_scale_program
            kw["scale"] = onnx_scales(graph, op)[part]
        elif graph.arithmetic == "tflite":
            if not isinstance(a["padding"], str):
                return None
            fn = depthwise_conv2d_int8_program if depthwise else conv2d_int8_program
            mult, shift = tflite_multipliers(graph, op)
            kw.update(multiplier=mult[part], shift=shift[part])
            if not depthwise:
                kw["listed"] = True      # npu_model_run runs each NPU layer as LISTs
        else:
            return None

    def plan(x_addrs, out_addr, param_addr):
        return fn(config, shape, w, **kw, **geo, x_addr=x_addrs[0], out_addr=out_addr,
                  param_addr=param_addr)
    return plan


def _pool(graph, op, config, precision, channels=None, rows=None):
    if rows is not None:
        return None
    a = op.attrs
    peak = op.kind is OpKind.MAX_POOL_2D
    if precision == "fp16":
        fn = max_pool_fp16_program if peak else average_pool_fp16_program
        lo, hi = a.get("lo"), a.get("hi")
    else:
        lo, hi = _int8_clamp(op)
        shape = tuple(graph.tensors[op.inputs[0]].shape)
        if channels is not None:
            shape = (*shape[:3], channels[1] - channels[0])
        if graph.arithmetic == "onnx" and not peak:
            if not onnx_global_pool(graph, op):
                return None             # QLinearAveragePool's float path stays on the core
            xq, yq = (graph.tensors[n].quant for n in (op.inputs[0], op.outputs[0]))
            scale = onnx_global_pool_scale(graph, op)

            def plan_global(x_addrs, out_addr, param_addr):
                return global_average_pool_int8_float_scale_program(
                    config, shape, input_zero_point=xq.zp, output_zero_point=yq.zp,
                    scale=scale, lo=lo, hi=hi, x_addr=x_addrs[0], out_addr=out_addr,
                    param_addr=param_addr)
            return plan_global
        if graph.arithmetic != "tflite" and not peak:
            return None
        fn = max_pool_int8_program if peak else average_pool_int8_program
    shape = tuple(graph.tensors[op.inputs[0]].shape)
    if channels is not None:            # channels c0:c1 only (tile_split)
        shape = (*shape[:3], channels[1] - channels[0])

    def plan(x_addrs, out_addr, param_addr):
        return fn(config, shape, a["filter"], stride=a["stride"], padding=a["padding"], lo=lo,
                  hi=hi, x_addr=x_addrs[0], out_addr=out_addr, param_addr=param_addr)
    return plan


def _add(graph, op, config, precision, channels=None, rows=None):
    if channels is not None:
        return None
    T = graph.tensors
    if len(op.inputs) != 2 or (precision != "fp16" and graph.arithmetic not in ("tflite",
                                                                                "onnx")):
        return None
    out = tuple(T[op.outputs[0]].shape)
    # ONNX INT8: one operand may be a constant of the output's shape (the front end broadcasts
    # it), stored in the layer's parameter bytes
    consts = [i for i, n in enumerate(op.inputs) if n is not None and T[n].const]
    onnx_const = precision != "fp16" and graph.arithmetic == "onnx" and len(consts) == 1 \
        and rows is None
    if any(n is None or (T[n].const and not onnx_const) or tuple(T[n].shape) != out
           for n in op.inputs):
        return None
    if rows is not None:                # image rows r0:r1 of the (N * H, W, C) rows only
        out = (1, rows[1] - rows[0], *out[2:])
    if precision != "fp16":
        q1, q2, qo = (T[n].quant for n in (*op.inputs, op.outputs[0]))
        lo, hi = _int8_clamp(op)
        if graph.arithmetic == "onnx":
            params = eltwise_add_params(graph, op, lo, hi)     # proven on every int8 pair
            if params is None:
                return None
        else:
            params = add_params(q1.s, q2.s, qo.s)
        const = np.ascontiguousarray(constant(graph, op.inputs[consts[0]]), np.int8) \
            if onnx_const else None

        def plan_int8(x_addrs, out_addr, param_addr):
            addrs = list(x_addrs[:2])
            blobs = []
            if const is not None:       # the constant first, the ADD's own parameters after
                addrs = [x_addrs[0]] * 2
                addrs[consts[0]] = param_addr
                blobs = [(param_addr, const.tobytes())]
                param_addr += -(-const.nbytes // 16) * 16
            prog = add_int8_program(config, out, params, input1_zero_point=q1.zp,
                                    input2_zero_point=q2.zp, output_zero_point=qo.zp, lo=lo,
                                    hi=hi, a_addr=addrs[0], b_addr=addrs[1],
                                    out_addr=out_addr, param_addr=param_addr)
            prog.blobs = blobs + list(prog.blobs)
            return prog
        return plan_int8
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")

    def plan(x_addrs, out_addr, param_addr):
        return add_fp16_program(config, out, lo=lo, hi=hi, a_addr=x_addrs[0],
                                b_addr=x_addrs[1], out_addr=out_addr, param_addr=param_addr)
    return plan


_PLANNERS = {OpKind.CONV_2D: _conv, OpKind.DEPTHWISE_CONV_2D: _conv,
             OpKind.AVERAGE_POOL_2D: _pool, OpKind.MAX_POOL_2D: _pool, OpKind.ADD: _add}


def float_conv(op):
    """Whether ``op`` is a convolution onnxruntime runs unfused in float32 (``ort_float``,
    :mod:`.onnx_float`): the core computes it, never the NPU's integer path."""
    return bool(op.attrs.get("ort_float")) and \
        op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D)


def layer_planner(graph, op, config, precision, channels=None, rows=None):
    """``(plan, trial)`` for ``op``: ``plan(x_addrs, out_addr, param_addr)`` (module
    docstring) and ``trial``, its :class:`~dure.sim.layer_program.LayerProgram` with every
    address at ``config``'s main-memory base (the check that the planner accepts the layer; its
    parameter bytes do not depend on the addresses). None if the operator does not go to the
    NPU this way.

    ``channels=(c0, c1)``: only output channels ``c0:c1`` (convolution: those filters;
    depthwise convolution and pooling: those channels of the input too), planned as if the
    tensors had ``c1 - c0`` channels (dense NHWC at the addresses given; :mod:`.tile_split`
    moves the rows into the whole tensors). None for ADD. ``rows=(r0, r1)``: ADD only, image
    rows ``r0:r1`` of the ``N * H`` rows (a dense block at the addresses given); None for the
    others."""
    kind = _PLANNERS.get(op.kind)
    if kind is None or float_conv(op):
        return None
    if not isinstance(op.attrs.get("padding", "VALID"), str) and \
            op.kind not in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        return None                     # explicit pads: convolutions only (padded with zp)
    try:
        plan = kind(graph, op, config, precision, channels, rows)
        if plan is None:
            return None
        base = config.region("main").base
        return plan, plan([base] * len(op.inputs), base, base)
    except ValueError:
        return None


def param_image(program, param_addr):
    """The parameter bytes of a :class:`~dure.sim.layer_program.LayerProgram` as one
    contiguous image starting at ``param_addr`` (gaps zero)."""
    end = max((addr + len(data) for addr, data in program.blobs), default=param_addr)
    image = bytearray(end - param_addr)
    for addr, data in program.blobs:
        image[addr - param_addr:addr - param_addr + len(data)] = data
    return bytes(image)
