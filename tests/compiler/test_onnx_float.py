"""QDQ nodes onnxruntime runs unfused on x86-64 (:mod:`dure.compiler.onnx_float`): which
nodes they are (the same set as in onnxruntime's optimized graph), MLAS's float32 convolution
bit for bit, and whole QDQ graphs bit-exact with onnxruntime where the fused (integer)
arithmetic is not: outputs put on rounding ties (``y_scale = 2 * x_scale * w_scale``) are
decided by the float32 errors alone."""

import copy
import tempfile

import numpy as np
import pytest
from dure.compiler import onnx_float, reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import onnx_models as om
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

ort = pytest.importorskip("onnxruntime")


def _float_conv(rng, threads=None, **kw):
    x = rng.standard_normal((1, kw["cin"], kw["size"], kw["size"])).astype(np.float32)
    w = rng.standard_normal((kw["cout"], kw["cin"] // kw.get("group", 1), kw["k"], kw["k"])
                            ).astype(np.float32)
    want = run_onnx(om.onnx_float_conv(**kw), x, w)[0]
    p = kw.get("pad", 0)
    got = onnx_float.conv_nhwc(x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1), None,
                               (kw.get("stride", 1),) * 2, (1, 1), (p,) * 4,
                               kw.get("group", 1), threads=threads).transpose(0, 3, 1, 2)
    return got, want


_SHAPES = [
    dict(cin=5, cout=7, k=3, size=6, pad=1),                  # K = 45: one FMA chain
    dict(cin=102, cout=20, k=3, size=5, pad=1),               # N segments of 16 and 9
    dict(cin=102, cout=30, k=3, size=5, pad=1),               # F > N: the whole image
    dict(cin=102, cout=36, k=3, size=6, pad=1),               # segments 32 + 4
    dict(cin=200, cout=16, k=3, size=8, stride=2, pad=1),
    dict(cin=291, cout=10, k=1, size=7),                      # pointwise: MlasGemm's split
    dict(cin=291, cout=49, k=1, size=7),                      # pointwise, F = N: rows split
    dict(cin=200, cout=8, k=1, size=16),                      # N >= K
    dict(cin=300, cout=1, k=3, size=6, pad=1),                # M = 1 kernel, one chain
    dict(cin=8, cout=8, k=3, size=6, pad=1, group=8),         # depthwise: M = 1 per group
    dict(cin=16, cout=32, k=3, size=6, pad=1, group=8),       # grouped, 4 filters per group
    dict(cin=44, cout=4, k=1, size=5, group=4),
]


@pytest.mark.parametrize("kw", _SHAPES, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
def test_float_conv_bit_exact_with_onnxruntime(kw):
    """MLAS's float32 Conv, every output bit equal (not only after quantization)."""
    got, want = _float_conv(np.random.default_rng(1), **kw)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), \
        f"{int((got != want).sum())} of {want.size} differ"


@pytest.mark.skipif(onnx_float.ORT_THREADS < 2, reason="one intra-op thread here")
def test_thread_segments_decide_the_chains():
    """The segment of output pixels a thread takes sets the chain restarts: modelled with
    one thread the same convolution differs from onnxruntime (the test above can fail)."""
    got, want = _float_conv(np.random.default_rng(1), threads=1, **_SHAPES[1])
    assert not np.array_equal(got, want)


_QDQ = [
    dict(cin=16, cout=8, k=3, size=10, pad=1),
    dict(cin=48, cout=12, k=3, size=9, pad=1, relu=True),
    dict(cin=24, cout=24, k=3, size=10, pad=1, stride=2, group=24),
    dict(cin=32, cout=16, k=3, size=8, group=4),
    dict(cin=40, cout=10, k=1, size=9),
    dict(cin=160, cout=6, k=3, size=7, pad=1),                # K = 1440: restarted chains
]


