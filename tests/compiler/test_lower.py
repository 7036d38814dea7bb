"""Lowered programs run on the golden NPU command model equal the IR reference bit for bit.

The NPU layers run through their real descriptors, addresses and memory plan; core layers
through the reference operator on the bytes in memory. INT8 (TFLite fixed-point requantization
fused into the STOREs) and FP16 (float models), on the 8x8 ``sim`` and the 4x4 ``npu-small``
variants.
"""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset

MODELS = [
    ("int8_cnn", cm.tflite_int8_cnn, {}),
    ("int8_cnn_edges_b2", cm.tflite_int8_cnn, {"float_edges": True, "batch": 2}),
    ("int8_cnn_odd", cm.tflite_int8_cnn, {"h": 7, "w": 10, "cin": 5, "c": 11}),
    ("int8_mlp", cm.tflite_int8_mlp, {"batch": 9, "sizes": (40, 33, 17, 5)}),
    ("float_cnn", cm.tflite_float_cnn, {}),
    ("float_cnn_odd", cm.tflite_float_cnn, {"h": 7, "w": 10, "cin": 5, "c": 11}),
    ("float_mlp", cm.tflite_float_mlp, {"batch": 9, "sizes": (40, 33, 17, 5)}),
]


def _input(rng, graph):
    t = graph.tensors[graph.inputs[0]]
    if t.dtype == np.int8:
        return rng.integers(-128, 128, t.shape).astype(np.int8)
    x = (rng.standard_normal(t.shape) * 2).astype(np.float32)
    x.flat[0] = -0.0
    return x


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("name,builder,kw", MODELS, ids=[m[0] for m in MODELS])
def test_program_on_npu_model_equals_reference(name, builder, kw, variant):
    rng = np.random.default_rng(hash(name) % 1000)
    graph = parse_tflite(builder(rng, **kw))
    program = compile_graph(graph, preset(variant))
    assert any(layer.where == "npu" for layer in program.layers)
    for _ in range(2):
        x = _input(rng, graph)
        want = reference.run(graph, [x])[0]
        got, run = run_program(program, [x])
        assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8))
        # the model counts the layer's PERF_MACS products (COMPUTEs and element-wise MACs);
        # those equal the operator's MACs except for average pooling and ADD (no MACs of
        # their own; the array or the MAC sums taps / operands; max pooling and INT8 ADD: none)
        for la, done in zip(program.layers, run.layer_macs, strict=True):
            assert done == la.array_macs, (la.kind, la.op.name)
            if la.op.kind.value not in ("AVERAGE_POOL_2D", "ADD", "MAX_POOL_2D"):
                assert la.array_macs == (la.macs if la.where == "npu" else 0)


def test_large_fc_many_tiles_small_acc():
    """Many K / N tiles and several N groups on the 4x4 array: the multiplier / shift rows of
    the TFLite requantization (two per tile) stay apart across groups."""
    rng = np.random.default_rng(5)
    graph = parse_tflite(cm.tflite_int8_mlp(rng, batch=70, sizes=(100, 90)))
    program = compile_graph(graph, preset("npu-small"))
    x = _input(rng, graph)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], reference.run(graph, [x])[0])


def test_which_layers_run_on_the_npu():
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0)))
    program = compile_graph(graph, preset("sim"))
    where = [(la.kind, la.where, la.op.kind.value) for la in program.layers]
    assert where == [("npu_op", "npu", "CONV_2D"), ("npu_op", "npu", "DEPTHWISE_CONV_2D"),
                     ("npu_op", "npu", "CONV_2D"), ("npu_op", "npu", "ADD"),
                     ("npu_op", "npu", "AVERAGE_POOL_2D"), ("npu_op", "npu", "MAX_POOL_2D"),
                     ("alias", "alias", "RESHAPE"), ("gemv", "npu", "FULLY_CONNECTED"),
                     ("SOFTMAX", "core", "SOFTMAX")]
    assert program.layers[2].params["planner"] == "CONV_2D"     # the 1x1 conv, walked
    assert program.layers[7].gemm == (1, 32, 10)         # batch 1: the GEMV plan
    old = compile_graph(graph, preset("sim"), planners=False, gemv=False)
    assert [(la.kind, la.where) for la in old.layers] == [
        ("im2col", "core"), ("gemm", "npu"), ("DEPTHWISE_CONV_2D", "core"), ("gemm", "npu"),
        ("ADD", "core"), ("AVERAGE_POOL_2D", "core"), ("MAX_POOL_2D", "core"),
        ("alias", "alias"), ("gemm", "npu"), ("SOFTMAX", "core")]
    no_im2col = compile_graph(graph, preset("sim"), im2col=False, planners=False)
    assert [la.where for la in no_im2col.layers].count("npu") == 2
    # the FP16 twin: its ADD goes to the NPU too
    fgraph = parse_tflite(cm.tflite_float_cnn(np.random.default_rng(0)))
    fprog = compile_graph(fgraph, preset("sim"))
    assert [la.kind for la in fprog.layers if la.op.kind.value == "ADD"] == ["npu_op"]


