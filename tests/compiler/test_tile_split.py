"""Compiled programs split across NPU tiles (:mod:`dure.compiler.tile_split`) on the NPU command
model: every tensor in memory (outputs and intermediates) bit for bit equal to the one-tile
program's, for INT8 (TFLite) and FP16 models, on 8x8 and 4x4 arrays and K = 2, 3, 4 tiles;
every layer that can be split is split, and each tile's part is needed."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.compiler.tile_split import run_split, share, split_program
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.verif import compiler_models as cm

from dure.config import preset

MODELS = [
    ("int8_cnn", cm.tflite_int8_cnn, {"c": 32}),
    ("int8_cnn_odd_b2", cm.tflite_int8_cnn, {"h": 7, "w": 10, "cin": 5, "c": 27, "batch": 2}),
    ("int8_mlp", cm.tflite_int8_mlp, {"batch": 9, "sizes": (40, 33, 17, 5)}),
    ("float_cnn", cm.tflite_float_cnn, {"c": 20}),
    ("float_mlp", cm.tflite_float_mlp, {"batch": 3, "sizes": (40, 70, 5)}),
    ("int8_dscnn", cm.tflite_int8_dscnn, {"c": 32, "blocks": 1}),
    # batch 1: the FC layers with >= C units run on the GEMV plan, split by output channels
    ("int8_mlp_b1", cm.tflite_int8_mlp, {"batch": 1, "sizes": (40, 33, 17, 5)}),
    ("float_mlp_b1", cm.tflite_float_mlp, {"batch": 1, "sizes": (40, 70, 5)}),
]


def _input(rng, graph):
    t = graph.tensors[graph.inputs[0]]
    if t.dtype == np.int8:
        return rng.integers(-128, 128, t.shape).astype(np.int8)
    return (rng.standard_normal(t.shape) * 2).astype(np.float32)


def _tensors(memory, program):
    """The bytes of every activation buffer (inputs, intermediates, outputs)."""
    out = {}
    for name, (dtype, shape) in program.buffers.items():
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        out[name] = memory.read(program.tensor_addr[name], size)
    return out


def _assert_each_part_needed(split, program, x, ref, layers):
    """For each ``(index, TileLayer)`` in ``layers``: replacing one tile's list by its FENCE
    alone changes that layer's output (``ref``: the tensors of the complete split run)."""
    for i, tiled in layers:
        for drop in range(len(tiled.lists)):
            tiled_lists = tiled.lists
            tiled.lists = tiled_lists[:drop] + [tiled_lists[drop][-1:]] + tiled_lists[drop + 1:]
            try:
                _, bad = run_split(split, [x])
            finally:
                tiled.lists = tiled_lists
            out = program.layers[i].writes[0]
            assert _tensors(bad, program)[out] != ref[out], (i, drop)


def test_share():
    assert [share(10, 4, t) for t in range(4)] == [(0, 3), (3, 3), (6, 2), (8, 2)]
    assert [share(2, 2, t) for t in range(2)] == [(0, 1), (1, 1)]


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("name,builder,kw", MODELS, ids=[m[0] for m in MODELS])
def test_split_program_bit_exact_with_one_tile(name, builder, kw, variant):
    rng = np.random.default_rng(sum(map(ord, name)))
    graph = parse_tflite(builder(rng, **kw))
    program = compile_graph(graph, preset(variant))
    x = _input(rng, graph)
    want = reference.run(graph, [x])[0]
    one, _ = run_program(program, [x])
    assert np.array_equal(one[0].view(np.uint8), want.view(np.uint8))
    base = split_program(program, 1)
    assert all(la is None or (la.how == "one" and la.lists == [la_p.commands])
               for la, la_p in zip(base.layers, program.layers, strict=True))
    _, mem1 = run_split(base, [x])
    ref = _tensors(mem1, program)
    for tiles in (2, 3, 4):
        split = split_program(program, tiles)
        got, mem = run_split(split, [x])
        assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8)), tiles
        assert _tensors(mem, program) == ref, tiles
        for layer, tiled in zip(program.layers, split.layers, strict=True):
            if tiled is None:
                continue
            assert len(tiled.lists) <= tiles
            for words in tiled.lists:
                assert decode(words[-1])[0] is Opcode.FENCE
            # ranges tile the split dimension without gaps or overlaps
            if tiled.how != "one":
                shape = graph.tensors[layer.op.outputs[0]].shape
                total = {"cols": shape[-1], "channels": shape[-1],
                         "rows": layer.gemm[0] if layer.gemm else int(np.prod(shape[:-2]))}
                at = 0
                for first, count in tiled.ranges:
                    assert first == at and count > 0
                    at += count
                assert at == total[tiled.how]
        assert 1 < split.used <= tiles


