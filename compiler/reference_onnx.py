"""The ONNX (``"onnx"`` arithmetic) operators of the compiler's golden (:mod:`.reference`,
whose docstring states each one's arithmetic), as onnxruntime's CPU provider computes them: the
float32 requantization scales of convolutions and matrix products (:func:`onnx_scales`) and
their int32 sums (:func:`onnx_acc`); QLinearAdd as MLAS's AVX2 kernel (:func:`onnx_add`, its
parameters and 64 KB output table for the core's C kernel); the unfused float32 convolution
(:func:`onnx_float_conv`); global and other average pooling; QLinearSoftmax with its exp table.
The parameters the layer table's C kernels take come from here too."""

import numpy as np
from dure.sim.golden_fixedpoint import wrap_int32

from . import onnx_float
from .ir import OpKind, pair
from .reference_values import constant, patches, window_pads

__all__ = ["onnx_scales", "onnx_acc", "onnx_add_params", "onnx_add_table", "onnx_add",
           "onnx_float_conv_params", "onnx_float_conv", "onnx_global_pool",
           "onnx_global_pool_scale", "onnx_avgpool", "onnx_softmax_table",
           "onnx_softmax_y_scale", "onnx_softmax"]


def onnx_scales(graph, op):
    """float32 requantization scales ``(x_scale * w_scale[j]) / y_scale`` of an ONNX INT8
    convolution or matmul, one per output channel."""
    x, w, y = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    cout = w.shape[0] if op.kind is not OpKind.DEPTHWISE_CONV_2D else w.shape[3]
    ws = w.quant.scale if w.quant.per_channel else np.repeat(w.quant.scale, cout)
    with np.errstate(all="ignore"):
        return ((x.quant.s * ws.astype(np.float32)).astype(np.float32) / y.quant.s
                ).astype(np.float32)


def onnx_acc(graph, op, x, w, bias):
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
                       window_pads(op, x, kh, kw, op.attrs["dilation"]), zx).astype(np.int64) - zx
        acc = np.einsum("nyxk,ok->nyxo", taps.reshape(taps.shape[:3] + (-1,)),
                        (w64 - zw[:, None, None, None]).reshape(cout, -1))
    else:
        _, kh, kw, cout = w.shape
        zw = zw if zw.size > 1 else np.repeat(zw, cout)
        xr = np.repeat(x, op.attrs.get("depth_multiplier", 1), axis=3)
        taps = patches(xr, kh, kw, op.attrs["stride"], op.attrs["dilation"],
                       window_pads(op, x, kh, kw, op.attrs["dilation"]), zx).astype(np.int64) - zx
        acc = np.einsum("nyxijc,ijc->nyxc", taps, w64[0] - zw)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return wrap_int32(acc)


def fma32(a, b, c):
    """float32 fused multiply-add, rounded once: exact for the operands used here (an int8 /
    uint8 value or a float32 times a float32 is exact in float64, and so is the sum with a
    float32 of comparable magnitude)."""
    return (np.asarray(a, np.float64) * np.float64(b) + np.asarray(c, np.float64)
            ).astype(np.float32)


def onnx_add_params(graph, op):
    """``(r_a, r_b, fixed, offset)`` of an ONNX-arithmetic ADD (:mod:`.reference`): the two
    float32 scale ratios, the float32 constant term and the raw-value offset (128 for uint8
    tensors, else 0); the C kernel of the layer table takes the same values."""
    T = graph.tensors
    qa, qb, qc = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    off = 128 if op.attrs.get("uint8") else 0
    za, zb, zc = qa.zp + off, qb.zp + off, qc.zp + off
    with np.errstate(all="ignore"):
        ra, rb = np.float32(qa.s / qc.s), np.float32(qb.s / qc.s)
        fixed = np.float32(np.float32(zc) - fma32(ra, np.float32(za),
                                                   np.float32(rb * np.float32(zb))))
    return ra, rb, fixed, off


def onnx_add_table(graph, op):
    """Every output of an ONNX-arithmetic ADD: 65536 int8, at ``(a + 128) * 256 + (b + 128)``
    for the stored int8 operands ``a``, ``b`` (the C kernel's lookup table)."""
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)
    return onnx_add(graph, op, a, b, op.attrs.get("lo"), op.attrs.get("hi"))


def onnx_add(graph, op, a, b, lo, hi):
    """QLinearAdd as MLAS's AVX2 kernel computes it (:mod:`.reference`); an ADD onnxruntime
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
    v = fma32(raw_a, ra, fma32(raw_b, rb, fixed))
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


def onnx_float_conv(graph, op, x, w, b, lo, hi):
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
                             window_pads(op, x, kh, kw, a["dilation"]), group)
    y = onnx_float.quantize(v, yq.s, yq.zp)
    return np.minimum(np.maximum(y, -128 if lo is None else lo),
                      127 if hi is None else hi).astype(np.int8)


def onnx_global_pool(graph, op):
    """Whether an ONNX-arithmetic AVERAGE_POOL_2D is a global average (its window the whole
    unpadded image: QLinearGlobalAveragePool's integer path)."""
    x = graph.tensors[op.inputs[0]]
    fh, fw = pair(op.attrs["filter"])
    return (fh, fw) == x.shape[1:3] and not any(window_pads(op, x, fh, fw))


def onnx_global_pool_scale(graph, op):
    """float32 ``s_x / f32(s_y * f32(n))`` of an ONNX global average over ``n`` pixels."""
    x = graph.tensors[op.inputs[0]]
    n = x.shape[1] * x.shape[2]
    with np.errstate(all="ignore"):
        return np.float32(x.quant.s / np.float32(graph.tensors[op.outputs[0]].quant.s *
                                                 np.float32(n)))


def onnx_avgpool(graph, op, x, pads, lo, hi):
    """QLinearAveragePool (not global) as onnxruntime computes it (:mod:`.reference`)."""
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
    """The 256 float32 ``exp`` values of QLinearSoftmax over rows of ``d`` (:mod:`.reference`),
    indexed as :func:`onnx_softmax` and the C kernel of the layer table index them: by the raw
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


def onnx_softmax(x, xq, yq, uint8):
    """QLinearSoftmax (last axis) as onnxruntime computes it (:mod:`.reference`)."""
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
