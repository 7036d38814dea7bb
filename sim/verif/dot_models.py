"""Small TFLite INT8 models for the dot-unit target (compiler/dot_target.py: the iCEBreaker),
built at run time like :mod:`.compiler_models`: only operators that target runs (no
DEPTHWISE_CONV_2D), sized for the board's 64 KiB of main memory."""

import numpy as np
from dure.sim.golden_padding import conv_padding
from tflite.BuiltinOperator import BuiltinOperator

from . import tflite_builder as tb
from .compiler_models import _aq, _shape, _wq

__all__ = ["tflite_int8_dot_cnn", "tflite_int8_depthwise"]


def tflite_int8_dot_cnn(rng, *, h=8, w=8, cin=4, c=8, units=10, batch=1):
    """CONV 3x3 SAME (RELU) to ``c`` -> CONV 3x3 stride 2 SAME -> CONV 1x1 (RELU6) -> ADD (with
    the strided convolution's output, RELU) -> AVERAGE_POOL 2x2 stride 2 -> MAX_POOL 1x1 ->
    RESHAPE -> FULLY_CONNECTED ``units`` -> SOFTMAX; int8, per-channel weights. The first
    convolution's depth is ``9 * cin`` (a multiple of 4 streams on the unit; ``cin=3`` gives
    27, which the core computes alone)."""
    mb = tb.ModelBuilder()
    xq = _aq(rng)
    x = mb.tensor("input", (batch, h, w, cin), np.int8, xq)
    q1 = _aq(rng)
    w1 = rng.integers(-127, 128, (c, 3, 3, cin)).astype(np.int8)
    y1 = tb.add_conv2d(mb, x, xq, w1, rng.integers(-2000, 2000, c).astype(np.int32),
                       _wq(rng, c), q1, (batch, h, w, c), padding="SAME", activation="RELU",
                       name="conv1")
    oh, _, _ = conv_padding(h, 3, 2, "SAME")
    ow, _, _ = conv_padding(w, 3, 2, "SAME")
    q2 = _aq(rng)
    w2 = rng.integers(-127, 128, (c, 3, 3, c)).astype(np.int8)
    y2 = tb.add_conv2d(mb, y1, q1, w2, rng.integers(-2000, 2000, c).astype(np.int32),
                       _wq(rng, c), q2, (batch, oh, ow, c), stride=2, padding="SAME",
                       name="conv2")
    q3 = _aq(rng)
    w3 = rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)
    y3 = tb.add_conv2d(mb, y2, q2, w3, rng.integers(-500, 500, c).astype(np.int32),
                       _wq(rng, c), q3, (batch, oh, ow, c),
                       padding="VALID", activation="RELU6", name="pw")
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
    y8 = tb.add_fully_connected(mb, y7, q4, w8, rng.integers(-2000, 2000, units).astype(
        np.int32), _wq(rng, units), q8, batch, name="fc")
    y9 = tb.add_softmax(mb, y8, (batch, units), name="softmax")
    return mb.build([x], [y9])


def tflite_int8_depthwise(rng, *, h=6, w=5, c=4, k=3, stride=1, padding="SAME", dilation=1,
                          activation="NONE"):
    """One DEPTHWISE_CONV_2D (depth multiplier 1) of a k x k window over (1, h, w, c), int8,
    per-channel weights."""
    mb = tb.ModelBuilder()
    xq = tb.Quant(np.float32(0.05), int(rng.integers(-20, 20)))
    yq = tb.Quant(np.float32(rng.uniform(0.05, 0.2)), int(rng.integers(-20, 20)))
    x = mb.tensor("input", (1, h, w, c), np.int8, xq)
    oh = conv_padding(h, k, stride, padding, dilation)[0]
    ow = conv_padding(w, k, stride, padding, dilation)[0]
    wt = rng.integers(-127, 128, (1, k, k, c)).astype(np.int8)
    y = tb.add_depthwise_conv2d(
        mb, x, xq, wt, rng.integers(-3000, 3000, c).astype(np.int32),
        tb.Quant(rng.uniform(0.005, 0.02, c).astype(np.float32), 0, 3), yq, (1, oh, ow, c),
        stride=stride, padding=padding, dilation=dilation, activation=activation)
    return mb.build([x], [y])
