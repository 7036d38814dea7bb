"""``dure bench-fpga-block`` without the FPGA tools: the block list and the refusals."""

from dure.fpga.block_fmax import BLOCKS

from dure.cli import main


def test_list_names_every_block(capsys):
    assert main(["bench-fpga-block", "list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(BLOCKS)


def test_unknown_block_and_variant_are_refused(capsys):
    assert main(["bench-fpga-block", "nope"]) == 2
    assert "unknown block 'nope'" in capsys.readouterr().err
    assert main(["bench-fpga-block", "sdram", "--variant", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err
