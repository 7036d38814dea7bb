"""Small models for the compiler's tests, built at run time (never stored): TFLite through
:mod:`.tflite_builder`, ONNX through ``onnx.helper``.

Every builder takes a numpy ``Generator`` and returns the model file's bytes; weights,
biases and quantization parameters are random but valid (scales chosen so that outputs use a
good part of the int8 range, which exercises rounding and saturation).
"""

import numpy as np
from dure.sim.golden_padding import conv_padding
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from . import tflite_builder as tb

__all__ = ["tflite_int8_cnn", "tflite_float_cnn", "tflite_int8_mlp", "tflite_float_mlp",
           "onnx_float_cnn", "onnx_qoperator_cnn", "onnx_qdq_mlp", "onnx_float_resnet",
           "tflite_int8_resnet8", "tflite_int8_dscnn"]


def _wq(rng, cout, axis=0):
    return tb.Quant(rng.uniform(0.002, 0.02, cout).astype(np.float32), 0, axis)


def _aq(rng):
    return tb.Quant(np.float32(rng.uniform(0.02, 0.1)), int(rng.integers(-20, 20)))


def _shape(mb, shape):
    return mb.tensor(f"shape{len(mb._tensors)}", (len(shape),), np.int32,
                     data=np.array(shape, np.int32))


def tflite_int8_cnn(rng, *, h=8, w=8, cin=3, c=8, units=10, float_edges=False, batch=1,
                    depthwise=True, pointwise_relu6=False):
    """CONV 3x3 SAME (RELU) -> DEPTHWISE 3x3 stride 2 (RELU6) -> CONV 1x1 -> ADD (with the
    depthwise output, RELU) -> AVERAGE_POOL 2x2 -> MAX_POOL 1x1 -> RESHAPE -> FULLY_CONNECTED
    -> SOFTMAX; int8, per-channel weights. ``float_edges``: float32 input through QUANTIZE and
    output through DEQUANTIZE.

    ``depthwise=False``: the stride-2 layer is a full CONV 3x3 (``c`` -> ``c``, named
    ``conv2``) and has no activation; ``pointwise_relu6``: the 1x1 CONV has the RELU6 (both
    together: :func:`.dot_models.tflite_int8_dot_cnn`). Biases are drawn from [-2000, 2000),
    except the stride-2 depthwise layer's and the RELU6 1x1 CONV's, [-500, 500). The random
    draws come in the same order whatever the options (weights, bias, weight scales per
    layer)."""
    mb = tb.ModelBuilder()
    xq = _aq(rng)
    shape = (batch, h, w, cin)
    if float_edges:
        xf = mb.tensor("input", shape, np.float32)
        x = tb.add_quantize(mb, xf, shape, xq, name="quant")
        graph_in = xf
    else:
        x = graph_in = mb.tensor("input", shape, np.int8, xq)
    q1 = _aq(rng)
    w1 = rng.integers(-127, 128, (c, 3, 3, cin)).astype(np.int8)
    b1 = rng.integers(-2000, 2000, c).astype(np.int32)
    y1 = tb.add_conv2d(mb, x, xq, w1, b1, _wq(rng, c), q1, (batch, h, w, c), padding="SAME",
                       activation="RELU", name="conv1")
    oh, _, _ = conv_padding(h, 3, 2, "SAME")
    ow, _, _ = conv_padding(w, 3, 2, "SAME")
    q2 = _aq(rng)
    if depthwise:
        w2 = rng.integers(-127, 128, (1, 3, 3, c)).astype(np.int8)
        b2 = rng.integers(-500, 500, c).astype(np.int32)
        y2 = tb.add_depthwise_conv2d(mb, y1, q1, w2, b2, _wq(rng, c, 3), q2,
                                     (batch, oh, ow, c), stride=2, padding="SAME",
                                     activation="RELU6", name="dw")
    else:
        w2 = rng.integers(-127, 128, (c, 3, 3, c)).astype(np.int8)
        b2 = rng.integers(-2000, 2000, c).astype(np.int32)
        y2 = tb.add_conv2d(mb, y1, q1, w2, b2, _wq(rng, c), q2, (batch, oh, ow, c), stride=2,
                           padding="SAME", name="conv2")
    q3 = _aq(rng)
    w3 = rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)
    bound = 500 if pointwise_relu6 else 2000
    b3 = rng.integers(-bound, bound, c).astype(np.int32)
    y3 = tb.add_conv2d(mb, y2, q2, w3, b3, _wq(rng, c), q3, (batch, oh, ow, c),
                       padding="VALID", activation="RELU6" if pointwise_relu6 else "NONE",
                       name="pw")
    q4 = _aq(rng)
    y4 = tb.add_add(mb, y3, y2, (batch, oh, ow, c), q4, activation="RELU", name="add")
    ph, pw_ = oh // 2, ow // 2
    y5 = tb.add_pool2d(mb, "average", y4, (batch, ph, pw_, c), q4, 2, stride=2, name="avg")
    y6 = tb.add_pool2d(mb, "max", y5, (batch, ph, pw_, c), q4, 1, name="max")
    k = ph * pw_ * c
    y7 = mb.tensor("flat", (batch, k), np.int8, q4)
    mb.operator(BuiltinOperator.RESHAPE, [y6, _shape(mb, (batch, k))], [y7], 0, None)
    q8 = _aq(rng)
    w8 = rng.integers(-127, 128, (units, k)).astype(np.int8)
    b8 = rng.integers(-2000, 2000, units).astype(np.int32)
    y8 = tb.add_fully_connected(mb, y7, q4, w8, b8, _wq(rng, units), q8, batch, name="fc")
    y9 = tb.add_softmax(mb, y8, (batch, units), name="softmax")
    out = tb.add_dequantize(mb, y9, (batch, units), name="dequant") if float_edges else y9
    return mb.build([graph_in], [out])


