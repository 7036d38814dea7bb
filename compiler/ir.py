"""The compiler's intermediate representation: tensors, operators, a graph in topological order.

Both front ends lower into this one form; the reference executor, the lowering and the report
read only it.

Layout and types
    Activations are NHWC (the ONNX front end transposes NCHW at the graph's edges and in the
    weights). Tensor element types are ``int8``, ``int32`` (biases), ``float32`` (float models,
    biases of FP16 models) and ``float16``. A quantized tensor carries :class:`Quant`
    (``real = scale * (q - zero_point)``, per tensor or per channel along ``axis``).

Arithmetic
    :attr:`Graph.arithmetic` says whose integer arithmetic an INT8 graph follows:
    ``"tflite"`` (the fixed-point reference kernels of TFLite: per-channel int32 multiplier and
    shift, :mod:`dure.sim.golden_tflite`) or ``"onnx"`` (the float-scale requantization of
    onnxruntime, :func:`dure.sim.golden.requantize`); a float graph has ``"float"`` and runs in
    FP16 (:mod:`dure.sim.golden_tflite_fp16`).

Operators (:class:`OpKind`) and their attributes
    ``CONV_2D`` inputs ``(x, w, bias or None)``, ``w`` OHWI; ``DEPTHWISE_CONV_2D`` ``w`` of shape
    ``(1, KH, KW, C * depth_multiplier)``; attributes ``stride`` and ``dilation`` (pairs),
    ``padding`` (``"SAME"``, ``"VALID"`` or explicit ``(top, left, bottom, right)``),
    ``depth_multiplier`` (depthwise). ``FULLY_CONNECTED`` inputs ``(x (B, K), w (units, K),
    bias or None)``. ``ADD`` two inputs of one shape. ``AVERAGE_POOL_2D`` / ``MAX_POOL_2D``:
    ``filter``, ``stride``, ``padding``. ``RESHAPE``: ``shape``. ``TRANSPOSE``: ``perm`` (moves
    data, computes nothing). ``SOFTMAX``: ``beta``, over the last axis. ``QUANTIZE`` /
    ``DEQUANTIZE``: between float32 and int8 (or int8 to int8 with another quantization).
    ``PAD``: ``pads`` (a ``(before, after)`` pair per axis) filled with ``value`` (in the
    stored domain: an int8 for quantized tensors), a data move.
    Every computing operator may carry the fused activation clamp ``lo`` / ``hi`` (ints in the
    output's quantized domain for INT8, floats or None for float graphs).
"""

import dataclasses
import enum

import numpy as np

from .errors import UnsupportedModel

__all__ = ["Quant", "Tensor", "OpKind", "Op", "Graph", "COMPUTE_KINDS", "is_layout_view"]


