"""Argument checks of the TFLite golden operators: wrong dtypes, shapes and parameters raise
TypeError / ValueError with a message, never a wrong answer."""

import numpy as np
import pytest
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_fp16 as g16
from dure.sim import golden_tflite_params as gp

X = np.zeros((1, 4, 4, 2), np.int8)
W = np.zeros((3, 3, 3, 2), np.int8)
Q = dict(input_zero_point=0, output_zero_point=0, multiplier=2 ** 30, shift=0)


def test_conv_argument_checks():
    with pytest.raises(TypeError):
        gt.conv2d_int8(X.astype(np.int16), W, None, **Q)
    with pytest.raises(ValueError, match="channels"):
        gt.conv2d_int8(X, W[..., :1], None, **Q)
    with pytest.raises(ValueError, match="zero_point"):
        gt.conv2d_int8(X, W, None, **{**Q, "input_zero_point": 128})
    with pytest.raises(ValueError, match="shape"):
        gt.conv2d_int8(X, W, None, **{**Q, "multiplier": [1, 2]})
    with pytest.raises(ValueError, match="no output"):
        gt.conv2d_int8(X[:, :2], W, None, padding="VALID", **Q)
    with pytest.raises(ValueError, match="padding"):
        gt.conv2d_int8(X, W, None, padding="FULL", **Q)
    # numpy integers are accepted where ints are
    out = gt.conv2d_int8(X, W, np.zeros(3, np.int32), stride=np.int64(2), **Q)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.int8


def test_other_operator_checks():
    with pytest.raises(ValueError):
        gt.depthwise_conv2d_int8(X, np.zeros((1, 3, 3, 3), np.int8), None, **Q)
    with pytest.raises(ValueError, match="K="):
        gt.fully_connected_int8(np.zeros((1, 4), np.int8), np.zeros((2, 5), np.int8), None,
                                input_zero_point=0, output_zero_point=0, scale=0.5)
    with pytest.raises(ValueError, match="K="):
        gt.fully_connected_int8_fixed(np.zeros((1, 4), np.int8), np.zeros((2, 5), np.int8),
                                      None, **Q)
    with pytest.raises(ValueError, match="scale must"):
        gt.fully_connected_int8(np.zeros((1, 4), np.int8), np.zeros((3, 4), np.int8), None,
                                input_zero_point=0, output_zero_point=0, scale=[0.5, 0.5])
    with pytest.raises(ValueError, match="finite"):
        gt.fully_connected_int8(np.zeros((1, 4), np.int8), np.zeros((2, 4), np.int8), None,
                                input_zero_point=0, output_zero_point=0, scale=float("nan"))
    with pytest.raises(ValueError, match="same shape"):
        gt.add_int8(X, X[:, :2], gp.add_params(1, 1, 1), input1_zero_point=0,
                    input2_zero_point=0, output_zero_point=0)
    with pytest.raises(TypeError):
        gt.add_int8(X, X, None, input1_zero_point=0, input2_zero_point=0, output_zero_point=0)
    with pytest.raises(ValueError, match="clamp"):
        gt.max_pool_int8(X, 2, lo=-129)
    with pytest.raises(TypeError):
        g16.conv2d_fp16(X, W)
    with pytest.raises(ValueError):
        gp.activation_range_int8("TANH", 0.1, 0)
    with pytest.raises(ValueError, match="int32"):
        gp.activation_range_int8("RELU6", 1e-30, 0)
