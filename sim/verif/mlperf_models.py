"""MLPerf-Tiny-shaped models for the compiler and ``make bench-models``, built at run time in
two forms from one layer list: full-integer TFLite (int8, per-channel weights, asymmetric
activations, as :func:`.compiler_models.tflite_int8_resnet8`) and float32 TFLite (for
``--precision fp16``).

The layer shapes are those of the MLPerf Tiny reference models; the weights are random (no
training, no download):

- :func:`mobilenet_v1` (visual wake words): MobileNetV1 with width multiplier ``alpha``
  (0.25) on a 96x96x3 image: CONV 3x3 stride 2 to ``32 alpha`` channels, the 13
  depthwise-separable blocks (DEPTHWISE 3x3 + CONV 1x1, every conv with ReLU, strides 2 in
  blocks 2, 4, 6 and 12), AVERAGE_POOL over the last 3x3 map, RESHAPE, FULLY_CONNECTED to
  ``classes`` (2), SOFTMAX;
- :func:`autoencoder` (anomaly detection, batch 1): FULLY_CONNECTED 640 -> 128 (ReLU), three
  more 128 (ReLU), the 8-unit bottleneck (ReLU), four 128 (ReLU), 640 (no activation);
- :func:`float_resnet8`, :func:`float_dscnn`: the float32 twins of the int8 ResNet-8 and
  DS-CNN of :mod:`.compiler_models` (same layer list, fresh random weights).

INT8 scales: each layer's weight scales are drawn so that the output keeps the spread of its
input (``s_w = s_y / s_x * u / (sqrt(K) * 40)``, ``u`` uniform in [0.5, 1.5] per channel, K
the products per output), so twenty-odd layers in a row neither saturate nor collapse onto a
few values. Float weights are He-scaled normal (``sqrt(2 / K)``), biases small.
"""

import numpy as np
from dure.sim.golden_padding import conv_padding
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from . import tflite_builder as tb

__all__ = ["mobilenet_v1", "autoencoder", "float_resnet8", "float_dscnn",
           "MOBILENET_V1_BLOCKS", "AUTOENCODER_UNITS"]

