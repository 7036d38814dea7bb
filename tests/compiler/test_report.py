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
