"""``dure decode``: the command-model run prints the text and the figures and agrees with the
golden GEMMs on the host; the SoC run (slow) counts cycles, stays bit-exact and gives the
golden tokens."""

import pytest

from dure.cli import main


def test_decode_on_the_command_model(capsys):
    status = main(["decode", "--tokens", "2", "--variant", "npu-small", "--weights", "int4",
                   "--temperature", "0.7", "--seed", "2", "--check-host"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("The NPU ")
    assert "bytes per token" in out and "0 mismatches" in out and "roofline" in out
    assert "golden GEMMs on the host: the same tokens" in out


def test_bad_arguments(capsys, tmp_path):
    assert main(["decode", "--tokens", "0"]) != 0
    assert "--tokens must be positive" in capsys.readouterr().err
    assert main(["decode", "--temperature", "-1"]) != 0
    assert "--temperature must be >= 0" in capsys.readouterr().err
    assert main(["decode", "--weights-file", str(tmp_path / "none.npz")]) != 0
    assert "make train-decode" in capsys.readouterr().err
    assert main(["decode-train", "--steps", "0"]) != 0
    assert "must be positive" in capsys.readouterr().err
    assert main(["decode-train", "--dense", str(tmp_path / "w.npz")]) != 0
    assert "give --sparse too" in capsys.readouterr().err
    assert main(["decode-train", "--sparse", "--refresh-corpus"]) != 0
    assert "retrain them first" in capsys.readouterr().err


def test_decode_train_report_only(capsys, tmp_path):
    from dure.sim import decode_demo as dd

    model, _ = dd.load_model()
    path = tmp_path / "w.npz"
    dd.save_model(model, path)
    assert main(["decode-train", "--report-only", "--out", str(path)]) == 0
    assert "character frequencies" in capsys.readouterr().out
    _, info = dd.load_model(path)
    assert info["ppl_float"] < dd.PERPLEXITY_BOUND * info["ppl_unigram"]
    # --sparse --report-only: the 2:4 formats' numbers of a pruned file; a dense one refused.
    assert main(["decode-train", "--sparse", "--report-only", "--out", str(path)]) == 2
    assert "not 2:4 sparse" in capsys.readouterr().err
    sparse, _ = dd.load_model(dd.SPARSE_WEIGHTS)
    dd.save_model(sparse, path)
    assert main(["decode-train", "--sparse", "--report-only", "--out", str(path)]) == 0
    assert "2:4 int4 (W4A8)" in capsys.readouterr().out
    _, info = dd.load_model(path)
    assert info["ppl_int4-sparse24"] < dd.QUANT_LOSS_BOUND * info["ppl_float"]


@pytest.mark.slow
def test_decode_on_the_soc(capsys):
    status = main(["decode", "--tokens", "2", "--variant", "npu-small", "--engine", "soc",
                   "--check-host"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "tokens/s" in out and "% of the memory roofline" in out and "0 mismatches" in out
    assert "golden GEMMs on the host: the same tokens" in out