def test_memory_is_reused_and_buffers_live_apart():
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0), h=16, w=16))
    program = compile_graph(graph, preset("sim"))
    assert program.arena_size < program.arena_total
    main = preset("sim").region("main")
    assert program.weights_base == main.base
    assert program.arena_base >= main.base + len(program.weights)
    assert all(addr % 16 == 0 for addr in program.tensor_addr.values())


def test_precision_mismatch_and_variants():
    graph = parse_tflite(cm.tflite_int8_mlp(np.random.default_rng(0)))
    with pytest.raises(UnsupportedModel, match="runs in int8, not fp16"):
        compile_graph(graph, preset("sim"), "fp16")
    with pytest.raises(UnsupportedModel, match="has no NPU"):
        compile_graph(graph, preset("cpu"))
    fgraph = parse_tflite(cm.tflite_float_mlp(np.random.default_rng(0)))
    with pytest.raises(UnsupportedModel, match="float model runs in fp16, not int8"):
        compile_graph(fgraph, preset("sim"), "int8")


def test_program_too_large_for_main_memory():
    graph = parse_tflite(cm.tflite_int8_mlp(np.random.default_rng(0), batch=1,
                                            sizes=(2048, 2100)))
    with pytest.raises(UnsupportedModel, match="main memory of variant 'npu-small'"):
        compile_graph(graph, preset("npu-small"))


def test_save_writes_the_program(tmp_path):
    import json

    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0)))
    program = compile_graph(graph, preset("sim"))
    program.save(tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "program.json").read_text())
    words = (tmp_path / "out" / "commands.bin").read_bytes()
    assert meta["format"] == "dure-program-1" and meta["variant"] == "sim"
    assert len(words) == 32 * sum(len(la.commands) for la in program.layers)
    assert (tmp_path / "out" / "weights.bin").read_bytes() == program.weights
    assert [row["where"] for row in meta["layers"]] == [la.where for la in program.layers]
    last = meta["layers"][-2]
    assert last["gemm"] == [1, 32, 10] and last["commands"] > 0


def test_resnet8_shapes_bit_exact_with_litert():
    """MLPerf Tiny ResNet-8's layer shapes (random weights): the program on the NPU command
    model equals LiteRT's reference kernels; every convolution (through the walk planner), the
    three residual ADDs (the element-wise unit), the average pooling and the classifier on the
    NPU."""
    from dure.sim.verif.litert_ref import run_reference

    rng = np.random.default_rng(8)
    model = cm.tflite_int8_resnet8(rng)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset("sim"))
    assert sum(la.where == "npu" for la in program.layers) == 14
    assert sum(la.macs for la in program.layers if la.where == "npu") == 12_501_632
    x = rng.integers(-128, 128, (1, 32, 32, 3)).astype(np.int8)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], run_reference(model, x)[0])


def test_dscnn_shapes_bit_exact_with_litert():
    """DS-CNN's layer shapes (10x4 stride-2 first convolution, depthwise / pointwise blocks,
    25x5 average pooling): bit-exact with LiteRT through the program."""
    from dure.sim.verif.litert_ref import run_reference

    rng = np.random.default_rng(9)
    model = cm.tflite_int8_dscnn(rng)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset("sim"))
    assert program.layers[0].kind == "npu_op"             # the 10x4 convolution, walked
    assert all(la.where == "npu" for la in program.layers if la.op.kind.value in
               ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"))
    for _ in range(2):
        x = rng.integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0], run_reference(model, x)[0])


