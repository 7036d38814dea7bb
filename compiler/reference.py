"""The compiler's golden: execute the IR (:mod:`.ir`) with the golden operators of
:mod:`dure.sim`, operator by operator.

What each operator computes depends on :attr:`~.ir.Graph.arithmetic`:

``"tflite"`` (full-integer TFLite models)
    :mod:`dure.sim.golden_tflite` (conv, depthwise, fully connected, pools, add), softmax
    (:mod:`dure.sim.golden_tflite_softmax`) and quantize / dequantize
    (:mod:`dure.sim.golden_tflite_quantize`), with the multipliers of
    :mod:`dure.sim.golden_tflite_params`: bit-exact with LiteRT's reference kernels.

``"onnx"`` (ONNX QOperator / QDQ models), as onnxruntime's CPU provider computes them
    - convolution / depthwise / fully connected (QLinearConv, QLinearMatMul):
      ``acc = sum (x - x_zp) * (w - w_zp)`` in int32 (+ int32 bias), padding with the input zero
      point (a padded tap adds 0), then :func:`dure.sim.golden.requantize` with the float32
      scale ``(x_scale * w_scale[j]) / y_scale`` (two float32 operations, RNE, in that order),
      the output zero point and the clamp;
    - max pooling: the maximum of the in-bounds int8 values;
    - ADD (QLinearAdd, and the QDQ Add onnxruntime fuses into it), as MLAS's AVX2 kernel computes
      it (the kernel x86-64 machines with AVX2 run; other CPUs run other kernels that may round
      differently) on the raw stored values (uint8 or int8): with ``r_a = f32(s_a / s_c)``,
      ``r_b = f32(s_b / s_c)`` and ``f = f32(z_c - fma(r_a, z_a, f32(r_b * z_b)))``,
      ``y = sat(rne(fma(a, r_a, fma(b, r_b, f))))`` (every operation float32, fma rounded once);
    - global average pooling (QLinearGlobalAveragePool, and QLinearAveragePool whose window is
      the whole unpadded image): ``acc = sum(x) - z_x * n`` (int32) over the ``n`` pixels, then
      :func:`dure.sim.golden.requantize` with the scale ``f32(s_x / f32(s_y * f32(n)))``;
    - SOFTMAX (QLinearSoftmax, and the QDQ Softmax onnxruntime fuses into it): a table of 256
      float32 ``exp((i - 255 + shift) * s_x)`` (double arithmetic, ``shift = max(0, log(f32(
      FLT_MAX / D)) - 5) / s_x``), indexed by the raw value shifted so that the row maximum
      meets entry 255; the row sum in float32, in order; ``y = rne(f32(e * floor(1 / s_y)) /
      sum) + z_y`` saturated to the type's range (onnxruntime 1.31 saturates; older sources
      wrapped int8 results above 127);
    - other average pooling (QLinearAveragePool): every input dequantized,
      ``f32(s_x * f32(x - z_x))``, summed in float32 over the in-bounds taps in (kh, kw) order
      from +0, divided (float32) by the tap count (all taps with ``count_include_pad``), then
      ``clamp(rne(f32(f32(avg / s_y) + z_y)), type range)`` on the raw stored values;
    - convolutions and ADDs of QDQ groups onnxruntime leaves unfused on x86-64 (op attribute
      ``ort_float``: int8 activations its S8 -> U8 pass keeps): its float32 arithmetic,
      written down in :mod:`.onnx_float` (DequantizeLinear, MLAS's Conv / the float Add,
      QuantizeLinear), then the clamp of a kept Relu / Clip;
    - QuantizeLinear: ``clamp(rne(x / scale) + zp, -128, 127)`` (one float32 division, round
      half to even), then the op's ``lo`` / ``hi`` when set: a Relu / Clip that onnxruntime
      computes in float32 between DequantizeLinear and QuantizeLinear, ``Q(clamp(v, a, b))
      = clamp(Q(v), Q(a), Q(b))`` as quantization is monotonic; DequantizeLinear:
      ``float32(q - zp) * scale`` (one float32 multiply). An ADD with a constant operand (a
      quantized initializer, broadcast by the front end) computes as above, operands in the
      node's order.

``"float"`` (float32 models run in FP16)
    :mod:`dure.sim.golden_tflite_fp16`: weights and activations rounded to fp16 (RNE), biases
    kept in fp32, fp32 accumulation in the contract's order, the clamp of the fused activation.
    Explicit (ONNX) padding of a convolution pads with +0.0 (the contract's padded operand);
    of a max pooling with -Inf (never the maximum unless the window is all padding, which the
    front end refuses). SOFTMAX (a core operator, not in the NPU contract):
    :func:`dure.sim.golden_softmax_fp16.softmax_fp16`, in float32 with the project's own
    ``exp`` (so the core's C kernel matches it bit for bit), the sum over the row in index
    order, ``e / sum`` (one float32 division), then fp16 RNE.

``RESHAPE``, ``TRANSPOSE`` and ``PAD`` move data only (PAD writes its constant: TFLite's
output zero point, ONNX's ``constant_value`` quantized with the output's parameters, 0.0 in
float models, rounded to fp16).

:func:`run` takes the graph inputs as the model file's runtime takes them (int8, uint8 for ONNX
uint8 edges, float32) and returns the outputs likewise (FP16 results widened to float32).

The ONNX operators' code is :mod:`.reference_onnx`'s, the conversions of inputs, outputs and
constants and the window taps :mod:`.reference_values`'; the names in ``__all__`` stay
importable from here.
"""

