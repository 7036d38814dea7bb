"""Every board target elaborates for its platform (build files written, no tools run), and the
boot loader fits each board's ROM."""

import pytest
from dure.fpga.boards import BOARDS, board
from dure.fpga.bootrom import boot_words, linker_script
from dure.fpga.build import _commands, elaborate
from dure.fpga.clocking import ecp5_pll
from dure.fpga.program import program_command
from dure.fpga.protocol import mailbox_offsets


@pytest.fixture(scope="module")
def elaborated(tmp_path_factory):
    """``name -> build folder``, each board elaborated once for the module's tests."""
    folders = {}

    def get(name):
        if name not in folders:
            folders[name] = elaborate(name, directory=tmp_path_factory.mktemp(name))
        return folders[name]
    return get


@pytest.mark.parametrize("name", list(BOARDS))
def test_board_elaborates(name, elaborated):
    directory = elaborated(name)
    il = (directory / "top.il").read_text()
    assert "soc" in il and "mailbox" in il
    steps = _commands(directory)
    assert steps[0][0] == "YOSYS" and steps[1][0].startswith("NEXTPNR")
    b = board(name)
    assert f" {b.nextpnr_opts} " in steps[1][1]   # the router and seed the board routes with
    constraints = (directory / ("top.lpf" if b.family == "ecp5" else "top.pcf")).read_text()
    assert "uart" in constraints


@pytest.mark.parametrize("name", list(BOARDS))
def test_ecp5_reset_goes_through_a_global_buffer(name, elaborated):
    """On the ECP5 the ``sync`` reset is a DCCA's output (routed on a global network, not the
    general routing: fpga/README.md, session 20); the iCE40 has no DCCA."""
    il = (elaborated(name) / "top.il").read_text()
    if board(name).family == "ecp5":
        assert il.count("cell \\DCCA ") == 1
    else:
        assert "DCCA" not in il


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
    with pytest.raises(ValueError, match="choose one of: ulx3s, icesugar-pro, icebreaker"):
        board("de10")


def test_icesugar_pro_board(elaborated):
    # The iCESugar-Pro: the 25F in its BG256 package, main memory in the module's SDRAM (the
    # controller's pins on the platform's `sdram` resource), the PLL making the preset's clock
    # from the 25 MHz oscillator, openFPGALoader through the iCELink's CMSIS-DAP.
    b = board("icesugar-pro")
    platform = b.make_platform()
    assert (platform.device, platform.package, platform.speed) == ("LFE5U-25F", "BG256", "6")
    config = b.config
    assert config.main_kind == "sdram" and config.main_size == 32 * 1024 * 1024
    assert (config.npu_rows, config.npu_cols, config.npu_fp16, config.npu_float_post) == \
        (4, 1, False, False)
    assert (config.core, config.ram_kind, config.ram_size) == ("tiny", "single", 64 * 1024)
    f_in = int(platform.lookup("clk25", 0).clock.frequency)
    assert ecp5_pll(f_in, config.clk_freq).f_out == config.clk_freq
    directory = elaborated("icesugar-pro")
    assert "SB_SPRAM256KA" not in (directory / "top.il").read_text()   # its RAM: block RAM
    lpf = (directory / "top.lpf").read_text()
    for pin in ("P6", "R15", "A15", "G16", "B16", "L16", "F16", "L15", "C16", "T15", "A9",
                "B9", "A11", "A12", "B11"):
        assert f'"{pin}"' in lpf                  # oscillator, SDRAM, UART, RGB LED
    assert b.leds == (("rgb_led", 0, "r"), ("rgb_led", 0, "g"), ("rgb_led", 0, "b"))
    steps = _commands(directory)
    assert "--25k" in steps[1][1] and "--package CABGA256" in steps[1][1]
    assert program_command(b, "top.bit", loader=("ofl",)) == ["ofl", "-c", "cmsisdap",
                                                               "top.bit"]
