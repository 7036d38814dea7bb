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
"""

import numpy as np
from dure.sim import golden
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_fp16 as gf
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.golden_softmax_fp16 import softmax_fp16
from dure.sim.golden_tflite_params import add_params, conv_multipliers, fully_connected_multipliers
from dure.sim.golden_tflite_quantize import dequantize_int8, quantize_int8, requantize_int8
from dure.sim.golden_tflite_softmax import softmax_int8, softmax_params

from . import onnx_float
from .errors import UnsupportedModel
from .ir import OpKind, explicit_padding, pair

__all__ = ["run", "run_all", "run_op", "prepare_inputs", "finish_outputs", "constant",
           "onnx_scales", "onnx_add_params", "onnx_add_table", "onnx_softmax_table",
           "onnx_softmax_y_scale", "onnx_global_pool", "onnx_global_pool_scale",
           "onnx_float_conv_params"]


def constant(graph, name):
    """A constant tensor's value as the executors use it: float weights of a float graph in
    fp16 (RNE), float biases (1-D) kept in fp32, everything else as stored."""
    t = graph.tensors[name]
    if graph.arithmetic == "float" and t.dtype == np.float32 and len(t.shape) != 1:
        return t.data.astype(np.float16)
    return t.data


def prepare_inputs(graph, inputs):
    """Check the graph inputs (dtype and shape as the model file states them) and convert them
    to the values the IR computes on."""
    if len(inputs) != len(graph.inputs):
        raise UnsupportedModel(f"the model has {len(graph.inputs)} inputs, {len(inputs)} given")
    values = {}
    for name, x in zip(graph.inputs, inputs, strict=True):
        t = graph.tensors[name]
        x = np.asarray(x)
        want = np.uint8 if name in graph.io_offset else t.dtype
        shape = graph.io_layout.get(name, t.shape)
        if x.dtype != want or tuple(x.shape) != tuple(shape):
            raise UnsupportedModel(f"input {name!r} must be {np.dtype(want).name} of shape "
                                   f"{tuple(shape)}, not {x.dtype} {x.shape}")
        if name in graph.io_layout:
            x = x.transpose(0, 2, 3, 1)                  # NCHW -> NHWC
        if name in graph.io_offset:
            x = (x.astype(np.int16) - 128).astype(np.int8)
        if graph.arithmetic == "float" and x.dtype == np.float32:
            x = x.astype(np.float16)
        values[name] = np.ascontiguousarray(x)
    return values


def finish_outputs(graph, values):
    """The graph outputs from computed values, as the model file's runtime returns them."""
    outs = []
    for name in graph.outputs:
        y = values[name]
        if y.dtype == np.float16:
            y = y.astype(np.float32)
        if name in graph.io_offset:
            y = (y.astype(np.int16) + 128).astype(np.uint8)
        if name in graph.io_layout:
            y = y.transpose(0, 3, 1, 2)                  # NHWC -> NCHW
        outs.append(np.ascontiguousarray(y))
    return outs


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


def onnx_scales(graph, op):
    """float32 requantization scales ``(x_scale * w_scale[j]) / y_scale`` of an ONNX INT8
    convolution or matmul, one per output channel."""
    x, w, y = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    cout = w.shape[0] if op.kind is not OpKind.DEPTHWISE_CONV_2D else w.shape[3]
    ws = w.quant.scale if w.quant.per_channel else np.repeat(w.quant.scale, cout)
    with np.errstate(all="ignore"):
        return ((x.quant.s * ws.astype(np.float32)).astype(np.float32) / y.quant.s
                ).astype(np.float32)


def tflite_multipliers(graph, op):
    """``(multiplier, shift)`` int32 arrays of a TFLite conv, depthwise or fully connected."""
    x, w, y = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    cout = w.shape[3] if op.kind is OpKind.DEPTHWISE_CONV_2D else w.shape[0]
    fn = fully_connected_multipliers if op.kind is OpKind.FULLY_CONNECTED else conv_multipliers
    return fn(x.quant.s, w.quant.scale, y.quant.s, channels=cout)


