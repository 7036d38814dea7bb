"""DEPTHWISE_CONV_2D on the dot-unit target (compiler/dot_depthwise.py): the packed filter rows
and folded bias, and single-layer models over the geometries the gather must take (SAME and
VALID, strides, dilation, a 5x5 window of 28 taps, a 1x1 window, every activation clamp)
through the compiler's model of the layer, bit for bit against LiteRT's reference kernels.
On the simulated SoC: tests/firmware/test_dot_model_run.py."""

import numpy as np
import pytest
from dure.compiler.dot_depthwise import depthwise_params
from dure.compiler.dot_target import compile_dot
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.sim.verif import dot_models as dm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

CONFIG = preset("icebreaker")


#: The geometries (tests/firmware/test_dot_model_run.py runs them on the SoC too).
CASES = {
    "3x3_same": dict(h=6, w=5, c=4, k=3, stride=1, padding="SAME", dilation=1,
                     activation="NONE"),
    "3x3_s2_same_relu6": dict(h=7, w=7, c=3, k=3, stride=2, padding="SAME", dilation=1,
                              activation="RELU6"),
    "3x3_valid_dilated": dict(h=7, w=6, c=5, k=3, stride=1, padding="VALID", dilation=2,
                              activation="RELU"),
    "5x5_same": dict(h=5, w=5, c=2, k=5, stride=1, padding="SAME", dilation=1,
                     activation="NONE"),
    "1x1": dict(h=3, w=3, c=8, k=1, stride=1, padding="VALID", dilation=1, activation="NONE"),
}


#: The ``model_case`` fixture's models: the single layers of the geometries and the CNN with a
#: depthwise layer (tests/compiler/test_dot_target.py's ``cnn_dw``).
MODELS = {**{name: (dm.tflite_int8_depthwise, kw) for name, kw in CASES.items()},
          "cnn_dw": dm.WHOLE_MODELS["cnn_dw"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_equals_litert(name, model_case):
    data, graph, x = model_case(name, seed=sorted(CASES).index(name) + 40)
    program = compile_dot(graph, CONFIG)
    assert [la.kind for la in program.layers] == ["dot_depthwise"]
    got = run_program(program, [x])[0][0]
    want = run_reference(data, x)[0]
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 2                     # not a saturated output


def test_packed_rows_and_folded_bias(model_case):
    _, graph, _ = model_case("cnn_dw")
    op = next(op for op in graph.ops if op.kind.value == "DEPTHWISE_CONV_2D")
    p = depthwise_params(graph, op)
    w = graph.tensors[op.inputs[1]].data                   # (1, 3, 3, C)
    c = w.shape[3]
    assert p["kk4"] == 12 and p["w"].shape == (c, 12) and not p["w"][:, 9:].any()
    np.testing.assert_array_equal(p["w"][:, :9], w.reshape(9, c).T)
    zx = graph.tensors[op.inputs[0]].quant.zp
    bias = graph.tensors[op.inputs[2]].data.astype(np.int64)
    np.testing.assert_array_equal(p["bias"], (bias - zx * w.reshape(9, c).astype(
        np.int64).sum(axis=0)).astype(np.int32))


def test_depth_multiplier_refused_naming_operator_and_target(model_case):
    _, graph, _ = model_case("cnn_dw")
    op = next(op for op in graph.ops if op.kind.value == "DEPTHWISE_CONV_2D")
    op.attrs["depth_multiplier"] = 2
    with pytest.raises(UnsupportedModel) as e:
        compile_dot(graph, CONFIG)
    assert "DEPTHWISE_CONV_2D with a depth multiplier other than 1 is not supported by the " \
        "icebreaker target" in str(e.value)
    assert "'dw/output'" in str(e.value)