def tflite_int8_mlp(rng, *, batch=4, sizes=(24, 16, 10)):
    """FULLY_CONNECTED (RELU) layers of ``sizes`` (input width first), int8 per-channel."""
    mb = tb.ModelBuilder()
    xq = _aq(rng)
    x = graph_in = mb.tensor("input", (batch, sizes[0]), np.int8, xq)
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        q = _aq(rng)
        wt = rng.integers(-127, 128, (n, k)).astype(np.int8)
        b = rng.integers(-3000, 3000, n).astype(np.int32)
        act = "RELU" if i + 2 < len(sizes) else "NONE"
        x = tb.add_fully_connected(mb, x, xq, wt, b, _wq(rng, n), q, batch, activation=act,
                                   name=f"fc{i}")
        xq = q
    return mb.build([graph_in], [x])


# --- float TFLite -----------------------------------------------------------------------------

def _float_op(mb, op, opt_type, mod, fields, ins, out):
    def options(b):
        mod.Start(b)
        for fn, v in fields:
            getattr(mod, fn)(b, v)
        return mod.End(b)

    mb.operator(op, ins, [out], opt_type, options if mod is not None else None)
    return out


def tflite_float_cnn(rng, *, h=8, w=8, cin=3, c=8, units=10, batch=1):
    """The float32 twin of :func:`tflite_int8_cnn` (without the edges)."""
    mb = tb.ModelBuilder()
    f32 = np.float32
    x = mb.tensor("input", (batch, h, w, cin), f32)

    def const(name, shape, scale):
        return mb.tensor(name, shape, f32, data=(rng.standard_normal(shape) * scale
                                                 ).astype(f32))

    def conv(name, src, wshape, out_shape, stride, padding, act, depthwise=False):
        wi = const(f"{name}/filter", wshape, 0.3)
        bi = const(f"{name}/bias", (wshape[3] if depthwise else wshape[0],), 0.1)
        yi = mb.tensor(f"{name}/output", out_shape, f32)
        mod = tb.DepthwiseConv2DOptions if depthwise else tb.Conv2DOptions
        fields = [("AddPadding", {"SAME": 0, "VALID": 1}[padding]), ("AddStrideH", stride),
                  ("AddStrideW", stride), ("AddDilationHFactor", 1), ("AddDilationWFactor", 1),
                  ("AddFusedActivationFunction", act)]
        if depthwise:
            fields.append(("AddDepthMultiplier", 1))
        return _float_op(mb, BuiltinOperator.DEPTHWISE_CONV_2D if depthwise else
                         BuiltinOperator.CONV_2D, BuiltinOptions.DepthwiseConv2DOptions if
                         depthwise else BuiltinOptions.Conv2DOptions, mod, fields,
                         [src, wi, bi], yi)

    y1 = conv("conv1", x, (c, 3, 3, cin), (batch, h, w, c), 1, "SAME", 1)
    oh, ow = conv_padding(h, 3, 2, "SAME")[0], conv_padding(w, 3, 2, "SAME")[0]
    y2 = conv("dw", y1, (1, 3, 3, c), (batch, oh, ow, c), 2, "SAME", 3, depthwise=True)
    y3 = conv("pw", y2, (c, 1, 1, c), (batch, oh, ow, c), 1, "VALID", 0)
    y4 = _float_op(mb, BuiltinOperator.ADD, BuiltinOptions.AddOptions, tb.AddOptions,
                   [("AddFusedActivationFunction", 1)], [y3, y2],
                   mb.tensor("add/output", (batch, oh, ow, c), f32))
    ph, pw_ = oh // 2, ow // 2

    def pool(name, op, src, size, stride):
        yi = mb.tensor(f"{name}/output", (batch, ph, pw_, c), f32)
        return _float_op(mb, op, BuiltinOptions.Pool2DOptions, tb.Pool2DOptions,
                         [("AddPadding", 1), ("AddStrideH", stride), ("AddStrideW", stride),
                          ("AddFilterHeight", size), ("AddFilterWidth", size),
                          ("AddFusedActivationFunction", 0)], [src], yi)

    y5 = pool("avg", BuiltinOperator.AVERAGE_POOL_2D, y4, 2, 2)
    y6 = pool("max", BuiltinOperator.MAX_POOL_2D, y5, 1, 1)
    k = ph * pw_ * c
    y7 = mb.tensor("flat", (batch, k), f32)
    mb.operator(BuiltinOperator.RESHAPE, [y6, _shape(mb, (batch, k))], [y7], 0, None)
    wi, bi = const("fc/filter", (units, k), 0.2), const("fc/bias", (units,), 0.1)
    y8 = _float_op(mb, BuiltinOperator.FULLY_CONNECTED, BuiltinOptions.FullyConnectedOptions,
                   tb.FullyConnectedOptions, [("AddFusedActivationFunction", 0)], [y7, wi, bi],
                   mb.tensor("fc/output", (batch, units), f32))
    y9 = _float_op(mb, BuiltinOperator.SOFTMAX, BuiltinOptions.SoftmaxOptions,
                   tb.SoftmaxOptions, [("AddBeta", 1.0)], [y8],
                   mb.tensor("softmax/output", (batch, units), f32))
    return mb.build([x], [y9])