def patches(x, kh, kw, stride, dilation, pads, pad_value):
    """(N, OH, OW, KH, KW, C) taps of a window over NHWC ``x`` with explicit ``pads``
    ``(top, left, bottom, right)`` (negative ``bottom`` / ``right``: rows never read) filled
    with ``pad_value``."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    pt, pl, pb, pr = pads
    n, h, w_, c = x.shape
    oh = (h + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w_ + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
    need_h, need_w = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
    xp = np.full((n, max(need_h, h + pt), max(need_w, w_ + pl), c), pad_value, x.dtype)
    xp[:, pt:pt + h, pl:pl + w_, :] = x
    out = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, :, i, j, :] = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh,
                                       j * dw:j * dw + (ow - 1) * sw + 1:sw, :]
    return out


def _pads(op, x, kh, kw, dilation=1):
    return explicit_padding(op.attrs["padding"], x.shape[1], x.shape[2], kh, kw,
                            op.attrs["stride"], dilation)[2]


def _onnx_acc(graph, op, x, w, bias):
    """int32 accumulators of an ONNX INT8 conv / depthwise / fully connected (wrapping)."""
    tx, tw = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    zx = tx.quant.zp
    zw = tw.quant.zero_point.astype(np.int64)
    w64 = w.astype(np.int64)
    if op.kind is OpKind.FULLY_CONNECTED:
        zw = zw if zw.size > 1 else np.repeat(zw, w.shape[0])
        acc = (x.astype(np.int64) - zx) @ (w64 - zw[:, None]).T
    elif op.kind is OpKind.CONV_2D:
        cout, kh, kw, cin = w.shape
        zw = zw if zw.size > 1 else np.repeat(zw, cout)
        taps = patches(x, kh, kw, op.attrs["stride"], op.attrs["dilation"],
                       _pads(op, x, kh, kw, op.attrs["dilation"]), zx).astype(np.int64) - zx
        acc = np.einsum("nyxk,ok->nyxo", taps.reshape(taps.shape[:3] + (-1,)),
                        (w64 - zw[:, None, None, None]).reshape(cout, -1))
    else:
        _, kh, kw, cout = w.shape
        zw = zw if zw.size > 1 else np.repeat(zw, cout)
        xr = np.repeat(x, op.attrs.get("depth_multiplier", 1), axis=3)
        taps = patches(xr, kh, kw, op.attrs["stride"], op.attrs["dilation"],
                       _pads(op, x, kh, kw, op.attrs["dilation"]), zx).astype(np.int64) - zx
        acc = np.einsum("nyxijc,ijc->nyxc", taps, w64[0] - zw)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return wrap_int32(acc)


def _fma32(a, b, c):
    """float32 fused multiply-add, rounded once: exact for the operands used here (an int8 /
    uint8 value or a float32 times a float32 is exact in float64, and so is the sum with a
    float32 of comparable magnitude)."""
    return (np.asarray(a, np.float64) * np.float64(b) + np.asarray(c, np.float64)
            ).astype(np.float32)


def onnx_add_params(graph, op):
    """``(r_a, r_b, fixed, offset)`` of an ONNX-arithmetic ADD (module docstring): the two
    float32 scale ratios, the float32 constant term and the raw-value offset (128 for uint8
    tensors, else 0); the C kernel of the layer table takes the same values."""
    T = graph.tensors
    qa, qb, qc = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    off = 128 if op.attrs.get("uint8") else 0
    za, zb, zc = qa.zp + off, qb.zp + off, qc.zp + off
    with np.errstate(all="ignore"):
        ra, rb = np.float32(qa.s / qc.s), np.float32(qb.s / qc.s)
        fixed = np.float32(np.float32(zc) - _fma32(ra, np.float32(za),
                                                   np.float32(rb * np.float32(zb))))
    return ra, rb, fixed, off


def onnx_add_table(graph, op):
    """Every output of an ONNX-arithmetic ADD: 65536 int8, at ``(a + 128) * 256 + (b + 128)``
    for the stored int8 operands ``a``, ``b`` (the C kernel's lookup table)."""
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)
    return _onnx_add(graph, op, a, b, op.attrs.get("lo"), op.attrs.get("hi"))


def _onnx_add(graph, op, a, b, lo, hi):
    """QLinearAdd as MLAS's AVX2 kernel computes it (module docstring); an ADD onnxruntime
    leaves unfused (``ort_float``) as its float32 Add (:mod:`.onnx_float`)."""
    if op.attrs.get("ort_float"):
        T = graph.tensors
        qa, qb, qc = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        v = onnx_float.add(onnx_float.dequantize(a, qa.s, qa.zp),
                           onnx_float.dequantize(b, qb.s, qb.zp))
        y = onnx_float.quantize(v, qc.s, qc.zp)
        return np.minimum(np.maximum(y, -128 if lo is None else lo),
                          127 if hi is None else hi).astype(np.int8)
    ra, rb, fixed, off = onnx_add_params(graph, op)
    raw_a = a.astype(np.int64) + off
    raw_b = b.astype(np.int64) + off
    v = _fma32(raw_a, ra, _fma32(raw_b, rb, fixed))
    r = np.clip(np.rint(v), -2.0 ** 31, 2.0 ** 31 - 1).astype(np.int64) - off
    return np.minimum(np.maximum(np.clip(r, -128, 127), lo), hi).astype(np.int8)