@pytest.mark.parametrize("kw", _QDQ, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
def test_unfused_qdq_conv_on_rounding_ties(kw):
    """An int8 QDQ Conv whose output is a graph output (int8 in onnxruntime: unfused, float32)
    with every odd exact sum on a tie: the reference and the compiled program (the layer on
    the core) equal onnxruntime, the fused integer arithmetic does not."""
    rng = np.random.default_rng(len(kw) * 100 + kw["cin"])
    model = om.onnx_qdq_conv(rng, **kw, per_channel=False, x_scale=0.1, w_scale=0.01,
                             w_max=3, y_scale=float(np.float32(np.float32(0.1) *
                                                               np.float32(0.01)) * 2))
    graph = parse_onnx(model)
    conv = [op for op in graph.ops if op.name == "conv"]
    assert conv and conv[0].attrs.get("ort_float")
    fused = copy.deepcopy(graph)
    for op in fused.ops:
        op.attrs.pop("ort_float", None)
    prog = compile_graph(graph, preset("sim"), float_fast=False)
    assert [la.where for la in prog.layers if la.op.name == "conv"] == ["core"]
    x = (rng.standard_normal((1, kw["cin"], kw["size"], kw["size"])) * 0.5).astype(np.float32)
    want = run_onnx(model, x)[0]
    assert np.array_equal(reference.run(graph, [x])[0], want)
    assert np.array_equal(run_program(prog, [x])[0][0], want)
    fast = compile_graph(graph, preset("sim"))      # NPU sums where the fast path applies
    assert [la.where for la in fast.layers if la.op.name == "conv"] == \
        (["core"] if kw.get("group", 1) > 1 else ["npu", "core"])
    assert np.array_equal(run_program(fast, [x])[0][0], want)
    assert not np.array_equal(reference.run(fused, [x])[0], want)
    arm = parse_onnx(model, ort_unfused=False)      # the fused kernels' arithmetic instead
    assert not any(op.attrs.get("ort_float") for op in arm.ops)
    assert np.array_equal(reference.run(arm, [x])[0], reference.run(fused, [x])[0])


def test_unfused_qdq_add_every_pair():
    """``DQ, DQ -> Add -> Q`` with an int8 graph output: its inputs become uint8 in
    onnxruntime and the output stays int8, so the Add runs in float32. All 65,536 operand
    pairs equal onnxruntime, in the reference and in the compiled program (the ADD on the
    NPU's element-wise unit where its parameters prove exact, else the core's table)."""
    scales, zps = (0.031, 0.047, 0.066), (5, -12, 3)
    model = om.onnx_quantized_add(scales, zps, dtype=np.int8, form="qdq")
    graph = parse_onnx(model)
    assert [op.attrs.get("ort_float") for op in graph.ops if op.name == "add"] == [True]
    x = om.every_int8_pair(scales, zps)
    want = run_onnx(model, *x)[0]
    assert np.array_equal(reference.run(graph, list(x))[0], want)
    assert np.array_equal(run_program(compile_graph(graph, preset("sim")), list(x))[0][0],
                          want)


def test_converted_qdq_add_rounds_on_uint8_raw_values():
    """``DQ, DQ -> Add -> Q -> DQ`` with int8 tensors: onnxruntime on x86-64 turns all three
    into uint8 and runs the fused QLinearAdd on the uint8 raw values, whose float rounding
    differs from the int8 ones on some pairs: every pair equal to onnxruntime, and the same
    model computed on int8 raw values is not (the test can fail)."""
    scales, zps = (0.031, 0.047, 0.066), (5, -12, 3)
    model = om.onnx_quantized_add(scales, zps, dtype=np.int8, form="qdq",
                                  dequantize_output=True)
    graph = parse_onnx(model)
    add = [op for op in graph.ops if op.name == "add"][0]
    assert add.attrs["uint8"] and not add.attrs.get("ort_float")
    x = om.every_int8_pair(scales, zps)
    want = run_onnx(model, *x)[0]
    assert np.array_equal(reference.run(graph, list(x))[0], want)
    assert np.array_equal(run_program(compile_graph(graph, preset("sim")), list(x))[0][0],
                          want)
    add.attrs["uint8"] = False
    assert not np.array_equal(reference.run(graph, list(x))[0], want)


def _ort_float_nodes(model):
    """Names of the Conv / Add / Gemm / MatMul nodes left float in onnxruntime's optimized
    graph (default session options)."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.optimized_model_filepath = f"{tmp}/opt.onnx"
        so.log_severity_level = 3
        ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        m = onnx.load(f"{tmp}/opt.onnx")
    return sorted(n.name for n in m.graph.node
                  if n.domain == "" and n.op_type in ("Conv", "Add", "Gemm", "MatMul"))


@pytest.mark.parametrize("name,model_kw,per_channel", [
    ("resnet8", {}, False), ("resnet8", {}, True),
    ("resnet8", {"nhwc_input": True, "flatten": "nhwc-reshape"}, False),
    ("autoencoder", {"matmul": True}, False)],
    ids=["resnet8-pt", "resnet8-pc", "resnet8-tf2onnx", "autoencoder-matmul-add"])
def test_int8_models_unfused_nodes_are_onnxruntimes(name, model_kw, per_channel):
    """``quantize_static``'s default (int8 activations) models: the nodes the front end marks
    float are exactly those onnxruntime's optimized graph keeps float (ResNet-8: the Convs and
    Adds next to a residual branch's shared tensor; the MatMul + Add autoencoder: its Adds of
    an int8 constant bias and a uint8 activation); reference and program bit-exact."""
    rng = np.random.default_rng(3)
    model = om.quantized_model(rng, name, model_kw=model_kw, per_channel=per_channel)
    graph = parse_onnx(model)
    mine = sorted(op.name for op in graph.ops if op.attrs.get("ort_float"))
    assert mine and mine == _ort_float_nodes(model)
    prog = compile_graph(graph, preset("sim"))
    for i in range(2):
        x = (rng.standard_normal(om.input_shape(model)) * 1.5).astype(np.float32)
        want = run_onnx(model, x)[0]
        assert np.array_equal(reference.run(graph, [x])[0], want)
        if i == 0:
            assert np.array_equal(run_program(prog, [x])[0][0], want)


@pytest.mark.parametrize("op", ["Gemm", "Softmax", "AveragePool"])
def test_unmodelled_unfused_nodes_are_named(op):
    """An unfused float node the compiler does not model: one message naming it."""
    model = om.onnx_qdq_shared_input(np.random.default_rng(0), op)
    assert "op" in _ort_float_nodes(model) or op != "Gemm"
    with pytest.raises(UnsupportedModel, match=rf"node \d+ 'op' \({op}\): onnxruntime on "
                                               r"x86-64 runs this"):
        parse_onnx(model)


def test_single_pixel_unfused_conv_is_named():
    """A float Conv with one output pixel takes MLAS's one-column kernel: refused by name."""
    model = om.onnx_qdq_conv(np.random.default_rng(0), cin=8, cout=4, k=3, size=3)
    with pytest.raises(UnsupportedModel, match=r"'conv' \(Conv\): .*one output pixel"):
        parse_onnx(model)
