"""The values the compiler's executors compute on (:mod:`.reference`, :mod:`.execute`): a
constant as the executors use it, the graph inputs converted from what the model file's runtime
takes (:func:`prepare_inputs`) and the outputs back (:func:`finish_outputs`), and the taps of a
window over an NHWC tensor with explicit padding (:func:`patches`, :func:`window_pads`)."""

import numpy as np

from .errors import UnsupportedModel
from .ir import explicit_padding, pair

__all__ = ["constant", "prepare_inputs", "finish_outputs", "patches", "window_pads"]


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


def window_pads(op, x, kh, kw, dilation=1):
    """``(top, left, bottom, right)`` of a window operator ``op`` over NHWC ``x``."""
    return explicit_padding(op.attrs["padding"], x.shape[1], x.shape[2], kh, kw,
                            op.attrs["stride"], dilation)[2]
