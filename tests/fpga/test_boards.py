"""Every board target elaborates for its platform (build files written, no tools run), and the
boot loader fits each board's ROM."""

import pytest
from dure.fpga.boards import BOARDS, board
from dure.fpga.bootrom import boot_words, linker_script
from dure.fpga.build import _commands, elaborate
from dure.fpga.protocol import mailbox_offsets


@pytest.mark.parametrize("name", list(BOARDS))
def test_board_elaborates(name, tmp_path):
    directory = elaborate(name, directory=tmp_path)
    il = (directory / "top.il").read_text()
    assert "soc" in il and "mailbox" in il
    steps = _commands(directory)
    assert steps[0][0] == "YOSYS" and steps[1][0].startswith("NEXTPNR")
    b = board(name)
    assert f" {b.nextpnr_opts} " in steps[1][1]   # the router and seed the board routes with
    constraints = (directory / ("top.lpf" if b.family == "ecp5" else "top.pcf")).read_text()
    assert "uart" in constraints


@pytest.mark.parametrize("name", list(BOARDS))
def test_boot_loader_fits_before_the_mailbox(name):
    config = board(name).config
    words = boot_words(config)
    assert 0 < len(words) * 4 <= mailbox_offsets(config.rom_size)[0]


def test_linker_script_keeps_mailbox_free():
    config = board("ulx3s").config
    script = linker_script(config)
    assert f"LENGTH = 0x{config.rom_size - 8:x}" in script


def test_unknown_board_message():
    with pytest.raises(ValueError, match="choose one of: ulx3s, icebreaker"):
        board("de10")
