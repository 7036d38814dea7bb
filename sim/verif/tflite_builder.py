"""Build small full-integer TFLite models in memory (no TensorFlow): the flatbuffer builder
functions of the ``tflite`` package, one subgraph, int8 activations, constant weights and bias.

:class:`ModelBuilder` holds tensors (with per-tensor or per-channel affine quantization) and
builtin operators and serialises them to the bytes of a ``.tflite`` file (schema version 3,
identifier ``TFL3``, buffer 0 empty as the converter writes it). The ``add_*`` functions append
one operator (with its constant filter and bias) to a builder, so small graphs chain them; the
``*_model`` functions build the one-operator models the golden-model tests run through LiteRT.
Bias tensors get the quantization the converter writes: scale ``float32(x_scale * w_scale_j)``,
zero point 0.
"""

import dataclasses
import importlib

import flatbuffers
import numpy as np
from dure.sim.golden_padding import Padding
from dure.sim.golden_tflite_params import FusedActivation
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

# The package re-exports each table's class under the module's name; the builder functions
# (Start, AddX, End) live in the modules themselves.
(AddOptions, Buffer, Conv2DOptions, DepthwiseConv2DOptions, FullyConnectedOptions, Model,
 Operator, OperatorCode, Pool2DOptions, QuantizationParameters, SoftmaxOptions, SubGraph,
 Tensor) = (
    importlib.import_module(f"tflite.{name}") for name in (
        "AddOptions", "Buffer", "Conv2DOptions", "DepthwiseConv2DOptions",
        "FullyConnectedOptions", "Model", "Operator", "OperatorCode", "Pool2DOptions",
        "QuantizationParameters", "SoftmaxOptions", "SubGraph", "Tensor"))

__all__ = [
    "Quant", "ModelBuilder",
    "add_conv2d", "add_depthwise_conv2d", "add_fully_connected", "add_pool2d", "add_add",
    "add_softmax", "add_quantize", "add_dequantize",
    "conv2d_model", "depthwise_conv2d_model", "fully_connected_model", "pool2d_model",
    "add_model", "softmax_model",
]

_TYPES = {np.dtype(np.int8): TensorType.INT8, np.dtype(np.int32): TensorType.INT32,
          np.dtype(np.float32): TensorType.FLOAT32, np.dtype(np.uint8): TensorType.UINT8}


