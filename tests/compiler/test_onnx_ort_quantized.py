"""Float ONNX models with the MLPerf Tiny layer shapes (:mod:`dure.sim.verif.onnx_models`),
quantized by onnxruntime's own ``quantize_static`` in every format / per-channel / activation
type / reduce_range combination and with its default options, compile and equal onnxruntime
(default session options) bit for bit; the float models run in FP16 bit-exact with the golden.
Every program runs on the NPU command model too, its convolutions and depthwise convolutions
on the walk planner with the FLOAT_SCALE STORE (also checked). Small spatial sizes here; the
MLPerf-sized models under ``slow``."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.ir import OpKind
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import onnx_models as om
from dure.sim.verif.onnx_ref import run_onnx

from dure.cli import main
from dure.config import preset

pytest.importorskip("onnxruntime.quantization")

_COMBOS = [dict(quant_format=fmt, per_channel=pc, activation_type=act, weight_type="QInt8",
                reduce_range=rr)
           for fmt in ("QDQ", "QOperator") for pc in (False, True)
           for act in ("QUInt8", "QInt8") for rr in (False, True)]


def _id(opts):
    if not opts:
        return "defaults"
    return "-".join([opts["quant_format"], "pc" if opts["per_channel"] else "pt",
                     opts["activation_type"][1:]] + (["rr"] if opts["reduce_range"] else []))


def _check(model, rng, tmp_path, opts, inputs=2, program=True, config="sim"):
    """Quantize ``model`` with ``opts``, compile it, compare with onnxruntime on random inputs
    (wider than the calibration data: saturation is exercised); returns the quantized model's
    op types."""
    import onnx

    q = om.quantize(model, rng, tmp_path, **opts)
    graph = parse_onnx(q)
    assert graph.arithmetic == "onnx"
    prog = compile_graph(graph, preset(config)) if program else None
    shape = om.input_shape(model)
    for i in range(inputs):
        x = (rng.standard_normal(shape) * 1.5).astype(np.float32)
        want = run_onnx(q, x)[0]
        got = reference.run(graph, [x])[0]
        assert got.dtype == want.dtype and np.array_equal(got, want), \
            f"input {i}: {np.abs(got.astype(np.float64) - want).max()}"
        if prog is not None and i == 0:
            out, _ = run_program(prog, [x])
            assert np.array_equal(out[0], want)
    if prog is not None:        # every convolution / depthwise on the walk planner (weights
        convs = [la for la in prog.layers   # with a zero point other than 0 stay on the core,
                 if la.op.kind.value in ("CONV_2D", "DEPTHWISE_CONV_2D") and  # and so do
                 not np.any(graph.tensors[la.op.inputs[1]].quant.zero_point)]  # onnxruntime's
        assert all(la.kind == "npu_op" or (la.op.attrs.get("ort_float") and  # float ones:
                                           la.where == "core") for la in convs), [  # see
            (la.op.name, la.kind) for la in convs if la.kind != "npu_op"]   # test_onnx_float
    return {n.op_type for n in onnx.load_model_from_string(q).graph.node}


@pytest.mark.parametrize("opts", _COMBOS + [{}], ids=_id)
@pytest.mark.parametrize("name", sorted(om.MODELS))
def test_quantize_static_small(tmp_path, name, opts):
    fn, small, _ = om.MODELS[name]
    rng = np.random.default_rng(sorted(om.MODELS).index(name))
    ops = _check(fn(rng, **small), rng, tmp_path, opts)
    if name != "autoencoder":
        assert ops & {"Conv", "QLinearConv"}, ops
    if opts.get("quant_format") == "QOperator":
        assert ops & {"QLinearConv", "QLinearMatMul", "QGemm"}, ops
    else:
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops


@pytest.mark.parametrize("opts", [{}, _COMBOS[8 + 4 + 2]], ids=_id)     # QOperator pc Int8
@pytest.mark.parametrize("variant", [
    ("resnet8", dict(nhwc_input=True, pool="global", flatten="reshape")),
    ("resnet8", dict(nhwc_input=True, flatten="nhwc-reshape")),
    ("dscnn", dict(nhwc_input=True, pool="global", flatten="flatten")),
    ("mobilenet", dict(pool="avg", flatten="flatten")),
    ("mobilenet", dict(pad_form="node")),
    ("dscnn", dict(pad_form="auto")),
    ("autoencoder", dict(matmul=True)),
], ids=lambda v: v[0] + "-" + "-".join(f"{k}={v}" for k, v in v[1].items()))
def test_quantize_static_converter_forms(tmp_path, variant, opts):
    """What converters also write: an NHWC input with a Transpose, Reshape or Flatten (after a
    Transpose back to NHWC), global or windowed pooling, Pad nodes (ZeroPadding2D) and
    auto_pad SAME_UPPER, Dense as MatMul + Add (the bias becomes a quantized constant operand
    of QLinearAdd / a QDQ Add)."""
    name, kw = variant
    fn, small, _ = om.MODELS[name]
    rng = np.random.default_rng(7)
    ops = _check(fn(rng, **{**small, **kw}), rng, tmp_path, opts)
    if kw.get("nhwc_input"):    # tf2onnx's Transposes are renamings (no TRANSPOSE layer)
        graph = parse_onnx(om.quantize(fn(np.random.default_rng(7), **{**small, **kw}), rng,
                                       tmp_path, **opts))
        assert not [op.name for op in graph.ops if op.kind.value == "TRANSPOSE"]
        made = {o: op for op in graph.ops for o in op.outputs}     # and the DQ -> Q pair
        assert not [op.name for op in graph.ops if op.kind.value == "QUANTIZE" and  # left
                    getattr(made.get(op.inputs[0]), "kind", None) is OpKind.DEQUANTIZE]
    if name == "autoencoder":
        assert ("QLinearAdd" in ops) == (opts.get("quant_format") == "QOperator")


_EXTRA = {
    # the activations keep their Relu / Clip nodes, computed by onnxruntime in float32
    "symmetric": dict(extra_options={"ActivationSymmetric": True}),
    "keep-relu-u8": dict(extra_options={"QDQKeepRemovableActivations": True},
                         activation_type="QUInt8"),
    "qop-symmetric": dict(quant_format="QOperator",
                          extra_options={"ActivationSymmetric": True}),
    # float weights through QuantizeLinear -> DequantizeLinear
    "weight-qdq-pc": dict(extra_options={"AddQDQPairToWeight": True}, per_channel=True),
    "u8-weights": dict(weight_type="QUInt8", activation_type="QUInt8"),
    "qop-u8-weights": dict(quant_format="QOperator", weight_type="QUInt8",
                           activation_type="QUInt8"),
}


@pytest.mark.parametrize("extra", sorted(_EXTRA))
@pytest.mark.parametrize("name", sorted(om.MODELS))
def test_quantize_static_extra_options(tmp_path, name, extra):
    if name == "mobilenet" and extra == "qop-symmetric":
        pytest.skip("its GlobalAveragePool stays a float node (see test_float_pooling_named)")
    fn, small, _ = om.MODELS[name]
    rng = np.random.default_rng(12)
    _check(fn(rng, **small), rng, tmp_path, _EXTRA[extra])


def test_float_pooling_named(tmp_path):
    """QOperator with symmetric activations leaves MobileNet's GlobalAveragePool in float
    (onnxruntime's float kernel, whose summation order the compiler does not model): one
    message naming the node before it."""
    rng = np.random.default_rng(12)
    q = om.quantized_model(rng, "mobilenet", **_EXTRA["qop-symmetric"])
    with pytest.raises(UnsupportedModel, match=r"node \d+ '.*' \(Clip\): a float operator"):
        parse_onnx(q)



_FORMS = {"vector": ((4, 37), (37,)), "row": ((4, 37), (1, 37)), "first": ((4, 37), (37,)),
          "channel": ((1, 6, 5, 4), (1, 6, 1, 1)), "scalar": ((1, 6, 5, 4), (1,)),
          "full": ((1, 6, 5, 4), (1, 6, 5, 4))}


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("form", sorted(_FORMS))
def test_qlinear_add_constant_operand(dtype, form):
    """QLinearAdd of an activation and a quantized initializer, broadcast (ONNX rules, NCHW
    for a 4-D activation), either operand order (the kernel's rounding is not symmetric)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    off = 128 if dtype == np.uint8 else 0
    et = TensorProto.INT8 if dtype == np.int8 else TensorProto.UINT8
    xshape, cshape = _FORMS[form]
    c = rng.integers(-128, 128, cshape) + off

    def arr(name, v, dt):
        return numpy_helper.from_array(np.asarray(v, dt), name)

    inits = [arr("xs", 0.05, np.float32), arr("xz", 3 + off, dtype), arr("c", c, dtype),
             arr("cs", 0.021, np.float32), arr("cz", -7 + off, dtype),
             arr("ys", 0.07, np.float32), arr("yz", 1 + off, dtype)]
    ab = ["c", "cs", "cz", "xq", "xs", "xz"] if form == "first" else \
        ["xq", "xs", "xz", "c", "cs", "cz"]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearAdd", ab + ["ys", "yz"], ["y"], domain="com.microsoft",
                              name="add")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     list(xshape))],
                          [helper.make_tensor_value_info("y", et, list(xshape))],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    model = m.SerializeToString()
    graph = parse_onnx(model)
    for _ in range(4):
        x = (rng.standard_normal(xshape) * 4).astype(np.float32)
        assert np.array_equal(reference.run(graph, [x])[0], run_onnx(model, x)[0])


