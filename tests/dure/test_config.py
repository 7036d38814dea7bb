"""SoCConfig: validation messages, derived values and the memory map's invariants."""

from dataclasses import replace

import pytest
from dure.rtl.soc.cpu import CORE_VARIANTS

from dure.config import NPU_BASE, NPU_TILE_STRIDE, PRESETS, RAM_BASE, SoCConfig, preset


def test_regions_are_disjoint_and_aligned():
    for config in PRESETS.values():
        regions = sorted(config.regions, key=lambda r: r.base)
        for a, b in zip(regions, regions[1:], strict=False):
            assert a.end <= b.base, f"{a.name} overlaps {b.name}"
        for r in regions:
            size = 1 << (r.size - 1).bit_length()
            assert r.base % size == 0, f"{r.name} is not aligned to its size"


def test_reset_vector_is_ram_without_rom():
    assert SoCConfig().reset_vector == RAM_BASE
    assert SoCConfig(rom_size=4096).reset_vector == 0


def test_loadable_ranges():
    config = SoCConfig(ram_size=4096)
    assert config.loadable(RAM_BASE, 4096).name == "ram"
    assert config.loadable(RAM_BASE + 4092, 8) is None          # runs past the end
    assert config.loadable(0x1000_0000, 4) is None              # a peripheral
    assert config.loadable(config.region("main").base, 4).name == "main"


@pytest.mark.parametrize("kwargs, message", [
    ({"ram_size": 3000}, "ram_size must be a power of two"),
    ({"main_size": 0}, "main_size must be a power of two"),
    ({"main_latency": 0}, "main_latency must be an integer >= 1"),
    ({"main_bytes_per_cycle": 3}, "main_bytes_per_cycle must be 1, 2 or 4"),
    ({"uart_fifo_depth": 5}, "uart_fifo_depth must be a power of two"),
    ({"clk_freq": 1000}, "clk_freq must be at least 16 x uart_baud"),
    ({"gpio_width": 0}, "gpio_width must be 1..32"),
    ({"core": "mini"},
     "unknown core variant 'mini'; choose one of: " + ", ".join(CORE_VARIANTS)),
    ({"ram_kind": "ebr"}, "ram_kind must be 'block' or 'spram' or 'single'"),
    ({"sdram_part": "MT48LC16M16"}, "unknown SDRAM part 'MT48LC16M16'"),
    ({"main_kind": "ddr"}, "main_kind must be 'block' or 'spram' or 'sdram'"),
    ({"main_kind": "sdram"}, "main_size must be 33554432 .the SDRAM."),
    ({"ram_size": 256 * 1024, "ram_kind": "spram"}, "the SPRAM memories need 8 blocks"),
    ({"ram_size": 128 * 1024, "ram_kind": "spram", "main_size": 1024, "main_kind": "spram"},
     "the SPRAM memories need 6 blocks; there are 4"),
    ({"bus_outstanding": -1}, "bus_outstanding must be an integer >= 0"),
    ({"pmp_entries": 17}, "pmp_entries must be an integer in 0..16"),
    ({"triggers": -1}, "triggers must be an integer in 0..8"),
    ({"npu_tiles": 0}, "npu_tiles must be an integer in 1..8"),
    ({"npu_tiles": 9}, "npu_tiles must be an integer in 1..8"),
    ({"npu_tiles": 2, "npu_rows": 0}, "npu_tiles > 1 needs an NPU"),
    ({"main_bandwidth": "wide"}, "main_bandwidth must be 'shared' or 'scaled'"),
    ({"npu_eltwise_fp16": 1}, "npu_eltwise_fp16 must be a bool"),
    ({"npu_queue_depth": 3}, "npu_queue_depth must be a power of two >= 1"),
    ({"npu_exec_depth": 0}, "npu_exec_depth must be an integer >= 1"),
    ({"npu_list_entries": True}, "npu_list_entries must be an integer >= 1"),
    ({"npu_list_port": 1}, "npu_list_port must be a bool"),
    ({"npu_exec_depth": 20261207}, "npu_exec_depth must be an integer >= 1 and <= 64"),
    ({"main_bandwidth": "scaled", "main_kind": "spram", "main_size": 65536},
     "main_bandwidth 'scaled' is a simulation model"),
])
def test_bad_values_are_refused_with_a_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SoCConfig(**kwargs)


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="choose one of: .*sim"):
        preset("nope")


