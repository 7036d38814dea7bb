"""The layer-table walker (firmware/npu_jobs/npu_model_run/layer_table.c) with NPU_TILES records
(a layer split across tiles, dure.compiler.tile_split), compiled for the host: the tiles
callback runs each tile's list on its own golden NPU command model over the one memory; whole
split models come out bit-exact with the reference; without a tiles callback (a one-tile SoC)
or with a bad tile count the walker stops with KIND, with a list outside memory with RANGE.
The same on the simulated multi-tile SoC: tests/compiler/test_tile_split.py (make fuzz)."""

import numpy as np
import pytest
from dure.compiler import program as pg
from dure.compiler import reference
from dure.compiler.execute import read_outputs
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.compiler.tile_split import split_program
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import layer_walker as lw

from dure.config import preset


@pytest.fixture
def lib(walker_lib):
    return walker_lib


def _walk(lib, mem, table_addr, config, tiles=True):
    """(status, tiles per NPU callback: 1 for a one-list layer, T for an NPU_TILES one)."""
    st, _, calls = lw.walk(lib, mem, table_addr, config, tiles=tiles)
    return st, [len(c) if isinstance(c, list) else 1 for c in calls]


@pytest.mark.parametrize("builder,kw,tiles", [
    (cm.tflite_int8_cnn, {"c": 32}, 2),
    (cm.tflite_int8_dscnn, {"c": 32, "blocks": 1}, 3),
    (cm.tflite_int8_mlp, {"batch": 33, "sizes": (40, 70, 5)}, 4),
], ids=["int8_cnn", "dscnn", "int8_mlp"])
def test_split_program_through_the_walker(lib, load_split, builder, kw, tiles):
    rng = np.random.default_rng(11)
    graph = parse_tflite(builder(rng, **kw))
    program = compile_graph(graph, preset("sim"))
    split = split_program(program, tiles)
    t = graph.tensors[graph.inputs[0]]
    x = rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == np.int8 else \
        rng.standard_normal(t.shape).astype(np.float32)
    mem, table_addr, records = load_split(split, x)
    assert any(r[0] == pg.LayerKind.NPU_TILES for r in records)
    st, calls = _walk(lib, mem, table_addr, program.config)
    assert st == pg.TableError.OK
    want = [len(la.lists) for la in split.layers if la]
    assert calls == want and max(want) > 1
    got = read_outputs(mem, program)[0]
    assert np.array_equal(got.view(np.uint8), reference.run(graph, [x])[0].view(np.uint8))


def test_tiles_records_refused(lib, load_split):
    rng = np.random.default_rng(12)
    graph = parse_tflite(cm.tflite_int8_cnn(rng, c=32))
    program = compile_graph(graph, preset("sim"))
    split = split_program(program, 2)
    x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    first = next(i for i, la in enumerate(split.layers) if la and len(la.lists) > 1)
    # a one-tile SoC (no tiles callback): KIND at the first split layer
    mem, table_addr, _ = load_split(split, x)
    assert _walk(lib, mem, table_addr, program.config, tiles=False)[0] == pg.TableError.KIND
    for word, value, status in ((1, 0, pg.TableError.KIND), (1, 9, pg.TableError.KIND),
                                (2, 0x1000, pg.TableError.RANGE)):
        mem, table_addr, records = load_split(split, x)
        records[first][word] = value
        _, _, results_addr = split.layout()
        mem.write(table_addr, pg.pack_layer_table(records, results_addr))
        st, calls = _walk(lib, mem, table_addr, program.config)
        assert st == status and len(calls) == first - sum(
            1 for la in split.layers[:first] if la is None), (word, value)