def _with_view_chain(graph, *, copy_quant=False):
    """``graph`` (tflite_int8_cnn / tflite_float_cnn) with the flatten before the classifier
    replaced by RESHAPE (1, 32, 1) -> TRANSPOSE (0, 2, 1) (moves a size-1 axis only) ->
    RESHAPE (1, 32): three views of the pooled tensor's bytes. ``copy_quant``: the last
    RESHAPE's output gets another zero point (INT8), so it is not a view and stays a copy."""
    from dure.compiler.ir import Op, OpKind, Quant, Tensor

    T = graph.tensors
    i = next(k for k, op in enumerate(graph.ops) if op.kind is OpKind.RESHAPE)
    flat = graph.ops[i]
    x = T[flat.inputs[0]]
    n = int(np.prod(x.shape))
    T["v1"] = Tensor("v1", x.dtype, (1, n, 1), x.quant)
    T["v2"] = Tensor("v2", x.dtype, (1, 1, n), x.quant)
    ops = [Op(OpKind.RESHAPE, [flat.inputs[0]], ["v1"], {"shape": (1, n, 1)}, 90, "v1",
              "RESHAPE"),
           Op(OpKind.TRANSPOSE, ["v1"], ["v2"], {"perm": (0, 2, 1)}, 91, "v2", "TRANSPOSE")]
    flat.inputs[0] = "v2"
    graph.ops[i:i] = ops
    if copy_quant:
        q = T[flat.outputs[0]].quant
        T[flat.outputs[0]].quant = Quant.of(q.scale, q.zero_point + 1)
    graph.validate()
    return graph


def _no_live_buffer_overwritten(program):
    """No layer writes over a tensor written before it and read after it (views of one
    buffer share its bytes: the root must stay alive until its last view is read)."""
    spans = {n: (program.tensor_addr[n], program.tensor_addr[n] + int(np.prod(s)) *
                 np.dtype(dt).itemsize) for n, (dt, s) in program.buffers.items()}
    layers = program.layers
    made = {n: -1 for n in program.graph.inputs}
    for i, layer in enumerate(layers):
        for w in layer.writes:
            made.setdefault(w, i)
    checked = 0
    for i, layer in enumerate(layers):
        if layer.kind == "alias":
            continue
        for w in layer.writes:
            for j in range(i + 1, len(layers)):
                for r in layers[j].reads:
                    if made[r] < i:                 # r is alive across layer i
                        (a, b), (c, d) = spans[w], spans[r]
                        assert b <= c or d <= a, (layer.op.name, w, r)
                        checked += 1
    assert checked


@pytest.mark.parametrize("builder", [cm.tflite_int8_cnn, cm.tflite_float_cnn])
def test_layout_views_alias_their_input(builder):
    """RESHAPE / layout-only TRANSPOSE chains become ``alias`` layers: the outputs take the
    root tensor's address, no command or core layer runs for them, the root stays alive until
    its last view is read, and the program is bit-exact with the reference and with the same
    program compiled with the copies (``alias=False``)."""
    rng = np.random.default_rng(8)
    graph = _with_view_chain(parse_tflite(builder(rng)))
    program = compile_graph(graph, preset("sim"))
    copies = compile_graph(graph, preset("sim"), alias=False)
    views = [la for la in program.layers if la.kind == "alias"]
    assert [la.op.kind.value for la in views] == ["RESHAPE", "TRANSPOSE", "RESHAPE"]
    assert all(la.where == "alias" and not la.commands and la.macs == 0 for la in views)
    root = views[0].reads[0]
    assert {program.tensor_addr[n] for n in [root] + [la.writes[0] for la in views]} == \
        {program.tensor_addr[root]}
    assert [la.kind for la in copies.layers if la.op.kind.value in ("RESHAPE", "TRANSPOSE")] \
        == ["RESHAPE", "TRANSPOSE", "RESHAPE"]
    assert program.arena_total < copies.arena_total
    _no_live_buffer_overwritten(program)
    for _ in range(2):
        x = _input(rng, graph)
        want = reference.run(graph, [x])[0]
        got, run = run_program(program, [x])
        old, _ = run_program(copies, [x])
        assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8))
        assert np.array_equal(old[0].view(np.uint8), want.view(np.uint8))
        assert [m for la, m in zip(program.layers, run.layer_macs, strict=True)
                if la.kind == "alias"] == [0, 0, 0]


def test_reshape_changing_quantization_keeps_its_copy():
    rng = np.random.default_rng(9)
    graph = _with_view_chain(parse_tflite(cm.tflite_int8_cnn(rng)), copy_quant=True)
    program = compile_graph(graph, preset("sim"))
    kinds = [la.kind for la in program.layers if la.op.kind.value in ("RESHAPE", "TRANSPOSE")]
    assert kinds == ["alias", "alias", "RESHAPE"]
    flat = next(la for la in program.layers if la.kind == "RESHAPE")
    assert program.tensor_addr[flat.writes[0]] != program.tensor_addr[flat.reads[0]]
    x = _input(rng, graph)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], reference.run(graph, [x])[0])