@dataclasses.dataclass(frozen=True)
class Quant:
    """Affine quantization: ``real = scale * (q - zero_point)``.

    ``scale`` float32 and ``zero_point`` int64 arrays of equal length (1 per tensor, C per
    channel along ``axis``)."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    @classmethod
    def of(cls, scale, zero_point=0, axis=0):
        s = np.atleast_1d(np.asarray(scale, np.float32)).copy()
        z = np.atleast_1d(np.asarray(zero_point, np.int64)).copy()
        if z.size == 1 and s.size > 1:
            z = np.repeat(z, s.size)
        if s.size != z.size:
            raise ValueError(f"{s.size} scales but {z.size} zero points")
        return cls(s, z, int(axis))

    @property
    def per_channel(self):
        return self.scale.size > 1

    @property
    def s(self):
        """The per-tensor scale (float32); ValueError for a per-channel quantization."""
        if self.per_channel:
            raise ValueError("per-channel quantization has no single scale")
        return np.float32(self.scale[0])

    @property
    def zp(self):
        """The per-tensor zero point (int)."""
        return int(self.zero_point[0])


@dataclasses.dataclass
class Tensor:
    """A tensor of the graph; ``data`` is set for constants (weights, biases)."""

    name: str
    dtype: np.dtype
    shape: tuple
    quant: Quant | None = None
    data: np.ndarray | None = None

    def __post_init__(self):
        self.dtype = np.dtype(self.dtype)
        self.shape = tuple(int(d) for d in self.shape)

    @property
    def const(self):
        return self.data is not None

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


class OpKind(enum.Enum):
    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    ADD = "ADD"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    RESHAPE = "RESHAPE"
    TRANSPOSE = "TRANSPOSE"
    SOFTMAX = "SOFTMAX"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    PAD = "PAD"


#: Operators that take a fused activation clamp.
COMPUTE_KINDS = {OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED, OpKind.ADD,
                 OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D}


@dataclasses.dataclass
class Op:
    """One operator: ``inputs`` / ``outputs`` are tensor names (``None`` for an omitted
    optional input); ``index``, ``name`` and ``source`` identify the node of the model file
    (for messages and the report)."""

    kind: OpKind
    inputs: list
    outputs: list
    attrs: dict
    index: int
    name: str
    source: str

    def fail(self, message):
        """An :class:`UnsupportedModel` naming this node."""
        return UnsupportedModel(message, index=self.index, name=self.name, op_type=self.source)


def pair(v):
    """``(a, a)`` for a scalar, a tuple of two ints otherwise."""
    if np.ndim(v) == 0:
        return (int(v), int(v))
    a, b = v
    return (int(a), int(b))


def explicit_padding(padding, in_h, in_w, kh, kw, stride, dilation):
    """``(out_h, out_w, (top, left, bottom, right))`` of a convolution or pooling window.

    SAME / VALID as TFLite computes them (:func:`dure.sim.golden_padding.conv_padding`; the
    ``bottom`` / ``right`` amounts may be negative: input rows never read); explicit pads give
    ``out = (in + before + after - extent) // stride + 1``."""
    from dure.sim.golden_padding import conv_padding

    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    if isinstance(padding, str):
        oh, pt, pb = conv_padding(in_h, kh, sh, padding, dh)
        ow, pl, pr = conv_padding(in_w, kw, sw, padding, dw)
        return oh, ow, (pt, pl, pb, pr)
    pt, pl, pb, pr = (int(p) for p in padding)
    oh = (in_h + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
    ow = (in_w + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError("the window does not fit the padded input")
    return oh, ow, (pt, pl, pb, pr)


def conv_geometry(graph, op):
    """The window of a CONV_2D or DEPTHWISE_CONV_2D ``op`` of ``graph``: ``(x_shape, kh, kw,
    (sh, sw), (dh, dw), out_h, out_w, (top, left, bottom, right))``, ``x_shape`` the NHWC
    input's and the kernel size from the filter (OHWI or 1HWC), as :func:`explicit_padding`."""
    x = graph.tensors[op.inputs[0]].shape
    w = graph.tensors[op.inputs[1]].shape
    a = op.attrs
    oh, ow, pads = explicit_padding(a["padding"], x[1], x[2], w[1], w[2], a["stride"],
                                    a["dilation"])
    return x, w[1], w[2], pair(a["stride"]), pair(a["dilation"]), oh, ow, pads


@dataclasses.dataclass
class Graph:
    """A model: tensors by name, operators in topological order, graph inputs and outputs.

    ``arithmetic``: ``"tflite"``, ``"onnx"`` or ``"float"`` (module docstring). ``io_offset``:
    for graph inputs / outputs stored as uint8 in the file (ONNX), the tensor here is int8 and
    ``uint8 = int8 + 128`` at the edge. ``source``: the file format (``"tflite"`` / ``"onnx"``).
    """

    tensors: dict
    ops: list
    inputs: list
    outputs: list
    arithmetic: str
    source: str
    io_offset: dict = dataclasses.field(default_factory=dict)
    io_layout: dict = dataclasses.field(default_factory=dict)

    @property
    def precision(self):
        """``"int8"`` for a quantized graph, ``"fp16"`` for a float one."""
        return "fp16" if self.arithmetic == "float" else "int8"

    def producer(self):
        """{tensor name: op} for every tensor an op writes."""
        return {t: op for op in self.ops for t in op.outputs}

    def consumers(self):
        """{tensor name: [ops]} reading each tensor."""
        out = {}
        for op in self.ops:
            for t in op.inputs:
                if t is not None:
                    out.setdefault(t, []).append(op)
        return out

    def validate(self):
        """Check topological order, names, types and every operator's shapes.

        Raises :class:`UnsupportedModel` naming the first bad node."""
        known = set(self.inputs) | {n for n, t in self.tensors.items() if t.const}
        for name in self.inputs + self.outputs:
            if name not in self.tensors:
                raise UnsupportedModel(f"graph tensor {name!r} is not defined")
        for op in self.ops:
            for t in op.inputs:
                if t is None:
                    continue
                if t not in self.tensors:
                    raise op.fail(f"input {t!r} is not defined")
                if t not in known:
                    raise op.fail(f"input {t!r} is not produced before this node "
                                  "(graph not in topological order or a cycle)")
            for t in op.outputs:
                if t in known:
                    raise op.fail(f"output {t!r} is written twice")
                known.add(t)
            _check_shapes(self, op)
        for name in self.outputs:
            if name not in known:
                raise UnsupportedModel(f"graph output {name!r} is never computed")
        return self


def _check_shapes(g, op):
    ins = [g.tensors[t] if t is not None else None for t in op.inputs]
    out = g.tensors[op.outputs[0]]
    a = op.attrs
    k = op.kind

    def need(cond, what):
        if not cond:
            raise op.fail(what)

    if k in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        x, w, b = (ins + [None])[:3]
        need(len(x.shape) == 4, f"input must be 4-D NHWC, not {x.shape}")
        need(w is not None and w.const and len(w.shape) == 4, "the filter must be a 4-D constant")
        if k is OpKind.CONV_2D:
            cout, kh, kw, cin = w.shape
            need(cin == x.shape[3], f"filter expects {cin} input channels, the input has "
                 f"{x.shape[3]}")
        else:
            one, kh, kw, cout = w.shape
            need(one == 1 and cout == x.shape[3] * a.get("depth_multiplier", 1),
                 f"depthwise filter shape {w.shape} does not fit {x.shape[3]} channels")
        need(b is None or (b.const and b.shape == (cout,)), f"bias must be a constant of "
             f"shape ({cout},)")
        try:
            oh, ow, _ = explicit_padding(a["padding"], x.shape[1], x.shape[2], kh, kw,
                                         a["stride"], a["dilation"])
        except ValueError as e:
            raise op.fail(str(e)) from None
        need(out.shape == (x.shape[0], oh, ow, cout),
             f"output shape {out.shape} is not {(x.shape[0], oh, ow, cout)}")
    elif k is OpKind.FULLY_CONNECTED:
        x, w, b = (ins + [None])[:3]
        need(w is not None and w.const and len(w.shape) == 2, "the weights must be a 2-D "
             "constant")
        need(len(x.shape) == 2 and x.shape[1] == w.shape[1],
             f"input {x.shape} does not match weights {w.shape}")
        need(b is None or (b.const and b.shape == (w.shape[0],)), "bad bias shape")
        need(out.shape == (x.shape[0], w.shape[0]), f"output shape {out.shape} is not "
             f"{(x.shape[0], w.shape[0])}")
    elif k is OpKind.ADD:
        need(len(ins) == 2 and ins[0].shape == ins[1].shape == out.shape,
             "ADD needs two inputs of the output's shape (broadcasting is not supported)")
    elif k in (OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D):
        x = ins[0]
        need(len(x.shape) == 4, f"input must be 4-D NHWC, not {x.shape}")
        fh, fw = pair(a["filter"])
        try:
            oh, ow, _ = explicit_padding(a["padding"], x.shape[1], x.shape[2], fh, fw,
                                         a["stride"], 1)
        except ValueError as e:
            raise op.fail(str(e)) from None
        need(out.shape == (x.shape[0], oh, ow, x.shape[3]),
             f"output shape {out.shape} is not {(x.shape[0], oh, ow, x.shape[3])}")
    elif k is OpKind.RESHAPE:
        need(int(np.prod(ins[0].shape)) == int(np.prod(out.shape)),
             f"cannot reshape {ins[0].shape} to {out.shape}")
    elif k is OpKind.TRANSPOSE:
        perm = a["perm"]
        need(sorted(perm) == list(range(len(ins[0].shape))), f"bad permutation {perm}")
        need(out.shape == tuple(ins[0].shape[p] for p in perm), "bad transposed shape")
    elif k is OpKind.PAD:
        pads = a["pads"]
        need(len(pads) == len(ins[0].shape) and all(b >= 0 and e >= 0 for b, e in pads),
             f"bad pads {pads}")
        need(out.shape == tuple(d + b + e for d, (b, e) in zip(ins[0].shape, pads,
                                                                  strict=True)),
             f"output shape {out.shape} does not match the padding")
    elif k in (OpKind.SOFTMAX, OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        need(ins[0].shape == out.shape, f"output shape {out.shape} differs from the input's "
             f"{ins[0].shape}")


def _same_quant(a, b):
    if a is None or b is None:
        return a is None and b is None
    return (a.axis == b.axis and np.array_equal(a.scale, b.scale) and
            np.array_equal(a.zero_point, b.zero_point))


def is_layout_view(graph, op):
    """True when ``op``'s output holds exactly its input's bytes, in the same order: a
    ``RESHAPE`` (TFLite RESHAPE, ONNX Reshape / Flatten / Squeeze / Unsqueeze) of a contiguous
    tensor, or a ``TRANSPOSE`` that moves only axes of size 1 (the other axes keep their
    order), with the same element type and the same quantization (scale, zero point, axis) on
    both sides, and a non-constant input. The compiler then aliases the output to the input's
    buffer (``alias`` layer, :mod:`.lower`) instead of copying. A reshape that changes the
    quantization or the element type, and any other transpose, is not a view."""
    if op.kind not in (OpKind.RESHAPE, OpKind.TRANSPOSE) or len(op.inputs) < 1 or \
            len(op.outputs) != 1 or op.inputs[0] is None:
        return False
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if x.const or x.dtype != y.dtype or x.nbytes != y.nbytes or not _same_quant(x.quant,
                                                                               y.quant):
        return False
    if op.kind is OpKind.TRANSPOSE:
        moved = [p for p in op.attrs["perm"] if x.shape[p] != 1]
        return moved == sorted(moved)
    return True
