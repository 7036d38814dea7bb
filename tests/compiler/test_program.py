"""The binary layer table of a compiled program (compiler/program.py): written, read back
equal, its header and records as the module docstring states; bad tables refused."""

import dataclasses
import struct

import numpy as np
import pytest
from dure.compiler import program as pg
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset


@pytest.fixture(scope="module")
def cnn_program():
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    # without the element-wise unit, so ADD and MAX_POOL stay core layers with their records
    return compile_graph(graph, dataclasses.replace(preset("npu-small"), npu_eltwise=False))


def test_round_trip(cnn_program):
    p = cnn_program
    commands_base, table_addr, results_addr = p.table_layout()
    records = p.layer_records(commands_base)
    assert all(r is not None for r in records)
    data = pg.pack_layer_table(records, results_addr)
    assert len(data) == 4 * (pg.HEADER_WORDS + pg.RECORD_WORDS * len(records))
    head, back = pg.unpack_layer_table(data)
    assert back == [[int(w) for w in r] for r in records]
    assert head[:6] == [pg.TABLE_MAGIC, pg.TABLE_VERSION, len(records), pg.RECORD_WORDS,
                        len(data), results_addr]
    assert data[:4] == b"DULT"
    # NPU records index commands_bytes(); core records name the kernels
    first = 0
    cmds = np.frombuffer(p.commands_bytes(), "<u4").reshape(-1, 8)
    # the RESHAPE is a view of its input (an alias layer): no record
    assert [p.layers[i].kind for i in range(len(p.layers)) if i not in p.table_layers()] == \
        ["alias"]
    table = [p.layers[i] for i in p.table_layers()]
    for layer, rec in zip(table, back, strict=True):
        if layer.where == "npu":
            assert rec[:2] == [pg.LayerKind.NPU, 0]
            assert rec[2] == commands_base + 32 * first and rec[3] == len(layer.commands)
            assert cmds[first:first + rec[3]].tolist() == layer.commands
        else:
            assert rec[0] == pg.LayerKind.CORE
            assert rec[4] == p.tensor_addr[layer.writes[0]]
        first += len(layer.commands)
    kinds = {layer.kind: pg.CoreOp(rec[1]) for layer, rec in zip(table, back, strict=True)
             if layer.where == "core"}
    assert kinds == {"ADD": pg.CoreOp.ADD_INT8, "MAX_POOL_2D": pg.CoreOp.MAX_POOL_INT8,
                     "SOFTMAX": pg.CoreOp.SOFTMAX_INT8}
    assert table_addr >= commands_base + len(cmds) * 32 and results_addr >= table_addr + len(data)


def test_reshape_without_alias_is_a_copy_record():
    """``alias=False`` keeps the RESHAPE a core COPY of its bytes."""
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    p = compile_graph(graph, preset("npu-small"), alias=False)
    assert p.table_layers() == list(range(len(p.layers)))
    recs = p.layer_records(p.table_layout()[0])
    (i,) = [i for i, la in enumerate(p.layers) if la.kind == "RESHAPE"]
    assert recs[i][:2] == [pg.LayerKind.CORE, pg.CoreOp.COPY]
    assert recs[i][5] == int(np.prod(p.buffers[p.layers[i].writes[0]][1]))
    assert recs[i][2] != recs[i][4]                 # a copy into another buffer


def test_bad_tables_refused():
    good = pg.pack_layer_table([[2, 1] + [0] * 30], 0x4000_0000)
    with pytest.raises(ValueError, match="magic"):
        pg.unpack_layer_table(b"XXXX" + good[4:])
    with pytest.raises(ValueError, match="version"):
        pg.unpack_layer_table(good[:4] + struct.pack("<I", 2) + good[8:])
    with pytest.raises(ValueError, match="size"):
        pg.unpack_layer_table(good[:-4])
    with pytest.raises(ValueError, match="header"):
        pg.unpack_layer_table(good[:20])
    with pytest.raises(ValueError, match="32 words"):
        pg.pack_layer_table([[2, 1]], 0)


def test_fp16_softmax_has_a_record():
    """The FP16 SOFTMAX runs on the core (SOFTMAX_FP16: rows, depth, beta's bits)."""
    graph = parse_tflite(cm.tflite_float_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    p = compile_graph(graph, preset("npu-small"))
    recs = p.layer_records(p.table_layout()[0])
    assert all(r is not None for r in recs)
    table = [p.layers[i] for i in p.table_layers()]
    softmax = [r for la, r in zip(table, recs, strict=True) if la.kind == "SOFTMAX"]
    assert [r[1] for r in softmax] == [pg.CoreOp.SOFTMAX_FP16]
    assert softmax[0][6:8] == [1, 10] and softmax[0][18] == 0x3F800000


def test_save_writes_the_table(cnn_program, tmp_path):
    import json
    folder = cnn_program.save(tmp_path / "prog")
    meta = json.loads((folder / "program.json").read_text())
    head, recs = pg.unpack_layer_table((folder / "layers.bin").read_bytes())
    rows = [row for row in meta["layers"] if row["record"] is not None]
    assert len(recs) == len(rows) and head[5] == meta["results"]
    assert [row["record"] for row in rows] == list(range(len(recs)))
    assert [row["kind"] for row in meta["layers"] if row["record"] is None] == ["alias"]
