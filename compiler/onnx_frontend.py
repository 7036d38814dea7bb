"""ONNX front end: an ``.onnx`` model into the compiler's IR (:mod:`.ir`).

Read with ``onnx`` (``checker`` and strict ``shape_inference`` first: every tensor needs a
static shape; a symbolic batch dimension of the graph's inputs and outputs is taken as 1).
Layout: 4-D activations are NCHW in ONNX and NHWC in the IR; the front end
records each tensor's layout and inserts a ``TRANSPOSE`` (a data move, no arithmetic) only where
an operator needs the other order (``Flatten`` / ``Reshape`` of a 4-D tensor with H*W > 1,
``Transpose``); 4-D graph inputs and outputs keep their NCHW shape at the edge
(``Graph.io_layout``), except a 4-D input whose consumers are all Transposes NHWC -> NCHW
(tf2onnx without ``--inputs-as-nchw``): taken as it is. A Transpose NHWC -> NCHW of a
tensor held as is, or NCHW -> NHWC of one held NHWC, is a renaming (no operator).
Convolution weights go from OIHW to OHWI (depthwise: ``(1, KH, KW, C*M)``).

Float models (arithmetic ``"float"``, run in FP16): Conv (2-D; group 1, depthwise with
group = input channels = output channels, or other groups, depthwise with a channel
multiplier above 1 among them, as one convolution whose weights are zero, or the weight zero
point, outside each group's block: every added product is exactly 0), Gemm
(``transA = 0``, alpha = beta = 1), MatMul (2-D by a constant),
Add (two tensors of one shape; a constant 1-D operand after a bias-less Conv / Gemm / MatMul
becomes its bias), BatchNormalization right after a Conv / Gemm (folded into its weights and
bias in float64, rounded once to float32), AveragePool (``count_include_pad = 0``, padding
SAME-like or none), GlobalAveragePool, MaxPool, Relu and Clip (fused into the operator before
them), Pad (constant), Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Identity, Dropout
(inference), Softmax (over the last axis, or the channel axis of a 4-D tensor).

INT8 models (arithmetic ``"onnx"``): QOperator (QuantizeLinear, DequantizeLinear, QLinearConv,
QLinearMatMul, and onnxruntime's com.microsoft QGemm, QLinearAdd, QLinearAveragePool,
QLinearGlobalAveragePool, QLinearSoftmax; MaxPool / Pad / Flatten / Reshape on quantized
tensors) and QDQ (DequantizeLinear -> Conv / Gemm / MatMul -> [Relu / Clip] ->
QuantizeLinear, with weights and bias through DequantizeLinear of initializers; DQ -> Add /
AveragePool / GlobalAveragePool / Softmax -> Q, which onnxruntime fuses into the com.microsoft
operators; DQ -> MaxPool / Pad / Flatten / Reshape / Squeeze / Unsqueeze -> Q with equal
quantization; an Add of an activation and an int8 / uint8 initializer, QDQ or QLinearAdd, as
``quantize_static`` writes a MatMul + Add bias: the constant is broadcast and kept as a
quantized operand in its place; DQ -> Relu / Clip -> Q, the activation node onnxruntime computes
in float32 (symmetric or kept activations, QOperator's DequantizeLinear -> Relu ->
QuantizeLinear): a QUANTIZE clamped to the quantized bounds; QuantizeLinear of an initializer
(``AddQDQPairToWeight``) folded at compile time), int8 or uint8 activations (uint8 tensors are
int8 internally,
``u8 = i8 + 128``: values and zero points shift together; operators whose float rounding
depends on the raw values compute on them), per-tensor activations, per-tensor or per-channel
weights. The arithmetic is onnxruntime's CPU provider's, written down in :mod:`.reference`:
for convolutions and matrix products int32 accumulation, then one float32 multiply by the
scale ``(x_scale * w_scale_j) / y_scale``, round half to even, + zero point, saturate (and the
clamp of a fused Relu / Clip, quantized with the output's scale). Weights with a zero point
other than 0 (``weight_type=QUInt8``): a convolution, depthwise convolution or fully connected
layer (K <= ``FC_SPLIT_MAX_INPUTS``) becomes one with zero point 0 over its input twice, the
same int32 sums (:meth:`_Converter._weight_zero_point_split`), unless some ``w - z_w`` is 255.
QDQ groups onnxruntime on x86-64 leaves unfused (int8 activations its S8 -> U8 pass keeps,
:meth:`QuantizedOps._ort_unfused`): Conv and Add get the attribute ``ort_float`` and
onnxruntime's float32 arithmetic (:mod:`.onnx_float`); unfused Gemm / MatMul / Softmax /
pooling are refused by name.

Other float operators inside a quantized model (a Conv with a float bias, a float pooling,
an unfolded BatchNormalization: onnxruntime computes them with float kernels whose summation
order is not modelled; ``quant_pre_process`` folds BatchNormalization before quantization) and
everything else raise :class:`~.errors.UnsupportedModel` naming the node (index in the graph,
name, op type) and what is missing.
"""

import numpy as np

from .errors import UnsupportedModel
from .ir import Graph, Op, OpKind, Quant, Tensor, explicit_padding
from .onnx_quantized import QuantizedOps

__all__ = ["parse_onnx", "load_onnx"]

