"""``dure decode``: the command-model run prints the text and the figures; the SoC run (slow)
counts cycles and stays bit-exact."""

import pytest

from dure.cli import main


def test_decode_on_the_command_model(capsys):
    status = main(["decode", "--tokens", "2", "--train-chars", "600", "--variant", "npu-small",
                   "--weights", "int4"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("The NPU ")
    assert "bytes per token" in out and "0 mismatches" in out and "roofline" in out


def test_bad_arguments(capsys):
    assert main(["decode", "--tokens", "0"]) != 0
    assert "--tokens must be positive" in capsys.readouterr().err


@pytest.mark.slow
def test_decode_on_the_soc(capsys):
    status = main(["decode", "--tokens", "2", "--train-chars", "600", "--variant", "npu-small",
                   "--engine", "soc"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "tokens/s" in out and "% of the memory roofline" in out and "0 mismatches" in out
