"""Float32 ONNX models with the layer shapes of the MLPerf Tiny networks, written the way
converters (tf2onnx, PyTorch's exporter) emit them, for onnxruntime's quantization tools
(``quantize_static``) and the FP16 path. Built at run time with ``onnx.helper``, never stored.

Conventions of the converters that the builders follow: NCHW activations (``nhwc_input=True``
instead gives an NHWC graph input followed by a ``Transpose``, as tf2onnx writes a Keras model
without ``--inputs-as-nchw``); every Conv / Gemm has its bias; Relu and Clip(0, 6) are separate
nodes after the operator; depthwise convolutions are Conv with ``group`` = channels;
``Flatten`` or ``Reshape`` before the last Gemm; ``Softmax`` at the end; fully connected layers
as ``Gemm`` (``transB = 1``) or, with ``matmul=True``, as ``MatMul`` + ``Add`` (the Keras
Dense form).

Every builder takes a numpy ``Generator`` and returns the model file's bytes. Weights are
random with a He-like scale (outputs of every layer stay of the order of the inputs, so
calibration ranges are meaningful). :func:`calibration_reader` gives the
``CalibrationDataReader`` the quantization tools need, :func:`quantize` runs
``quantize_static`` on bytes.
"""

import numpy as np

__all__ = ["onnx_resnet8", "onnx_dscnn", "onnx_mobilenet", "onnx_autoencoder", "onnx_grouped",
           "onnx_quantized_add", "every_int8_pair", "onnx_depthwise_multiplier",
           "onnx_float_conv", "onnx_qdq_conv", "onnx_qdq_shared_input",
           "input_shape", "calibration_reader", "quantize", "quantized_model", "MODELS"]


