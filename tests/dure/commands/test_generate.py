"""``dure generate``: the FP16 and 2:4 variants on the NPU command model print the text and
the figures, stay bit-exact and give the golden arithmetic's tokens; a variant that cannot run
a format, or dense weights for a 2:4 format, get a clear error; ``dure decode`` is the same
command."""

import pytest

from dure.cli import main
from dure.commands import decode, generate


@pytest.mark.parametrize("fmt, variant", [("fp16", "npu-small"), ("int4-sparse24", "sim"),
                                          ("int8-sparse24", "npu-small")])
def test_generate_new_formats_on_the_command_model(capsys, fmt, variant):
    status = main(["generate", "--tokens", "2", "--variant", variant, "--weights", fmt,
                   "--check-host"])
    out = capsys.readouterr()
    assert status == 0, out.out
    assert out.out.startswith("The NPU ")
    assert f"weights {fmt}: " in out.out and "bytes per token" in out.out
    assert "0 mismatches" in out.out and "tokens/s at 50 MHz" in out.out
    assert "golden GEMMs on the host: the same tokens" in out.out
    assert "held-out perplexity" in out.err and (("2:4-pruned" in out.err) == ("24" in fmt))


def test_generate_refusals(capsys, tmp_path):
    assert main(["generate", "--weights", "fp16", "--variant", "icebreaker-npu"]) == 2
    assert "no FP16 datapath" in capsys.readouterr().err
    assert main(["generate", "--weights", "int4-sparse24", "--variant", "icebreaker-npu"]) == 2
    assert "gather path" in capsys.readouterr().err
    assert main(["generate", "--variant", "cpu"]) == 2
    assert "has no NPU" in capsys.readouterr().err
    from dure.sim import decode_demo as dd

    assert main(["generate", "--weights", "int4-sparse24", "--weights-file",
                 str(dd.WEIGHTS)]) == 2
    assert "not 2:4 sparse" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "--weights", "int2"])
    assert "invalid choice" in capsys.readouterr().err


def test_decode_is_an_alias_and_the_formats_agree():
    from dure.sim import decode_quant

    assert decode.run is generate.run and decode.add_arguments is generate.add_arguments
    assert generate.FORMATS == decode_quant.FORMATS
