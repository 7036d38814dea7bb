"""The binary layer table (compiler/layer_table.py): a compiled program's records packed,
read back equal, its header and records as the module docstring states; bad tables refused."""

import struct

import numpy as np
import pytest
from dure.compiler import layer_table as lt


def test_round_trip(cnn_program):
    p = cnn_program
    commands_base, table_addr, results_addr = p.table_layout()
    records = p.layer_records(commands_base)
    assert all(r is not None for r in records)
    data = lt.pack_layer_table(records, results_addr)
    assert len(data) == 4 * (lt.HEADER_WORDS + lt.RECORD_WORDS * len(records))
    head, back = lt.unpack_layer_table(data)
    assert back == [[int(w) for w in r] for r in records]
    assert head[:6] == [lt.TABLE_MAGIC, lt.TABLE_VERSION, len(records), lt.RECORD_WORDS,
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
            assert rec[:2] == [lt.LayerKind.NPU, 0]
            assert rec[2] == commands_base + 32 * first and rec[3] == len(layer.commands)
            assert cmds[first:first + rec[3]].tolist() == layer.commands
        else:
            assert rec[0] == lt.LayerKind.CORE
            assert rec[4] == p.tensor_addr[layer.writes[0]]
        first += len(layer.commands)
    kinds = {layer.kind: lt.CoreOp(rec[1]) for layer, rec in zip(table, back, strict=True)
             if layer.where == "core"}
    assert kinds == {"ADD": lt.CoreOp.ADD_INT8, "MAX_POOL_2D": lt.CoreOp.MAX_POOL_INT8,
                     "SOFTMAX": lt.CoreOp.SOFTMAX_INT8}
    assert table_addr >= commands_base + len(cmds) * 32 and results_addr >= table_addr + len(data)


def test_bad_tables_refused():
    good = lt.pack_layer_table([[2, 1] + [0] * 30], 0x4000_0000)
    with pytest.raises(ValueError, match="magic"):
        lt.unpack_layer_table(b"XXXX" + good[4:])
    with pytest.raises(ValueError, match="version"):
        lt.unpack_layer_table(good[:4] + struct.pack("<I", 2) + good[8:])
    with pytest.raises(ValueError, match="size"):
        lt.unpack_layer_table(good[:-4])
    with pytest.raises(ValueError, match="header"):
        lt.unpack_layer_table(good[:20])
    with pytest.raises(ValueError, match="32 words"):
        lt.pack_layer_table([[2, 1]], 0)
