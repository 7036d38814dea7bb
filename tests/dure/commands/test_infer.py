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
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "SoC output equals the NPU command model's bit for bit" in out
    assert "host" not in out and "core (C)" in out
