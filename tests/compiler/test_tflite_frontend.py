"""TFLite front end and the IR reference executor against LiteRT's reference kernels.

Small models are built at test time (dure.sim.verif.compiler_models); INT8 outputs must equal
LiteRT's bit for bit. Float models run in FP16 by contract; their agreement with the float32
runtime is only sanity-checked (a gross bound that a wrong operator would break), the FP16
contract itself is checked bit for bit in test_lower.py. Malformed files and every kind of
unsupported content must raise one UnsupportedModel naming the node.
"""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.ir import OpKind
from dure.compiler.tflite_frontend import load_tflite, parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions


def _input(rng, graph):
    t = graph.tensors[graph.inputs[0]]
    if t.dtype == np.int8:
        return rng.integers(-128, 128, t.shape).astype(np.int8)
    return (rng.standard_normal(t.shape) * 2).astype(np.float32)


INT8_MODELS = [
    ("cnn", cm.tflite_int8_cnn, {}),
    ("cnn_float_edges_batch2", cm.tflite_int8_cnn, {"float_edges": True, "batch": 2}),
    ("cnn_wide", cm.tflite_int8_cnn, {"h": 9, "w": 7, "cin": 5, "c": 12}),
    ("mlp", cm.tflite_int8_mlp, {}),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name,builder,kw", INT8_MODELS, ids=[m[0] for m in INT8_MODELS])
def test_int8_models_bit_exact_with_litert(name, builder, kw, seed):
    rng = np.random.default_rng(seed)
    model = builder(rng, **kw)
    graph = parse_tflite(model)
    assert graph.arithmetic == "tflite"
    for _ in range(3):
        x = _input(rng, graph)
        want = run_reference(model, x)[0]
        got = reference.run(graph, [x])[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), name


def test_int8_cnn_graph_structure():
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0), float_edges=True))
    kinds = [op.kind for op in graph.ops]
    assert kinds == [OpKind.QUANTIZE, OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.CONV_2D,
                     OpKind.ADD, OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D, OpKind.RESHAPE,
                     OpKind.FULLY_CONNECTED, OpKind.SOFTMAX, OpKind.DEQUANTIZE]
    conv = graph.ops[1]
    assert conv.attrs["padding"] == "SAME" and conv.attrs["stride"] == (1, 1)
    assert graph.tensors[conv.inputs[1]].quant.per_channel
    # the RELU6 of the depthwise layer is the clamp of its output quantization
    dw = graph.ops[2]
    q = graph.tensors[dw.outputs[0]].quant
    assert dw.attrs["lo"] == max(-128, q.zp) and dw.attrs["hi"] <= 127


@pytest.mark.parametrize("builder", [cm.tflite_float_cnn, cm.tflite_float_mlp])
def test_float_models_run_in_fp16(builder):
    rng = np.random.default_rng(1)
    model = builder(rng)
    graph = parse_tflite(model)
    assert graph.arithmetic == "float" and graph.precision == "fp16"
    x = _input(rng, graph)
    want = run_reference(model, x)[0]
    got = reference.run(graph, [x])[0]
    assert got.dtype == np.float32 and got.shape == want.shape
    # FP16 against float32: a sanity bound only (the contract is checked bit for bit elsewhere)
    assert np.max(np.abs(got - want)) < 0.05 * max(1.0, float(np.max(np.abs(want))))


