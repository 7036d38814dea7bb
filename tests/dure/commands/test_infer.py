"""`dure infer MODEL`: runs a model file on the NPU command model, writes the output, checks it
against the compiler's reference and the model's runtime; bad input gives status 2."""

import numpy as np
import pytest
from dure.sim.verif import compiler_models as cm

from dure.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = {"int8": tmp_path / "q.tflite", "float": tmp_path / "f.tflite",
             "xf": tmp_path / "xf.npy", "xq": tmp_path / "xq.npy"}
    paths["int8"].write_bytes(cm.tflite_int8_cnn(rng, float_edges=True))
    paths["float"].write_bytes(cm.tflite_float_cnn(rng))
    np.save(paths["xf"], rng.standard_normal((1, 8, 8, 3)).astype(np.float32))
    np.save(paths["xq"], rng.integers(-128, 128, (1, 8, 8, 3)).astype(np.int8))
    return paths


def test_int8_model_checked_bit_exact(tmp_path, files, capsys):
    out = tmp_path / "y.npy"
    assert main(["infer", str(files["int8"]), "--input", str(files["xf"]), "--out", str(out),
                 "--check"]) == 0
    text = capsys.readouterr().out
    assert "LiteRT reference kernels: bit-exact" in text
    assert "reference executor: bit-exact" in text
    y = np.load(out)
    assert y.dtype == np.float32 and y.shape == (1, 10)


def test_float_model_in_fp16(files, capsys):
    assert main(["infer", str(files["float"]), "--input", str(files["xf"]), "--check"]) == 0
    text = capsys.readouterr().out
    assert "reference executor: bit-exact" in text and "top-1 agreement" in text


@pytest.mark.parametrize("which,extra,fragment", [
    ("xq", [], "input 'input' must be float32 of shape (1, 8, 8, 3)"),
    (None, [], "--input X.npy is required"),
    ("xf", ["--precision", "fp16"], "runs in int8, not fp16"),
])
def test_bad_input(files, capsys, which, extra, fragment):
    argv = ["infer", str(files["int8"]), *extra]
    if which:
        argv += ["--input", str(files[which])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_onnx_model_checked_against_onnxruntime(tmp_path, capsys):
    rng = np.random.default_rng(1)
    model, x = tmp_path / "q.onnx", tmp_path / "x.npy"
    model.write_bytes(cm.onnx_qoperator_cnn(rng))
    np.save(x, rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    assert main(["infer", str(model), "--input", str(x), "--check", "--variant",
                 "npu-small"]) == 0
    assert "onnxruntime: bit-exact" in capsys.readouterr().out


def test_soc_run_of_the_whole_model(tmp_path, capsys):
    """An INT8 model whose core layers all have C kernels: one firmware run, every layer timed,
    intermediates checked."""
    rng = np.random.default_rng(3)
    model, x = tmp_path / "q.tflite", tmp_path / "x.npy"
    model.write_bytes(cm.tflite_int8_cnn(rng, h=6, w=6, c=6))
    np.save(x, rng.integers(-128, 128, (1, 6, 6, 3)).astype(np.int8))
    assert main(["infer", str(model), "--input", str(x), "--variant", "npu-small", "--soc",
                 "--check"]) == 0
    out = capsys.readouterr().out
    assert "SoC output equals the NPU command model's bit for bit" in out
    assert "in 1 firmware run(s)" in out and "core (C)" in out and "host" not in out
    # the flatten before the classifier is a view of the pooled tensor: listed, not run
    assert any(line.split()[1:4] == ["RESHAPE", "alias", "alias"] for line in out.splitlines()
               if len(line.split()) > 3)
    assert "tensors still in memory equal the reference" in out
    assert "LiteRT reference kernels: bit-exact" in out


def test_soc_run_on_the_dot_unit_variant(tmp_path, capsys):
    """The iCEBreaker's SoC without its boot ROM (no NPU, the dot-product unit): the dot-unit
    target, the dot_model_run firmware, the unit's peak in the summary."""
    rng = np.random.default_rng(3)
    model, x = tmp_path / "q.tflite", tmp_path / "x.npy"
    model.write_bytes(cm.tflite_int8_mlp(rng, batch=2, sizes=(16, 8, 10)))
    np.save(x, rng.integers(-128, 128, (2, 16)).astype(np.int8))
    assert main(["infer", str(model), "--input", str(x), "--variant", "icebreaker-elf", "--soc",
                 "--check"]) == 0
    captured = capsys.readouterr()
    assert "firmware dot_model_run" in captured.err
    assert "SoC output equals the compiler program model's bit for bit" in captured.out
    assert "dot unit" in captured.out and "% of peak" in captured.out
    assert "LiteRT reference kernels: bit-exact" in captured.out


def test_soc_float_model_whole(files, capsys):
    """FP16 SOFTMAX and TFLite QUANTIZE / DEQUANTIZE (float edges) have C kernels: both models
    run whole on the SoC (the host fallback is tested in tests/compiler/test_soc.py)."""
    assert main(["infer", str(files["int8"]), "--input", str(files["xf"]), "--variant",
                 "npu-small", "--soc"]) == 0
    assert "SoC output equals the NPU command model's bit for bit" in capsys.readouterr().out
    argv = ["infer", str(files["float"]), "--input", str(files["xf"]), "--variant",
            "npu-small", "--soc"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "SoC output equals the NPU command model's bit for bit" in out
    assert "host" not in out and "core (C)" in out