import numpy as np
from dure.sim import golden
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_fp16 as gf
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.golden_softmax_fp16 import softmax_fp16
from dure.sim.golden_tflite_params import (
    add_params,
    conv_multipliers,
    fully_connected_multipliers,
    fully_connected_scales,
)
from dure.sim.golden_tflite_quantize import dequantize_int8, quantize_int8, requantize_int8
from dure.sim.golden_tflite_softmax import softmax_int8, softmax_params

from .ir import OpKind, pair
from .reference_onnx import (
    onnx_acc,
    onnx_add,
    onnx_add_params,
    onnx_add_table,
    onnx_avgpool,
    onnx_float_conv,
    onnx_float_conv_params,
    onnx_global_pool,
    onnx_global_pool_scale,
    onnx_scales,
    onnx_softmax,
    onnx_softmax_table,
    onnx_softmax_y_scale,
)
from .reference_values import constant, finish_outputs, patches, prepare_inputs, window_pads

__all__ = ["run", "run_all", "run_op", "prepare_inputs", "finish_outputs", "constant",
           "onnx_scales", "onnx_add_params", "onnx_add_table", "onnx_softmax_table",
           "onnx_softmax_y_scale", "onnx_global_pool", "onnx_global_pool_scale",
           "onnx_float_conv_params", "tflite_multipliers", "patches"]


def run(graph, inputs):
    """Execute ``graph`` on ``inputs`` (a list, one array per graph input); returns the list of
    outputs."""
    return finish_outputs(graph, run_all(graph, inputs))


def run_all(graph, inputs):
    """Every tensor's value (as the IR computes on it: NHWC, int8 / fp16) after executing
    ``graph`` on ``inputs``; a dict by tensor name."""
    values = prepare_inputs(graph, inputs)
    for op in graph.ops:
        values[op.outputs[0]] = run_op(graph, op, values)
    return values


def tflite_multipliers(graph, op):
    """``(multiplier, shift)`` int32 arrays of a TFLite conv, depthwise or fully connected."""
    x, w, y = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    cout = w.shape[3] if op.kind is OpKind.DEPTHWISE_CONV_2D else w.shape[0]
    fn = fully_connected_multipliers if op.kind is OpKind.FULLY_CONNECTED else conv_multipliers
    return fn(x.quant.s, w.quant.scale, y.quant.s, channels=cout)


