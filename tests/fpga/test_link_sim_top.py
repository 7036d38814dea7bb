# amaranth: UnusedElaboratable=no
"""LinkSimTop with main memory in SDRAM: the simulated ULX3S's real memory path.

Fast: the SDRAM variant brings the controller's pins out and times the controller for the
board's clock, the block variant does not, and bad combinations are refused. Slow (the model
of the whole ULX3S SoC takes minutes to build; make fuzz): the harness's chip model runs under
the controller, data goes through the SDRAM and back over the boot link, and a chip model
clocked faster than the controller was built for fails the run loudly, naming the rule.
"""

import subprocess

import pytest
from dure.fpga.link import BoardLink
from dure.fpga.link_sim_top import LinkSimTop
from dure.fpga.simboard import SimBoard, sim_config
from dure.rtl.soc.soc import Soc

from dure.config import preset


def test_the_sdram_variant_has_the_chip_pins_at_the_board_clock():
    config = sim_config(board="ulx3s")
    assert config.main_kind == "sdram" and config.name.endswith("-ulx3s-sdram")
    top = LinkSimTop(config)
    assert "sdram" in top.signature.members
    assert top.sdram_clk_freq == preset("ulx3s").clk_freq == 50_000_000
    # The simulated board runs the chip model at the clock the controller was timed for.
    assert SimBoard(board="ulx3s").sdram_clk_freq == top.sdram_clk_freq
    assert SimBoard(board="ulx3s", main="block").sdram_clk_freq is None
    assert LinkSimTop(config, sdram_clk_freq=25_000_000).sdram_clk_freq == 25_000_000
    block = sim_config(board="ulx3s", main="block")
    assert block.main_kind == "block" and block.name.endswith("-ulx3s-block")
    assert "sdram" not in LinkSimTop(block).signature.members
    assert LinkSimTop(block).sdram_clk_freq is None
    # Boards without SDRAM ignore the choice.
    assert sim_config(board="icebreaker", main="block") == sim_config(board="icebreaker")


def test_each_board_times_its_controller_for_its_own_clock():
    # The iCESugar-Pro runs at 25 MHz, not the ULX3S's 50: its simulated board builds a
    # LinkSimTop timed for 25 MHz (a model of its own, cached under its own key) and clocks
    # the chip model at 25 MHz; the ULX3S keeps LinkSimTop itself (and its cached model).
    from dure.fpga.simboard import _link_top
    from dure.sim.rtlgen import model_hash
    board = SimBoard(board="icesugar-pro")
    assert board.sdram_clk_freq == preset("icesugar-pro").clk_freq == 25_000_000
    top_class = _link_top(board.sdram_clk_freq)
    assert top_class is not LinkSimTop and issubclass(top_class, LinkSimTop)
    assert top_class(board.config).sdram_clk_freq == 25_000_000
    assert model_hash(board.config, top_class) != model_hash(board.config, LinkSimTop)
    assert _link_top(SimBoard(board="ulx3s").sdram_clk_freq) is LinkSimTop
    assert _link_top(None) is LinkSimTop


def test_bad_combinations_are_refused():
    with pytest.raises(ValueError, match="main must be 'sdram' or 'block', not 'dram'"):
        sim_config(board="ulx3s", main="dram")
    block = sim_config(board="ulx3s", main="block")
    with pytest.raises(ValueError, match="sdram_clk_freq is only for a variant with main_kind"):
        LinkSimTop(block, sdram_clk_freq=20_000_000)
    with pytest.raises(ValueError, match="sdram_clk_freq is only for a variant with main_kind"):
        Soc(block, sdram_clk_freq=20_000_000)


@pytest.mark.slow
def test_data_through_the_sdram_and_back():
    # A blob loaded into main memory (the SDRAM) through the boot loader, CRC-checked, read
    # back word for word; then a program runs from RAM and exits.
    with SimBoard(board="ulx3s") as board:
        link = BoardLink.open(board.port, timeout=30.0)
        try:
            info = link.ping()
            main = board.config.region("main")
            assert (info.main_base, info.main_size) == (main.base, main.size)
            blob = bytes((i * 37 + 11) & 0xFF for i in range(3000))
            for offset in (0, main.size - 4096):
                link.write(main.base + offset, blob)
                assert link.read(main.base + offset, len(blob)) == blob
        finally:
            link.close()


@pytest.mark.slow
def test_a_datasheet_violation_fails_the_run_loudly(tmp_path):
    # The controller is built for 20 MHz; a chip clocked at 200 MHz sees its power-up wait
    # (100 us) cut to a tenth and says so, and the run fails (status 3). Without --sdram-clock
    # the model refuses to run.
    from dure.fpga.bootrom import build_boot
    from dure.sim.elf import load_elf
    from dure.sim.verilator import build_model

    config = sim_config(board="ulx3s")
    exe = build_model(config, top=LinkSimTop)
    (tmp_path / "image.bin").write_bytes(load_elf(build_boot(config), config).image())
    base = [str(exe), "--image", str(tmp_path / "image.bin"), "--result",
            str(tmp_path / "result.json"), "--max-cycles", "20000"]
    fast = subprocess.run([*base, "--sdram-clock", "200000000"], capture_output=True, text=True)
    assert fast.returncode == 3
    assert "SDRAM chip model: cycle" in fast.stderr and "during the power-up wait" in fast.stderr
    missing = subprocess.run(base, capture_output=True, text=True)
    assert missing.returncode == 3 and "--sdram-clock HZ is required" in missing.stderr
    ok = subprocess.run([*base, "--sdram-clock", "20000000"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