def tflite_float_mlp(rng, *, batch=4, sizes=(24, 16, 10)):
    """FULLY_CONNECTED (RELU) layers, float32."""
    mb = tb.ModelBuilder()
    f32 = np.float32
    x = graph_in = mb.tensor("input", (batch, sizes[0]), f32)
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        wi = mb.tensor(f"fc{i}/filter", (n, k), f32,
                       data=(rng.standard_normal((n, k)) * 0.3).astype(f32))
        bi = mb.tensor(f"fc{i}/bias", (n,), f32, data=(rng.standard_normal(n) * 0.1
                                                       ).astype(f32))
        act = 1 if i + 2 < len(sizes) else 0
        x = _float_op(mb, BuiltinOperator.FULLY_CONNECTED, BuiltinOptions.FullyConnectedOptions,
                      tb.FullyConnectedOptions, [("AddFusedActivationFunction", act)],
                      [x, wi, bi], mb.tensor(f"fc{i}/output", (batch, n), f32))
    return mb.build([graph_in], [x])


# --- ONNX -------------------------------------------------------------------------------------

def _onnx_model(nodes, inputs, outputs, inits, opset=17):
    from onnx import helper

    graph = helper.make_graph(nodes, "dure_test", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="dure compiler_models")
    model.ir_version = 8
    return model.SerializeToString()