def test_unfolded_batchnorm_in_a_quantized_model_is_named(tmp_path):
    """A BatchNormalization left between quantized Convs (quantize_static keeps it in float;
    ``quant_pre_process`` folds it first) gets one message naming the node."""
    rng = np.random.default_rng(2)
    model = om.onnx_dscnn(rng, h=10, w=6, c=8, blocks=1, batchnorm=True)
    q = om.quantize(model, rng, tmp_path)
    with pytest.raises(UnsupportedModel, match=r"node \d+ '.*bn.*' \(BatchNormalization\)"):
        parse_onnx(q)


@pytest.mark.parametrize("name", sorted(om.MODELS))
def test_float_models_fp16_bit_exact_with_golden(name):
    """The float builders run in FP16: the program on the NPU command model equals the
    compiler's golden (reference) bit for bit."""
    fn, small, _ = om.MODELS[name]
    rng = np.random.default_rng(4)
    model = fn(rng, **small)
    graph = parse_onnx(model)
    assert graph.arithmetic == "float"
    program = compile_graph(graph, preset("sim"), "fp16")
    x = rng.standard_normal(om.input_shape(model)).astype(np.float32)
    want = reference.run(graph, [x])[0]
    got, _ = run_program(program, [x])
    assert want.dtype == np.float32 and np.array_equal(got[0].view(np.uint32),
                                                       want.view(np.uint32))


