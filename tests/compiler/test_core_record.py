"""Core-layer records of the layer table (compiler/core_record.py): the C kernel and the
words of a record, for layers only the core computes."""

import numpy as np
from dure.compiler.layer_table import CoreOp, LayerKind
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset


def test_reshape_without_alias_is_a_copy_record():
    """``alias=False`` keeps the RESHAPE a core COPY of its bytes."""
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    p = compile_graph(graph, preset("npu-small"), alias=False)
    assert p.table_layers() == list(range(len(p.layers)))
    recs = p.layer_records(p.table_layout()[0])
    (i,) = [i for i, la in enumerate(p.layers) if la.kind == "RESHAPE"]
    assert recs[i][:2] == [LayerKind.CORE, CoreOp.COPY]
    assert recs[i][5] == int(np.prod(p.buffers[p.layers[i].writes[0]][1]))
    assert recs[i][2] != recs[i][4]                 # a copy into another buffer


def test_fp16_softmax_has_a_record():
    """The FP16 SOFTMAX runs on the core (SOFTMAX_FP16: rows, depth, beta's bits)."""
    graph = parse_tflite(cm.tflite_float_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    p = compile_graph(graph, preset("npu-small"))
    recs = p.layer_records(p.table_layout()[0])
    assert all(r is not None for r in recs)
    table = [p.layers[i] for i in p.table_layers()]
    softmax = [r for la, r in zip(table, recs, strict=True) if la.kind == "SOFTMAX"]
    assert [r[1] for r in softmax] == [CoreOp.SOFTMAX_FP16]
    assert softmax[0][6:8] == [1, 10] and softmax[0][18] == 0x3F800000
