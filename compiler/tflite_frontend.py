"""TFLite front end: a ``.tflite`` flatbuffer into the compiler's IR (:mod:`.ir`).

Read with the ``tflite`` package's flatbuffer bindings (no TensorFlow). Accepted:

- full-integer INT8 models (int8 activations with per-tensor asymmetric quantization, int8
  weights with per-channel or per-tensor symmetric quantization, int32 biases), optionally with
  float32 edges (QUANTIZE at the input, DEQUANTIZE at the output): arithmetic ``"tflite"``,
  the fixed-point reference kernels (:mod:`dure.sim.golden_tflite`);
- float32 models: arithmetic ``"float"``, run in FP16 (weights and activations converted with
  RNE, biases kept in fp32, :mod:`dure.sim.golden_tflite_fp16`).

Operators: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D, MAX_POOL_2D,
RESHAPE, SOFTMAX, QUANTIZE, DEQUANTIZE, PAD / PADV2 (INT8 PAD fills with the output zero
point, as the reference kernel does), with the fused activations NONE, RELU, RELU6 and
RELU_N1_TO_1. One subgraph. Anything else is an :class:`~.errors.UnsupportedModel` naming the
operator (index in the subgraph, first output tensor's name, builtin name) and what is missing.

Fused activations become the clamp ``lo`` / ``hi``: for INT8 outputs
:func:`dure.sim.golden_tflite_params.activation_range_int8` (TFLite's rounding), for float
outputs RELU ``[0, +inf)``, RELU6 ``[0, 6]``, RELU_N1_TO_1 ``[-1, 1]``.
"""

import numpy as np

from .errors import UnsupportedModel
from .ir import Graph, Op, OpKind, Quant, Tensor

__all__ = ["load_tflite", "parse_tflite"]

_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_FLOAT_RANGES = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0),
                 "RELU_N1_TO_1": (-1.0, 1.0)}
_PADDING = {0: "SAME", 1: "VALID"}

#: Most bytes a model file (or a tensor) may have: 1 GiB, far beyond any model the SoC holds.
MAX_BYTES = 1 << 30