def onnx_float_conv_params(graph, op, w=None, b=None):
    """``(weights, bias, group)`` of a convolution onnxruntime runs unfused (``ort_float``):
    the dequantized float32 weights ``(cout, kh, kw, cin / group)``, the dequantized bias
    (``bias_scale``; None without one) and the model's ``group``."""
    T = graph.tensors
    w = constant(graph, op.inputs[1]) if w is None else w
    if b is None and op.inputs[2] is not None:
        b = constant(graph, op.inputs[2])
    wq, a = T[op.inputs[1]].quant, op.attrs
    if op.kind is OpKind.DEPTHWISE_CONV_2D:        # (1, kh, kw, c): one filter per group
        wd = onnx_float.dequantize(w, wq.scale, wq.zero_point)
        wg, group = wd.transpose(3, 1, 2, 0), w.shape[3]
    else:                                           # (cout, kh, kw, cin), zero-filled groups
        cout = w.shape[0]
        wd = onnx_float.dequantize(w, np.reshape(wq.scale, (-1, 1, 1, 1)),
                                   np.reshape(wq.zero_point, (-1, 1, 1, 1)))
        group = int(a.get("ort_group", 1))
        og, cg = cout // group, w.shape[3] // group
        wg = np.concatenate([wd[g * og:(g + 1) * og, :, :, g * cg:(g + 1) * cg]
                             for g in range(group)], axis=0)
    bd = None
    if b is not None:
        bd = (b.astype(np.float32) * np.asarray(a["bias_scale"], np.float32)
              ).astype(np.float32)
    return wg, bd, group


def _onnx_float_conv(graph, op, x, w, b, lo, hi):
    """A QDQ convolution onnxruntime runs unfused (``ort_float``): DequantizeLinear of the
    input, weights and int32 bias (``bias_scale``), MLAS's float32 convolution with the
    model's ``group`` (:func:`.onnx_float.conv_nhwc`), QuantizeLinear, the clamp of a kept
    Relu / Clip."""
    T = graph.tensors
    xq, yq = T[op.inputs[0]].quant, T[op.outputs[0]].quant
    a = op.attrs
    xd = onnx_float.dequantize(x, xq.s, xq.zp)
    wg, bd, group = onnx_float_conv_params(graph, op, w, b)
    kh, kw = wg.shape[1:3]
    v = onnx_float.conv_nhwc(xd, wg, bd, pair(a["stride"]), pair(a["dilation"]),
                             _pads(op, x, kh, kw, a["dilation"]), group)
    y = onnx_float.quantize(v, yq.s, yq.zp)
    return np.minimum(np.maximum(y, -128 if lo is None else lo),
                      127 if hi is None else hi).astype(np.int8)


def onnx_global_pool(graph, op):
    """Whether an ONNX-arithmetic AVERAGE_POOL_2D is a global average (its window the whole
    unpadded image: QLinearGlobalAveragePool's integer path)."""
    x = graph.tensors[op.inputs[0]]
    fh, fw = pair(op.attrs["filter"])
    return (fh, fw) == x.shape[1:3] and not any(_pads(op, x, fh, fw))


def onnx_global_pool_scale(graph, op):
    """float32 ``s_x / f32(s_y * f32(n))`` of an ONNX global average over ``n`` pixels."""
    x = graph.tensors[op.inputs[0]]
    n = x.shape[1] * x.shape[2]
    with np.errstate(all="ignore"):
        return np.float32(x.quant.s / np.float32(graph.tensors[op.outputs[0]].quant.s *
                                                 np.float32(n)))


