"""The shared argument checks of the golden models (:mod:`dure.sim.golden_args`)."""

import re

import numpy as np
import pytest
from dure.sim import conv_requant
from dure.sim import golden_tflite as gt
from dure.sim import golden_tflite_quantize as gq
from dure.sim.golden_args import zero_point_arg


@pytest.mark.parametrize("v", [-128, -1, 0, 127, np.int8(-5), np.int64(100), True])
def test_zero_point_in_range_comes_back_as_int(v):
    got = zero_point_arg("zp", v)
    assert type(got) is int and got == int(v)


@pytest.mark.parametrize("v", [-129, 128, 1000, np.int32(-200)])
def test_zero_point_out_of_range_names_the_argument(v):
    with pytest.raises(ValueError, match=re.escape(f"zp must lie in [-128, 127], not {int(v)}")):
        zero_point_arg("zp", v)


def test_the_golden_models_use_it_with_their_messages():
    """The three users keep their messages: argument names in the operator models and the
    conv STORE fields, "zero point" in QUANTIZE / DEQUANTIZE / requantize."""
    x = np.zeros((1, 4), np.int8)
    with pytest.raises(ValueError, match=r"^output_zero_point must lie in \[-128, 127\], not 128"):
        gt.fully_connected_int8(x, np.zeros((2, 4), np.int8), None, input_zero_point=0,
                                output_zero_point=128, scale=0.5)
    with pytest.raises(ValueError, match=r"^output_zero_point must lie in \[-128, 127\], not -129"):
        conv_requant._int8_store(-129, -128, 127, 0)
    with pytest.raises(ValueError, match=r"^zero point must lie in \[-128, 127\], not 300"):
        gq.quantize_int8(np.zeros(3, np.float32), 0.5, 300)
    with pytest.raises(ValueError, match=r"^zero point must lie in \[-128, 127\], not -300"):
        gq.requantize_int8(x, 0.5, -300, 0.25, 0)