def load_tflite(path):
    """Read and parse the ``.tflite`` file at ``path`` (see :func:`parse_tflite`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UnsupportedModel(f"cannot read {path}: {e.strerror}") from None
    return parse_tflite(data)


def _types():
    from tflite.TensorType import TensorType

    return {TensorType.INT8: np.int8, TensorType.INT32: np.int32,
            TensorType.FLOAT32: np.float32}


def _builtin_names():
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def parse_tflite(data):
    """The :class:`~.ir.Graph` of a TFLite model given as bytes, validated.

    Raises
    ------
    UnsupportedModel
        For a file that is not a TFLite model (size, identifier, unparsable tables) and for
        every operator, type or attribute outside the list in the module docstring.
    """
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise UnsupportedModel(f"not a model the compiler takes: larger than {MAX_BYTES} bytes")
    if len(data) < 16 or data[4:8] != b"TFL3":
        raise UnsupportedModel("not a TFLite model: the file identifier 'TFL3' is missing "
                               "(wrong magic or truncated file)")
    try:
        return _parse(data)
    except UnsupportedModel:
        raise
    except Exception as e:    # the flatbuffer reader fails with struct / index errors
        raise UnsupportedModel(f"not a valid TFLite model (truncated or corrupt flatbuffer: "
                               f"{type(e).__name__}: {e})") from None


def _parse(data):
    import tflite

    model = tflite.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedModel(f"the model has {model.SubgraphsLength()} subgraphs; the "
                               "compiler takes models with exactly one")
    sg = model.Subgraphs(0)
    types = _types()
    names = _builtin_names()
    tensors = {}
    tnames = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        name = (t.Name() or b"").decode("utf-8", "replace") or f"tensor{i}"
        if name in tensors:
            name = f"{name}#{i}"
        tnames.append(name)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 1 for d in shape):
            raise UnsupportedModel(f"tensor {i} {name!r} has shape {shape}: dynamic or empty "
                                   "dimensions are not supported")
        dtype = types.get(t.Type())
        if np.prod(shape, dtype=np.float64) * 4 > MAX_BYTES:
            raise UnsupportedModel(f"tensor {i} {name!r} of shape {shape} is absurdly large")
        q = t.Quantization()
        quant = None
        if q is not None and q.ScaleLength():
            scale = q.ScaleAsNumpy().astype(np.float32)
            zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else \
                np.zeros(scale.size, np.int64)
            if zp.size != scale.size:
                raise UnsupportedModel(f"tensor {i} {name!r}: {scale.size} scales but "
                                       f"{zp.size} zero points")
            quant = Quant(scale, zp, int(q.QuantizedDimension()))
        buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        const = None
        if buf is not None and (buf.DataLength() or buf.Offset() > 1):
            if dtype is None:
                raise UnsupportedModel(f"constant tensor {i} {name!r} has an unsupported "
                                       f"type (TensorType {t.Type()})")
            if buf.Offset() > 1:
                raw = data[buf.Offset():buf.Offset() + buf.Size()]
            else:
                raw = buf.DataAsNumpy().tobytes()
            want = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(raw) != want:
                raise UnsupportedModel(f"constant tensor {i} {name!r}: {len(raw)} bytes of "
                                       f"data for shape {shape} ({want} bytes needed)")
            const = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype)
            const = const.reshape(shape)
        tensors[name] = (dtype, t.Type(), shape, quant, const)
    ir_tensors = {}
    for name, (dtype, _ttype, shape, quant, const) in tensors.items():
        ir_tensors[name] = Tensor(name, dtype if dtype is not None else np.uint8, shape, quant,
                                  const)
    bad_type = {name: ttype for name, (dtype, ttype, *_rest) in tensors.items() if dtype is None}

    inputs = [tnames[int(i)] for i in sg.InputsAsNumpy()] if sg.InputsLength() else []
    outputs = [tnames[int(i)] for i in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    quantized = any(ir_tensors[n].dtype == np.int8 and not ir_tensors[n].const
                    for n in ir_tensors)
    arithmetic = "tflite" if quantized else "float"
    ops = []
    for index in range(sg.OperatorsLength()):
        o = sg.Operators(index)
        code = model.OperatorCodes(o.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        op_name = names.get(builtin, f"BUILTIN_{builtin}")
        if builtin == 32:   # CUSTOM
            op_name = f"CUSTOM:{(code.CustomCode() or b'').decode('utf-8', 'replace')}"
        ins = [tnames[int(i)] if int(i) >= 0 else None for i in o.InputsAsNumpy()] \
            if o.InputsLength() else []
        outs = [tnames[int(i)] for i in o.OutputsAsNumpy()] if o.OutputsLength() else []
        node = Op(None, ins, outs, {}, index, outs[0] if outs else "", op_name)
        for t in ins + outs:
            if t is not None and t in bad_type:
                raise node.fail(f"tensor {t!r} has a data type the compiler does not support "
                                f"(TensorType {bad_type[t]}; supported: int8, int32, float32)")
        ops.extend(_convert(node, o, ir_tensors, arithmetic))
    g = Graph(ir_tensors, ops, inputs, outputs, arithmetic, "tflite")
    for name in inputs + outputs:
        if ir_tensors[name].dtype not in (np.int8, np.float32):
            raise UnsupportedModel(f"graph input/output {name!r} has type "
                                   f"{ir_tensors[name].dtype}; int8 or float32 needed")
    return g.validate()


def _options(o, cls_name):
    import tflite

    table = o.BuiltinOptions()
    if table is None:
        return None
    opts = getattr(tflite, cls_name)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _clamp(node, opts, out):
    code = opts.FusedActivationFunction() if opts is not None else 0
    act = _ACTIVATIONS.get(code)
    if act is None:
        raise node.fail(f"fused activation {code} is not supported (NONE, RELU, RELU6, "
                        "RELU_N1_TO_1)")
    if out.dtype == np.int8:
        from dure.sim.golden_tflite_params import activation_range_int8

        try:
            lo, hi = activation_range_int8(act, out.quant.s, out.quant.zp)
        except ValueError as e:
            raise node.fail(f"activation range: {e}") from None
        return {"lo": lo, "hi": hi}
    lo, hi = _FLOAT_RANGES[act]
    return {"lo": lo, "hi": hi}


def _check_quant(node, t, role, *, per_channel_axis=None, symmetric=False):
    if t.quant is None:
        raise node.fail(f"{role} tensor {t.name!r} is int8 without quantization parameters")
    if t.quant.per_channel:
        if per_channel_axis is None:
            raise node.fail(f"{role} tensor {t.name!r} has per-channel quantization; "
                            "per-tensor needed")
        if t.quant.axis != per_channel_axis:
            raise node.fail(f"{role} tensor {t.name!r} is quantized along axis "
                            f"{t.quant.axis}; axis {per_channel_axis} needed")
    if symmetric and np.any(t.quant.zero_point != 0):
        raise node.fail(f"{role} tensor {t.name!r} has a non-zero zero point (symmetric "
                        "int8 weights needed)")
    if not np.all(np.isfinite(t.quant.scale)) or np.any(t.quant.scale <= 0):
        raise node.fail(f"{role} tensor {t.name!r} has a scale that is not positive and finite")
    if np.any(t.quant.zero_point < -128) or np.any(t.quant.zero_point > 127):
        raise node.fail(f"{role} tensor {t.name!r} has a zero point outside [-128, 127]")


def _require(node, cond, what):
    if not cond:
        raise node.fail(what)


def _dtypes(node, tensors, names, allowed, role="operand"):
    for n in names:
        if n is not None and tensors[n].dtype not in allowed:
            raise node.fail(f"{role} {n!r} has type {tensors[n].dtype}; the compiler takes "
                            f"{' or '.join(np.dtype(a).name for a in allowed)} here")


def _convert(node, o, T, arithmetic):
    """The IR op(s) of one TFLite operator."""
    src = node.source
    ins, outs = node.inputs, node.outputs
    _require(node, len(outs) == 1, f"{len(outs)} outputs; one expected")
    out = T[outs[0]]
    q = arithmetic != "float"
    act_dtype = np.int8 if q else np.float32

    def op(kind, inputs, **attrs):
        return Op(kind, list(inputs), list(outs), attrs, node.index, node.name, src)

    if src in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _require(node, len(ins) in (2, 3) and ins[1] is not None, "needs input, filter, bias")
        x, w = T[ins[0]], T[ins[1]]
        b = T[ins[2]] if len(ins) == 3 and ins[2] is not None else None
        _require(node, w.const, "the filter is not a constant tensor")
        _require(node, b is None or b.const, "the bias is not a constant tensor")
        depthwise = src == "DEPTHWISE_CONV_2D"
        opts = _options(o, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
        _require(node, opts is not None, "the operator has no options table")
        _dtypes(node, T, [ins[0], outs[0]], (act_dtype,))
        _dtypes(node, T, [ins[1]], (np.int8,) if q else (np.float32,), "filter")
        if b is not None:
            _dtypes(node, T, [b.name], (np.int32,) if q else (np.float32,), "bias")
        if q:
            _check_quant(node, x, "input")
            _check_quant(node, out, "output")
            _check_quant(node, w, "filter", per_channel_axis=3 if depthwise else 0,
                         symmetric=True)
            _require(node, b is not None or depthwise, "an int8 CONV_2D needs a bias tensor "
                     "(LiteRT refuses it without)")
        padding = _PADDING.get(opts.Padding())
        _require(node, padding is not None, f"padding {opts.Padding()} is not SAME or VALID")
        attrs = dict(stride=(opts.StrideH(), opts.StrideW()),
                     dilation=(opts.DilationHFactor(), opts.DilationWFactor()),
                     padding=padding, **_clamp(node, opts, out))
        _require(node, min(attrs["stride"] + attrs["dilation"]) >= 1,
                 "stride and dilation must be positive")
        if depthwise:
            attrs["depth_multiplier"] = max(1, opts.DepthMultiplier())
            if x.shape and w.shape and w.shape[3] != x.shape[-1] * attrs["depth_multiplier"]:
                # newer converters write depth_multiplier = 0 or 1: derive it from the shapes
                if x.shape[-1] and w.shape[3] % x.shape[-1] == 0:
                    attrs["depth_multiplier"] = w.shape[3] // x.shape[-1]
        kind = OpKind.DEPTHWISE_CONV_2D if depthwise else OpKind.CONV_2D
        return [op(kind, [ins[0], ins[1], b.name if b is not None else None], **attrs)]
    if src == "FULLY_CONNECTED":
        _require(node, len(ins) in (2, 3) and ins[1] is not None, "needs input, weights, bias")
        x, w = T[ins[0]], T[ins[1]]
        b = T[ins[2]] if len(ins) == 3 and ins[2] is not None else None
        _require(node, w.const and len(w.shape) == 2, "the weights are not a 2-D constant")
        _require(node, b is None or b.const, "the bias is not a constant tensor")
        opts = _options(o, "FullyConnectedOptions")
        if opts is not None:
            _require(node, opts.WeightsFormat() == 0, "shuffled weight formats are not "
                     "supported")
            _require(node, not opts.KeepNumDims(), "keep_num_dims is not supported")
        _dtypes(node, T, [ins[0], outs[0]], (act_dtype,))
        _dtypes(node, T, [ins[1]], (np.int8,) if q else (np.float32,), "weights")
        if b is not None:
            _dtypes(node, T, [b.name], (np.int32,) if q else (np.float32,), "bias")
        if q:
            _check_quant(node, x, "input")
            _check_quant(node, out, "output")
            _check_quant(node, w, "weights", per_channel_axis=0)
            _require(node, not w.quant.per_channel or np.all(w.quant.zero_point == 0),
                     "per-channel weights with non-zero zero points")
        k = w.shape[1]
        size = int(np.prod(x.shape))
        _require(node, size % k == 0, f"input of {size} elements does not flatten to rows of "
                 f"{k}")
        result = []
        src_name = ins[0]
        if x.shape != (size // k, k):
            flat = f"{ins[0]}/flat@{node.index}"
            T[flat] = Tensor(flat, x.dtype, (size // k, k), x.quant)
            result.append(Op(OpKind.RESHAPE, [ins[0]], [flat], {"shape": (size // k, k)},
                             node.index, node.name, src))
            src_name = flat
        _require(node, out.shape == (size // k, w.shape[0]), f"output shape {out.shape} is not "
                 f"{(size // k, w.shape[0])}")
        result.append(op(OpKind.FULLY_CONNECTED, [src_name, ins[1],
                                                  b.name if b is not None else None],
                         **_clamp(node, opts, out)))
        return result
    if src == "ADD":
        _require(node, len(ins) == 2, "ADD needs two inputs")
        _dtypes(node, T, ins + outs, (act_dtype,))
        _require(node, not any(T[n].const for n in ins), "constant ADD operands are not "
                 "supported")
        if q:
            for n in ins + outs:
                _check_quant(node, T[n], "operand")
        return [op(OpKind.ADD, ins, **_clamp(node, _options(o, "AddOptions"), out))]
    if src in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        opts = _options(o, "Pool2DOptions")
        _require(node, opts is not None, "the operator has no options table")
        _dtypes(node, T, ins + outs, (act_dtype,))
        if q:
            for n in ins + outs:
                _check_quant(node, T[n], "operand")
            _require(node, np.array_equal(T[ins[0]].quant.scale, out.quant.scale) and
                     np.array_equal(T[ins[0]].quant.zero_point, out.quant.zero_point),
                     "input and output quantization differ (TFLite requires them equal)")
        padding = _PADDING.get(opts.Padding())
        _require(node, padding is not None, f"padding {opts.Padding()} is not SAME or VALID")
        kind = OpKind.AVERAGE_POOL_2D if src == "AVERAGE_POOL_2D" else OpKind.MAX_POOL_2D
        return [op(kind, ins[:1], filter=(opts.FilterHeight(), opts.FilterWidth()),
                   stride=(opts.StrideH(), opts.StrideW()), padding=padding,
                   **_clamp(node, opts, out))]
    if src == "RESHAPE":
        _require(node, len(ins) >= 1, "RESHAPE needs an input")
        _dtypes(node, T, ins[:1] + outs, (act_dtype, np.float32, np.int8))
        return [op(OpKind.RESHAPE, ins[:1], shape=out.shape)]
    if src in ("PAD", "PADV2"):
        _require(node, len(ins) >= 2 and T[ins[1]].const, "the paddings must be a constant")
        x = T[ins[0]]
        pads = T[ins[1]].data.astype(np.int64)
        _require(node, pads.shape == (len(x.shape), 2), f"paddings of shape {pads.shape}")
        _dtypes(node, T, [ins[0]] + outs, (act_dtype,))
        value = 0
        if q:
            _check_quant(node, out, "output")
            _require(node, np.array_equal(x.quant.scale, out.quant.scale) and
                     np.array_equal(x.quant.zero_point, out.quant.zero_point),
                     "input and output quantization differ")
            value = out.quant.zp
        if src == "PADV2" and len(ins) > 2 and ins[2] is not None:
            _require(node, T[ins[2]].const, "the pad value must be a constant")
            value = T[ins[2]].data.reshape(-1)[0].item()
        return [op(OpKind.PAD, ins[:1], pads=tuple((int(b), int(e)) for b, e in pads),
                   value=value)]
    if src == "SOFTMAX":
        opts = _options(o, "SoftmaxOptions")
        beta = float(opts.Beta()) if opts is not None else 1.0
        _dtypes(node, T, ins + outs, (act_dtype,))
        with np.errstate(over="ignore"):
            b32 = np.float32(beta)
        _require(node, q or bool(np.isfinite(b32) and b32 > 0),
                 f"a float SOFTMAX needs a positive finite beta, not {beta!r}")
        if q:
            _check_quant(node, T[ins[0]], "input")
            _require(node, out.quant is not None and out.quant.zp == -128 and
                     out.quant.s == np.float32(1 / 256),
                     "int8 SOFTMAX output must have scale 1/256 and zero point -128")
        return [op(OpKind.SOFTMAX, ins[:1], beta=beta)]
    if src == "QUANTIZE":
        x = T[ins[0]]
        _dtypes(node, T, outs, (np.int8,))
        _dtypes(node, T, ins[:1], (np.float32, np.int8))
        _check_quant(node, out, "output")
        if x.dtype == np.int8:
            _check_quant(node, x, "input")
        return [op(OpKind.QUANTIZE, ins[:1])]
    if src == "DEQUANTIZE":
        _dtypes(node, T, ins[:1], (np.int8,))
        _dtypes(node, T, outs, (np.float32,))
        _check_quant(node, T[ins[0]], "input")
        return [op(OpKind.DEQUANTIZE, ins[:1])]
    raise node.fail("operator not supported by the compiler (supported: CONV_2D, "
                    "DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D, MAX_POOL_2D, "
                    "RESHAPE, SOFTMAX, QUANTIZE, DEQUANTIZE, PAD, PADV2)")