@dataclasses.dataclass(frozen=True)
class Quant:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``.

    ``scale`` and ``zero_point`` are scalars (per tensor) or equal-length sequences (per
    channel along ``axis``, the schema's ``quantized_dimension``). Scales are stored as float32.
    """

    scale: object
    zero_point: object = 0
    axis: int = 0

    def vectors(self):
        s = np.atleast_1d(np.asarray(self.scale, np.float32))
        z = np.atleast_1d(np.asarray(self.zero_point, np.int64))
        if z.size == 1 and s.size > 1:
            z = np.repeat(z, s.size)
        if s.size != z.size:
            raise ValueError(f"{s.size} scales but {z.size} zero points")
        return s, z


def _int_vector(b, start, values):
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(int(v))
    return b.EndVector()


class ModelBuilder:
    """One-subgraph TFLite model under construction.

    Add tensors with :meth:`tensor` (constant when ``data`` is given), operators with
    :meth:`operator`, then call :meth:`build` with the graph's input and output tensor indices.
    """

    def __init__(self):
        self._b = flatbuffers.Builder(1024)
        self._buffers = [b""]          # buffer 0: the empty sentinel
        self._tensors = []             # (name, shape, type, buffer, quant or None)
        self._ops = []                 # (opcode index, inputs, outputs, options type, builder fn)
        self._opcodes = []

    def tensor(self, name, shape, dtype, quant=None, data=None):
        """Add a tensor; returns its index.

        Parameters
        ----------
        name : str
        shape : tuple of int
        dtype : numpy dtype
            int8, int32, uint8 or float32.
        quant : Quant, optional
        data : numpy.ndarray, optional
            Constant contents (C order, stored little-endian), shape ``shape``.
        """
        dtype = np.dtype(dtype)
        if dtype not in _TYPES:
            raise ValueError(f"unsupported tensor type {dtype}")
        buf = 0
        if data is not None:
            data = np.ascontiguousarray(data, dtype=dtype.newbyteorder("<"))
            if data.shape != tuple(shape):
                raise ValueError(f"{name}: data shape {data.shape} is not {tuple(shape)}")
            self._buffers.append(data.tobytes())
            buf = len(self._buffers) - 1
        self._tensors.append((name, tuple(int(d) for d in shape), _TYPES[dtype], buf, quant))
        return len(self._tensors) - 1

    def operator(self, op, inputs, outputs, options_type, options):
        """Add a builtin operator.

        ``op`` is a ``BuiltinOperator`` code, ``inputs``/``outputs`` tensor indices (-1 for an
        omitted optional input), ``options_type`` a ``BuiltinOptions`` code and ``options`` a
        function ``builder -> offset`` that writes the options table (None: no options).
        """
        if op not in self._opcodes:
            self._opcodes.append(op)
        self._ops.append((self._opcodes.index(op), list(inputs), list(outputs), options_type,
                          options))

    def _quant(self, q):
        b = self._b
        s, z = q.vectors()
        QuantizationParameters.StartScaleVector(b, len(s))
        for v in reversed(s):
            b.PrependFloat32(float(v))
        scale = b.EndVector()
        QuantizationParameters.StartZeroPointVector(b, len(z))
        for v in reversed(z):
            b.PrependInt64(int(v))
        zp = b.EndVector()
        QuantizationParameters.Start(b)
        QuantizationParameters.AddScale(b, scale)
        QuantizationParameters.AddZeroPoint(b, zp)
        QuantizationParameters.AddQuantizedDimension(b, q.axis)
        return QuantizationParameters.End(b)

    def build(self, inputs, outputs):
        """Serialise; returns the model file as bytes."""
        b = self._b
        buffers = []
        for data in self._buffers:
            vec = b.CreateNumpyVector(np.frombuffer(data, np.uint8)) if data else None
            Buffer.Start(b)
            if vec is not None:
                Buffer.AddData(b, vec)
            buffers.append(Buffer.End(b))
        tensors = []
        for name, shape, ttype, buf, quant in self._tensors:
            name_off = b.CreateString(name)
            shape_off = _int_vector(b, Tensor.StartShapeVector, shape)
            q_off = self._quant(quant) if quant is not None else None
            Tensor.Start(b)
            Tensor.AddShape(b, shape_off)
            Tensor.AddType(b, ttype)
            Tensor.AddBuffer(b, buf)
            Tensor.AddName(b, name_off)
            if q_off is not None:
                Tensor.AddQuantization(b, q_off)
            tensors.append(Tensor.End(b))
        ops = []
        for idx, ins, outs, opt_type, opt_fn in self._ops:
            opt = opt_fn(b) if opt_fn is not None else None
            ins_off = _int_vector(b, Operator.StartInputsVector, ins)
            outs_off = _int_vector(b, Operator.StartOutputsVector, outs)
            Operator.Start(b)
            Operator.AddOpcodeIndex(b, idx)
            Operator.AddInputs(b, ins_off)
            Operator.AddOutputs(b, outs_off)
            if opt is not None:
                Operator.AddBuiltinOptionsType(b, opt_type)
                Operator.AddBuiltinOptions(b, opt)
            ops.append(Operator.End(b))
        codes = []
        for op in self._opcodes:
            OperatorCode.Start(b)
            OperatorCode.AddDeprecatedBuiltinCode(b, min(op, 127))
            OperatorCode.AddBuiltinCode(b, op)
            OperatorCode.AddVersion(b, 1)
            codes.append(OperatorCode.End(b))

        def offsets(start, items):
            start(b, len(items))
            for o in reversed(items):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        t_vec = offsets(SubGraph.StartTensorsVector, tensors)
        in_vec = _int_vector(b, SubGraph.StartInputsVector, inputs)
        out_vec = _int_vector(b, SubGraph.StartOutputsVector, outputs)
        op_vec = offsets(SubGraph.StartOperatorsVector, ops)
        sg_name = b.CreateString("main")
        SubGraph.Start(b)
        SubGraph.AddTensors(b, t_vec)
        SubGraph.AddInputs(b, in_vec)
        SubGraph.AddOutputs(b, out_vec)
        SubGraph.AddOperators(b, op_vec)
        SubGraph.AddName(b, sg_name)
        sg = SubGraph.End(b)
        sg_vec = offsets(Model.StartSubgraphsVector, [sg])
        code_vec = offsets(Model.StartOperatorCodesVector, codes)
        buf_vec = offsets(Model.StartBuffersVector, buffers)
        desc = b.CreateString("dure tflite_builder")
        Model.Start(b)
        Model.AddVersion(b, 3)
        Model.AddOperatorCodes(b, code_vec)
        Model.AddSubgraphs(b, sg_vec)
        Model.AddDescription(b, desc)
        Model.AddBuffers(b, buf_vec)
        b.Finish(Model.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())


# --- operators appended to a builder -------------------------------------------------------

def _act(a):
    return (a if isinstance(a, FusedActivation) else FusedActivation[str(a).upper()]).value


def _pad(p):
    return (p if isinstance(p, Padding) else Padding[str(p).upper()]).value


def _pair(v):
    return (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(i) for i in v)


def _bias_quant(in_q, w_q):
    """Bias quantization: scale_j = float32(input_scale * filter_scale_j), zero point 0."""
    ws, _ = w_q.vectors()
    return Quant(np.float32(in_q.scale) * ws, 0, 0)


def _conv_like(mb, op, opt_type, mod, extra, x, x_q, w, bias, w_q, y_q, y_shape, stride,
               padding, dilation, activation, name):
    """Shared body of CONV_2D and DEPTHWISE_CONV_2D; ``mod`` is the options' schema module."""
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    wi = mb.tensor(f"{name}/filter", w.shape, np.int8, w_q, w)
    bi = -1 if bias is None else mb.tensor(f"{name}/bias", bias.shape, np.int32,
                                           _bias_quant(x_q, w_q), bias)
    yi = mb.tensor(f"{name}/output", y_shape, np.int8, y_q)

    def options(b):
        mod.Start(b)
        mod.AddPadding(b, _pad(padding))
        mod.AddStrideH(b, sh)
        mod.AddStrideW(b, sw)
        mod.AddDilationHFactor(b, dh)
        mod.AddDilationWFactor(b, dw)
        mod.AddFusedActivationFunction(b, _act(activation))
        for fn, v in extra:
            getattr(mod, fn)(b, v)
        return mod.End(b)

    mb.operator(op, [x, wi, bi], [yi], opt_type, options)
    return yi


def add_conv2d(mb, x, x_q, w, bias, w_q, y_q, y_shape, *, stride=1, padding="SAME",
               dilation=1, activation="NONE", name="conv"):
    """Append a CONV_2D reading tensor ``x`` (quantized ``x_q``): filter ``w`` OHWI int8
    (per-channel along axis 0 when ``w_q`` has several scales), int32 ``bias`` or None, int8
    output of shape ``y_shape`` quantized ``y_q``. Returns the output tensor index."""
    return _conv_like(mb, BuiltinOperator.CONV_2D, BuiltinOptions.Conv2DOptions,
                      Conv2DOptions, [], x, x_q, w, bias, w_q, y_q, y_shape, stride,
                      padding, dilation, activation, name)


def add_depthwise_conv2d(mb, x, x_q, w, bias, w_q, y_q, y_shape, *, stride=1, padding="SAME",
                         dilation=1, depth_multiplier=1, activation="NONE", name="depthwise"):
    """Append a DEPTHWISE_CONV_2D: filter ``w`` of shape (1, KH, KW, C*M), per-channel
    quantization along axis 3. Returns the output tensor index."""
    return _conv_like(mb, BuiltinOperator.DEPTHWISE_CONV_2D,
                      BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions,
                      [("AddDepthMultiplier", depth_multiplier)], x, x_q, w, bias, w_q, y_q,
                      y_shape, stride, padding, dilation, activation, name)


def add_fully_connected(mb, x, x_q, w, bias, w_q, y_q, batch, *, activation="NONE", name="fc"):
    """Append a FULLY_CONNECTED: input (batch, K), filter ``w`` (units, K), output
    (batch, units). Returns the output tensor index."""
    wi = mb.tensor(f"{name}/filter", w.shape, np.int8, w_q, w)
    bi = -1 if bias is None else mb.tensor(f"{name}/bias", bias.shape, np.int32,
                                           _bias_quant(x_q, w_q), bias)
    yi = mb.tensor(f"{name}/output", (batch, w.shape[0]), np.int8, y_q)

    def options(b):
        FullyConnectedOptions.Start(b)
        FullyConnectedOptions.AddFusedActivationFunction(b, _act(activation))
        return FullyConnectedOptions.End(b)

    mb.operator(BuiltinOperator.FULLY_CONNECTED, [x, wi, bi], [yi],
                BuiltinOptions.FullyConnectedOptions, options)
    return yi


def add_pool2d(mb, kind, x, y_shape, q, filter_size, *, stride=1, padding="VALID",
               activation="NONE", name="pool"):
    """Append an AVERAGE_POOL_2D (``kind='average'``) or MAX_POOL_2D (``'max'``); the output
    has the input's quantization ``q``. Returns the output tensor index."""
    op = {"average": BuiltinOperator.AVERAGE_POOL_2D, "max": BuiltinOperator.MAX_POOL_2D}[kind]
    fh, fw = _pair(filter_size)
    sh, sw = _pair(stride)
    yi = mb.tensor(f"{name}/output", y_shape, np.int8, q)

    def options(b):
        Pool2DOptions.Start(b)
        Pool2DOptions.AddPadding(b, _pad(padding))
        Pool2DOptions.AddStrideH(b, sh)
        Pool2DOptions.AddStrideW(b, sw)
        Pool2DOptions.AddFilterHeight(b, fh)
        Pool2DOptions.AddFilterWidth(b, fw)
        Pool2DOptions.AddFusedActivationFunction(b, _act(activation))
        return Pool2DOptions.End(b)

    mb.operator(op, [x], [yi], BuiltinOptions.Pool2DOptions, options)
    return yi


def add_add(mb, a, c, shape, y_q, *, activation="NONE", name="add"):
    """Append an ADD of tensors ``a`` and ``c`` (same ``shape``). Returns the output index."""
    yi = mb.tensor(f"{name}/output", shape, np.int8, y_q)

    def options(b):
        AddOptions.Start(b)
        AddOptions.AddFusedActivationFunction(b, _act(activation))
        return AddOptions.End(b)

    mb.operator(BuiltinOperator.ADD, [a, c], [yi], BuiltinOptions.AddOptions, options)
    return yi


def add_softmax(mb, x, shape, *, beta=1.0, name="softmax"):
    """Append a SOFTMAX over the last axis; the int8 output has TFLite's fixed quantization
    (scale 1/256, zero point -128). Returns the output tensor index."""
    yi = mb.tensor(f"{name}/output", shape, np.int8, Quant(1.0 / 256, -128))

    def options(b):
        SoftmaxOptions.Start(b)
        SoftmaxOptions.AddBeta(b, float(beta))
        return SoftmaxOptions.End(b)

    mb.operator(BuiltinOperator.SOFTMAX, [x], [yi], BuiltinOptions.SoftmaxOptions, options)
    return yi


def add_quantize(mb, x, shape, y_q, *, name="quantize"):
    """Append a QUANTIZE (float32 -> int8, or int8 -> int8 rescale) to an int8 output quantized
    ``y_q``. Returns the output tensor index."""
    yi = mb.tensor(f"{name}/output", shape, np.int8, y_q)
    mb.operator(BuiltinOperator.QUANTIZE, [x], [yi], 0, None)
    return yi


def add_dequantize(mb, x, shape, *, name="dequantize"):
    """Append a DEQUANTIZE (int8 -> float32). Returns the output tensor index."""
    yi = mb.tensor(f"{name}/output", shape, np.float32)
    mb.operator(BuiltinOperator.DEQUANTIZE, [x], [yi], 0, None)
    return yi


# --- one-operator models --------------------------------------------------------------------

def conv2d_model(x_shape, w, bias, x_q, w_q, y_q, y_shape, **kw):
    """A CONV_2D model (see :func:`add_conv2d`); returns the model bytes."""
    mb = ModelBuilder()
    x = mb.tensor("input", x_shape, np.int8, x_q)
    return mb.build([x], [add_conv2d(mb, x, x_q, w, bias, w_q, y_q, y_shape, **kw)])


def depthwise_conv2d_model(x_shape, w, bias, x_q, w_q, y_q, y_shape, **kw):
    """A DEPTHWISE_CONV_2D model (see :func:`add_depthwise_conv2d`); returns the bytes."""
    mb = ModelBuilder()
    x = mb.tensor("input", x_shape, np.int8, x_q)
    return mb.build([x], [add_depthwise_conv2d(mb, x, x_q, w, bias, w_q, y_q, y_shape, **kw)])


def fully_connected_model(x_shape, w, bias, x_q, w_q, y_q, **kw):
    """A FULLY_CONNECTED model, input (B, K) (see :func:`add_fully_connected`)."""
    mb = ModelBuilder()
    x = mb.tensor("input", x_shape, np.int8, x_q)
    return mb.build([x], [add_fully_connected(mb, x, x_q, w, bias, w_q, y_q, x_shape[0], **kw)])


def pool2d_model(kind, x_shape, y_shape, q, filter_size, **kw):
    """An AVERAGE_POOL_2D / MAX_POOL_2D model (see :func:`add_pool2d`)."""
    mb = ModelBuilder()
    x = mb.tensor("input", x_shape, np.int8, q)
    return mb.build([x], [add_pool2d(mb, kind, x, y_shape, q, filter_size, **kw)])


def add_model(shape, q1, q2, qo, **kw):
    """An ADD model of two int8 inputs of the same ``shape`` (see :func:`add_add`)."""
    mb = ModelBuilder()
    a = mb.tensor("input1", shape, np.int8, q1)
    c = mb.tensor("input2", shape, np.int8, q2)
    return mb.build([a, c], [add_add(mb, a, c, shape, qo, **kw)])


def softmax_model(shape, q, **kw):
    """A SOFTMAX model on an int8 input of ``shape`` quantized ``q`` (see :func:`add_softmax`)."""
    mb = ModelBuilder()
    x = mb.tensor("input", shape, np.int8, q)
    return mb.build([x], [add_softmax(mb, x, shape, **kw)])