class _Builder:
    """Nodes and initializers of one graph, with unique names."""

    def __init__(self, rng):
        self.rng, self.nodes, self.inits, self.n = rng, [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, base, value):
        from onnx import numpy_helper

        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weights(self, base, shape, fan_in):
        w = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return self.const(base, w.astype(np.float32))

    def bias(self, base, n):
        return self.const(base, (self.rng.standard_normal(n) * 0.1).astype(np.float32))

    def node(self, op, inputs, name, **attrs):
        from onnx import helper

        out = self.name(name)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pads=None, group=1, act="relu", name="conv",
             batchnorm=False, pad_form="pads"):
        """``pad_form``: ``"pads"`` (the Conv's own), ``"auto"`` (``auto_pad = SAME_UPPER``,
        for pads that are TensorFlow's SAME) or ``"node"`` (a Pad node before a VALID Conv,
        as a Keras ZeroPadding2D converts)."""
        kh, kw = (k, k) if np.ndim(k) == 0 else k
        if pads is None:
            pads = [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
        w = self.weights(f"{name}_w", (cout, cin // group, kh, kw), kh * kw * cin // group)
        geo = dict(strides=[stride, stride], kernel_shape=[kh, kw], group=group)
        if pad_form == "auto":
            geo["auto_pad"] = "SAME_UPPER"
        elif pad_form == "node" and any(pads):
            t, left, b, r = pads
            x = self.node("Pad", [x, self.const("pads", np.array(
                [0, 0, t, left, 0, 0, b, r], np.int64))], f"{name}_pad", mode="constant")
        else:
            geo["pads"] = list(pads)
        y = self.node("Conv", [x, w, self.bias(f"{name}_b", cout)], name, **geo)
        if batchnorm:
            r = self.rng
            params = [r.uniform(0.5, 1.5, cout), r.standard_normal(cout) * 0.1,
                      r.standard_normal(cout) * 0.1, r.uniform(0.5, 2.0, cout)]
            names = [self.const(f"{name}_bn{i}", p.astype(np.float32))
                     for i, p in enumerate(params)]
            y = self.node("BatchNormalization", [y] + names, f"{name}_bn", epsilon=1e-3)
        return self.act(y, act)

    def act(self, x, act):
        if act == "relu":
            return self.node("Relu", [x], "relu")
        if act == "relu6":
            return self.node("Clip", [x, self.const("zero", np.float32(0)),
                                      self.const("six", np.float32(6))], "relu6")
        assert act is None
        return x

    def dense(self, x, k, n, act=None, matmul=False, name="fc"):
        if matmul:
            w = self.weights(f"{name}_w", (k, n), k)
            y = self.node("MatMul", [x, w], name)
            y = self.node("Add", [y, self.bias(f"{name}_b", n)], f"{name}_bias")
        else:
            w = self.weights(f"{name}_w", (n, k), k)
            y = self.node("Gemm", [x, w, self.bias(f"{name}_b", n)], name, transB=1)
        return self.act(y, act)

    def model(self, in_shape, x_name, y, out_shape, opset=17):
        from onnx import TensorProto, helper

        graph = helper.make_graph(self.nodes, "dure_mlperf_tiny",
                                  [helper.make_tensor_value_info(x_name, TensorProto.FLOAT,
                                                                 list(in_shape))],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT,
                                                                 list(out_shape))],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="dure onnx_models")
        model.ir_version = 8
        return model.SerializeToString()


def _input(b, shape_nchw, nhwc_input):
    """The graph input name and its shape; an NHWC input goes through a Transpose to NCHW."""
    if not nhwc_input:
        return "x", "x", shape_nchw
    n, c, h, w = shape_nchw
    return "x", b.node("Transpose", ["x"], "to_nchw", perm=[0, 3, 1, 2]), (n, h, w, c)


def _head(b, y, c, units, flatten, pool_hw, pool, batch, matmul=False):
    """Pooling over the whole map, [Transpose to NHWC,] Flatten / Reshape, the classifier,
    Softmax. ``flatten``: ``"flatten"``, ``"reshape"``, or ``"nhwc-reshape"`` (a Transpose
    to NHWC first, as tf2onnx keeps a Keras Flatten's element order)."""
    if pool == "global":
        y = b.node("GlobalAveragePool", [y], "gap")
    else:
        y = b.node("AveragePool", [y], "avgpool", kernel_shape=list(pool_hw),
                   strides=list(pool_hw))
    if flatten == "nhwc-reshape":
        y = b.node("Transpose", [y], "to_nhwc", perm=[0, 2, 3, 1])
    if flatten == "flatten":
        y = b.node("Flatten", [y], "flatten", axis=1)
    else:
        y = b.node("Reshape", [y, b.const("shape", np.array([-1, c], np.int64))], "reshape")
    y = b.dense(y, c, units, matmul=matmul, name="fc")
    return b.node("Softmax", [y], "softmax", axis=-1), (batch, units)


def onnx_resnet8(rng, *, size=32, channels=(16, 32, 64), units=10, batch=1, pool="avg",
                 flatten="flatten", nhwc_input=False):
    """MLPerf Tiny's ResNet-8 (image classification): Conv 3x3 + Relu to ``channels[0]``;
    three stacks of Conv 3x3 (stride 2 from the second stack) + Relu, Conv 3x3, a shortcut
    (the stack input, or Conv 1x1 stride 2), Add, Relu; AveragePool over the last map
    (``pool="avg"``, as Keras' AveragePooling2D(8) converts) or GlobalAveragePool; Flatten /
    Reshape; Gemm ``units``; Softmax. Input ``(batch, 3, size, size)``."""
    b = _Builder(rng)
    x_name, x, in_shape = _input(b, (batch, 3, size, size), nhwc_input)
    y = b.conv(x, 3, channels[0], 3, name="stem")
    cin, hw = channels[0], size
    for i, cout in enumerate(channels):
        stride = 1 if i == 0 else 2
        a = b.conv(y, cin, cout, 3, stride, pads=[1, 1, 1, 1], name=f"s{i}a")
        c = b.conv(a, cout, cout, 3, pads=[1, 1, 1, 1], act=None, name=f"s{i}b")
        sc = y if stride == 1 and cin == cout else b.conv(y, cin, cout, 1, stride, act=None,
                                                          name=f"s{i}sc")
        y = b.node("Relu", [b.node("Add", [c, sc], f"s{i}add")], "relu")
        cin, hw = cout, (hw + stride - 1) // stride
    y, out_shape = _head(b, y, cin, units, flatten, (hw, hw), pool, batch)
    return b.model(in_shape, x_name, y, out_shape)


def onnx_dscnn(rng, *, h=49, w=10, c=64, blocks=4, units=12, batch=1, pool="avg",
               flatten="reshape", nhwc_input=False, batchnorm=False, pad_form="pads"):
    """MLPerf Tiny's DS-CNN (keyword spotting): input ``(batch, 1, h, w)``, Conv 10x4 stride 2
    (SAME-like pads) + Relu to ``c`` channels; ``blocks`` x (depthwise Conv 3x3, group = c,
    + Relu; Conv 1x1 + Relu); AveragePool over the map (or GlobalAveragePool); Reshape /
    Flatten; Gemm ``units``; Softmax. ``batchnorm=True``: a BatchNormalization after every
    Conv (as a converter leaves it when it does not fold it). ``pad_form``: how the SAME
    padding is written (:meth:`_Builder.conv`)."""
    b = _Builder(rng)
    x_name, x, in_shape = _input(b, (batch, 1, h, w), nhwc_input)
    # TensorFlow's SAME for a 10x4 kernel, stride 2: the extra pad row / column at the end
    oh, ow = (h + 1) // 2, (w + 1) // 2
    ph, pw = max((oh - 1) * 2 + 10 - h, 0), max((ow - 1) * 2 + 4 - w, 0)
    y = b.conv(x, 1, c, (10, 4), 2, pads=[ph // 2, pw // 2, ph - ph // 2, pw - pw // 2],
               name="conv0", batchnorm=batchnorm, pad_form=pad_form)
    for i in range(blocks):
        y = b.conv(y, c, c, 3, group=c, name=f"dw{i}", batchnorm=batchnorm, pad_form=pad_form)
        y = b.conv(y, c, c, 1, name=f"pw{i}", batchnorm=batchnorm)
    y, out_shape = _head(b, y, c, units, flatten, (oh, ow), pool, batch)
    return b.model(in_shape, x_name, y, out_shape)


def onnx_mobilenet(rng, *, size=96, alpha=0.25, blocks=((1, 64), (2, 128), (1, 128),
                                                         (2, 256)), units=2, batch=1,
                   pool="global", flatten="reshape", nhwc_input=False, pad_form="pads"):
    """A MobileNetV1 stack (MLPerf Tiny's visual wake words at ``alpha``): Conv 3x3 stride 2 +
    Clip(0, 6); per ``(stride, channels)`` of ``blocks`` (channels before ``alpha``): depthwise
    Conv 3x3 + Clip(0, 6), Conv 1x1 + Clip(0, 6); GlobalAveragePool (or AveragePool); Reshape /
    Flatten; Gemm ``units``; Softmax. The reference network has 13 blocks; the default here is
    the first four. ``pad_form="node"``: the stride-2 padding as Pad nodes (Keras'
    ZeroPadding2D)."""
    b = _Builder(rng)
    x_name, x, in_shape = _input(b, (batch, 3, size, size), nhwc_input)
    c = max(8, int(32 * alpha))
    y = b.conv(x, 3, c, 3, 2, pads=[0, 0, 1, 1], act="relu6", name="stem")
    hw = (size + 1 - 3) // 2 + 1
    for i, (stride, ch) in enumerate(blocks):
        cout = max(8, int(ch * alpha))
        pads = [1, 1, 1, 1] if stride == 1 else [0, 0, 1, 1]
        y = b.conv(y, c, c, 3, stride, pads=pads, group=c, act="relu6", name=f"dw{i}",
                   pad_form=pad_form if stride == 2 else "pads")
        y = b.conv(y, c, cout, 1, act="relu6", name=f"pw{i}")
        c, hw = cout, (hw + sum(pads[::2]) - 3) // stride + 1
    y, out_shape = _head(b, y, c, units, flatten, (hw, hw), pool, batch)
    return b.model(in_shape, x_name, y, out_shape)


def onnx_autoencoder(rng, *, n=640, hidden=128, bottleneck=8, layers=4, batch=1,
                     matmul=False):
    """MLPerf Tiny's FC autoencoder (anomaly detection): ``layers`` x Dense ``hidden`` + Relu,
    Dense ``bottleneck`` + Relu, ``layers`` x Dense ``hidden`` + Relu, Dense ``n``; Gemm or
    (``matmul=True``) MatMul + Add per layer. Input ``(batch, n)``, output ``(batch, n)``."""
    b = _Builder(rng)
    y, k = "x", n
    sizes = [hidden] * layers + [bottleneck] + [hidden] * layers
    for i, units in enumerate(sizes):
        y = b.dense(y, k, units, act="relu", matmul=matmul, name=f"fc{i}")
        k = units
    y = b.dense(y, k, n, matmul=matmul, name="out")
    return b.model((batch, n), "x", y, (batch, n))


#: ``{name: (builder, kwargs of a small version, kwargs of the MLPerf-sized version)}``
def onnx_grouped(rng, *, size=9, c=8, groups=(2, 4), units=6):
    """Grouped convolutions (no MLPerf Tiny model has them; ResNeXt-style blocks do): input
    ``(1, c, size, size)``; Conv 3x3 with ``group = groups[0]`` + Relu; Conv 3x3 stride 2
    (pads 1) with ``group = groups[1]`` to ``2 c`` channels + Relu; Conv 1x1; GlobalAveragePool;
    Flatten; Gemm ``units``; Softmax."""
    b = _Builder(rng)
    y = b.conv("x", c, c, 3, group=groups[0], name="g0")
    y = b.conv(y, c, 2 * c, 3, 2, pads=[1, 1, 1, 1], group=groups[1], name="g1")
    y = b.conv(y, 2 * c, c, 1, act=None, name="pw")
    y, out_shape = _head(b, y, c, units, "flatten", None, "global", 1)
    return b.model((1, c, size, size), "x", y, out_shape)


MODELS = {
    "resnet8": (onnx_resnet8, dict(size=8, channels=(8, 16, 16)), {}),
    "dscnn": (onnx_dscnn, dict(h=10, w=6, c=8, blocks=2), {}),
    "mobilenet": (onnx_mobilenet, dict(size=12, blocks=((1, 32), (2, 64), (1, 64)), units=10),
                  {}),
    "autoencoder": (onnx_autoencoder, dict(n=32, hidden=16, bottleneck=4, layers=2), {}),
}


def input_shape(model):
    """The (static) shape of the first graph input of ``model`` (bytes)."""
    import onnx

    m = onnx.load_model_from_string(bytes(model))
    return tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim)


def calibration_reader(rng, model, n=4, scale=1.0):
    """A ``CalibrationDataReader`` giving ``n`` standard-normal inputs (times ``scale``)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

    m = onnx.load_model_from_string(bytes(model))
    name = m.graph.input[0].name
    shape = input_shape(model)
    data = [{name: (rng.standard_normal(shape) * scale).astype(np.float32)} for _ in range(n)]

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(data)

        def get_next(self):
            return next(self._it, None)

    return _Reader()


def quantize(model, rng, tmp_dir, **options):
    """``quantize_static`` of ``model`` (bytes) with a random calibration set; ``options`` are
    passed on (``quant_format``, ``per_channel``, ``activation_type``, ``weight_type``,
    ``reduce_range``, ...; strings name the enum members, e.g. ``quant_format="QOperator"``,
    ``activation_type="QUInt8"``). Returns the quantized model's bytes."""
    import pathlib

    from onnxruntime import quantization as q

    opts = dict(options)
    for key, enum in (("quant_format", q.QuantFormat), ("activation_type", q.QuantType),
                      ("weight_type", q.QuantType)):
        if isinstance(opts.get(key), str):
            opts[key] = getattr(enum, opts[key])
    tmp = pathlib.Path(tmp_dir)
    src, dst = tmp / "float.onnx", tmp / "quantized.onnx"
    src.write_bytes(bytes(model))
    q.quantize_static(str(src), str(dst), calibration_reader(rng, model), **opts)
    return dst.read_bytes()


def quantized_model(rng, name, *, full=False, model_kw=None, **options):
    """The model ``name`` of :data:`MODELS` (its small version unless ``full``; builder
    arguments updated by ``model_kw``), built with ``rng`` and quantized by :func:`quantize`
    with ``options``; the quantized bytes."""
    import tempfile

    fn, small, big = MODELS[name]
    model = fn(rng, **{**(big if full else small), **(model_kw or {})})
    with tempfile.TemporaryDirectory() as tmp:
        return quantize(model, rng, tmp, **options)


def onnx_quantized_add(scales, zero_points, *, dtype=np.int8, form="qdq", shape=(1, 1, 256, 256),
                       constant=None, dequantize_output=False):
    """Two float inputs of ``shape`` quantized (QuantizeLinear, scales ``scales[0:2]``, zero
    points ``zero_points[0:2]`` as stored in ``dtype``, int8 or uint8) and added into a tensor
    quantized with ``scales[2]`` / ``zero_points[2]``, returned quantized (``dtype``):
    ``form="qdq"`` writes DequantizeLinear -> Add -> QuantizeLinear (what ``quantize_static``'s
    QDQ format writes, and onnxruntime fuses into QLinearAdd), ``"qoperator"`` onnxruntime's
    ``com.microsoft.QLinearAdd``. :func:`every_int8_pair` gives inputs that quantize to every
    pair of stored values. ``constant`` (stored values of ``shape``, ``"qoperator"`` only):
    the second operand is that quantized initializer instead of an input (a Dense layer's
    MatMul + Add). ``dequantize_output``: the quantized sum goes through DequantizeLinear to a
    float32 graph output (then onnxruntime on x86-64 turns all three int8 tensors of the
    ``"qdq"`` form into uint8 and fuses the Add)."""
    from onnx import TensorProto, helper, numpy_helper

    if form not in ("qdq", "qoperator"):
        raise ValueError(f"form must be qdq or qoperator, not {form!r}")
    et = {np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8}[
        np.dtype(dtype)]
    inits = []
    for i, (s, z) in enumerate(zip(scales, zero_points, strict=True)):
        inits += [numpy_helper.from_array(np.asarray(s, np.float32), f"s{i}"),
                  numpy_helper.from_array(np.asarray(z, dtype), f"z{i}")]
    if constant is not None and form != "qoperator":
        raise ValueError("a constant operand needs form='qoperator'")
    ins = (0,) if constant is not None else (0, 1)
    if constant is not None:
        inits.append(numpy_helper.from_array(np.asarray(constant, dtype).reshape(shape), "q1"))
    nodes = [helper.make_node("QuantizeLinear", [f"x{i}", f"s{i}", f"z{i}"], [f"q{i}"])
             for i in ins]
    if form == "qdq":
        nodes += [helper.make_node("DequantizeLinear", [f"q{i}", f"s{i}", f"z{i}"], [f"d{i}"])
                  for i in (0, 1)]
        nodes += [helper.make_node("Add", ["d0", "d1"], ["sum"], name="add"),
                  helper.make_node("QuantizeLinear", ["sum", "s2", "z2"], ["y"])]
    else:
        nodes.append(helper.make_node("QLinearAdd", ["q0", "s0", "z0", "q1", "s1", "z1", "s2",
                                                     "z2"], ["y"], domain="com.microsoft",
                                      name="add"))
    if dequantize_output:
        nodes[-1].output[0] = "yq"
        nodes.append(helper.make_node("DequantizeLinear", ["yq", "s2", "z2"], ["y"]))
    g = helper.make_graph(
        nodes, "quantized_add",
        [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, list(shape)) for i in ins],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT if dequantize_output else et,
                                       list(shape))], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m.SerializeToString()


