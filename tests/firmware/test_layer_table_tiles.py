"""The layer-table walker (firmware/npu_jobs/npu_model_run/layer_table.c) with NPU_TILES records
(a layer split across tiles, dure.compiler.tile_split), compiled for the host: the tiles
callback runs each tile's list on its own golden NPU command model over the one memory; whole
split models come out bit-exact with the reference; without a tiles callback (a one-tile SoC)
or with a bad tile count the walker stops with KIND, with a list outside memory with RANGE.
The same on the simulated multi-tile SoC: tests/compiler/test_tile_split.py (make fuzz)."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.compiler import program as pg
from dure.compiler import reference
from dure.compiler.execute import load_inputs, read_outputs
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.compiler.tile_split import split_program
from dure.rtl.npu.commands import ErrorCode
from dure.sim.npu_model import NpuModel
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.host_c import host_library

from dure.config import preset

ROOT = pathlib.Path(__file__).resolve().parents[2]
WALKER = ROOT / "firmware" / "npu_jobs" / "npu_model_run"
SOURCES = [WALKER / "layer_table.c"] + [ROOT / "firmware" / "npu" / n for n in
                                         ("cpu_ops_int8.c", "cpu_ops_fp16.c", "softfloat.c")]
SHIM = r"""
#include "layer_table.h"
typedef uint32_t (*list_cb)(uint32_t list, uint32_t count, uint32_t *index);
typedef uint32_t (*tiles_cb)(uint32_t tiles, const uint32_t *lists, const uint32_t *counts,
                             uint32_t *tile, uint32_t *index);