def test_config_is_frozen_and_hashable():
    config = preset("sim")
    with pytest.raises(AttributeError):
        config.ram_size = 1
    # The sim SoC has the gather path, overlapped LOADs, COMPUTEs following their LOADs, the
    # LIST fetcher's own path, the element-wise hand-over and row-exact LOAD / walk hazards;
    # the defaults (board builds) not; npu-small (the 4x4 system tests) follows LOADs too.
    assert hash(config) == hash(SoCConfig(npu_gather=True, npu_load_overlap=True,
                                          npu_load_follow=True, npu_list_port=True,
                                          npu_eltwise_handover=True, npu_row_hazard=True))
    assert not SoCConfig().npu_gather and not SoCConfig().npu_load_overlap
    assert not SoCConfig().npu_load_follow
    assert not any(preset(name).npu_load_overlap
                   for name in ("ulx3s", "icebreaker-npu", "npu-small"))
    assert not any(preset(name).npu_load_follow for name in ("ulx3s", "icebreaker-npu"))
    assert preset("npu-small").npu_load_follow
    # row-exact LOAD / walk hazards: on in sim / npu-small and their twins, off on the boards,
    # and only with the load unit's row-by-row following
    assert all(preset(name).npu_row_hazard for name in ("sim", "sim-2t", "npu-small",
                                                        "npu-small-4t"))
    assert not any(preset(name).npu_row_hazard for name in ("ulx3s", "icebreaker-npu"))
    with pytest.raises(ValueError, match="npu_row_hazard needs npu_load_follow"):
        SoCConfig(npu_row_hazard=True)
    with pytest.raises(ValueError, match="npu_gather"):
        SoCConfig(npu_rows=2, npu_cols=2, npu_gather=True)
    with pytest.raises(ValueError, match="npu_load_overlap"):
        SoCConfig(npu_load_overlap=1)
    # The units' pipeline stages for the FPGA clock: on in the ULX3S preset only.
    assert preset("ulx3s").npu_load_pipeline and preset("ulx3s").npu_eltwise_pipeline
    assert not any(preset(name).npu_load_pipeline or preset(name).npu_eltwise_pipeline
                   for name in ("sim", "icebreaker-npu", "npu-small"))
    for name in ("npu_load_pipeline", "npu_eltwise_pipeline", "npu_eltwise_operand_regs",
                 "npu_store_wait_reg"):
        with pytest.raises(ValueError, match=f"{name} must be a bool"):
            SoCConfig(**{name: 1})
    # the element-wise unit's operand registers (session 21): ULX3S only, with the unit
    assert preset("ulx3s").npu_eltwise_operand_regs
    assert not any(preset(name).npu_eltwise_operand_regs
                   for name in ("sim", "icebreaker-npu", "npu-small", "sim-2t"))
    with pytest.raises(ValueError, match="npu_eltwise_operand_regs needs npu_eltwise"):
        SoCConfig(npu_eltwise=False, npu_eltwise_operand_regs=True)
    # the STORE unit's registered per-row wait (session 21, branch clock50b): ULX3S only
    assert preset("ulx3s").npu_store_wait_reg
    assert not any(preset(name).npu_store_wait_reg for name in PRESETS if name != "ulx3s")
    with pytest.raises(ValueError, match="npu_load_follow"):
        SoCConfig(npu_load_follow=1)
    with pytest.raises(ValueError, match="cannot both be on"):
        SoCConfig(npu_load_follow=True, npu_load_pipeline=True)
    # The DMA's side slices, the registered hazard scoreboard and the fabric's timing
    # options: ULX3S only, as the stages.
    for name in ("npu_dma_side_slices", "npu_hazard_regs", "soc_grant_buffers",
                 "soc_main_slices", "soc_parked_arbiters", "soc_periph_slices",
                 "soc_late_ram_writes", "soc_irq_regs", "soc_hold_regs"):
        assert getattr(preset("ulx3s"), name)
        assert not any(getattr(preset(other), name)
                       for other in ("sim", "icebreaker-npu", "npu-small", "sim-2t"))
        with pytest.raises(TypeError, match=f"{name} must be a bool"):
            SoCConfig(**{name: 1})


def test_spram_variants_share_the_four_blocks():
    config = preset("icebreaker")
    assert (config.ram_kind, config.main_kind, config.core) == ("spram", "spram", "tiny")
    assert config.ram_size == config.main_size == 64 * 1024
    assert SoCConfig(ram_size=128 * 1024, ram_kind="spram").ram_size == 128 * 1024
    # The defaults are the dual-ported block-RAM SoC with the full core.
    default = SoCConfig()
    assert (default.core, default.ram_kind, default.main_kind, default.bus_outstanding) == \
        ("full", "block", "block", 0)