def _float_padded(op, x, kh, kw, value):
    """For explicit padding: the input padded with ``value`` and the padding 'VALID'."""
    pads = op.attrs["padding"]
    if isinstance(pads, str):
        return x, pads
    pt, pl, pb, pr = pads
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value), "VALID"


def _softmax_fp16(x, beta):
    return softmax_fp16(np.asarray(x, np.float16), beta)


def run_op(graph, op, values):
    """The output value of one operator, its inputs taken from ``values`` (tensor name ->
    array) or from the graph's constants."""
    def val(name):
        if name is None:
            return None
        return values[name] if name in values else constant(graph, name)

    try:
        return _run(graph, op, [val(n) for n in op.inputs])
    except (ValueError, TypeError) as e:
        raise op.fail(f"cannot be computed: {e}") from None


def _run(graph, op, ins):
    k, a, ar = op.kind, op.attrs, graph.arithmetic
    T = graph.tensors
    out_t = T[op.outputs[0]]
    lo, hi = a.get("lo"), a.get("hi")
    if k is OpKind.RESHAPE:
        return ins[0].reshape(out_t.shape)
    if k is OpKind.TRANSPOSE:
        return np.ascontiguousarray(ins[0].transpose(a["perm"]))
    if k is OpKind.PAD:
        x = ins[0]
        value = x.dtype.type(a["value"])
        return np.pad(x, a["pads"], constant_values=value)
    if ar == "float":
        return _run_float(op, ins, lo, hi)
    xq = T[op.inputs[0]].quant
    yq = out_t.quant
    if k in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED):
        x, w, b = ins
        if ar == "onnx" and a.get("ort_float"):
            return onnx_float_conv(graph, op, x, w, b, lo, hi)
        if ar == "onnx":
            acc = onnx_acc(graph, op, x, w, b)
            shape = acc.shape
            y = golden.requantize(acc.reshape(-1, shape[-1]), onnx_scales(graph, op), yq.zp,
                                  lo, hi)
            return y.reshape(shape)
        if k is OpKind.FULLY_CONNECTED:
            return gt.fully_connected_int8(
                x, w, b, input_zero_point=xq.zp, output_zero_point=yq.zp,
                scale=fully_connected_scales(xq.s, T[op.inputs[1]].quant.scale, yq.s,
                                             channels=w.shape[0]),
                weights_zero_point=int(T[op.inputs[1]].quant.zero_point[0]), lo=lo, hi=hi)
        m, s = tflite_multipliers(graph, op)
        common = dict(input_zero_point=xq.zp, output_zero_point=yq.zp, multiplier=m, shift=s,
                      lo=lo, hi=hi)
        geo = dict(stride=a["stride"], padding=a["padding"], dilation=a["dilation"])
        if k is OpKind.CONV_2D:
            return gt.conv2d_int8(x, w, b, **geo, **common)
        return gt.depthwise_conv2d_int8(x, w, b, depth_multiplier=a["depth_multiplier"], **geo,
                                        **common)
    if k is OpKind.ADD and ar == "onnx":
        return onnx_add(graph, op, ins[0], ins[1], lo, hi)
    if k is OpKind.AVERAGE_POOL_2D and ar == "onnx":
        x = ins[0]
        n = x.shape[1] * x.shape[2]
        pads = window_pads(op, x, *pair(a["filter"]))
        if not onnx_global_pool(graph, op):
            return onnx_avgpool(graph, op, x, pads, lo, hi)
        acc = x.astype(np.int64).sum(axis=(1, 2)) - xq.zp * n
        return golden.requantize(wrap_int32(acc), onnx_global_pool_scale(graph, op), yq.zp,
                                 lo, hi).reshape(x.shape[0], 1, 1, x.shape[3])
    if k is OpKind.ADD:
        q1, q2 = T[op.inputs[0]].quant, T[op.inputs[1]].quant
        return gt.add_int8(ins[0], ins[1], add_params(q1.s, q2.s, yq.s),
                           input1_zero_point=q1.zp, input2_zero_point=q2.zp,
                           output_zero_point=yq.zp, lo=lo, hi=hi)
    if k is OpKind.MAX_POOL_2D:
        if isinstance(a["padding"], str):
            return gt.max_pool_int8(ins[0], a["filter"], stride=a["stride"],
                                    padding=a["padding"], lo=lo, hi=hi)
        fh, fw = pair(a["filter"])
        taps = patches(ins[0], fh, fw, a["stride"], 1, a["padding"], -128)
        y = taps.max(axis=(3, 4)).astype(np.int64)
        return np.minimum(np.maximum(y, lo), hi).astype(np.int8)
    if k is OpKind.AVERAGE_POOL_2D:
        return gt.average_pool_int8(ins[0], a["filter"], stride=a["stride"],
                                    padding=a["padding"], lo=lo, hi=hi)
    if k is OpKind.SOFTMAX and ar == "onnx":
        return onnx_softmax(ins[0], xq, yq, bool(a.get("uint8")))
    if k is OpKind.SOFTMAX:
        return softmax_int8(ins[0], *softmax_params(a["beta"], xq.s))
    if k is OpKind.QUANTIZE:
        x = ins[0]
        if x.dtype == np.int8:
            return requantize_int8(x, xq.s, xq.zp, yq.s, yq.zp)
        if ar == "onnx":
            with np.errstate(all="ignore"):
                v = np.rint(x / yq.s) + yq.zp
            v = np.clip(np.nan_to_num(v, nan=0.0), -128, 127)
            return np.clip(v, -128 if lo is None else lo, 127 if hi is None else hi
                           ).astype(np.int8)
        return quantize_int8(x, yq.s, yq.zp)
    if k is OpKind.DEQUANTIZE:
        if ar == "onnx":
            return ((ins[0].astype(np.int32) - xq.zp).astype(np.float32) * xq.s
                    ).astype(np.float32)
        return dequantize_int8(ins[0], xq.s, xq.zp)
    raise op.fail(f"no reference for {k.value}")