#: (pointwise output channels at alpha 1, depthwise stride) of MobileNetV1's 13 blocks.
MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                       (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

#: Units of the MLPerf Tiny anomaly-detection autoencoder's FULLY_CONNECTED layers (input 640).
AUTOENCODER_UNITS = (128, 128, 128, 128, 8, 128, 128, 128, 128, 640)

_F32 = np.float32
_ACT = {"NONE": 0, "RELU": 1, "RELU6": 3}


class _Value:
    """A tensor of the graph under construction: index, quantization (None if float), shape."""

    def __init__(self, index, quant, shape):
        self.index, self.quant, self.shape = index, quant, tuple(shape)


class _Net:
    """Appends layers to one :class:`~.tflite_builder.ModelBuilder`, int8 or float32."""

    def __init__(self, rng, precision, shape):
        if precision not in ("int8", "float"):
            raise ValueError(f"precision must be 'int8' or 'float', not {precision!r}")
        self.rng, self.int8, self.mb = rng, precision == "int8", tb.ModelBuilder()
        q = self._aq() if self.int8 else None
        self.input = _Value(self.mb.tensor("input", shape, np.int8 if self.int8 else _F32, q),
                            q, shape)

    def _aq(self):
        return tb.Quant(np.float32(self.rng.uniform(0.02, 0.1)),
                        int(self.rng.integers(-20, 20)))

    def _wq(self, x_q, y_q, cout, k, axis):
        u = self.rng.uniform(0.5, 1.5, cout)
        return tb.Quant((y_q.scale / x_q.scale * u / (np.sqrt(k) * 40)).astype(np.float32), 0,
                        axis)

    def _op(self, op, opt_type, mod, fields, ins, out):
        def options(b):
            mod.Start(b)
            for fn, v in fields:
                getattr(mod, fn)(b, v)
            return mod.End(b)

        self.mb.operator(op, ins, [out], opt_type, options)
        return out

    def conv(self, name, x, cout, k, *, stride=1, act="RELU", depthwise=False):
        """CONV_2D (``cout`` channels) or DEPTHWISE_CONV_2D (multiplier 1), k x k, SAME."""
        n, h, w, cin = x.shape
        kh, kw = (k, k) if np.ndim(k) == 0 else k
        oh, ow = conv_padding(h, kh, stride, "SAME")[0], conv_padding(w, kw, stride, "SAME")[0]
        cout = cin if depthwise else cout
        wshape = (1, kh, kw, cout) if depthwise else (cout, kh, kw, cin)
        taps = kh * kw * (1 if depthwise else cin)
        y_shape = (n, oh, ow, cout)
        if self.int8:
            y_q = self._aq()
            w_q = self._wq(x.quant, y_q, cout, taps, 3 if depthwise else 0)
            wt = self.rng.integers(-127, 128, wshape).astype(np.int8)
            b = self.rng.integers(-1000, 1000, cout).astype(np.int32)
            add = tb.add_depthwise_conv2d if depthwise else tb.add_conv2d
            return _Value(add(self.mb, x.index, x.quant, wt, b, w_q, y_q, y_shape,
                              stride=stride, padding="SAME", activation=act, name=name),
                          y_q, y_shape)
        wi = self.mb.tensor(f"{name}/filter", wshape, _F32, data=(
            self.rng.standard_normal(wshape) * np.sqrt(2 / taps)).astype(_F32))
        bi = self.mb.tensor(f"{name}/bias", (cout,), _F32,
                            data=(self.rng.standard_normal(cout) * 0.05).astype(_F32))
        yi = self.mb.tensor(f"{name}/output", y_shape, _F32)
        fields = [("AddPadding", 0), ("AddStrideH", stride), ("AddStrideW", stride),
                  ("AddDilationHFactor", 1), ("AddDilationWFactor", 1),
                  ("AddFusedActivationFunction", _ACT[act])]
        if depthwise:
            fields.append(("AddDepthMultiplier", 1))
        return _Value(self._op(
            BuiltinOperator.DEPTHWISE_CONV_2D if depthwise else BuiltinOperator.CONV_2D,
            BuiltinOptions.DepthwiseConv2DOptions if depthwise else
            BuiltinOptions.Conv2DOptions,
            tb.DepthwiseConv2DOptions if depthwise else tb.Conv2DOptions, fields,
            [x.index, wi, bi], yi), None, y_shape)

    def fc(self, name, x, units, *, act="NONE", per_channel=True):
        """FULLY_CONNECTED of a (batch, K) tensor to ``units`` (INT8 weights per channel, or
        one scale for the whole filter)."""
        batch, k = x.shape
        if self.int8:
            y_q = self._aq()
            w_q = self._wq(x.quant, y_q, units if per_channel else 1, k, 0)
            wt = self.rng.integers(-127, 128, (units, k)).astype(np.int8)
            b = self.rng.integers(-1000, 1000, units).astype(np.int32)
            return _Value(tb.add_fully_connected(self.mb, x.index, x.quant, wt, b, w_q, y_q,
                                                 batch, activation=act, name=name),
                          y_q, (batch, units))
        wi = self.mb.tensor(f"{name}/filter", (units, k), _F32, data=(
            self.rng.standard_normal((units, k)) * np.sqrt(2 / k)).astype(_F32))
        bi = self.mb.tensor(f"{name}/bias", (units,), _F32,
                            data=(self.rng.standard_normal(units) * 0.05).astype(_F32))
        yi = self.mb.tensor(f"{name}/output", (batch, units), _F32)
        return _Value(self._op(BuiltinOperator.FULLY_CONNECTED,
                               BuiltinOptions.FullyConnectedOptions, tb.FullyConnectedOptions,
                               [("AddFusedActivationFunction", _ACT[act])],
                               [x.index, wi, bi], yi), None, (batch, units))

    def add(self, name, a, b, *, act="RELU"):
        if self.int8:
            y_q = self._aq()
            return _Value(tb.add_add(self.mb, a.index, b.index, a.shape, y_q, activation=act,
                                     name=name), y_q, a.shape)
        yi = self.mb.tensor(f"{name}/output", a.shape, _F32)
        return _Value(self._op(BuiltinOperator.ADD, BuiltinOptions.AddOptions, tb.AddOptions,
                               [("AddFusedActivationFunction", _ACT[act])],
                               [a.index, b.index], yi), None, a.shape)

    def global_average_pool(self, name, x):
        """AVERAGE_POOL_2D over the whole map (VALID), then RESHAPE to (batch, channels)."""
        n, h, w, c = x.shape
        if self.int8:
            p = tb.add_pool2d(self.mb, "average", x.index, (n, 1, 1, c), x.quant, (h, w),
                              stride=(h, w), name=name)
        else:
            p = self._op(BuiltinOperator.AVERAGE_POOL_2D, BuiltinOptions.Pool2DOptions,
                         tb.Pool2DOptions, [("AddPadding", 1), ("AddStrideH", h),
                                            ("AddStrideW", w), ("AddFilterHeight", h),
                                            ("AddFilterWidth", w),
                                            ("AddFusedActivationFunction", 0)],
                         [x.index], self.mb.tensor(f"{name}/output", (n, 1, 1, c), _F32))
        flat = self.mb.tensor("flat", (n, c), np.int8 if self.int8 else _F32, x.quant)
        shape = self.mb.tensor(f"shape{len(self.mb._tensors)}", (2,), np.int32,
                               data=np.array((n, c), np.int32))
        self.mb.operator(BuiltinOperator.RESHAPE, [p, shape], [flat], 0, None)
        return _Value(flat, x.quant, (n, c))

    def softmax(self, name, x):
        if self.int8:
            return _Value(tb.add_softmax(self.mb, x.index, x.shape, name=name), None, x.shape)
        return _Value(self._op(BuiltinOperator.SOFTMAX, BuiltinOptions.SoftmaxOptions,
                               tb.SoftmaxOptions, [("AddBeta", 1.0)], [x.index],
                               self.mb.tensor(f"{name}/output", x.shape, _F32)),
                      None, x.shape)

    def build(self, out):
        return self.mb.build([self.input.index], [out.index])


def mobilenet_v1(rng, *, precision="int8", size=96, alpha=0.25, classes=2, batch=1):
    """MobileNetV1 (MLPerf Tiny visual wake words shape, module docstring): ``size`` x ``size``
    x 3 input, width multiplier ``alpha``; ``precision`` ``"int8"`` (full-integer TFLite) or
    ``"float"`` (float32 TFLite). Returns the ``.tflite`` bytes."""
    net = _Net(rng, precision, (batch, size, size, 3))
    ch = lambda c: max(1, int(c * alpha))                                  # noqa: E731
    y = net.conv("conv0", net.input, ch(32), 3, stride=2)
    for i, (cout, stride) in enumerate(MOBILENET_V1_BLOCKS):
        y = net.conv(f"dw{i + 1}", y, None, 3, stride=stride, depthwise=True)
        y = net.conv(f"pw{i + 1}", y, ch(cout), 1)
    y = net.global_average_pool("pool", y)
    return net.build(net.softmax("softmax", net.fc("fc", y, classes)))


def autoencoder(rng, *, precision="int8", inputs=640, units=AUTOENCODER_UNITS, batch=1,
                per_channel=True):
    """The MLPerf Tiny anomaly-detection autoencoder (module docstring): FULLY_CONNECTED
    layers of ``units`` on a (``batch``, ``inputs``) input, ReLU on all but the last;
    ``precision`` ``"int8"`` or ``"float"``; INT8 weights quantized per channel, or per
    tensor (``per_channel=False``, what TFLite's converter writes for FULLY_CONNECTED by
    default). Returns the ``.tflite`` bytes."""
    net = _Net(rng, precision, (batch, inputs))
    y = net.input
    for i, u in enumerate(units):
        y = net.fc(f"fc{i}", y, u, act="RELU" if i + 1 < len(units) else "NONE",
                   per_channel=per_channel)
    return net.build(y)


def float_resnet8(rng, *, size=32, batch=1):
    """Float32 ResNet-8 with the layer list of
    :func:`.compiler_models.tflite_int8_resnet8`."""
    net = _Net(rng, "float", (batch, size, size, 3))
    y = net.conv("stem", net.input, 16, 3)
    cin = 16
    for i, cout in enumerate((16, 32, 64)):
        stride = 1 if i == 0 else 2
        a = net.conv(f"s{i}a", y, cout, 3, stride=stride)
        b = net.conv(f"s{i}b", a, cout, 3, act="NONE")
        sc = y if stride == 1 and cin == cout else net.conv(f"s{i}sc", y, cout, 1,
                                                            stride=stride, act="NONE")
        y, cin = net.add(f"s{i}add", b, sc), cout
    y = net.global_average_pool("pool", y)
    return net.build(net.softmax("softmax", net.fc("fc", y, 10)))


def float_dscnn(rng, *, c=64, blocks=4, batch=1):
    """Float32 DS-CNN with the layer list of :func:`.compiler_models.tflite_int8_dscnn`."""
    net = _Net(rng, "float", (batch, 49, 10, 1))
    y = net.conv("conv0", net.input, c, (10, 4), stride=2)
    for i in range(blocks):
        y = net.conv(f"dw{i}", y, None, 3, depthwise=True)
        y = net.conv(f"pw{i}", y, c, 1)
    y = net.global_average_pool("pool", y)
    return net.build(net.softmax("softmax", net.fc("fc", y, 12)))