def test_load_tflite_reads_a_file(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(cm.tflite_int8_mlp(np.random.default_rng(0)))
    assert [op.kind for op in load_tflite(path).ops] == [OpKind.FULLY_CONNECTED] * 2
    with pytest.raises(UnsupportedModel, match="cannot read"):
        load_tflite(tmp_path / "missing.tflite")


# --- malformed files -----------------------------------------------------------------------

def test_wrong_magic():
    model = bytearray(cm.tflite_int8_mlp(np.random.default_rng(0)))
    model[4:8] = b"ONNX"
    with pytest.raises(UnsupportedModel, match="TFL3"):
        parse_tflite(bytes(model))


def test_empty_and_tiny_files():
    for data in (b"", b"TFL3", b"\x00" * 12):
        with pytest.raises(UnsupportedModel, match="not a TFLite model"):
            parse_tflite(data)


@pytest.mark.parametrize("keep", [0.1, 0.3, 0.5, 0.8, 0.95])
def test_truncated_file(keep):
    model = cm.tflite_int8_cnn(np.random.default_rng(0))
    with pytest.raises(UnsupportedModel):
        parse_tflite(model[:int(len(model) * keep)])


def test_garbage_after_header():
    rng = np.random.default_rng(3)
    for _ in range(20):
        data = b"\x1c\x00\x00\x00TFL3" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
        with pytest.raises(UnsupportedModel):
            parse_tflite(data)


# --- unsupported content: one message naming the node ----------------------------------------

def _q():
    return tb.Quant(0.05, 0)


def test_unsupported_operator_names_the_node():
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (1, 4), np.int8, _q())
    y = mb.tensor("tanh_out", (1, 4), np.int8, _q())
    mb.operator(BuiltinOperator.TANH, [x], [y], 0, None)
    with pytest.raises(UnsupportedModel) as err:
        parse_tflite(mb.build([x], [y]))
    assert str(err.value).startswith("node 0 'tanh_out' (TANH): operator not supported")


def test_unsupported_fused_activation():
    rng = np.random.default_rng(0)
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (2, 8), np.int8, _q())
    w = rng.integers(-127, 128, (4, 8)).astype(np.int8)
    wi = mb.tensor("w", w.shape, np.int8, tb.Quant(0.01), w)
    bi = mb.tensor("b", (4,), np.int32, tb.Quant(0.0005), np.zeros(4, np.int32))
    yi = mb.tensor("fc_out", (2, 4), np.int8, _q())

    def options(b):
        tb.FullyConnectedOptions.Start(b)
        tb.FullyConnectedOptions.AddFusedActivationFunction(b, 4)     # TANH
        return tb.FullyConnectedOptions.End(b)

    mb.operator(BuiltinOperator.FULLY_CONNECTED, [x, wi, bi], [yi],
                BuiltinOptions.FullyConnectedOptions, options)
    with pytest.raises(UnsupportedModel, match=r"node 0 'fc_out' \(FULLY_CONNECTED\): fused "
                                               r"activation 4 is not supported"):
        parse_tflite(mb.build([x], [yi]))


def test_unsupported_dtype():
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (1, 2, 2, 3), np.uint8, tb.Quant(0.05, 128))
    y = tb.add_pool2d(mb, "max", x, (1, 1, 1, 3), tb.Quant(0.05, 128), 2, name="pool")
    with pytest.raises(UnsupportedModel, match=r"node 0 'pool/output' \(MAX_POOL_2D\): tensor "
                                               r"'input' has a data type"):
        parse_tflite(mb.build([x], [y]))


def test_per_tensor_activation_required():
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (1, 4, 4, 2), np.int8, tb.Quant([0.1, 0.2], 0, 3))
    y = tb.add_pool2d(mb, "average", x, (1, 2, 2, 2), tb.Quant([0.1, 0.2], 0, 3), 2, stride=2,
                      name="avg")
    with pytest.raises(UnsupportedModel, match=r"\(AVERAGE_POOL_2D\).*per-channel"):
        parse_tflite(mb.build([x], [y]))


def test_bad_output_shape():
    rng = np.random.default_rng(0)
    x_q, y_q = _q(), tb.Quant(0.1, 3)
    w = rng.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8)
    model = tb.conv2d_model((1, 6, 6, 2), w, np.zeros(4, np.int32), x_q, tb.Quant(0.01), y_q,
                            (1, 5, 5, 4), padding="SAME")
    with pytest.raises(UnsupportedModel, match=r"node 0 'conv/output' \(CONV_2D\): output shape "
                                               r"\(1, 5, 5, 4\) is not \(1, 6, 6, 4\)"):
        parse_tflite(model)


def test_absurd_tensor_size():
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (1, 1 << 16, 1 << 16, 64), np.int8, _q())
    y = tb.add_pool2d(mb, "max", x, (1, 1 << 15, 1 << 15, 64), _q(), 2, stride=2)
    with pytest.raises(UnsupportedModel, match="absurdly large"):
        parse_tflite(mb.build([x], [y]))


