"""Small TFLite INT8 models for the dot-unit target (compiler/dot_target.py: the iCEBreaker),
built at run time like :mod:`.compiler_models`: only operators that target runs, sized for the
board's 64 KiB of main memory; :data:`WHOLE_MODELS`, the whole models its tests run."""

import numpy as np
from dure.sim.golden_padding import conv_padding

from . import tflite_builder as tb
from .compiler_models import tflite_int8_cnn, tflite_int8_mlp

__all__ = ["tflite_int8_dot_cnn", "tflite_int8_depthwise", "WHOLE_MODELS"]


def tflite_int8_dot_cnn(rng, *, h=8, w=8, cin=4, c=8, units=10, batch=1):
    """CONV 3x3 SAME (RELU) to ``c`` -> CONV 3x3 stride 2 SAME -> CONV 1x1 (RELU6) -> ADD (with
    the strided convolution's output, RELU) -> AVERAGE_POOL 2x2 stride 2 -> MAX_POOL 1x1 ->
    RESHAPE -> FULLY_CONNECTED ``units`` -> SOFTMAX; int8, per-channel weights. The first
    convolution's depth is ``9 * cin`` (a multiple of 4 streams on the unit; ``cin=3`` gives
    27, which the core computes alone). :func:`.compiler_models.tflite_int8_cnn` with a full
    convolution in place of the depthwise one and the RELU6 on the 1x1 convolution."""
    return tflite_int8_cnn(rng, h=h, w=w, cin=cin, c=c, units=units, batch=batch,
                           depthwise=False, pointwise_relu6=True)


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


#: The whole models the dot target is tested with, on the compiler's model of the program
#: (tests/compiler/test_dot_target.py) and on the simulated SoC
#: (tests/firmware/test_dot_model_run.py): name -> (builder, keyword arguments).
WHOLE_MODELS = {
    # K 16 and 8: every layer streams on the unit
    "mlp": (tflite_int8_mlp, dict(batch=2, sizes=(16, 8, 10))),
    # K 18 and 7: not whole words, the core's loop
    "mlp_odd": (tflite_int8_mlp, dict(batch=3, sizes=(18, 7, 5))),
    # convolutions through im2col (K 36, 72) and direct (1x1, K 8), ADD, pools, FC, SOFTMAX
    "cnn": (tflite_int8_dot_cnn, {}),
    # the first convolution's K is 27: on the core; the others on the unit
    "cnn_cin3": (tflite_int8_dot_cnn, dict(cin=3)),
    # DEPTHWISE_CONV_2D 3x3 stride 2 SAME (RELU6) on the unit: the ULX3S tests' CNN
    "cnn_dw": (tflite_int8_cnn, dict(h=6, w=6, cin=2, c=4, units=5)),
    # the same with every convolution streaming (K 36, 8, 32; depthwise rows 12)
    "cnn_dw8": (tflite_int8_cnn, dict(h=8, w=8, cin=4, c=8, units=10)),
}