def test_infer_fp16_check_reports_error_and_top1(tmp_path, capsys):
    rng = np.random.default_rng(6)
    fn, small, _ = om.MODELS["resnet8"]
    path, xp = tmp_path / "m.onnx", tmp_path / "x.npy"
    path.write_bytes(fn(rng, **small))
    np.save(xp, rng.standard_normal(om.input_shape(path.read_bytes())).astype(np.float32))
    assert main(["infer", str(path), "--input", str(xp), "--precision", "fp16",
                 "--check"]) == 0
    text = capsys.readouterr().out
    assert "reference executor: bit-exact" in text
    assert "max abs error" in text and "top-1 agreement" in text


@pytest.mark.slow
@pytest.mark.parametrize("opts", [{}, _COMBOS[5], _COMBOS[8 + 2], _COMBOS[8 + 4 + 1]],
                         ids=_id)
@pytest.mark.parametrize("name", sorted(om.MODELS))
def test_quantize_static_mlperf_sized(tmp_path, name, opts):
    """The MLPerf-sized models (ResNet-8 32x32, DS-CNN 49x10 64 channels 4 blocks, MobileNet
    96x96 alpha 0.25, the 640-128-8 autoencoder) through the IR reference and the program on
    the NPU command model (the convolutions walked, global pooling on the NPU)."""
    fn, _, full = om.MODELS[name]
    rng = np.random.default_rng(9)
    _check(fn(rng, **full), rng, tmp_path, opts, inputs=2)


