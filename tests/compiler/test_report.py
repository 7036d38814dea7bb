"""The per-layer report names every layer, where it runs and the totals."""

import numpy as np
from dure.compiler.lower import compile_graph
from dure.compiler.report import HEADERS, format_report, report_rows
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset


def test_report_rows_and_totals():
    program = compile_graph(parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0))),
                            preset("sim"))
    rows = report_rows(program)
    assert len(rows) == len(program.layers)
    assert all(len(r) == len(HEADERS) for r in rows)
    fc = rows[-2]
    assert fc[2] == "FULLY_CONNECTED" and fc[3] == "NPU" and fc[4] == "GEMV 1x32x10"
    assert fc[7] == 320 and fc[9] == 320         # MACs and the 32x10 int8 weights
    assert rows[-1][3] == "core" and rows[-1][4] == "softmax"
    text = format_report(program)
    macs = sum(la.macs for la in program.layers)
    assert f"MACs: {macs} total" in text
    assert "activations" in text and "without reuse" in text


def test_alias_layers_listed():
    """A layout-only RESHAPE stays in the report, as an alias with no MACs or estimate."""
    program = compile_graph(parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(0))),
                            preset("sim"))
    (row,) = [r for r in report_rows(program) if r[2] == "RESHAPE"]
    assert row[3] == "alias" and row[4] == "reshape (alias)" and row[7] == 0 and row[8] == "-"
    from dure.compiler.report import soc_layer_rows

    class _Run:
        layer_cycles = [0 if la.kind == "alias" else 100 for la in program.layers]
        host_layers = []
    _, rows = soc_layer_rows(program, _Run())
    (row,) = [r for r in rows if r[1] == "RESHAPE"]
    assert row[2] == "alias" and row[3] == "alias" and row[5] == 0