_FLOAT_OPS = {"Conv", "Gemm", "MatMul", "Add", "AveragePool", "GlobalAveragePool", "MaxPool",
              "Relu", "Clip", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
              "Softmax", "Identity", "Dropout", "Pad", "BatchNormalization"}
_Q_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"}
_NCHW_TO_NHWC = (0, 2, 3, 1)
_NHWC_TO_NCHW = (0, 3, 1, 2)


def load_onnx(path):
    """Read and parse the ``.onnx`` file at ``path`` (see :func:`parse_onnx`)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UnsupportedModel(f"cannot read {path}: {e.strerror}") from None
    return parse_onnx(data)


def parse_onnx(data, *, split_weight_zero_point=True, ort_unfused=True):
    """The validated :class:`~.ir.Graph` of an ONNX model given as bytes.

    ``split_weight_zero_point``: quantized convolutions (depthwise ones too) whose weights
    have a zero point other than 0 become a convolution with zero point 0 over the input
    twice (:meth:`_Converter._weight_zero_point_split`: exact, and on the NPU); False keeps
    them as they are (on the core). ``ort_unfused``: the QDQ groups onnxruntime on x86-64
    leaves unfused get its float32 arithmetic (:mod:`.onnx_float`; their Convs then run on the
    core); False computes every QDQ group as the fused QLinear kernel, as onnxruntime fuses
    them where int8 activations are allowed (ARM64), Convs on the NPU."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(bytes(data))
    except (DecodeError, ValueError, RuntimeError) as e:
        raise UnsupportedModel(f"not a valid ONNX model (cannot parse the protobuf: {e})") \
            from None
    if not model.graph.node:
        raise UnsupportedModel("not a valid ONNX model: the graph has no nodes")
    _fix_batch(model)
    try:
        onnx.checker.check_model(model)
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as e:     # checker / shape inference errors of every kind
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModel(f"not a valid ONNX model: {first}") from None
    try:
        converter = _Converter(model)
        converter.split_weight_zero_point = bool(split_weight_zero_point)
        converter.ort_unfused = bool(ort_unfused)
    except UnsupportedModel:
        raise
    except (ValueError, TypeError, KeyError) as e:   # initializers that do not decode
        raise UnsupportedModel(f"not a valid ONNX model: {type(e).__name__}: {e}") from None
    return converter.run()


def _fix_batch(model):
    """A symbolic or unknown first dimension (the batch, as exporters write it) of the graph's
    inputs and outputs becomes 1; shape inference then gives every tensor a static shape."""
    inits = {i.name for i in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output):
        if vi.name in inits or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    del model.graph.value_info[:]


def _onnx_dtype(elem_type):
    import onnx

    return {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.INT8: np.int8,
            onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT32: np.int32,
            onnx.TensorProto.INT64: np.int64}.get(elem_type)


class _Node:
    """An ONNX node with its index (for messages)."""

    def __init__(self, index, proto):
        from onnx import helper

        self.index, self.proto = index, proto
        self.op = proto.op_type if not proto.domain or proto.domain == "ai.onnx" else \
            f"{proto.domain}.{proto.op_type}"
        self.name = proto.name or (proto.output[0] if proto.output else "")
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}

    def fail(self, message):
        return UnsupportedModel(message, index=self.index, name=self.name, op_type=self.op)


#: The largest input of a quantized fully connected layer whose weight zero point is split
#: off (the duplicating layer's 2 K x K identity: 128 KiB at 256).
FC_SPLIT_MAX_INPUTS = 256


