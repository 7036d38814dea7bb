"""DEPTHWISE_CONV_2D on the dot-unit target (:mod:`.dot_target`): a ``dot_depthwise`` layer
(record :data:`~.layer_table.CoreOp.DEPTHWISE_DOT_INT8`, firmware
firmware/dot_apps/dot_model_run/depthwise.c).

Per output pixel the core gathers, for every channel c, the window's taps of channel c into a
row of ``KK4`` bytes (``KK = KH * KW`` taps in (kh, kw) order, rounded up to whole words) of a
scratch buffer in main memory (``<out>/dw_patch``, C rows), padding with the input zero point;
then one stream of the unit per channel against the packed filter row ``w'[c]`` (the taps of
channel c, zero in the ``KK4 - KK`` tail so the tail's bytes add nothing):
``acc = bias'_c + sum_t patch[c, t] * w'[c, t]`` with the input zero point folded into the bias
(``bias'_c = bias_c - x_zp * sum_t w[t, c]``, int32 wrapping; a padded tap holds ``x_zp`` and so
adds exactly zero), then TFLite's double-rounding requantization
(:func:`dure.sim.golden_tflite.depthwise_conv2d_int8`), the output zero point and the clamp.
With ``unit=False`` the core sums the same rows itself. Only ``depth_multiplier`` 1.
"""

import numpy as np
from dure.sim.golden_fixedpoint import multiply_by_quantized_multiplier, wrap_int32

from .ir import conv_geometry
from .lower_layers import folded_bias
from .program import Layer
from .reference import constant, tflite_multipliers
from .reference_values import patches

__all__ = ["depthwise_layer", "depthwise_params", "depthwise_record_words",
           "dot_depthwise_reference"]


def depthwise_params(graph, op):
    """The constants of a ``dot_depthwise`` layer: ``{"w": (C, KK4) int8 packed filter rows,
    "bias": (C,) int32 (input zero point folded in), "mult", "shift": (C,) int32, "kk4"}``."""
    w = constant(graph, op.inputs[1])               # (1, KH, KW, C)
    _, kh, kw, c = w.shape
    kk = kh * kw
    kk4 = (kk + 3) // 4 * 4
    rows = np.zeros((c, kk4), np.int8)
    rows[:, :kk] = w.reshape(kk, c).T
    mult, shift = tflite_multipliers(graph, op)
    return {"w": rows, "bias": folded_bias(graph, op, rows), "mult": np.asarray(mult, np.int32),
            "shift": np.asarray(shift, np.int32), "kk4": kk4}


def depthwise_layer(graph, op, blob, buffers, unit, fail):
    """The ``dot_depthwise`` layer of ``op`` (its constants added to ``blob``, its scratch row
    buffer to ``buffers``); ``fail(message)`` raises the target's refusal."""
    w = graph.tensors[op.inputs[1]]
    if op.attrs.get("depth_multiplier", 1) != 1:
        fail("DEPTHWISE_CONV_2D with a depth multiplier other than 1")
    if np.any(w.quant.zero_point != 0):
        fail("DEPTHWISE_CONV_2D with weights of a nonzero zero point")
    p = depthwise_params(graph, op)
    base = op.outputs[0]
    c = w.shape[3]
    scratch = f"{base}/dw_patch"
    buffers[scratch] = (np.dtype(np.int8), (c, p["kk4"]))
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    out = graph.tensors[base]
    params = {"w": blob.add(f"{base}/dot_dw_w", p["w"]),
              "bias": blob.add(f"{base}/dot_dw_bias", p["bias"]),
              "mult": blob.add(f"{base}/dot_dw_mult", p["mult"]),
              "shift": blob.add(f"{base}/dot_dw_shift", p["shift"]),
              "scratch": scratch, "kk4": p["kk4"], "dot": bool(unit),
              "zero_point": out.quant.zp, "lo": min(lo, hi), "hi": hi}
    x = graph.tensors[op.inputs[0]]
    macs = int(np.prod(out.shape)) * w.shape[1] * w.shape[2]
    return Layer("dot_depthwise", "core", op, [op.inputs[0]], [base, scratch], macs=macs,
                 weight_bytes=p["w"].nbytes, params={**params, "input_zero_point": x.quant.zp})


def depthwise_record_words(program, layer):
    """Words 3 and 6..31 of the ``DEPTHWISE_DOT_INT8`` record (layout in
    :mod:`.layer_table`) as ``{index: value}``."""
    q, wa = layer.params, program.weight_addr
    x, kh, kw, (sh, sw), (dh, dw), oh, ow, pads = conv_geometry(program.graph, layer.op)
    words = {3: wa[q["w"]]}
    values = [*x, kh, kw, sh, sw, wa[q["bias"]], wa[q["mult"]], wa[q["shift"]],
              program.tensor_addr[q["scratch"]], pads[0], pads[1], dh, dw, oh, ow,
              q["input_zero_point"], q["zero_point"], q["lo"], q["hi"], int(q["dot"]),
              q["kk4"]]
    for i, v in enumerate(values):
        words[6 + i] = int(v) & 0xFFFF_FFFF
    return words


def dot_depthwise_reference(graph, layer, x):
    """What a ``dot_depthwise`` layer computes from its NHWC int8 input ``x`` (module
    docstring), from the packed rows and folded bias of :func:`depthwise_params`."""
    p = depthwise_params(graph, layer.op)
    q = layer.params
    _, kh, kw, stride, dilation, oh, ow, pads = conv_geometry(graph, layer.op)
    taps = patches(x, kh, kw, stride, dilation, pads, x.dtype.type(q["input_zero_point"]))
    n, c = x.shape[0], x.shape[3]
    taps = taps.reshape(n, oh, ow, kh * kw, c).astype(np.int64)
    w = p["w"][:, :kh * kw].T.astype(np.int64)        # (KK, C)
    acc = wrap_int32((taps * w).sum(axis=3) + p["bias"])
    y = multiply_by_quantized_multiplier(acc, p["mult"], p["shift"]).astype(np.int64)
    return np.clip(y + q["zero_point"], q["lo"], q["hi"]).astype(np.int8)