def onnx_float_cnn(rng, *, h=8, w=8, cin=3, c=8, units=10, batch=1):
    """NCHW float32: Conv 3x3 pads 1 + Relu, depthwise Conv (group = C) 3x3 stride 2 pads 1 +
    Clip(0, 6), Conv 1x1 with its bias through Add, Add (residual), AveragePool 2x2 stride 2,
    MaxPool 3x3 stride 1 SAME_UPPER, GlobalAveragePool, Flatten, Gemm (transB), Softmax."""
    from onnx import TensorProto, helper, numpy_helper

    f = np.float32

    def init(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(f), name)

    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    inits = [init("w1", (c, cin, 3, 3), 0.3), init("b1", (c,), 0.1),
             init("w2", (c, 1, 3, 3), 0.3), init("b2", (c,), 0.1),
             init("w3", (c, c, 1, 1), 0.3), init("b3", (1, c, 1, 1), 0.1),
             init("wf", (units, c), 0.3), init("bf", (units,), 0.1),
             numpy_helper.from_array(np.array(0, f), "zero"),
             numpy_helper.from_array(np.array(6, f), "six")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2],
                         group=c, name="dw"),
        helper.make_node("Clip", ["c2", "zero", "six"], ["r2"], name="relu6"),
        helper.make_node("Conv", ["r2", "w3"], ["c3"], name="pw"),
        helper.make_node("Add", ["c3", "b3"], ["c3b"], name="pw_bias"),
        helper.make_node("Add", ["c3b", "r2"], ["s"], name="residual"),
        helper.make_node("AveragePool", ["s"], ["p1"], kernel_shape=[2, 2], strides=[2, 2],
                         name="avg"),
        helper.make_node("MaxPool", ["p1"], ["p2"], kernel_shape=[3, 3],
                         auto_pad="SAME_UPPER", name="max"),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["fl"], name="flatten"),
        helper.make_node("Gemm", ["fl", "wf", "bf"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1, name="softmax"),
    ]
    assert oh >= 2 and ow >= 2
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [batch, cin, h, w])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, units])],
                       inits)


def onnx_qoperator_cnn(rng, *, h=8, w=8, cin=3, c=8, units=10, batch=1, act=np.uint8):
    """QOperator INT8 (activations ``act``: uint8 or int8; weights int8 per channel):
    QuantizeLinear, QLinearConv 3x3 pads 1, QLinearConv depthwise 3x3 stride 2, MaxPool 2x2,
    Flatten (of an NCHW tensor with H*W > 1), QLinearMatMul, DequantizeLinear."""
    from onnx import TensorProto, helper, numpy_helper

    def arr(name, value, dtype):
        return numpy_helper.from_array(np.asarray(value, dtype), name)

    off = 128 if act == np.uint8 else 0

    def aq(name):
        return [arr(f"{name}_s", rng.uniform(0.02, 0.1), np.float32),
                arr(f"{name}_z", int(rng.integers(-20, 20)) + off, act)]

    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    ph, pw_ = oh // 2, ow // 2
    k = c * ph * pw_
    inits = aq("x") + aq("y1") + aq("y2") + aq("y3")
    inits += [arr("w1", rng.integers(-127, 128, (c, cin, 3, 3)), np.int8),
              arr("w1_s", rng.uniform(0.002, 0.02, c), np.float32),
              arr("w1_z", np.zeros(c), np.int8),
              arr("b1", rng.integers(-2000, 2000, c), np.int32),
              arr("w2", rng.integers(-127, 128, (c, 1, 3, 3)), np.int8),
              arr("w2_s", rng.uniform(0.002, 0.02, c), np.float32),
              arr("w2_z", np.zeros(c), np.int8),
              arr("b2", rng.integers(-500, 500, c), np.int32),
              arr("wf", rng.integers(-127, 128, (k, units)), np.int8),
              arr("wf_s", rng.uniform(0.002, 0.02), np.float32), arr("wf_z", 0, np.int8)]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="quant"),
        helper.make_node("QLinearConv", ["xq", "x_s", "x_z", "w1", "w1_s", "w1_z", "y1_s",
                                         "y1_z", "b1"], ["c1"], pads=[1, 1, 1, 1],
                         name="conv1"),
        helper.make_node("QLinearConv", ["c1", "y1_s", "y1_z", "w2", "w2_s", "w2_z", "y2_s",
                                         "y2_z", "b2"], ["c2"], pads=[1, 1, 1, 1],
                         strides=[2, 2], group=c, name="dw"),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                         name="max"),
        helper.make_node("Flatten", ["p"], ["fl"], name="flatten"),
        helper.make_node("QLinearMatMul", ["fl", "y2_s", "y2_z", "wf", "wf_s", "wf_z", "y3_s",
                                           "y3_z"], ["fc"], name="fc"),
        helper.make_node("DequantizeLinear", ["fc", "y3_s", "y3_z"], ["y"], name="dequant"),
    ]
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [batch, cin, h, w])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, units])],
                       inits)