def every_int8_pair(scales, zero_points, *, dtype=np.int8, shape=(1, 1, 256, 256)):
    """Float inputs ``(x0, x1)`` of ``shape`` (65,536 elements) that QuantizeLinear with
    ``scales[i]`` / ``zero_points[i]`` turns into every pair of stored ``dtype`` values once:
    ``x = f32((q - z) * s)``, which quantizes back to ``q`` exactly (``|q - z| <= 255``)."""
    lo = -128 if np.dtype(dtype) == np.int8 else 0
    q0 = np.repeat(np.arange(lo, lo + 256), 256)
    q1 = np.tile(np.arange(lo, lo + 256), 256)
    return tuple((np.float32(scales[i]) * (q - int(zero_points[i])).astype(np.float32)
                  ).astype(np.float32).reshape(shape) for i, q in ((0, q0), (1, q1)))


def onnx_depthwise_multiplier(rng, *, size=8, c=4, multiplier=2, units=5):
    """Depthwise convolutions with a channel multiplier (Conv with ``group`` = input channels
    and ``multiplier`` outputs per channel; Keras' ``depth_multiplier``): input ``(1, c, size,
    size)``; Conv 3x3 group ``c`` to ``multiplier * c`` + Relu; Conv 3x3 stride 2 (pads 1)
    group ``multiplier * c`` to ``2 * multiplier * c`` + Relu; GlobalAveragePool; Flatten;
    Gemm ``units``; Softmax."""
    b = _Builder(rng)
    m = multiplier
    y = b.conv("x", c, m * c, 3, group=c, name="dw0")
    y = b.conv(y, m * c, 2 * m * c, 3, 2, pads=[1, 1, 1, 1], group=m * c, name="dw1")
    y, out_shape = _head(b, y, 2 * m * c, units, "flatten", None, "global", 1)
    return b.model((1, c, size, size), "x", y, out_shape)