def _run_float(op, ins, lo, hi):
    k, a = op.kind, op.attrs
    if k in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        x, w, b = ins
        kh, kw = w.shape[1], w.shape[2]
        x, padding = _float_padded(op, x, kh, kw, np.float16(0.0))
        geo = dict(stride=a["stride"], padding=padding, dilation=a["dilation"], lo=lo, hi=hi)
        if k is OpKind.CONV_2D:
            return gf.conv2d_fp16(x, w, b, **geo)
        return gf.depthwise_conv2d_fp16(x, w, b, depth_multiplier=a["depth_multiplier"], **geo)
    if k is OpKind.FULLY_CONNECTED:
        return gf.fully_connected_fp16(ins[0], ins[1], ins[2], lo=lo, hi=hi)
    if k is OpKind.ADD:
        return gf.add_fp16(ins[0], ins[1], lo=lo, hi=hi)
    if k is OpKind.AVERAGE_POOL_2D:
        return gf.average_pool_fp16(ins[0], a["filter"], stride=a["stride"],
                                    padding=a["padding"], lo=lo, hi=hi)
    if k is OpKind.MAX_POOL_2D:
        fh, fw = pair(a["filter"])
        x, padding = _float_padded(op, ins[0], fh, fw, np.float16(-np.inf))
        return gf.max_pool_fp16(x, a["filter"], stride=a["stride"], padding=padding, lo=lo,
                                hi=hi)
    if k is OpKind.SOFTMAX:
        return _softmax_fp16(ins[0], a["beta"])
    raise op.fail(f"{k.value} is not supported in a float model")