def onnx_qdq_mlp(rng, *, batch=4, sizes=(24, 16, 10), act=np.int8, relu=True):
    """QDQ INT8: Q -> (DQ -> Gemm(DQ w per channel, DQ int32 bias) -> [Relu] -> Q) per layer
    (the last one a MatMul without bias) -> DQ; int8 weights, ``act`` activations."""
    from onnx import TensorProto, helper, numpy_helper

    def arr(name, value, dtype):
        return numpy_helper.from_array(np.asarray(value, dtype), name)

    off = 128 if act == np.uint8 else 0
    inits, nodes = [], []
    scales = [np.float32(rng.uniform(0.02, 0.1)) for _ in sizes]
    zps = [int(rng.integers(-20, 20)) + off for _ in sizes]
    for i, (s, z) in enumerate(zip(scales, zps, strict=True)):
        inits += [arr(f"a{i}_s", s, np.float32), arr(f"a{i}_z", z, act)]
    nodes.append(helper.make_node("QuantizeLinear", ["x", "a0_s", "a0_z"], ["q0"]))
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i + 2 == len(sizes)
        ws = rng.uniform(0.002, 0.02, n).astype(np.float32)
        inits += [arr(f"w{i}", rng.integers(-127, 128, (n, k) if not last else (k, n)),
                      np.int8),
                  arr(f"w{i}_s", ws, np.float32), arr(f"w{i}_z", np.zeros(n), np.int8)]
        nodes += [helper.make_node("DequantizeLinear", [f"q{i}", f"a{i}_s", f"a{i}_z"],
                                   [f"d{i}"]),
                  helper.make_node("DequantizeLinear", [f"w{i}", f"w{i}_s", f"w{i}_z"],
                                   [f"wd{i}"], axis=1 if last else 0)]
        if last:
            nodes.append(helper.make_node("MatMul", [f"d{i}", f"wd{i}"], [f"f{i}"],
                                          name=f"fc{i}"))
            cur = f"f{i}"
        else:
            bs = (scales[i] * ws).astype(np.float32)
            inits += [arr(f"b{i}", rng.integers(-3000, 3000, n), np.int32),
                      arr(f"b{i}_s", bs, np.float32), arr(f"b{i}_z", np.zeros(n), np.int32)]
            nodes += [helper.make_node("DequantizeLinear", [f"b{i}", f"b{i}_s", f"b{i}_z"],
                                       [f"bd{i}"], axis=0),
                      helper.make_node("Gemm", [f"d{i}", f"wd{i}", f"bd{i}"], [f"f{i}"],
                                       transB=1, name=f"fc{i}")]
            cur = f"f{i}"
            if relu:
                nodes.append(helper.make_node("Relu", [cur], [f"r{i}"], name=f"relu{i}"))
                cur = f"r{i}"
        nodes.append(helper.make_node("QuantizeLinear", [cur, f"a{i + 1}_s", f"a{i + 1}_z"],
                                      [f"q{i + 1}"]))
    j = len(sizes) - 1
    nodes.append(helper.make_node("DequantizeLinear", [f"q{j}", f"a{j}_s", f"a{j}_z"], ["y"]))
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [batch, sizes[0]])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                      [batch, sizes[-1]])], inits)


