"""Whole operators on the NPU through the operator planners (compiler/npu_ops.py): which layers
go there, what stays on the older paths, and bit-exactness of the programs on the golden NPU
command model (against LiteRT for the MLPerf Tiny shaped models, against the compiler's
reference for the float models)."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.report import format_report
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import tflite_builder as tb

from dure.config import preset

WALKED = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D")


def npu_share(program):
    npu = sum(la.macs for la in program.layers if la.where == "npu")
    return npu, sum(la.macs for la in program.layers)


def in_shape(graph):
    name = graph.inputs[0]
    return graph.io_layout.get(name, graph.tensors[name].shape)


def same_bits(got, want):
    return got.shape == want.shape and np.array_equal(got.view(np.uint8), want.view(np.uint8))


MLPERF = {
    # builder, seed, input shape, (NPU MACs, total MACs) before (planners=False)
    "resnet8": (cm.tflite_int8_resnet8, 8, (1, 32, 32, 3), (12_501_632, 12_501_632)),
    "dscnn": (cm.tflite_int8_dscnn, 9, (1, 49, 10, 1), (1_344_768, 1_488_768)),
}


#: Layers the walk planner refuses on the 4x4 NPU (512 SPAD rows): one output row's tile of
#: the 3x3 64-channel convolution (480 rows) plus its weights, and the global pools over 64
#: channels (8x8 and 25x5 pixels) do not fit; they keep the im2col GEMM / the core.
FALLBACK = {("resnet8", "npu-small"): {"s2b/output": "im2col"}}   # pools: reduce MACs


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("name", list(MLPERF))
def test_mlperf_shapes_walk_on_npu_bit_exact_with_litert(name, variant):
    """Every convolution, depthwise convolution and average pooling of the ResNet-8 / DS-CNN
    shaped models runs on the NPU through the walk (on the 8x8 ``sim``; on the 4x4 NPU except
    :data:`FALLBACK`), all MACs on the NPU, and the program equals LiteRT's reference kernels
    bit for bit (the older lowering too)."""
    from dure.sim.verif.litert_ref import run_reference

    builder, seed, shape, before = MLPERF[name]
    rng = np.random.default_rng(seed)
    model = builder(rng)
    graph = parse_tflite(model)
    config = preset(variant)
    program = compile_graph(graph, config, pointwise="walk")   # the 4x4's default: GEMMs
    old = compile_graph(graph, config, planners=False)
    assert npu_share(old) == before
    total = before[1]
    assert npu_share(program) == (total, total)
    fallback = FALLBACK.get((name, variant), {})
    placed = {}
    for la in program.layers:
        if la.op.kind.value in WALKED:
            placed.setdefault(la.op.outputs[0], la)
    for out, la in placed.items():
        if out in fallback:
            assert la.kind == fallback[out] or la.where == fallback[out], out
        else:                       # 1x1 stride-1 convolutions too (walked, not GEMMs)
            assert la.kind == "npu_op", out
    for la in program.layers:
        if la.where == "core" and la.op.outputs[0] not in fallback:
            assert la.op.kind.value in ("RESHAPE", "SOFTMAX"), la.op.kind
        if la.op.kind.value == "ADD":         # residual ADDs: the element-wise unit
            assert la.kind == "npu_op", la.op.name
    x = rng.integers(-128, 128, shape).astype(np.int8)
    want = run_reference(model, x)[0]
    got, run = run_program(program, [x])
    assert same_bits(got[0], want)
    got_old, _ = run_program(old, [x])
    assert same_bits(got_old[0], want)
    for la, done in zip(program.layers, run.layer_macs, strict=True):
        assert done == la.array_macs, la.op.name
        notes = (la.params or {}).get("notes", [])
        packed = any("taps packed" in n for n in notes)
        if any("ELTWISE MAC" in n for n in notes):   # the element-wise unit's PERF_MACS
            assert la.op.kind.value in ("DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D")
            assert done == la.macs or la.op.kind.value == "AVERAGE_POOL_2D", la.op.name
            assert done > 0
        elif la.macs and not packed:
            assert done == la.macs, la.op.name
        elif packed:        # plus the products of the gather COMPUTEs (dure.sim.conv_pack)
            assert done > la.macs, la.op.name
    assert "(walk)" in format_report(program)


FLOAT_MODELS = [
    ("tflite_float_cnn", lambda rng: parse_tflite(cm.tflite_float_cnn(rng, h=9, w=7, c=11))),
    ("onnx_float_resnet_avg", lambda rng: parse_onnx(cm.onnx_float_resnet(rng, pool="avg"))),
    ("onnx_float_resnet_b2", lambda rng: parse_onnx(cm.onnx_float_resnet(rng, batch=2))),
]


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("name,build", FLOAT_MODELS, ids=[m[0] for m in FLOAT_MODELS])
def test_fp16_models_walk_on_npu_bit_exact(name, build, variant):
    """FP16: convolutions with SAME / VALID padding, average pooling and ADD of two
    activations run on the NPU; the program equals the reference (the golden FP16 TFLite
    operators) bit for bit, -0.0 and all."""
    rng = np.random.default_rng(len(name))
    graph = build(rng)
    program = compile_graph(graph, preset(variant))
    kinds = {la.op.kind.value for la in program.layers if la.kind == "npu_op"}
    assert {"CONV_2D", "ADD", "AVERAGE_POOL_2D"} <= kinds
    for la in program.layers:
        if la.op.kind.value in ("ADD", "AVERAGE_POOL_2D") or (
                la.op.kind.value == "CONV_2D" and isinstance(la.op.attrs["padding"], str)):
            assert la.where == "npu", la.op.name
    for _ in range(2):
        x = (rng.standard_normal(in_shape(graph)) * 2).astype(np.float32)
        x.flat[0] = -0.0
        got, _ = run_program(program, [x])
        assert same_bits(got[0], reference.run(graph, [x])[0])


@pytest.mark.parametrize("act", [np.uint8, np.int8], ids=["u8", "i8"])
@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_onnx_int8_convolutions_walk_on_npu(variant, act):
    """ONNX INT8 convolutions (QLinearConv, float-scale requantization by the FLOAT_SCALE
    STORE) and depthwise convolutions (group = channels, explicit pads 1 with stride 2) run
    on the walk planner; the MaxPool on the element-wise unit; the program equals the
    reference bit for bit, uint8 activations included (int8 inside, zero points shifted)."""
    rng = np.random.default_rng(3)
    graph = parse_onnx(cm.onnx_qoperator_cnn(rng, act=act))
    program = compile_graph(graph, preset(variant))
    assert [la.op.kind.value for la in program.layers if la.kind == "npu_op"] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"]
    assert not any(la.kind == "im2col" for la in program.layers)
    for _ in range(2):
        x = (rng.standard_normal(in_shape(graph)) * 2).astype(np.float32)
        got, _ = run_program(program, [x])
        assert same_bits(got[0], reference.run(graph, [x])[0])


def test_onnx_int8_without_planners_keeps_the_older_paths():
    """``planners=False``: the ONNX convolution takes im2col + GEMM, the depthwise the core."""
    rng = np.random.default_rng(3)
    graph = parse_onnx(cm.onnx_qoperator_cnn(rng))
    program = compile_graph(graph, preset("sim"), planners=False)
    assert [la.kind for la in program.layers if la.op.kind.value == "CONV_2D"] == [
        "im2col", "gemm"]
    assert [la.where for la in program.layers
            if la.op.kind.value == "DEPTHWISE_CONV_2D"] == ["core"]
    x = rng.standard_normal(in_shape(graph)).astype(np.float32)
    got, _ = run_program(program, [x])
    assert same_bits(got[0], reference.run(graph, [x])[0])


def _dilated_int8(rng):
    """CONV 3x3 dilation 2 SAME, then DEPTHWISE 3x3 with depth multiplier 2: what the walk
    planner refuses."""
    mb = tb.ModelBuilder()
    xq = tb.Quant(np.float32(0.05), 3)
    x = mb.tensor("input", (1, 9, 9, 4), np.int8, xq)
    q1 = tb.Quant(np.float32(0.08), -5)
    y = tb.add_conv2d(mb, x, xq, rng.integers(-127, 128, (6, 3, 3, 4)).astype(np.int8),
                      rng.integers(-500, 500, 6).astype(np.int32),
                      tb.Quant(rng.uniform(0.002, 0.02, 6).astype(np.float32)), q1,
                      (1, 9, 9, 6), dilation=2, name="dilated")
    q2 = tb.Quant(np.float32(0.06), 2)
    z = tb.add_depthwise_conv2d(mb, y, q1, rng.integers(-127, 128, (1, 3, 3, 12)).astype(
        np.int8), rng.integers(-500, 500, 12).astype(np.int32),
        tb.Quant(rng.uniform(0.002, 0.02, 12).astype(np.float32), 0, 3), q2, (1, 9, 9, 12),
        depth_multiplier=2, name="dm2")
    return mb.build([x], [z])


def test_refused_layers_fall_back():
    from dure.sim.verif.litert_ref import run_reference

    rng = np.random.default_rng(4)
    model = _dilated_int8(rng)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset("sim"))
    assert [(la.kind, la.where) for la in program.layers] == [
        ("im2col", "core"), ("gemm", "npu"), ("DEPTHWISE_CONV_2D", "core")]
    x = rng.integers(-128, 128, (1, 9, 9, 4)).astype(np.int8)
    got, _ = run_program(program, [x])
    assert same_bits(got[0], run_reference(model, x)[0])


def test_layer_table_of_walked_layers(tmp_path):
    """The saved program: walked layers are ``npu_op`` rows with their commands (ending in a
    FENCE) and their parameter bytes in the weights."""
    import json

    graph = parse_tflite(cm.tflite_int8_dscnn(np.random.default_rng(1), blocks=1))
    program = compile_graph(graph, preset("sim"))
    program.save(tmp_path)
    meta = json.loads((tmp_path / "program.json").read_text())
    rows = [r for r in meta["layers"] if r["kind"] == "npu_op"]
    assert [r["params"]["planner"] for r in rows] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D"]      # pointwise walked
    words = np.frombuffer((tmp_path / "commands.bin").read_bytes(), "<u4").reshape(-1, 8)
    for r in rows:
        assert r["commands"] > 1 and r["where"] == "npu"
        assert words[r["first_command"] + r["commands"] - 1][0] & 0xF == 4   # FENCE
        addr = meta["weights"][r["params"]["params"]]
        assert meta["weights_base"] <= addr < meta["weights_base"] + meta["weights_bytes"]


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_int8_add_and_max_pool_on_the_eltwise_unit_bit_exact_with_litert(variant):
    """TFLite INT8 ADD (with a fused ReLU) and MAX_POOL_2D run as ELTWISE layers and equal
    LiteRT's reference kernels; without the element-wise unit they stay on the core."""
    import dataclasses

    from dure.sim.verif.litert_ref import run_reference

    rng = np.random.default_rng(21)
    model = cm.tflite_int8_cnn(rng, h=9, w=7, c=11, batch=2)
    graph = parse_tflite(model)
    config = preset(variant)
    program = compile_graph(graph, config)
    where = {la.op.kind.value: (la.kind, la.where) for la in program.layers
             if la.op.kind.value in ("ADD", "MAX_POOL_2D")}
    assert where == {"ADD": ("npu_op", "npu"), "MAX_POOL_2D": ("npu_op", "npu")}
    without = compile_graph(graph, dataclasses.replace(config, npu_eltwise=False,
                                                        npu_eltwise_handover=False))
    assert {la.where for la in without.layers
            if la.op.kind.value in ("ADD", "MAX_POOL_2D")} == {"core"}
    for _ in range(2):
        x = rng.integers(-128, 128, (2, 9, 7, 3)).astype(np.int8)
        x.flat[:5] = -128
        want = run_reference(model, x)[0]
        got, _ = run_program(program, [x])
        assert same_bits(got[0], want)
        got, _ = run_program(without, [x])
        assert same_bits(got[0], want)


def test_pointwise_lowering_per_array_size():
    """1x1 convolutions: walked on the 8x8 ``sim`` NPU, direct GEMMs on the 4x4 ``npu-small``
    (measured faster there), either on request; both bit-exact with LiteRT."""
    from dure.compiler.lower import pointwise_choice
    from dure.sim.verif.litert_ref import run_reference

    assert pointwise_choice(preset("sim")) == "walk"
    assert pointwise_choice(preset("npu-small")) == "gemm"
    rng = np.random.default_rng(5)
    model = cm.tflite_int8_dscnn(rng, c=16, blocks=1)
    graph = parse_tflite(model)
    x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    want = run_reference(model, x)[0]
    for variant, default in (("sim", "npu_op"), ("npu-small", "gemm")):
        for how in (None, "walk", "gemm"):
            program = compile_graph(graph, preset(variant), pointwise=how)
            kinds = {la.kind for la in program.layers if la.op.name.startswith("pw")}
            assert kinds == {default if how is None else
                             "npu_op" if how == "walk" else "gemm"}, (variant, how)
            got, _ = run_program(program, [x])
            assert same_bits(got[0], want)
    with pytest.raises(ValueError, match="pointwise must be"):
        compile_graph(graph, preset("sim"), pointwise="im2col")
