"""`dure compile`: writes the program and prints the report; bad models give status 2 and one
line naming the node."""

import json

import numpy as np
import pytest
from dure.sim.verif import compiler_models as cm

from dure.cli import main


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(cm.tflite_int8_cnn(np.random.default_rng(0)))
    return path


def test_compile_writes_program_and_report(tmp_path, model, capsys):
    assert main(["compile", str(model), "-o", str(tmp_path / "prog"), "--report"]) == 0
    out = capsys.readouterr().out
    assert "commands.bin" in out and "conv_2d (walk)" in out and "GEMV 1x32x10" in out
    assert "MACs:" in out
    meta = json.loads((tmp_path / "prog" / "program.json").read_text())
    assert meta["precision"] == "int8" and meta["arithmetic"] == "tflite"


def test_compile_report_only(model, capsys):
    assert main(["compile", str(model), "--variant", "npu-small"]) == 0
    assert "variant npu-small" in capsys.readouterr().out


@pytest.mark.parametrize("content,fragment", [
    (b"", "dure: neither a TFLite model (no 'TFL3' file identifier at bytes 4..7) nor a "
          "valid ONNX model: the graph has no nodes"),
    (b"# a text file\n", "dure: neither a TFLite model (no 'TFL3' file identifier at bytes "
                          "4..7) nor a valid ONNX model (cannot parse the protobuf"),
    (b"\x1c\x00\x00\x00TFL3" + b"\x00" * 4, "dure: not a TFLite model"),
])
def test_bad_files(tmp_path, capsys, content, fragment):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(fragment), err


def test_wrong_precision_and_missing_file(tmp_path, model, capsys):
    assert main(["compile", str(model), "--precision", "fp16"]) == 2
    assert "runs in int8, not fp16" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "nope.tflite")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_onnx_fused_qdq_puts_the_unfused_convolutions_on_the_npu(tmp_path, capsys):
    """An int8-activation QDQ ResNet-8: by default the Convs onnxruntime on x86-64 leaves
    unfused get its float32 arithmetic, decided on the core (``conv_fast`` from the NPU's
    integer sums, or the float kernel ``CONV_2D``); ``--onnx-fused-qdq`` computes them as the
    fused QLinear kernel, on the NPU, so no float convolution is left."""
    from dure.sim.verif import onnx_models as om

    path = tmp_path / "rn8.onnx"
    path.write_bytes(om.quantized_model(np.random.default_rng(3), "resnet8"))
    assert main(["compile", str(path), "-o", str(tmp_path / "x86")]) == 0
    assert main(["compile", str(path), "-o", str(tmp_path / "arm"), "--onnx-fused-qdq"]) == 0
    capsys.readouterr()

    def core_convs(folder):
        rows = json.loads((tmp_path / folder / "program.json").read_text())["layers"]
        return [r["node"]["name"] for r in rows
                if r["kind"] in ("CONV_2D", "conv_fast") and r["where"] == "core"]

    assert core_convs("x86") and not core_convs("arm")