def onnx_float_resnet(rng, *, h=8, w=8, cin=3, c=8, units=10, batch=1, pool="global",
                      softmax=False):
    """A residual block as exporters write it (NCHW float32): Conv 3x3 (bias) + Relu, Conv 3x3
    (bias), Add of the block input, Relu, then GlobalAveragePool (``pool="global"``) or an
    AveragePool 3x3 pads 1 and an AveragePool over the whole image (``pool="avg"``), Flatten,
    Gemm, [Softmax]; for onnxruntime's quantization tools."""
    from onnx import TensorProto, helper, numpy_helper

    def init(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                       name)

    inits = [init("w0", (c, cin, 3, 3), 0.3), init("b0", (c,), 0.1),
             init("w1", (c, c, 3, 3), 0.2), init("b1", (c,), 0.1),
             init("w2", (c, c, 3, 3), 0.2), init("b2", (c,), 0.1),
             init("wf", (units, c), 0.3), init("bf", (units,), 0.1)]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1], name="stem"),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "r0"], ["s"], name="residual"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
    ]
    if pool == "global":
        nodes.append(helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"))
    else:
        nodes += [helper.make_node("AveragePool", ["r2"], ["a"], kernel_shape=[3, 3],
                                   pads=[1, 1, 1, 1], name="avg3"),
                  helper.make_node("AveragePool", ["a"], ["g"], kernel_shape=[h, w],
                                   name="avg_all")]
    nodes += [helper.make_node("Flatten", ["g"], ["fl"], name="flatten"),
              helper.make_node("Gemm", ["fl", "wf", "bf"], ["logits" if softmax else "y"],
                               transB=1, name="fc")]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=-1, name="softmax"))
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [batch, cin, h, w])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, units])],
                       inits)


def tflite_int8_resnet8(rng, *, size=32, batch=1):
    """The layer shapes of MLPerf Tiny's ResNet-8 (image classification), int8, random weights:
    CONV 3x3x16 (RELU); three stacks of CONV 3x3 (RELU), CONV 3x3, shortcut (identity, or CONV
    1x1 stride 2 when the stack halves the image), ADD (RELU), at 16, 32, 64 channels;
    AVERAGE_POOL over the last feature map, RESHAPE, FULLY_CONNECTED 10, SOFTMAX."""
    mb = tb.ModelBuilder()
    xq = _aq(rng)
    x = graph_in = mb.tensor("input", (batch, size, size, 3), np.int8, xq)

    def conv(name, src, src_q, cin, cout, k, stride, hw, act):
        q = _aq(rng)
        w = rng.integers(-127, 128, (cout, k, k, cin)).astype(np.int8)
        b = rng.integers(-3000, 3000, cout).astype(np.int32)
        wq = tb.Quant(rng.uniform(0.5, 1.5, cout).astype(np.float32) / (k * np.sqrt(cin) * 40),
                      0, 0)
        out_hw = (hw + stride - 1) // stride
        y = tb.add_conv2d(mb, src, src_q, w, b, wq, q, (batch, out_hw, out_hw, cout),
                          stride=stride, padding="SAME", activation=act, name=name)
        return y, q, out_hw

    y, q, hw = conv("stem", x, xq, 3, 16, 3, 1, size, "RELU")
    cin = 16
    for i, cout in enumerate((16, 32, 64)):
        stride = 1 if i == 0 else 2
        a, aq_, hw2 = conv(f"s{i}a", y, q, cin, cout, 3, stride, hw, "RELU")
        b, bq, _ = conv(f"s{i}b", a, aq_, cout, cout, 3, 1, hw2, "NONE")
        if stride == 1 and cin == cout:
            sc, scq = y, q
        else:
            sc, scq, _ = conv(f"s{i}sc", y, q, cin, cout, 1, stride, hw, "NONE")
        oq = _aq(rng)
        y = tb.add_add(mb, b, sc, (batch, hw2, hw2, cout), oq, activation="RELU",
                       name=f"s{i}add")
        q, hw, cin = oq, hw2, cout
    p = tb.add_pool2d(mb, "average", y, (batch, 1, 1, cin), q, hw, stride=hw, name="pool")
    flat = mb.tensor("flat", (batch, cin), np.int8, q)
    mb.operator(BuiltinOperator.RESHAPE, [p, _shape(mb, (batch, cin))], [flat], 0, None)
    fq = _aq(rng)
    w = rng.integers(-127, 128, (10, cin)).astype(np.int8)
    logits = tb.add_fully_connected(mb, flat, q, w, rng.integers(-3000, 3000, 10).astype(
        np.int32), _wq(rng, 10), fq, batch, name="fc")
    return mb.build([graph_in], [tb.add_softmax(mb, logits, (batch, 10), name="softmax")])