def onnx_float_conv(*, cin, cout, k, size, stride=1, pad=0, group=1):
    """One float Conv with the input ``x`` ``(1, cin, size, size)`` and the weights ``w``
    ``(cout, cin / group, k, k)`` both graph inputs (no bias), output ``y``: onnxruntime's
    float32 convolution itself, for :mod:`dure.compiler.onnx_float`."""
    from onnx import TensorProto, helper

    o = (size + 2 * pad - k) // stride + 1
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[pad] * 4, strides=[stride] * 2,
                          group=group)], "float_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [cout, cin // group, k, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, o, o])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def onnx_qdq_conv(rng, *, cin, cout, k, size, stride=1, pad=0, group=1, per_channel=True,
                  relu=False, x_scale=0.05, w_scale=None, y_scale=None, w_max=127):
    """``x -> QuantizeLinear -> DequantizeLinear -> Conv (DQ int8 weights, DQ int32 bias)
    [-> Relu] -> QuantizeLinear -> y`` with int8 activations: the output is a graph output, so
    onnxruntime's ``QDQS8ToU8Transformer`` leaves it int8 and the Conv runs unfused in float32
    on x86-64 (:mod:`dure.compiler.onnx_float`). Random int8 weights, scales and zero points;
    input ``(1, cin, size, size)`` float32. ``y_scale = 2 * f32(x_scale * w_scale)`` puts
    every odd exact sum on a rounding tie, decided by the float32 errors alone; weights in
    ``[-w_max, w_max]``, biases in ``24 * [-w_max, w_max]``."""
    from onnx import TensorProto, helper, numpy_helper

    cg = cin // group
    ws = (rng.uniform(0.002, 0.02, cout) if per_channel else
          np.full(1, rng.uniform(0.002, 0.02))).astype(np.float32)
    if w_scale is not None:
        ws[:] = w_scale
    xs = np.float32(x_scale)
    ys = np.float32(y_scale if y_scale is not None else rng.uniform(0.02, 0.2))
    xz, yz = np.int8(rng.integers(-20, 21)), np.int8(rng.integers(-20, 21))
    wq = rng.integers(-w_max, w_max + 1, (cout, cg, k, k)).astype(np.int8)
    bs = (xs * ws).astype(np.float32)
    bq = rng.integers(-24 * w_max, 24 * w_max + 1, cout).astype(np.int32)
    zw = np.zeros(ws.shape, np.int8)
    inits = [numpy_helper.from_array(v, n) for v, n in [
        (np.asarray(xs), "xs"), (np.asarray(xz), "xz"), (ws if per_channel else ws[0], "ws"),
        (zw if per_channel else zw[0], "wz"), (bs if per_channel else bs[0], "bs"),
        (np.zeros(bs.shape, np.int32) if per_channel else np.int32(0), "bz"),
        (np.asarray(ys), "ys"), (np.asarray(yz), "yz"), (wq, "wq"), (bq, "bq")]]
    conv_out = "c" if not relu else "c0"
    o = (size + 2 * pad - k) // stride + 1
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bd"], axis=0),
             helper.make_node("Conv", ["xd", "wd", "bd"], [conv_out], name="conv",
                              pads=[pad] * 4, strides=[stride] * 2, group=group)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c0"], ["c"], name="relu"))
    nodes.append(helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["y"]))
    g = helper.make_graph(nodes, "qdq_conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [1, cin, size, size])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8,
                                                         [1, cout, o, o])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def onnx_qdq_shared_input(rng, op, *, n=16, units=8):
    """An int8 QDQ graph whose dequantized input ``x`` (``(1, n)``; ``(1, n, 4, 4)`` for
    ``AveragePool``) is read by two nodes (``op`` and a Relu -> QuantizeLinear), so it stays
    int8 in onnxruntime on x86-64, while ``op``'s output (``op`` = ``"Gemm"``, ``"Softmax"`` or
    ``"AveragePool"``) goes through QuantizeLinear -> DequantizeLinear to a graph output
    (uint8 there): onnxruntime runs ``op`` unfused, in float32."""
    from onnx import TensorProto, helper, numpy_helper

    shape = [1, n, 4, 4] if op == "AveragePool" else [1, n]
    out = {"Gemm": [1, units], "Softmax": shape, "AveragePool": [1, n, 2, 2]}[op]
    inits = [numpy_helper.from_array(np.asarray(v), nm) for v, nm in [
        (np.float32(0.05), "s"), (np.int8(3), "z"), (np.float32(0.04), "ys"), (np.int8(-5), "yz")]]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"])]
    if op == "Gemm":
        inits += [numpy_helper.from_array(rng.integers(-127, 128, (units, n)).astype(np.int8),
                                          "wq"),
                  numpy_helper.from_array(np.float32(0.01), "ws"),
                  numpy_helper.from_array(np.int8(0), "wz")]
        nodes += [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
                  helper.make_node("Gemm", ["xd", "wd"], ["o"], name="op", transB=1)]
    elif op == "Softmax":
        nodes.append(helper.make_node("Softmax", ["xd"], ["o"], name="op"))
    else:
        nodes.append(helper.make_node("AveragePool", ["xd"], ["o"], name="op",
                                      kernel_shape=[2, 2], strides=[2, 2]))
    nodes += [helper.make_node("QuantizeLinear", ["o", "ys", "yz"], ["oq"]),
              helper.make_node("DequantizeLinear", ["oq", "ys", "yz"], ["y"]),
              helper.make_node("Relu", ["xd"], ["r"], name="relu"),
              helper.make_node("QuantizeLinear", ["r", "s", "z"], ["y2"])]
    g = helper.make_graph(nodes, "shared_input",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out),
                           helper.make_tensor_value_info("y2", TensorProto.INT8, shape)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()