def test_every_tile_part_is_needed():
    """Dropping one tile's list of a split layer changes that layer's output: the parts are
    disjoint work, not copies of the whole layer."""
    rng = np.random.default_rng(5)
    graph = parse_tflite(cm.tflite_int8_cnn(rng, c=32))
    # gemv=False: the batch-1 FC as a GEMM, the layer kind split by output columns (the GEMV
    # split: test_every_gemv_part_is_needed).
    program = compile_graph(graph, preset("sim"), gemv=False)
    x = _input(rng, graph)
    split = split_program(program, 2)
    _, mem = run_split(split, [x])
    ref = _tensors(mem, program)
    kinds = {la.how for la in split.layers if la}
    assert {"channels", "cols"} <= kinds
    _assert_each_part_needed(split, program, x, ref,
                             [(i, la) for i, la in enumerate(split.layers)
                              if la is not None and len(la.lists) >= 2])


@pytest.mark.parametrize("builder", [cm.tflite_int8_mlp, cm.tflite_float_mlp])
def test_every_gemv_part_is_needed(builder):
    """Batch-1 FC layers on the GEMV plan split by output channels (per-channel INT8
    requantization with per-row parameters included); each tile's part is needed."""
    rng = np.random.default_rng(11)
    graph = parse_tflite(builder(rng, batch=1, sizes=(40, 33, 17, 5)))
    program = compile_graph(graph, preset("sim"))
    assert [la.kind for la in program.layers if la.where == "npu"][:2] == ["gemv", "gemv"]
    x = _input(rng, graph)
    split = split_program(program, 3)
    _, mem = run_split(split, [x])
    ref = _tensors(mem, program)
    gemvs = [(i, la) for i, la in enumerate(split.layers)
             if la and program.layers[i].kind == "gemv"]
    assert [la.how for _, la in gemvs] == ["channels", "channels"]
    assert [len(la.lists) for _, la in gemvs] == [3, 3]
    _assert_each_part_needed(split, program, x, ref, gemvs)


def test_rows_split_for_few_columns_and_bad_tiles():
    """A GEMM with one array-width column tile and many rows splits by rows; tiles < 1 is
    refused; the tile parameters lie after the arena."""
    rng = np.random.default_rng(7)
    graph = parse_tflite(cm.tflite_int8_mlp(rng, batch=40, sizes=(24, 8, 5)))
    program = compile_graph(graph, preset("sim"))
    split = split_program(program, 4)
    gemms = [la for la in split.layers if la]
    assert all(la.how == "rows" for la in gemms)
    assert [c for _, c in gemms[0].ranges] == [16, 8, 8, 8]      # whole 8-row tiles
    x = _input(rng, graph)
    got, _ = run_split(split, [x])
    assert np.array_equal(got[0], reference.run(graph, [x])[0])
    assert split.params_base >= program.arena_base + program.arena_size
    with pytest.raises(ValueError, match="tiles"):
        split_program(program, 0)


@pytest.mark.slow
@pytest.mark.parametrize("builder,kw", [(cm.tflite_int8_resnet8, {}),
                                        (cm.tflite_int8_dscnn, {"blocks": 4})],
                         ids=["resnet8", "dscnn"])
def test_bench_models_split_bit_exact(builder, kw):
    rng = np.random.default_rng(3)
    graph = parse_tflite(builder(rng, **kw))
    program = compile_graph(graph, preset("sim"))
    x = _input(rng, graph)
    _, mem1 = run_split(split_program(program, 1), [x])
    ref = _tensors(mem1, program)
    for tiles in (2, 4):
        split = split_program(program, tiles)
        _, mem = run_split(split, [x])
        assert _tensors(mem, program) == ref
        assert sum(1 for la in split.layers if la and la.how == "one") == 0


@pytest.mark.slow
@pytest.mark.parametrize("builder,kw", [(cm.tflite_int8_cnn, {"c": 32}),
                                        (cm.tflite_int8_dscnn, {"c": 16, "blocks": 1})],
                         ids=["int8_cnn", "dscnn"])
def test_split_program_on_the_two_tile_soc(builder, kw):
    """The split program on the simulated two-tile SoC (``npu-small-2t``, the model the
    firmware tile tests build): NPU_TILES records through ``npu_model_run``, the output and
    every intermediate still in memory bit for bit as the reference; K = 1 is the same
    program's plain records (one tile)."""
    from dure.compiler.soc import check_intermediates
    from dure.compiler.tile_bench import model_point
    from dure.compiler.tile_split import run_split_soc

    rng = np.random.default_rng(9)
    data = builder(rng, **kw)
    graph = parse_tflite(data)
    config = preset("npu-small-2t")
    program = compile_graph(graph, config)
    x = _input(rng, graph)
    split = split_program(program, 2)
    assert split.used == 2
    got, run = run_split_soc(split, [x])
    assert np.array_equal(got[0], reference.run(graph, [x])[0])
    checked, bad = check_intermediates(program, run.image, [x])
    assert checked and not bad
    with pytest.raises(ValueError, match="tiles"):
        run_split_soc(split_program(program, 3), [x])
    points = [model_point("m", data, config, k) for k in (1, 2)]
    assert all(p["exact"] for p in points)
    assert points[1]["split_layers"] > 0 and points[1]["cycles"] < points[0]["cycles"]
