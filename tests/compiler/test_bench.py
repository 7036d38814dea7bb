"""``make bench-models`` (compiler/bench.py, dure bench-models): the CSV's stable columns, the
model list, bad arguments. The runs themselves are the benchmark (minutes on the `sim` SoC),
not part of make test; tests/compiler/test_soc.py runs the same path on small models."""

import csv

import numpy as np
from dure.compiler import bench
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite

from dure.cli import main
from dure.config import preset


def test_csv_columns(tmp_path):
    row = {c: i for i, c in enumerate(bench.COLUMNS)}
    layer = {c: i for i, c in enumerate(bench.LAYER_COLUMNS)}
    bench.write_csv([bench.ModelResult(row, [layer, layer])], tmp_path / "m.csv",
                    tmp_path / "l.csv")
    with open(tmp_path / "m.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == bench.COLUMNS and rows[1] == [str(i) for i in range(len(bench.COLUMNS))]
    with open(tmp_path / "l.csv") as f:
        assert len(list(csv.reader(f))) == 3


def test_chart(tmp_path):
    layers = [{"index": i, "kind": k, "where": w, "cycles": c} for i, (k, w, c) in
              enumerate([("npu_op", "npu", 100), ("ADD", "core", 50)])]
    path = bench.write_chart([bench.ModelResult({"model": "m", "cycles": 150, "util_pct": 1},
                                                layers)], tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_models_compile_for_sim_without_host_layers():
    """Every model compiles for the 8x8 `sim` SoC with every core layer in C (one SoC run, no
    host fallback), INT8 and FP16 (its softmax included: core op SOFTMAX_FP16)."""
    from dure.compiler.soc import missing_kernels

    from dure.commands.bench_models import MODELS
    for name, (builder, _) in MODELS.items():
        for precision in ("int8", "fp16"):
            data = builder(np.random.default_rng(1), precision)
            if data is None:
                continue
            program = compile_graph(parse_tflite(data), preset("sim"), precision)
            assert program.macs > 200_000, name
            missing = [program.layers[i].op.kind.value for i in missing_kernels(program)]
            assert missing == [], (name, precision)


def test_roofline():
    config = preset("sim")
    assert bench.roofline_cycles(64_000, 1000, config) == (1000, False)
    assert bench.roofline_cycles(64_000, 8000, config) == (2000, True)
    from dure.sim.verif import mlperf_models as mm

    graph = parse_tflite(mm.autoencoder(np.random.default_rng(0)))
    assert bench.filter_bytes(graph, "int8") == 264_192
    assert bench.filter_bytes(graph, "fp16") == 2 * 264_192


def test_unknown_model_refused(capsys):
    assert main(["bench-models", "--models", "resnet8,nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["bench-models", "--precision", "int4"]) == 2
    assert "unknown precision 'int4'" in capsys.readouterr().err