def tflite_int8_dscnn(rng, *, batch=1, c=64, blocks=2):
    """The layer shapes of MLPerf Tiny's DS-CNN (keyword spotting), int8, random weights: input
    49x10x1, CONV 10x4 stride 2 SAME (RELU) to ``c`` channels, ``blocks`` x (DEPTHWISE 3x3
    (RELU), CONV 1x1 (RELU)), AVERAGE_POOL over the 25x5 map, RESHAPE, FULLY_CONNECTED 12,
    SOFTMAX."""
    mb = tb.ModelBuilder()
    xq = _aq(rng)
    x = graph_in = mb.tensor("input", (batch, 49, 10, 1), np.int8, xq)
    q = _aq(rng)
    w = rng.integers(-127, 128, (c, 10, 4, 1)).astype(np.int8)
    y = tb.add_conv2d(mb, x, xq, w, rng.integers(-500, 500, c).astype(np.int32),
                      tb.Quant(rng.uniform(0.002, 0.01, c).astype(np.float32)), q,
                      (batch, 25, 5, c), stride=2, padding="SAME", activation="RELU",
                      name="conv0")
    for i in range(blocks):
        dq = _aq(rng)
        wd = rng.integers(-127, 128, (1, 3, 3, c)).astype(np.int8)
        y = tb.add_depthwise_conv2d(mb, y, q, wd, rng.integers(-500, 500, c).astype(np.int32),
                                    tb.Quant(rng.uniform(0.005, 0.02, c).astype(np.float32),
                                             0, 3), dq, (batch, 25, 5, c), padding="SAME",
                                    activation="RELU", name=f"dw{i}")
        pq = _aq(rng)
        wp = rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)
        y = tb.add_conv2d(mb, y, dq, wp, rng.integers(-2000, 2000, c).astype(np.int32),
                          tb.Quant(rng.uniform(0.001, 0.005, c).astype(np.float32)), pq,
                          (batch, 25, 5, c), padding="SAME", activation="RELU", name=f"pw{i}")
        q = pq
    p = tb.add_pool2d(mb, "average", y, (batch, 1, 1, c), q, (25, 5), stride=(25, 5),
                      name="pool")
    flat = mb.tensor("flat", (batch, c), np.int8, q)
    mb.operator(BuiltinOperator.RESHAPE, [p, _shape(mb, (batch, c))], [flat], 0, None)
    w = rng.integers(-127, 128, (12, c)).astype(np.int8)
    logits = tb.add_fully_connected(mb, flat, q, w, rng.integers(-3000, 3000, 12).astype(
        np.int32), _wq(rng, 12), _aq(rng), batch, name="fc")
    return mb.build([graph_in], [tb.add_softmax(mb, logits, (batch, 12), name="softmax")])
