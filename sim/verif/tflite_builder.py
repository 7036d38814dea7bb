"""Build small full-integer TFLite models in memory (no TensorFlow): the flatbuffer builder
functions of the ``tflite`` package, one subgraph, int8 activations, constant weights and bias.

:class:`ModelBuilder` holds tensors (with per-tensor or per-channel affine quantization) and
builtin operators and serialises them to the bytes of a ``.tflite`` file (schema version 3,
identifier ``TFL3``, buffer 0 empty as the converter writes it). The ``*_model`` functions build
the one-operator models the golden-model tests run through LiteRT.
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
 Operator, OperatorCode, Pool2DOptions, QuantizationParameters, SubGraph, Tensor) = (
    importlib.import_module(f"tflite.{name}") for name in (
        "AddOptions", "Buffer", "Conv2DOptions", "DepthwiseConv2DOptions",
        "FullyConnectedOptions", "Model", "Operator", "OperatorCode", "Pool2DOptions",
        "QuantizationParameters", "SubGraph", "Tensor"))

__all__ = [
    "Quant", "ModelBuilder",
    "conv2d_model", "depthwise_conv2d_model", "fully_connected_model", "pool2d_model",
    "add_model",
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
        function ``builder -> offset`` that writes the options table.
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
            opt = opt_fn(b)
            ins_off = _int_vector(b, Operator.StartInputsVector, ins)
            outs_off = _int_vector(b, Operator.StartOutputsVector, outs)
            Operator.Start(b)
            Operator.AddOpcodeIndex(b, idx)
            Operator.AddInputs(b, ins_off)
            Operator.AddOutputs(b, outs_off)
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


# --- one-operator models --------------------------------------------------------------------

def _act(a):
    return (a if isinstance(a, FusedActivation) else FusedActivation[str(a).upper()]).value


def _pad(p):
    return (p if isinstance(p, Padding) else Padding[str(p).upper()]).value


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _bias_quant(in_q, w_q):
    """Bias quantization: scale_j = float32(input_scale * filter_scale_j), zero point 0."""
    ws, _ = w_q.vectors()
    return Quant(np.float32(in_q.scale) * ws, 0, 0)


def conv2d_model(x_shape, w, bias, x_q, w_q, y_q, y_shape, *, stride=1, padding="SAME",
                 dilation=1, activation="NONE"):
    """A CONV_2D model: input int8 ``x_shape`` (NHWC), filter ``w`` (OHWI int8, per-channel
    quantization along axis 0 when ``w_q`` has several scales), int32 ``bias`` or None, output
    int8 ``y_shape``. Returns the model bytes."""
    mb = ModelBuilder()
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    xi = mb.tensor("input", x_shape, np.int8, x_q)
    wi = mb.tensor("filter", w.shape, np.int8, w_q, w)
    bi = -1 if bias is None else mb.tensor("bias", bias.shape, np.int32,
                                           _bias_quant(x_q, w_q), bias)
    yi = mb.tensor("output", y_shape, np.int8, y_q)

    def options(b):
        Conv2DOptions.Start(b)
        Conv2DOptions.AddPadding(b, _pad(padding))
        Conv2DOptions.AddStrideH(b, sh)
        Conv2DOptions.AddStrideW(b, sw)
        Conv2DOptions.AddDilationHFactor(b, dh)
        Conv2DOptions.AddDilationWFactor(b, dw)
        Conv2DOptions.AddFusedActivationFunction(b, _act(activation))
        return Conv2DOptions.End(b)

    mb.operator(BuiltinOperator.CONV_2D, [xi, wi, bi], [yi], BuiltinOptions.Conv2DOptions,
                options)
    return mb.build([xi], [yi])


def depthwise_conv2d_model(x_shape, w, bias, x_q, w_q, y_q, y_shape, *, stride=1,
                           padding="SAME", dilation=1, depth_multiplier=1, activation="NONE"):
    """A DEPTHWISE_CONV_2D model: filter ``w`` of shape (1, KH, KW, C*M), per-channel
    quantization along axis 3. Returns the model bytes."""
    mb = ModelBuilder()
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    xi = mb.tensor("input", x_shape, np.int8, x_q)
    wi = mb.tensor("filter", w.shape, np.int8, w_q, w)
    bi = -1 if bias is None else mb.tensor("bias", bias.shape, np.int32,
                                           _bias_quant(x_q, w_q), bias)
    yi = mb.tensor("output", y_shape, np.int8, y_q)

    def options(b):
        DepthwiseConv2DOptions.Start(b)
        DepthwiseConv2DOptions.AddPadding(b, _pad(padding))
        DepthwiseConv2DOptions.AddStrideH(b, sh)
        DepthwiseConv2DOptions.AddStrideW(b, sw)
        DepthwiseConv2DOptions.AddDilationHFactor(b, dh)
        DepthwiseConv2DOptions.AddDilationWFactor(b, dw)
        DepthwiseConv2DOptions.AddDepthMultiplier(b, depth_multiplier)
        DepthwiseConv2DOptions.AddFusedActivationFunction(b, _act(activation))
        return DepthwiseConv2DOptions.End(b)

    mb.operator(BuiltinOperator.DEPTHWISE_CONV_2D, [xi, wi, bi], [yi],
                BuiltinOptions.DepthwiseConv2DOptions, options)
    return mb.build([xi], [yi])


def fully_connected_model(x_shape, w, bias, x_q, w_q, y_q, *, activation="NONE"):
    """A FULLY_CONNECTED model: input int8 (B, K), filter ``w`` (units, K), output (B, units).
    Returns the model bytes."""
    mb = ModelBuilder()
    xi = mb.tensor("input", x_shape, np.int8, x_q)
    wi = mb.tensor("filter", w.shape, np.int8, w_q, w)
    bi = -1 if bias is None else mb.tensor("bias", bias.shape, np.int32,
                                           _bias_quant(x_q, w_q), bias)
    yi = mb.tensor("output", (x_shape[0], w.shape[0]), np.int8, y_q)

    def options(b):
        FullyConnectedOptions.Start(b)
        FullyConnectedOptions.AddFusedActivationFunction(b, _act(activation))
        return FullyConnectedOptions.End(b)

    mb.operator(BuiltinOperator.FULLY_CONNECTED, [xi, wi, bi], [yi],
                BuiltinOptions.FullyConnectedOptions, options)
    return mb.build([xi], [yi])


def pool2d_model(kind, x_shape, y_shape, q, filter_size, *, stride=1, padding="VALID",
                 activation="NONE"):
    """An AVERAGE_POOL_2D (``kind='average'``) or MAX_POOL_2D (``'max'``) model; input and
    output share the quantization ``q``. Returns the model bytes."""
    op = {"average": BuiltinOperator.AVERAGE_POOL_2D, "max": BuiltinOperator.MAX_POOL_2D}[kind]
    fh, fw = _pair(filter_size)
    sh, sw = _pair(stride)
    mb = ModelBuilder()
    xi = mb.tensor("input", x_shape, np.int8, q)
    yi = mb.tensor("output", y_shape, np.int8, q)

    def options(b):
        Pool2DOptions.Start(b)
        Pool2DOptions.AddPadding(b, _pad(padding))
        Pool2DOptions.AddStrideH(b, sh)
        Pool2DOptions.AddStrideW(b, sw)
        Pool2DOptions.AddFilterHeight(b, fh)
        Pool2DOptions.AddFilterWidth(b, fw)
        Pool2DOptions.AddFusedActivationFunction(b, _act(activation))
        return Pool2DOptions.End(b)

    mb.operator(op, [xi], [yi], BuiltinOptions.Pool2DOptions, options)
    return mb.build([xi], [yi])


def add_model(shape, q1, q2, qo, *, activation="NONE"):
    """An ADD model of two int8 inputs of the same ``shape``. Returns the model bytes."""
    mb = ModelBuilder()
    a = mb.tensor("input1", shape, np.int8, q1)
    c = mb.tensor("input2", shape, np.int8, q2)
    y = mb.tensor("output", shape, np.int8, qo)

    def options(b):
        AddOptions.Start(b)
        AddOptions.AddFusedActivationFunction(b, _act(activation))
        return AddOptions.End(b)

    mb.operator(BuiltinOperator.ADD, [a, c], [y], BuiltinOptions.AddOptions, options)
    return mb.build([a, c], [y])