def test_constant_data_of_the_wrong_size():
    # a filter whose shape claims more elements than its buffer holds
    mb = tb.ModelBuilder()
    x = mb.tensor("input", (1, 8), np.int8, _q())
    wi = mb.tensor("w", (4, 8), np.int8, tb.Quant(0.01), np.zeros((4, 8), np.int8))
    mb._tensors[wi] = ("w", (4, 9), mb._tensors[wi][2], mb._tensors[wi][3], mb._tensors[wi][4])
    yi = mb.tensor("y", (1, 4), np.int8, _q())
    mb.operator(BuiltinOperator.FULLY_CONNECTED, [x, wi, -1], [yi],
                BuiltinOptions.FullyConnectedOptions, None)
    with pytest.raises(UnsupportedModel, match="32 bytes of data for shape"):
        parse_tflite(mb.build([x], [yi]))


def test_pad_then_valid_conv_bit_exact():
    """PAD (filled with the output zero point) before a VALID stride-2 CONV_2D, as converters
    write explicit padding."""
    rng = np.random.default_rng(4)
    mb = tb.ModelBuilder()
    q = tb.Quant(0.05, 7)
    x = mb.tensor("input", (1, 8, 8, 3), np.int8, q)
    pads = mb.tensor("paddings", (4, 2), np.int32,
                     data=np.array([[0, 0], [0, 1], [1, 0], [0, 0]], np.int32))
    xp = mb.tensor("padded", (1, 9, 9, 3), np.int8, q)
    mb.operator(BuiltinOperator.PAD, [x, pads], [xp], 0, None)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    y = tb.add_conv2d(mb, xp, q, w, rng.integers(-500, 500, 4).astype(np.int32),
                      tb.Quant(rng.uniform(0.005, 0.02, 4)), tb.Quant(0.1, -3), (1, 4, 4, 4),
                      stride=2, padding="VALID")
    model = mb.build([x], [y])
    graph = parse_tflite(model)
    assert [op.kind for op in graph.ops] == [OpKind.PAD, OpKind.CONV_2D]
    for _ in range(3):
        xv = rng.integers(-128, 128, (1, 8, 8, 3)).astype(np.int8)
        assert np.array_equal(reference.run(graph, [xv])[0], run_reference(model, xv)[0])


@pytest.mark.parametrize("builder,shape", [(cm.tflite_int8_resnet8, (1, 32, 32, 3)),
                                           (cm.tflite_int8_dscnn, (1, 49, 10, 1))])
def test_every_tensor_equals_litert(builder, shape):
    """Layer by layer: each tensor the IR computes equals the tensor of the same name LiteRT
    computes (the final softmax of random-weight models saturates, the layers before do not)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rng = np.random.default_rng(2)
    model = builder(rng)
    graph = parse_tflite(model)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    values = reference.run_all(graph, [x])
    interp = Interpreter(model_content=model,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    compared = 0
    for detail in interp.get_tensor_details():
        name = detail["name"]
        if name in values and not graph.tensors[name].const:
            want = interp.get_tensor(detail["index"])
            assert np.array_equal(values[name], want.reshape(values[name].shape)), name
            assert len(np.unique(want)) > 2 or want.size <= 12, name     # not saturated
            compared += 1
    assert compared == len(graph.ops) + 1          # every operator output and the input


@pytest.mark.parametrize("beta", [0.0, -1.0, float("inf")])
def test_float_softmax_beta_must_be_positive(beta):
    """The FP16 SOFTMAX definition takes a positive finite beta; others are refused by name."""
    mb = tb.ModelBuilder()
    x = mb.tensor("logits", (1, 4), np.float32)
    y = mb.tensor("probs", (1, 4), np.float32)

    def options(b):
        tb.SoftmaxOptions.Start(b)
        tb.SoftmaxOptions.AddBeta(b, beta)
        return tb.SoftmaxOptions.End(b)

    mb.operator(BuiltinOperator.SOFTMAX, [x], [y], BuiltinOptions.SoftmaxOptions, options)
    with pytest.raises(UnsupportedModel, match=r"node 0 'probs' \(SOFTMAX\): a float SOFTMAX "
                                               r"needs a positive finite beta"):
        parse_tflite(mb.build([x], [y]))