def test_quantize_static_split_across_tiles():
    """The walked ONNX convolutions split by output channels across NPU tiles
    (:mod:`dure.compiler.tile_split`: each part with its channels' float scales) stay
    bit-exact with onnxruntime."""
    from dure.compiler.tile_split import run_split, split_program

    rng = np.random.default_rng(2)
    q = om.quantized_model(rng, "resnet8", per_channel=True)
    program = compile_graph(parse_onnx(q), preset("sim"))
    x = rng.standard_normal(om.input_shape(q)).astype(np.float32)
    want = run_onnx(q, x)[0]
    split = split_program(program, 2)
    assert "channels" in {la.how for la in split.layers if la}
    got, _ = run_split(split, [x])
    assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("opts", [{}, _COMBOS[8 + 4], _COMBOS[2 + 1],
                                  _EXTRA["u8-weights"]],
                         ids=["defaults", "QOperator-pc-UInt8", "QDQ-pt-Int8-rr", "u8-weights"])
def test_grouped_convolutions(tmp_path, opts):
    """Conv with 1 < group < channels (group 2 and group 4 with two input and four output
    channels per group): one convolution whose weights are the weight zero point outside each
    group's block, so the extra products are exactly 0; bit-exact with onnxruntime, on the
    walk planner (``u8-weights``: weights with a zero point, split onto the NPU by the front
    end); the float model in FP16 bit-exact with the golden."""
    rng = np.random.default_rng(8)
    model = om.onnx_grouped(rng)
    _check(model, rng, tmp_path, opts)
    graph = parse_onnx(model)
    program = compile_graph(graph, preset("npu-small"), "fp16")
    # on the NPU: walked, or a direct GEMM where the 4x4 prefers it (lower.pointwise_choice)
    assert all(la.where == "npu" for la in program.layers if la.op.kind.value == "CONV_2D")
    x = rng.standard_normal(om.input_shape(model)).astype(np.float32)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0].view(np.uint32), reference.run(graph, [x])[0].view(np.uint32))



_SOC = {
    "dscnn": ("dscnn", _COMBOS[8 + 4]),                         # QOperator pc uint8
    "resnet8": ("resnet8", {}),                                 # QDQ defaults, pads 1 stride 2
    "grouped": (None, _COMBOS[4 + 2]),                          # QDQ pc int8
    # ADD on the element-wise unit, weight zero points split, FC on the GEMV plan
    "resnet8-u8-weights": ("resnet8", _EXTRA["u8-weights"]),
    # FLOAT_SCALE GEMV layers (per-channel: lane_scales) and their weight zero point split
    "autoencoder": ("autoencoder", _COMBOS[8 + 4 + 1]),         # QOperator pc int8
    "autoencoder-u8-weights": ("autoencoder", _EXTRA["qop-u8-weights"]),
    "depthwise-multiplier": ("depthwise-multiplier", _COMBOS[2]),     # QDQ pt int8
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(_SOC))
def test_quantize_static_on_the_soc(tmp_path, case):
    """The walked ONNX convolutions / depthwise convolutions, ADDs on the element-wise unit,
    batch-1 FC layers on the GEMV plan and the weight zero point splits on the simulated 8x8
    `sim` SoC (firmware ``npu_model_run``, RTL NPU): output bit-exact with onnxruntime, every
    intermediate tensor still in memory with the reference."""
    from dure.compiler.soc import check_intermediates, run_program_soc

    name, opts = _SOC[case]
    rng = np.random.default_rng(11)
    if name is None:
        model = om.onnx_grouped(rng)
    elif name == "depthwise-multiplier":
        model = om.onnx_depthwise_multiplier(rng)
    else:
        fn, small, _ = om.MODELS[name]
        model = fn(rng, **small)
    q = om.quantize(model, rng, tmp_path, **opts)
    graph = parse_onnx(q)
    program = compile_graph(graph, preset("sim"))
    npu = {la.op.kind.value for la in program.layers if la.where == "npu"}
    assert ({"FULLY_CONNECTED"} if name == "autoencoder" else {"CONV_2D"}) <= npu
    if name == "resnet8":
        assert "ADD" in npu
    x = (rng.standard_normal(om.input_shape(model)) * 1.5).astype(np.float32)
    got, run = run_program_soc(program, [x])
    assert np.array_equal(got[0].view(np.uint8), run_onnx(q, x)[0].view(np.uint8))
    checked, bad = check_intermediates(program, run.image, [x])
    assert checked and not bad, bad


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("opts", [{}, _COMBOS[2], _COMBOS[8 + 4], _COMBOS[8 + 4 + 3]],
                         ids=_id)