class _Converter(QuantizedOps):
    split_weight_zero_point = True          # parse_onnx's switches
    ort_unfused = True
    def __init__(self, model):
        from onnx import numpy_helper

        g = model.graph
        self.graph = g
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=13)
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.nodes = [_Node(i, n) for i, n in enumerate(g.node)]
        for node in self.nodes:
            if node.op == "Constant":
                if "value" not in node.attrs:
                    raise node.fail("only Constant with a 'value' tensor is supported")
                self.consts[node.outputs[0]] = numpy_helper.to_array(node.attrs["value"])
        self.info = {}
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            tt = vi.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
            self.info[vi.name] = (_onnx_dtype(tt.elem_type), dims, tt.elem_type)
        self.producer = {o: n for n in self.nodes for o in n.outputs}
        self.users = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    self.users.setdefault(i, []).append(n)
        self.graph_outputs = [o.name for o in g.output]
        self.T, self.ops, self.map = {}, [], {}
        self.done = set()
        self.quantized = any(n.op in _Q_OPS or n.op.startswith("com.microsoft.Q")
                             for n in self.nodes) or any(
            _onnx_dtype(i.type.tensor_type.elem_type) in (np.int8, np.uint8) for i in g.input)
        self.io_offset, self.io_layout = {}, {}

    # --- helpers --------------------------------------------------------------------------

    def shape(self, name, node):
        if name in self.consts:
            return tuple(self.consts[name].shape)
        if name in self.map and (name not in self.info or any(d < 1 for d in self.info[name][1])):
            ir, lay = self.map[name]
            shape = self.T[ir].shape
            return tuple(shape[p] for p in _NHWC_TO_NCHW) if lay == "nhwc" and \
                len(shape) == 4 else shape
        if name not in self.info or any(d < 1 for d in self.info[name][1]):
            raise node.fail(f"tensor {name!r} has no static shape")
        return self.info[name][1]

    def const(self, name, node, what):
        if name not in self.consts:
            raise node.fail(f"{what} {name!r} must be a constant (initializer)")
        return self.consts[name]

    def new(self, name, dtype, shape, quant=None, data=None):
        base, i = name, 1
        while name in self.T:
            name, i = f"{base}#{i}", i + 1
        self.T[name] = Tensor(name, dtype, shape, quant, data)
        return name

    def emit(self, node, kind, inputs, outputs, **attrs):
        self.ops.append(Op(kind, list(inputs), list(outputs), attrs, node.index, node.name,
                           node.op))

    def value(self, name, node, layout=None):
        """``(ir name, layout)`` of an ONNX activation; with ``layout`` given ("nhwc" or
        "plain"), converted to it by a TRANSPOSE when needed."""
        if name not in self.map:
            if name in self.dq_act:
                self.dequantize(name, node)
            else:
                raise node.fail(f"input {name!r} is not computed by a supported node")
        ir, lay = self.map[name]
        if layout is None or layout == lay or len(self.T[ir].shape) != 4:
            return ir, lay
        perm = _NHWC_TO_NCHW if layout == "plain" else _NCHW_TO_NHWC
        t = self.T[ir]
        key = (name, layout)
        if key not in self.map:
            out = self.new(f"{ir}/{layout}", t.dtype, tuple(t.shape[p] for p in perm), t.quant)
            self.emit(node, OpKind.TRANSPOSE, [ir], [out], perm=perm)
            self.map[key] = (out, layout)
        return self.map[key]

    def _drop_requantize_pairs(self, outputs):
        """Remove ``DEQUANTIZE -> QUANTIZE`` pairs with one quantization (scale and zero point)
        and no clamp, the float tensor read only by the QUANTIZE and neither tensor a graph
        output (what a ``DQ -> Transpose -> Q`` around a renamed Transpose leaves): exact,
        ``rne(f32(f32(q - zp) * s) / s) + zp = q`` for every int8 ``q``; readers of the
        QUANTIZE's output read the DEQUANTIZE's input instead."""
        def readers(name):
            return [o for o in self.ops if name in o.inputs]

        changed = True
        while changed:
            changed = False
            for qop in self.ops:
                if qop.kind is not OpKind.QUANTIZE or qop.attrs.get("lo") is not None or \
                        qop.attrs.get("hi") is not None:
                    continue
                f = qop.inputs[0]
                dq = next((o for o in self.ops if f in o.outputs), None)
                if dq is None or dq.kind is not OpKind.DEQUANTIZE:
                    continue
                src, dst = dq.inputs[0], qop.outputs[0]
                qs, qd = self.T[src].quant, self.T[dst].quant
                if qs is None or qd is None or self.T[src].dtype != np.int8 or \
                        self.T[src].shape != self.T[dst].shape or \
                        not (np.array_equal(qs.scale, qd.scale) and
                             np.array_equal(qs.zero_point, qd.zero_point)) or \
                        len(readers(f)) != 1 or {f, dst} & set(outputs):
                    continue
                for o in readers(dst):
                    o.inputs = [src if n == dst else n for n in o.inputs]
                self.ops = [o for o in self.ops if o is not qop and o is not dq]
                changed = True
                break

    def put(self, onnx_name, ir_name, layout):
        self.map[onnx_name] = (ir_name, layout)

    # --- graph ----------------------------------------------------------------------------

    def run(self):
        g = self.graph
        inputs = []
        for vi in g.input:
            if vi.name in self.consts:
                continue
            dtype, dims, code = self.info[vi.name]
            if dtype not in (np.float32, np.int8, np.uint8) or any(d < 1 for d in dims):
                raise UnsupportedModel(f"graph input {vi.name!r}: type {code} / shape {dims} "
                                       "(float32, int8 or uint8 with a static shape needed)")
            users = self.users.get(vi.name, [])
            nhwc_file = len(dims) == 4 and users and all(   # tf2onnx's NHWC input: taken as
                u.op == "Transpose" and tuple(u.attrs.get("perm", ())) == _NHWC_TO_NCHW
                for u in users)                             # is, the Transposes cost nothing
            layout = "nhwc" if len(dims) == 4 and not nhwc_file else "plain"
            shape = tuple(dims[p] for p in _NCHW_TO_NHWC) if layout == "nhwc" else dims
            name = self.new(vi.name, np.int8 if dtype == np.uint8 else dtype, shape)
            if dtype == np.uint8:
                self.io_offset[name] = True
            if layout == "nhwc":
                self.io_layout[name] = dims
            self.put(vi.name, name, layout)
            inputs.append(name)
        self._classify()
        for node in self.nodes:
            if node.index in self.done or node.op == "Constant":
                continue
            self.convert(node)
        outputs = []
        for name in self.graph_outputs:
            if name not in self.map and name in self.dq_act:
                self.dequantize(name, self.dq_act[name])
            if name not in self.map:
                raise UnsupportedModel(f"graph output {name!r} is not computed")
            ir, layout = self.map[name]
            if self.info[name][0] == np.uint8:
                self.io_offset[ir] = True
            if layout == "nhwc" and len(self.T[ir].shape) == 4:
                self.io_layout[ir] = tuple(self.T[ir].shape[p] for p in _NHWC_TO_NCHW)
            outputs.append(ir)
        self._drop_requantize_pairs(outputs)
        # graph inputs that reach the output unchanged in another layout are not supported
        graph = Graph(self.T, self.ops, inputs, outputs, "onnx" if self.quantized else "float",
                      "onnx", self.io_offset, self.io_layout)
        return graph.validate()

    def _classify(self):
        """QDQ structure: DequantizeLinear of constants (weights) and of activations."""
        self.fold_constant_quantize()
        self.dq_const, self.dq_act = {}, {}
        for node in self.nodes:
            if node.op != "DequantizeLinear":
                continue
            if node.inputs[0] in self.consts:
                self.dq_const[node.outputs[0]] = node
                self.done.add(node.index)
            else:
                self.dq_act[node.outputs[0]] = node
                self.done.add(node.index)      # emitted on demand (see dequantize)

    # --- nodes ----------------------------------------------------------------------------

    def convert(self, node):
        op = node.op
        if op in ("Conv", "Gemm", "MatMul", "MaxPool", "Flatten", "Reshape", "Squeeze",
                  "Unsqueeze", "Pad", "Add",
                  "GlobalAveragePool", "AveragePool", "Softmax") and \
                node.inputs and node.inputs[0] in self.dq_act and self._qdq(node):
            return
        if op == "Add" and self._qdq_const_add(node):
            return
        if op in ("Relu", "Clip") and self.quantized and node.inputs[0] in self.dq_act and \
                self._qdq_activation(node):
            return
        if op in ("com.microsoft.QLinearAdd", "com.microsoft.QLinearGlobalAveragePool",
                  "com.microsoft.QGemm", "com.microsoft.QLinearAveragePool",
                  "com.microsoft.QLinearSoftmax"):
            return getattr(self, "_" + op.split(".")[-1])(node)
        method = getattr(self, f"_{op}", None)
        if method is None or "." in op:
            raise node.fail("operator not supported by the compiler (supported: "
                            f"{', '.join(sorted(_FLOAT_OPS | _Q_OPS))}, "
                            "com.microsoft.QLinearAdd / QLinearGlobalAveragePool, and the QDQ "
                            "patterns of Conv / Gemm / MatMul / Add / GlobalAveragePool / "
                            "MaxPool / Flatten / Reshape)")
        if self.quantized and op in ("Conv", "Gemm", "MatMul", "Add", "AveragePool",
                                     "GlobalAveragePool", "Softmax", "Relu", "Clip"):
            why = ""
            if node.inputs and node.inputs[0] in self.dq_act:
                ops = [u.op for u in self.users.get(node.outputs[0], [])]
                feeds = ", ".join(f"{ops.count(o)} {o}" for o in sorted(set(ops)))
                why = (" (its output feeds " + (feeds or "the graph output") +
                       ", not one QuantizeLinear: no QDQ group onnxruntime fuses; it would run "
                       "the operator in float, which the compiler does not model)")
            raise node.fail("a float operator inside a quantized model is not supported" +
                            (why or " (quantize it, or run the float model in fp16)"))
        method(node)

    # float operators

    def _conv_common(self, node, x_name, w, b, out_name, out_dtype, out_quant, w_quant,
                     layout_in="nhwc", ort=None):
        a = node.attrs
        x, _ = self.value(x_name, node, "nhwc")
        xs = self.T[x].shape
        if len(xs) != 4 or w.ndim != 4:
            raise node.fail("only 2-D convolutions (4-D tensors) are supported")
        cout, cin_g, kh, kw = w.shape
        group = int(a.get("group", 1))
        strides = tuple(a.get("strides", (1, 1)))
        dil = tuple(a.get("dilations", (1, 1)))
        padding = self._padding(node, xs, kh, kw, strides, dil)
        if group == 1:
            if cin_g != xs[3]:
                raise node.fail(f"weights expect {cin_g} input channels, the input has {xs[3]}")
            kind, wt, extra = OpKind.CONV_2D, w.transpose(0, 2, 3, 1), {}
            wq = w_quant
        elif group == xs[3] and cin_g == 1 and cout == group and not (
                w_quant is not None and out_dtype == np.int8 and ort is None and
                np.any(w_quant.zero_point) and self.split_weight_zero_point):
            kind, extra = OpKind.DEPTHWISE_CONV_2D, {"depth_multiplier": 1}
            wt = w.transpose(1, 2, 3, 0)
            wq = None if w_quant is None else Quant(w_quant.scale, w_quant.zero_point, 3)
        elif group > 1 and cin_g * group == xs[3] and cout % group == 0:
            # grouped, depthwise with a channel multiplier above 1 (groups of one input
            # channel), and quantized depthwise with a weight zero point (then split below):
            # one convolution whose weights are zero outside each group's block (the weight
            # zero point in a quantized model), so every extra product is exactly 0
            kind, extra, wq = OpKind.CONV_2D, {}, w_quant
            zero = 0 if w_quant is None else np.broadcast_to(
                np.asarray(w_quant.zero_point), (cout,))
            full = np.zeros((cout, xs[3], kh, kw), w.dtype)
            full[...] = np.reshape(zero, (cout, 1, 1, 1)) if w_quant is not None else 0
            og = cout // group
            for g in range(group):
                full[g * og:(g + 1) * og, g * cin_g:(g + 1) * cin_g] = w[g * og:(g + 1) * og]
            wt = full.transpose(0, 2, 3, 1)
        else:
            raise node.fail(f"group = {group} does not divide the input's {xs[3]} channels "
                            f"and the {cout} output channels into groups of {cin_g}")
        if kind is OpKind.CONV_2D and wq is not None and out_dtype == np.int8 and \
                self.split_weight_zero_point and ort is None:
            x, wt, wq = self._weight_zero_point_split(node, x, wt, wq)
        wname = self.new(f"{node.name}/weights", wt.dtype, wt.shape, wq,
                         np.ascontiguousarray(wt))
        bname = None
        if b is not None:
            bname = self.new(f"{node.name}/bias", b.dtype, b.shape, None, b)
        oh, ow, _ = explicit_padding(padding, xs[1], xs[2], kh, kw, strides, dil)
        y = self.new(out_name, out_dtype, (xs[0], oh, ow, cout), out_quant)
        attrs = dict(stride=strides, dilation=dil, padding=padding, lo=None, hi=None, **extra)
        if out_dtype == np.int8:
            attrs.update(lo=-128, hi=127)
        if ort is not None:     # onnxruntime's float32 Conv (onnx_float.py)
            if oh * ow == 1 and cout // group > 1:
                raise node.fail("onnxruntime on x86-64 runs this Conv unfused, in float32, "
                                "and with one output pixel it takes MLAS's one-column kernel, "
                                "whose summation order the compiler does not model")
            attrs.update(ort_float=True, ort_group=group, **ort)
        self.emit(node, kind, [x, wname, bname], [y], **attrs)
        self.put(out_name, y, "nhwc")

    def _weight_zero_point_split(self, node, x, wt, wq, fc=False):
        """A quantized convolution whose weights (OHWI, int8) have a zero point other than 0,
        as one with zero point 0 over the input twice (``x2 = [x, x]`` along the channels, a
        1x1 convolution by ``[I; I]`` with scale 1 and the input's quantization, exact: its
        requantization is ``rne(f32(x - z_x) * 1) + z_x = x``): ``w - z_w = a + b`` with ``b
        = floor((w - z_w) / 2)`` and ``a = (w - z_w) - b``, both int8 when ``w - z_w <= 254``,
        so ``sum (x - z_x)(w - z_w) = sum (x2 - z_x) [a, b]`` in int32 and the layer becomes
        one the NPU takes (weights with zero point 0). Returns ``(x, wt, wq)`` unchanged
        when the zero point is 0 or some ``w - z_w`` is 255 (the layer then stays on the
        core). ``fc``: a FULLY_CONNECTED (``wt`` its (N, 1, 1, K) weights, ``x`` (B, K)):
        the duplication is a FULLY_CONNECTED by ``[I; I]`` (2 K x K weights, hence only for
        ``K <= FC_SPLIT_MAX_INPUTS``)."""
        cout, cin = wt.shape[0], wt.shape[3]
        zw = np.broadcast_to(np.asarray(wq.zero_point).reshape(-1), (cout,)).astype(np.int16)
        if not zw.any():
            return x, wt, wq
        d = wt.astype(np.int16) - zw[:, None, None, None]
        if d.max() > 254:
            return x, wt, wq
        b = np.floor_divide(d, 2)
        split = np.concatenate([d - b, b], axis=3).astype(np.int8)
        xt = self.T[x]
        eye = np.concatenate([np.eye(cin, dtype=np.int8)] * 2)
        eye = eye if fc else eye.reshape(2 * cin, 1, 1, cin)
        ident = self.new(f"{node.name}/duplicate_weights", np.int8, eye.shape,
                         Quant.of(1.0), eye)
        x2 = self.new(f"{node.name}/input_twice", np.int8, (*xt.shape[:-1], 2 * cin),
                      Quant(xt.quant.scale, xt.quant.zero_point))
        if fc:
            self.emit(node, OpKind.FULLY_CONNECTED, [x, ident, None], [x2], lo=-128, hi=127)
        else:
            self.emit(node, OpKind.CONV_2D, [x, ident, None], [x2], stride=(1, 1),
                      dilation=(1, 1), padding="VALID", lo=-128, hi=127)
        return x2, split, Quant.of(wq.scale, 0, wq.axis)

    def _padding(self, node, xs, kh, kw, strides, dil):
        a = node.attrs
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto == "VALID":
            return "VALID"
        if auto == "SAME_UPPER":
            return "SAME"
        same = explicit_padding("SAME", xs[1], xs[2], kh, kw, strides, dil)[2]
        if auto == "SAME_LOWER":
            pt, pl, pb, pr = same
            pads = (pb, pr, pt, pl)
        elif auto == "NOTSET":
            p = tuple(int(v) for v in a.get("pads", (0, 0, 0, 0)))
            if len(p) != 4 or min(p) < 0:
                raise node.fail(f"pads {p} are not 2-D non-negative pads")
            pads = (p[0], p[1], p[2], p[3])
        else:
            raise node.fail(f"auto_pad {auto!r} is not supported")
        if not any(pads):
            return "VALID"
        if pads == same:
            return "SAME"
        return pads

    def _Conv(self, node):
        w = self.const(node.inputs[1], node, "Conv weights").astype(np.float32)
        b = self.consts.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        if len(node.inputs) > 2 and node.inputs[2] and b is None:
            raise node.fail("the bias must be a constant")
        self._conv_common(node, node.inputs[0], w, None if b is None else b.astype(np.float32),
                          node.outputs[0], np.float32, None, None)

    def _fc(self, node, x_name, w, b, out_name, out_dtype=np.float32, out_quant=None,
            w_quant=None):
        x, _ = self.value(x_name, node, "plain")
        xs = self.T[x].shape
        if len(xs) != 2 or xs[1] != w.shape[1]:
            raise node.fail(f"input {xs} does not match weights of {w.shape[1]} inputs (2-D "
                            "inputs only)")
        if w_quant is not None and out_dtype == np.int8 and self.split_weight_zero_point and \
                xs[1] <= FC_SPLIT_MAX_INPUTS:
            x, w4, w_quant = self._weight_zero_point_split(node, x, w[:, None, None, :],
                                                           w_quant, fc=True)
            w = w4.reshape(w4.shape[0], -1)
        wname = self.new(f"{node.name}/weights", w.dtype, w.shape, w_quant,
                         np.ascontiguousarray(w))
        bname = None if b is None else self.new(f"{node.name}/bias", b.dtype, b.shape, None, b)
        y = self.new(out_name, out_dtype, (xs[0], w.shape[0]), out_quant)
        lo, hi = (-128, 127) if out_dtype == np.int8 else (None, None)
        self.emit(node, OpKind.FULLY_CONNECTED, [x, wname, bname], [y], lo=lo, hi=hi)
        self.put(out_name, y, "plain")

    def _Gemm(self, node):
        a = node.attrs
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise node.fail("only transA = 0, alpha = 1, beta = 1 are supported")
        w = self.const(node.inputs[1], node, "Gemm B").astype(np.float32)
        w = w if a.get("transB", 0) else w.T
        b = None
        if len(node.inputs) > 2 and node.inputs[2]:
            b = self.const(node.inputs[2], node, "Gemm C").astype(np.float32)
            if b.size != w.shape[0]:
                raise node.fail(f"C of shape {b.shape} is not a bias of {w.shape[0]}")
            b = b.reshape(-1)
        self._fc(node, node.inputs[0], w, b, node.outputs[0])

    def _MatMul(self, node):
        w = self.const(node.inputs[1], node, "MatMul B").astype(np.float32)
        if w.ndim != 2:
            raise node.fail("only 2-D MatMul by a constant is supported")
        self._fc(node, node.inputs[0], np.ascontiguousarray(w.T), None, node.outputs[0])

    def _Add(self, node):
        a, b = node.inputs
        if b in self.consts or a in self.consts:
            act, c = (a, b) if b in self.consts else (b, a)
            ir, _ = self.value(act, node)
            prod = self.ops[-1] if self.ops else None
            cv = self.consts[c].astype(np.float32).reshape(-1)
            if (prod is not None and prod.outputs == [ir] and prod.kind in
                    (OpKind.FULLY_CONNECTED, OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D) and
                    prod.inputs[2] is None and len(self.users.get(act, [])) == 1 and
                    cv.size == self.T[ir].shape[-1] and self._channel_const(node, c)):
                prod.inputs[2] = self.new(f"{prod.name}/bias", np.float32, cv.shape, None, cv)
                self.put(node.outputs[0], ir, self.map[act][1])
                return
            raise node.fail("Add with a constant is supported only as the bias of the Conv / "
                            "Gemm / MatMul right before it")
        x1, lay = self.value(a, node)
        x2, _ = self.value(b, node, lay)
        if self.T[x1].shape != self.T[x2].shape:
            raise node.fail("Add needs two inputs of one shape (broadcasting is not supported)")
        y = self.new(node.outputs[0], np.float32, self.T[x1].shape)
        self.emit(node, OpKind.ADD, [x1, x2], [y], lo=None, hi=None)
        self.put(node.outputs[0], y, lay)

    def _channel_const(self, node, c):
        """A constant that broadcasts along the channel axis only: (C,) / (1, C) after a
        fully connected layer, (C, 1, 1) / (1, C, 1, 1) after a convolution."""
        shape = self.consts[c].shape
        big = [i for i, d in enumerate(shape) if d != 1]
        if len(big) > 1:
            return False
        return not big or len(shape) <= 2 or big[0] == len(shape) - 3

    def _clamp(self, node, lo, hi):
        x = node.inputs[0]
        ir, lay = self.value(x, node)
        prod = self.ops[-1] if self.ops else None
        from .ir import COMPUTE_KINDS

        if not (prod is not None and prod.outputs == [ir] and prod.kind in COMPUTE_KINDS and
                len(self.users.get(x, [])) == 1 and x not in self.graph_outputs):
            raise node.fail("Relu / Clip is supported only fused into the operator right "
                            "before it (Conv, Gemm, MatMul, Add, pooling)")
        plo, phi = prod.attrs.get("lo"), prod.attrs.get("hi")
        if lo is not None:
            plo = lo if plo is None else max(plo, lo)
        if hi is not None:
            phi = hi if phi is None else min(phi, hi)
        prod.attrs["lo"], prod.attrs["hi"] = plo, phi
        self.put(node.outputs[0], ir, lay)

    def _Relu(self, node):
        self._clamp(node, 0.0, None)

    def _clip_bounds(self, node):
        lo = node.attrs.get("min")
        hi = node.attrs.get("max")
        if len(node.inputs) > 1 and node.inputs[1]:
            lo = float(self.const(node.inputs[1], node, "Clip min"))
        if len(node.inputs) > 2 and node.inputs[2]:
            hi = float(self.const(node.inputs[2], node, "Clip max"))
        return (None if lo is None else float(np.float32(lo)),
                None if hi is None else float(np.float32(hi)))

    def _Clip(self, node):
        self._clamp(node, *self._clip_bounds(node))

    def _pool(self, node, kind, out_dtype, out_quant, x_name=None, out_name=None,
              quantized=False):
        a = node.attrs
        x, _ = self.value(x_name or node.inputs[0], node, "nhwc")
        xs = self.T[x].shape
        if len(xs) != 4:
            raise node.fail("only 2-D pooling (4-D tensors) is supported")
        if node.op.endswith("GlobalAveragePool"):
            fh, fw, strides, padding = xs[1], xs[2], (1, 1), "VALID"
        else:
            fh, fw = (int(v) for v in a["kernel_shape"])
            strides = tuple(a.get("strides", (1, 1)))
            if a.get("ceil_mode", 0) or tuple(a.get("dilations", (1, 1))) != (1, 1) or \
                    a.get("storage_order", 0):
                raise node.fail("ceil_mode, dilations and storage_order are not supported")
            padding = self._padding(node, xs, fh, fw, strides, (1, 1))
            if kind is OpKind.AVERAGE_POOL_2D and not quantized:
                if a.get("count_include_pad", 0):
                    raise node.fail("count_include_pad = 1 is not supported")
                if not isinstance(padding, str):
                    raise node.fail("AveragePool padding must be none or SAME-like")
        oh, ow, _ = explicit_padding(padding, xs[1], xs[2], fh, fw, strides, 1)
        out_name = out_name or node.outputs[0]
        y = self.new(out_name, out_dtype, (xs[0], oh, ow, xs[3]), out_quant)
        lo, hi = (-128, 127) if out_dtype == np.int8 else (None, None)
        self.emit(node, kind, [x], [y], filter=(fh, fw), stride=strides, padding=padding,
                  lo=lo, hi=hi)
        if quantized and kind is OpKind.AVERAGE_POOL_2D:
            self.ops[-1].attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        self.put(out_name, y, "nhwc")

    def _AveragePool(self, node):
        self._pool(node, OpKind.AVERAGE_POOL_2D, np.float32, None)

    _GlobalAveragePool = _AveragePool

    def _MaxPool(self, node):
        if len(node.outputs) > 1 and node.outputs[1]:
            raise node.fail("the Indices output is not supported")
        x, _ = self.value(node.inputs[0], node, "nhwc")
        t = self.T[x]
        self._pool(node, OpKind.MAX_POOL_2D, t.dtype, t.quant)

    def _reshape_to(self, node, x_name, out_name, shape, quant_override=None):
        ir, lay = self.value(x_name, node)
        t = self.T[ir]
        if lay == "nhwc" and len(t.shape) == 4 and t.shape[1] * t.shape[2] != 1:
            ir, lay = self.value(x_name, node, "plain")
        shape = tuple(int(d) for d in shape)
        if len(shape) == 4:
            raise node.fail("reshaping to a 4-D tensor is not supported")
        y = self.new(out_name, t.dtype, shape, quant_override or t.quant)
        self.emit(node, OpKind.RESHAPE, [ir], [y], shape=shape)
        self.put(out_name, y, "plain")

    def _Flatten(self, node):
        xs = self.shape(node.inputs[0], node)
        axis = int(node.attrs.get("axis", 1))
        axis = axis + len(xs) if axis < 0 else axis
        shape = (int(np.prod(xs[:axis])), int(np.prod(xs[axis:])))
        self._reshape_to(node, node.inputs[0], node.outputs[0], shape)

    def _Reshape(self, node):
        self._reshape_to(node, node.inputs[0], node.outputs[0], self._reshape_target(node))

    _Squeeze = _Unsqueeze = _Reshape

    def _pad(self, node, x_name, out, quant=None):
        a = node.attrs
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise node.fail(f"Pad mode {mode!r} is not supported (constant only)")
        if len(node.inputs) > 1 and node.inputs[1]:
            pads = [int(v) for v in self.const(node.inputs[1], node, "pads")]
        else:
            pads = [int(v) for v in a.get("pads", ())]
        if len(node.inputs) > 3 and node.inputs[3]:
            raise node.fail("Pad with axes is not supported")
        value = 0.0
        if len(node.inputs) > 2 and node.inputs[2]:
            value = float(self.const(node.inputs[2], node, "constant_value").reshape(-1)[0])
        elif "value" in a:
            value = float(a["value"])
        ir, lay = self.value(x_name, node)
        t = self.T[ir]
        rank = len(t.shape)
        if len(pads) != 2 * rank or min(pads) < 0:
            raise node.fail(f"pads {pads} are not {2 * rank} non-negative values")
        pairs = [(pads[i], pads[i + rank]) for i in range(rank)]
        if lay == "nhwc" and rank == 4:
            pairs = [pairs[p] for p in _NCHW_TO_NHWC]
        if quant is not None:        # QDQ: the float constant quantized like the output
            value = int(np.clip(np.rint(np.float32(value) / quant.s) + quant.zp, -128, 127))
        elif t.dtype == np.int8:     # a Pad of a stored int8 / uint8 tensor: the raw constant
            uint8 = self.info.get(node.inputs[0], (None,))[0] == np.uint8
            value = int(value) - (128 if uint8 else 0)
        y = self.new(out, t.dtype, tuple(d + b + e for d, (b, e) in zip(t.shape, pairs,
                                                                        strict=True)),
                     quant or t.quant)
        self.emit(node, OpKind.PAD, [ir], [y], pads=tuple(pairs), value=value)
        self.put(out, y, lay)

    def _Pad(self, node):
        self._pad(node, node.inputs[0], node.outputs[0])

    def _BatchNormalization(self, node):
        """Folded into the bias-carrying convolution right before it (float models)."""
        x = node.inputs[0]
        ir, lay = self.value(x, node)
        prod = self.ops[-1] if self.ops else None
        if not (prod is not None and prod.outputs == [ir] and prod.kind in
                (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED) and
                len(self.users.get(x, [])) == 1 and prod.attrs.get("lo") is None and
                prod.attrs.get("hi") is None and self.T[ir].dtype == np.float32):
            raise node.fail("BatchNormalization is supported only right after a Conv / Gemm "
                            "of a float model (it is folded into its weights)")
        if node.attrs.get("training_mode", 0):
            raise node.fail("training_mode is not supported")
        gamma, beta, mean, var = (self.const(n, node, "BatchNormalization parameter")
                                  .astype(np.float64).reshape(-1) for n in node.inputs[1:5])
        eps = float(node.attrs.get("epsilon", 1e-5))
        factor = gamma / np.sqrt(var + np.float64(np.float32(eps)))
        w = self.T[prod.inputs[1]]
        axis = 3 if prod.kind is OpKind.DEPTHWISE_CONV_2D else 0
        shape = [1] * w.data.ndim
        shape[axis] = -1
        w.data = (w.data.astype(np.float64) * factor.reshape(shape)).astype(np.float32)
        bias = (np.zeros(factor.size) if prod.inputs[2] is None else
                self.T[prod.inputs[2]].data.astype(np.float64))
        folded = ((bias - mean) * factor + beta).astype(np.float32)
        if prod.inputs[2] is None:
            prod.inputs[2] = self.new(f"{prod.name}/bias", np.float32, folded.shape, None, folded)
        else:
            self.T[prod.inputs[2]].data = folded
        self.put(node.outputs[0], ir, lay)

    def _Identity(self, node):
        self.put(node.outputs[0], *self.value(node.inputs[0], node))

    def _Dropout(self, node):
        if len(node.outputs) > 1 and node.outputs[1]:
            raise node.fail("the mask output of Dropout is not supported")
        self._Identity(node)

    def _reshape_target(self, node):
        """The output shape of a Reshape / Squeeze / Unsqueeze: from shape inference, else from
        a Reshape's shape constant (with ONNX's 0 = copy and -1 = infer)."""
        out = node.outputs[0]
        if out in self.info and all(d >= 1 for d in self.info[out][1]):
            return self.info[out][1]
        if node.op != "Reshape":
            raise node.fail(f"the output {out!r} has no static shape")
        src = self.shape(node.inputs[0], node)
        want = [int(d) for d in self.const(node.inputs[1], node, "Reshape shape")]
        want = [src[i] if d == 0 and not node.attrs.get("allowzero", 0) else d
                for i, d in enumerate(want)]
        if want.count(-1) == 1:
            known = int(np.prod([d for d in want if d != -1]))
            want[want.index(-1)] = int(np.prod(src)) // max(known, 1)
        return tuple(want)

    def _Transpose(self, node):
        ir, lay = self.value(node.inputs[0], node)
        t = self.T[ir]
        perm = tuple(int(p) for p in node.attrs.get("perm", range(len(t.shape)))[::1])
        if len(t.shape) == 4 and node.outputs[0] not in self.graph_outputs and (
                (lay == "plain" and perm == _NHWC_TO_NCHW) or
                (lay == "nhwc" and perm == _NCHW_TO_NHWC)):
            # NHWC -> NCHW of a tensor held as is, or back: the IR's NHWC data already is
            # the result in the other layout tag; no operator, no data moved
            self.put(node.outputs[0], ir, "nhwc" if lay == "plain" else "plain")
            return
        if lay == "nhwc" and len(t.shape) == 4:
            # ONNX axis i of the NCHW view is IR axis _NCHW_TO_NHWC.index(i)
            nchw = _NHWC_TO_NCHW
            perm = tuple(nchw[p] for p in perm)
        y = self.new(node.outputs[0], t.dtype, tuple(t.shape[p] for p in perm), t.quant)
        self.emit(node, OpKind.TRANSPOSE, [ir], [y], perm=perm)
        self.put(node.outputs[0], y, "plain")

    def _Softmax(self, node):
        ir, lay = self.value(node.inputs[0], node)
        t = self.T[ir]
        rank = len(t.shape)
        axis = int(node.attrs.get("axis", -1 if self._opset() >= 13 else 1))
        axis = axis + rank if axis < 0 else axis
        last_ok = (axis == rank - 1 and lay == "plain") or (lay == "nhwc" and rank == 4 and
                                                            axis == 1)
        if not last_ok:
            raise node.fail(f"Softmax over axis {axis} is not supported (the last axis, or "
                            "the channels of a 4-D tensor)")
        y = self.new(node.outputs[0], np.float32, t.shape)
        self.emit(node, OpKind.SOFTMAX, [ir], [y], beta=1.0)
        self.put(node.outputs[0], y, lay)

    def _opset(self):
        return self.opset