static list_cb g_list;
static tiles_cb g_tiles;
static uint64_t g_t;
static uint32_t one(void *ctx, uint32_t l, uint32_t c, uint32_t *i)
{
    (void)ctx;
    return g_list(l, c, i);
}
static uint32_t many(void *ctx, uint32_t n, const uint32_t *l, const uint32_t *c, uint32_t *t,
                     uint32_t *i)
{
    (void)ctx;
    return g_tiles(n, l, c, t, i);
}
static uint64_t now(void *ctx) { (void)ctx; return g_t += 1; }
int walk(uint8_t *mem, uint32_t base, uint32_t size, uint32_t table, list_cb a, tiles_cb b,
         uint32_t *off)
{
    g_list = a;
    g_tiles = b;
    struct lt_env env = {mem, base, size, one, now, 0, b ? many : 0};
    uint32_t *r;
    int st = lt_walk(&env, table, &r);
    *off = r ? (uint32_t)((uint8_t *)r - mem) : 0xFFFFFFFFu;
    return st;
}
"""
U32P = ctypes.POINTER(ctypes.c_uint32)
LIST_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, U32P)
TILES_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, U32P, U32P, U32P, U32P)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = host_library(tmp_path_factory.mktemp("layer_table_tiles"), "walk", SOURCES,
                       extra_sources={"shim.c": SHIM}, include_dirs=[WALKER])
    lib.walk.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                         LIST_CB, TILES_CB, U32P]
    return lib


class _Mem:
    def __init__(self, base, size):
        self.base, self.buf = base, np.zeros(size, np.uint8)

    def read(self, addr, n):
        return self.buf[addr - self.base:addr - self.base + n].tobytes()

    def write(self, addr, data):
        self.buf[addr - self.base:addr - self.base + len(data)] = np.frombuffer(data, np.uint8)


def _run_list(mem, config, list_addr, count):
    """One list on a fresh command model over ``mem``; the first refused index or None."""
    model = NpuModel(config)
    model.set_window(mem.base, len(mem.buf))
    model.write(mem.base, mem.buf.tobytes())
    words = np.frombuffer(mem.read(list_addr, 32 * count), "<u4").reshape(count, 8)
    codes = model.run([list(map(int, w)) for w in words])
    mem.buf[:] = np.frombuffer(model.read(mem.base, len(mem.buf)), np.uint8)
    bad = [i for i, c in enumerate(codes) if c != ErrorCode.NONE]
    return (bad[0], codes[bad[0]].value) if bad else None


def _walk(lib, mem, table_addr, config, tiles=True):
    calls = []

    def one(list_addr, count, index):
        calls.append(1)
        bad = _run_list(mem, config, list_addr, count)
        if bad:
            index[0] = bad[0]
            return bad[1]
        return 0

    def many(n, lists, counts, tile, index):
        calls.append(n)
        for t in range(n):
            bad = _run_list(mem, config, lists[t], counts[t])
            if bad:
                tile[0], index[0] = t, bad[0]
                return bad[1]
        return 0

    off = ctypes.c_uint32()
    st = lib.walk(mem.buf.ctypes.data, mem.base, len(mem.buf), table_addr, LIST_CB(one),
                  TILES_CB(many) if tiles else ctypes.cast(None, TILES_CB), ctypes.byref(off))
    return st, calls


def _load(split, x):
    program = split.program
    commands_base, table_addr, results_addr = split.layout()
    records = split.layer_records(commands_base)
    main = program.config.region("main")
    mem = _Mem(main.base, results_addr + pg.results_bytes(len(records)) - main.base)
    load_inputs(mem, program, [x])
    mem.write(split.params_base, split.params)
    mem.write(commands_base, split.commands_bytes())
    mem.write(table_addr, pg.pack_layer_table(records, results_addr))
    return mem, table_addr, records


@pytest.mark.parametrize("builder,kw,tiles", [
    (cm.tflite_int8_cnn, {"c": 32}, 2),
    (cm.tflite_int8_dscnn, {"c": 32, "blocks": 1}, 3),
    (cm.tflite_int8_mlp, {"batch": 33, "sizes": (40, 70, 5)}, 4),
], ids=["int8_cnn", "dscnn", "int8_mlp"])
def test_split_program_through_the_walker(lib, builder, kw, tiles):
    rng = np.random.default_rng(11)
    graph = parse_tflite(builder(rng, **kw))
    program = compile_graph(graph, preset("sim"))
    split = split_program(program, tiles)
    t = graph.tensors[graph.inputs[0]]
    x = rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == np.int8 else \
        rng.standard_normal(t.shape).astype(np.float32)
    mem, table_addr, records = _load(split, x)
    assert any(r[0] == pg.LayerKind.NPU_TILES for r in records)
    st, calls = _walk(lib, mem, table_addr, program.config)
    assert st == pg.TableError.OK
    want = [len(la.lists) for la in split.layers if la]
    assert calls == want and max(want) > 1
    got = read_outputs(mem, program)[0]
    assert np.array_equal(got.view(np.uint8), reference.run(graph, [x])[0].view(np.uint8))


def test_tiles_records_refused(lib):
    rng = np.random.default_rng(12)
    graph = parse_tflite(cm.tflite_int8_cnn(rng, c=32))
    program = compile_graph(graph, preset("sim"))
    split = split_program(program, 2)
    x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    first = next(i for i, la in enumerate(split.layers) if la and len(la.lists) > 1)
    # a one-tile SoC (no tiles callback): KIND at the first split layer
    mem, table_addr, _ = _load(split, x)
    assert _walk(lib, mem, table_addr, program.config, tiles=False)[0] == pg.TableError.KIND
    for word, value, status in ((1, 0, pg.TableError.KIND), (1, 9, pg.TableError.KIND),
                                (2, 0x1000, pg.TableError.RANGE)):
        mem, table_addr, records = _load(split, x)
        records[first][word] = value
        _, _, results_addr = split.layout()
        mem.write(table_addr, pg.pack_layer_table(records, results_addr))
        st, calls = _walk(lib, mem, table_addr, program.config)
        assert st == status and len(calls) == first - sum(
            1 for la in split.layers[:first] if la is None), (word, value)