def test_npu_tiles_have_their_own_register_regions():
    one = preset("sim")
    assert [r.name for r in one.regions if r.name.startswith(("npu", "tiles"))] == ["npu"]
    assert one.main_ports == 1
    four = SoCConfig(npu_tiles=4, main_bandwidth="scaled")
    assert [(four.region(four.npu_region_name(t)).base, four.region(four.npu_region_name(t)).size)
            for t in range(4)] == [(NPU_BASE + t * NPU_TILE_STRIDE, NPU_TILE_STRIDE)
                                   for t in range(4)]
    assert four.region("tiles").size == 4096
    assert four.main_ports == 4
    assert SoCConfig(npu_tiles=4).main_ports == 1
    with pytest.raises(ValueError, match="tile must be in 0..3"):
        four.npu_region_name(4)


def test_fp16_mac_needs_fp16_and_the_element_wise_unit():
    """``npu_eltwise_fp16_mac``: the option with ``npu_fp16`` and ``npu_eltwise``; the ULX3S
    leaves it out."""
    from dataclasses import replace

    base = SoCConfig()
    assert base.npu_eltwise_fp16_mac
    assert not replace(base, npu_eltwise_fp16=False).npu_eltwise_fp16_mac
    assert not replace(base, npu_eltwise=False).npu_eltwise_fp16_mac
    assert not replace(base, npu_fp16=False).npu_eltwise_fp16_mac
    assert not replace(base, npu_rows=0).npu_eltwise_fp16_mac
    assert not preset("ulx3s").npu_eltwise_fp16_mac and preset("sim").npu_eltwise_fp16_mac


def test_dot_unit_region_only_where_built():
    """The dot-product unit's region exists only with ``dot_unit``: the iCEBreaker board and
    its ROM-less simulation twin; every other preset's memory map is unchanged."""
    board = preset("icebreaker")
    assert board.dot_unit and preset("icebreaker-elf").dot_unit
    assert board.region("dot").base == 0x1000_5000 and board.region("dot").size == 0x1000
    assert replace(board, rom_size=0, name="icebreaker-elf") == preset("icebreaker-elf")
    for name in ("sim", "npu-small", "ulx3s", "cpu-tiny", "icebreaker-npu"):
        assert not preset(name).dot_unit
        assert "dot" not in [r.name for r in preset(name).regions]
    with pytest.raises(TypeError, match="dot_unit must be a bool"):
        SoCConfig(dot_unit=1)


def test_board_command_path_trims():
    """The command-path trims default to the full NPU; only the iCESugar-Pro uses them."""
    config = SoCConfig()
    assert (config.npu_exec_depth, config.npu_list_entries) == (8, 4)
    assert not config.npu_narrow_footprints
    board = preset("icesugar-pro")
    assert (board.npu_queue_depth, board.npu_exec_depth, board.npu_list_entries) == (1, 2, 1)
    assert board.npu_narrow_footprints and not board.npu_eltwise
    for name in PRESETS:
        if name != "icesugar-pro":
            other = preset(name)
            assert (other.npu_exec_depth, other.npu_list_entries) == (8, 4), name
            assert not other.npu_narrow_footprints, name
    with pytest.raises(TypeError, match="npu_narrow_footprints must be a bool"):
        SoCConfig(npu_narrow_footprints=1)


def test_eltwise_handover_in_the_simulated_presets():
    """``npu_eltwise_handover`` (docs/layer_fixed_cost.md, "Session 17"): on in the simulated
    presets with an NPU (so in the multi-tile twins too), off by default and on the boards."""
    assert not SoCConfig().npu_eltwise_handover
    for name in ("sim", "npu-small", "sim-2t", "sim-4t", "npu-small-2t", "npu-small-4t"):
        assert preset(name).npu_eltwise_handover, name
    for name in ("ulx3s", "icesugar-pro", "icebreaker-npu"):
        assert not preset(name).npu_eltwise_handover, name


def test_list_port_where_it_pays():
    """``npu_list_port`` (the LIST fetcher's own path, docs/layer_fixed_cost.md, "Session 16:
    the LIST's own fetch path"): on in the simulated presets with an NPU, off by default and
    on the boards."""
    assert not SoCConfig().npu_list_port
    for name in ("sim", "npu-small", "sim-2t", "npu-small-2t"):
        assert preset(name).npu_list_port, name
    for name in ("ulx3s", "icesugar-pro", "icebreaker-npu"):
        assert not preset(name).npu_list_port, name