def _onnx_avgpool(graph, op, x, pads, lo, hi):
    """QLinearAveragePool (not global) as onnxruntime computes it (module docstring)."""
    T = graph.tensors
    qx, qy = T[op.inputs[0]].quant, T[op.outputs[0]].quant
    off = 128 if op.attrs.get("uint8") else 0
    fh, fw = pair(op.attrs["filter"])
    with np.errstate(all="ignore"):
        xf = (np.float32(qx.s) * (x.astype(np.int64) - qx.zp).astype(np.float32)
              ).astype(np.float32)
        taps = patches(xf, fh, fw, op.attrs["stride"], 1, pads, np.float32(np.nan))
        inside = ~np.isnan(taps)
        total = np.zeros(taps.shape[:3] + (x.shape[3],), np.float32)
        for i in range(fh):
            for j in range(fw):
                tap = taps[:, :, :, i, j, :]
                total = np.where(np.isnan(tap), total, (total + tap).astype(np.float32))
        count = (np.full(total.shape, fh * fw) if op.attrs.get("count_include_pad")
                 else inside.sum(axis=(3, 4)))
        avg = (total / count.astype(np.float32)).astype(np.float32)
        v = ((avg / np.float32(qy.s)).astype(np.float32) + np.float32(qy.zp + off)
             ).astype(np.float32)
        r = np.clip(np.rint(v), -2.0 ** 31, 2.0 ** 31 - 1).astype(np.int64) - off
    r = np.clip(r, -128, 127)
    return np.minimum(np.maximum(r, lo), hi).astype(np.int8)


def onnx_softmax_table(d, x_scale, uint8):
    """The 256 float32 ``exp`` values of QLinearSoftmax over rows of ``d`` (module docstring),
    indexed as :func:`_onnx_softmax` and the C kernel of the layer table index them: by the raw
    value shifted so that the row maximum meets 255 (uint8), or by ``(x + 127 - max) mod 256``
    (int8)."""
    import math

    f32max = float(np.finfo(np.float32).max)
    shift = math.log(float(np.float32(f32max) / np.float32(d)))
    shift = max(0.0, shift - 5.0) / float(x_scale)
    table = np.zeros(256, np.float32)
    for i in range(256):
        idx = (i - 128) % 256 if not uint8 else i
        table[idx] = np.float32(math.exp((float(i) - 255 + shift) * float(x_scale)))
    return table


def onnx_softmax_y_scale(yq):
    """``floor(1 / y_scale)`` as float32, QLinearSoftmax's output multiplier."""
    import math

    return np.float32(math.floor(np.float32(1.0) / yq.s))


def _onnx_softmax(x, xq, yq, uint8):
    """QLinearSoftmax (last axis) as onnxruntime computes it (module docstring)."""
    d = x.shape[-1]
    table = onnx_softmax_table(d, xq.s, uint8)
    raw = x.astype(np.int64) + (128 if uint8 else 0)
    rows = raw.reshape(-1, d)
    y_scale = onnx_softmax_y_scale(yq)
    zp = yq.zp + (128 if uint8 else 0)
    out = np.zeros_like(rows)
    for r, row in enumerate(rows):
        top = row.max()
        idx = (row + (255 - top) if uint8 else (row + (127 - top)) % 256).astype(np.int64)
        vals = table[idx]
        total = np.float32(0)
        for v in vals:
            total = np.float32(total + v)
        q = np.rint((vals * y_scale).astype(np.float32) / total).astype(np.int64) + zp
        out[r] = np.clip(q - (128 if uint8 else 0), -128, 127)
    return out.reshape(x.shape).astype(np.int8)


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
            return _onnx_float_conv(graph, op, x, w, b, lo, hi)
        if ar == "onnx":
            acc = _onnx_acc(graph, op, x, w, b)
            shape = acc.shape
            y = golden.requantize(acc.reshape(-1, shape[-1]), onnx_scales(graph, op), yq.zp,
                                  lo, hi)
            return y.reshape(shape)
        m, s = tflite_multipliers(graph, op)
        common = dict(input_zero_point=xq.zp, output_zero_point=yq.zp, multiplier=m, shift=s,
                      lo=lo, hi=hi)
        if k is OpKind.FULLY_CONNECTED:
            return gt.fully_connected_int8(x, w, b, weights_zero_point=int(
                T[op.inputs[1]].quant.zero_point[0]), **common)
        geo = dict(stride=a["stride"], padding=a["padding"], dilation=a["dilation"])
        if k is OpKind.CONV_2D:
            return gt.conv2d_int8(x, w, b, **geo, **common)
        return gt.depthwise_conv2d_int8(x, w, b, depth_multiplier=a["depth_multiplier"], **geo,
                                        **common)
    if k is OpKind.ADD and ar == "onnx":
        return _onnx_add(graph, op, ins[0], ins[1], lo, hi)
    if k is OpKind.AVERAGE_POOL_2D and ar == "onnx":
        x = ins[0]
        n = x.shape[1] * x.shape[2]
        pads = _pads(op, x, *pair(a["filter"]))
        if not onnx_global_pool(graph, op):
            return _onnx_avgpool(graph, op, x, pads, lo, hi)
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
        return _onnx_softmax(ins[0], xq, yq, bool(a.get("uint8")))
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
