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
same int32 sums (:meth:`ConvOps._weight_zero_point_split`), unless some ``w - z_w`` is 255.
QDQ groups onnxruntime on x86-64 leaves unfused (int8 activations its S8 -> U8 pass keeps,
:meth:`QdqOps._ort_unfused`): Conv and Add get the attribute ``ort_float`` and
onnxruntime's float32 arithmetic (:mod:`.onnx_float`); unfused Gemm / MatMul / Softmax /
pooling are refused by name.

Other float operators inside a quantized model (a Conv with a float bias, a float pooling,
an unfolded BatchNormalization: onnxruntime computes them with float kernels whose summation
order is not modelled; ``quant_pre_process`` folds BatchNormalization before quantization) and
everything else raise :class:`~.errors.UnsupportedModel` naming the node (index in the graph,
name, op type) and what is missing.
"""

import numpy as np

from .errors import NotAModel, UnsupportedModel
from .ir import Graph, Op, OpKind, Tensor
from .onnx_conv import FC_SPLIT_MAX_INPUTS, ConvOps
from .onnx_node import NCHW_TO_NHWC, NHWC_TO_NCHW, OnnxNode, onnx_dtype
from .onnx_ops import LayerOps
from .onnx_quantized import QuantizedOps

__all__ = ["parse_onnx", "load_onnx", "FC_SPLIT_MAX_INPUTS"]

_FLOAT_OPS = {"Conv", "Gemm", "MatMul", "Add", "AveragePool", "GlobalAveragePool", "MaxPool",
              "Relu", "Clip", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
              "Softmax", "Identity", "Dropout", "Pad", "BatchNormalization"}
_Q_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"}


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
    twice (:meth:`ConvOps._weight_zero_point_split`: exact, and on the NPU); False keeps
    them as they are (on the core). ``ort_unfused``: the QDQ groups onnxruntime on x86-64
    leaves unfused get its float32 arithmetic (:mod:`.onnx_float`; their Convs then run on the
    core); False computes every QDQ group as the fused QLinear kernel, as onnxruntime fuses
    them where int8 activations are allowed (ARM64), Convs on the NPU."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(bytes(data))
    except (DecodeError, ValueError, RuntimeError) as e:
        raise NotAModel(f"not a valid ONNX model (cannot parse the protobuf: {e})") from None
    if not model.graph.node:
        raise NotAModel("not a valid ONNX model: the graph has no nodes")
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


class _Converter(QuantizedOps, ConvOps, LayerOps):
    """An ONNX model into the IR: helpers, the graph walk and the dispatch by op type; the
    operators are the mixins'."""

    split_weight_zero_point = True          # parse_onnx's switches
    ort_unfused = True

    def __init__(self, model):
        from onnx import numpy_helper

        g = model.graph
        self.graph = g
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=13)
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.nodes = [OnnxNode(i, n) for i, n in enumerate(g.node)]
        for node in self.nodes:
            if node.op == "Constant":
                if "value" not in node.attrs:
                    raise node.fail("only Constant with a 'value' tensor is supported")
                self.consts[node.outputs[0]] = numpy_helper.to_array(node.attrs["value"])
        self.info = {}
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            tt = vi.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
            self.info[vi.name] = (onnx_dtype(tt.elem_type), dims, tt.elem_type)
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
            onnx_dtype(i.type.tensor_type.elem_type) in (np.int8, np.uint8) for i in g.input)
        self.io_offset, self.io_layout = {}, {}

    # --- helpers --------------------------------------------------------------------------

    def shape(self, name, node):
        if name in self.consts:
            return tuple(self.consts[name].shape)
        if name in self.map and (name not in self.info or any(d < 1 for d in self.info[name][1])):
            ir, lay = self.map[name]
            shape = self.T[ir].shape
            return tuple(shape[p] for p in NHWC_TO_NCHW) if lay == "nhwc" and \
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
        perm = NHWC_TO_NCHW if layout == "plain" else NCHW_TO_NHWC
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
                u.op == "Transpose" and tuple(u.attrs.get("perm", ())) == NHWC_TO_NCHW
                for u in users)                             # is, the Transposes cost nothing
            layout = "nhwc" if len(dims) == 4 and not nhwc_file else "plain"
            shape = tuple(dims[p] for p in NCHW_TO_NHWC) if layout == "nhwc" else dims
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
                self.io_layout[ir] = tuple(self.T[ir].shape[p] for p in NHWC_TO_NCHW)
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