def test_batch1_fc_on_the_gemv_plan(tmp_path, variant, opts):
    """Batch-1 Gemm / QGemm / MatMul layers of ONNX INT8 models (units 13 and 21: not
    multiples of the array; K = 37) on the GEMV plan with the FLOAT_SCALE STORE (per-row
    scales with ``lane_scales`` when per-channel, one scale when per-tensor): bit-exact with
    onnxruntime and with the same program on the GEMM path."""
    from dure.rtl.npu.commands import Opcode
    from dure.rtl.npu.descriptor import decode

    rng = np.random.default_rng(30)
    for matmul in (False, True):
        model = om.onnx_autoencoder(rng, n=37, hidden=13, bottleneck=21, layers=1,
                                    matmul=matmul)
        q = om.quantize(model, rng, tmp_path, **opts)
        graph = parse_onnx(q)
        program = compile_graph(graph, preset(variant))
        fcs = [la for la in program.layers if la.op.kind.value == "FULLY_CONNECTED"]
        assert len(fcs) == 4 and all(la.kind == "gemv" for la in fcs), \
            [la.kind for la in fcs]
        stores = [f for la in fcs for op, f in map(decode, la.commands) if op == Opcode.STORE]
        assert {f["lane_scales"] for f in stores} == {int(bool(opts.get("per_channel")))}
        gemm = compile_graph(graph, preset(variant), gemv=False)
        assert all(la.kind == "gemm" for la in gemm.layers
                   if la.op.kind.value == "FULLY_CONNECTED")
        for _ in range(2):
            x = (rng.standard_normal(om.input_shape(q)) * 1.5).astype(np.float32)
            want = run_onnx(q, x)[0]
            got, _ = run_program(program, [x])
            assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8))
            assert np.array_equal(got[0].view(np.uint8),
                                  run_program(gemm, [x])[0][0].view(np.uint8))


@pytest.mark.parametrize("opts", [{}, _COMBOS[8 + 4], _COMBOS[2 + 1], _EXTRA["u8-weights"]],
                         ids=["defaults", "QOperator-pc-UInt8", "QDQ-pt-Int8-rr", "u8-weights"])
def test_depthwise_with_channel_multiplier(tmp_path, opts):
    """Conv with group = input channels and two (then four) outputs per channel: one
    convolution with block weights (zero, or the weight zero point, outside each channel's
    block), bit-exact with onnxruntime, on the NPU when the weights' zero point is 0; the
    float model in FP16 on the NPU, bit-exact with the golden."""
    rng = np.random.default_rng(31)
    model = om.onnx_depthwise_multiplier(rng)
    _check(model, rng, tmp_path, opts)
    graph = parse_onnx(model)
    assert {op.kind.value for op in graph.ops} >= {"CONV_2D"}
    assert "DEPTHWISE_CONV_2D" not in {op.kind.value for op in graph.ops}
    program = compile_graph(graph, preset("sim"), "fp16")
    assert all(la.where == "npu" for la in program.layers if la.op.kind.value == "CONV_2D")
    x = rng.standard_normal(om.input_shape(model)).astype(np.float32)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0].view(np.uint32), reference.run(graph, [x])[0].view(np.uint32))
