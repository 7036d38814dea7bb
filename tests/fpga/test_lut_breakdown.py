"""The per-block breakdown of a hierarchical synthesis (fpga/lut_breakdown.py), on `stat`
output in Yosys 0.70's format."""

import pytest
from dure.fpga.lut_breakdown import block_of, breakdown, format_table, main, parse_stat

STAT = """
3. Printing statistics.

=== top.soc.npu.datapath.array.core.mesh.pe_0_1 ===

        +----------Local Count, excluding submodules.
        |
       12 wires
        5 ports
       30 cells
       20   LUT4
        4   CCU2C
        6   TRELLIS_FF
        1   MULT18X18D
        2 submodules
        1   top.soc.npu.datapath.array.core.mesh.pe_0_1.mul
        1   top.soc.npu.datapath.array.core.mesh.pe_0_1.add

=== top.soc.npu.datapath.array.core.mesh.pe_0_1.mul ===

        +----------Local Count, excluding submodules.
        |
      100   LUT4
        7   TRELLIS_FF

=== top.soc.npu.datapath.array.core.mesh.pe_0_1.add ===

        +----------Local Count, excluding submodules.
        |
       50   LUT4
       10   CCU2C

=== top.soc.npu.datapath.store.postproc.col1.f2h ===

        +----------Local Count, excluding submodules.
        |
       40   LUT4
        3   TRELLIS_DPR16X4

=== top.soc.irq$531 ===

        +----------Local Count, excluding submodules.
        |
        2   LUT4
        1   DP16KD

=== top.soc.main_arbiter ===

        +----------Local Count, excluding submodules.
        |
        9   LUT4

=== design hierarchy ===

        +----------Count including submodules.
        |
      999   LUT4
"""


def test_parse_stat_keeps_local_cells_and_drops_submodule_instances():
    modules = parse_stat(STAT)
    pe = modules["top.soc.npu.datapath.array.core.mesh.pe_0_1"]
    assert pe == {"LUT4": 20, "CCU2C": 4, "TRELLIS_FF": 6, "MULT18X18D": 1}
    assert modules["top.soc.irq$531"] == {"LUT4": 2, "DP16KD": 1}
    assert "design hierarchy" not in modules and len(modules) == 6


def test_blocks_by_longest_prefix_without_instance_numbers():
    assert block_of("top.soc.npu.datapath.array.core.mesh.pe_3_2.mul.lzc_a") == \
        "NPU: array, FP16 multipliers (per PE)"
    assert block_of("top.soc.npu.datapath.array.core.a_skew") == \
        "NPU: array, INT8 MACs, registers and skews"
    assert block_of("top.soc.npu.datapath.store.postproc.col3.i2f.lzc") == \
        "NPU: post-processing, fp32 (per column)"
    assert block_of("top.soc.npu.datapath.store.postproc.col0.fx") == \
        "NPU: post-processing, fixed point + glue"
    assert block_of("top.soc.main_arbiter.route") == "bus: decoders, arbiters, DMA slice"
    assert block_of("top.soc.main.refresh") == "SDRAM controller"
    assert block_of("top.soc.npu.control.perf$146") == \
        "NPU: registers, command queue, fetcher, counters"
    assert block_of("\\top.soc.core.x.branch$172").startswith("control core")
    assert block_of("elsewhere") == "other"


def test_breakdown_sums_blocks_and_estimates_comb():
    blocks = breakdown(parse_stat(STAT))
    assert blocks["NPU: array, INT8 MACs, registers and skews"]["COMB"] == 20 + 2 * 4
    assert blocks["NPU: array, FP32 adders (per PE)"]["COMB"] == 50 + 2 * 10
    assert blocks["NPU: post-processing, fp32 (per column)"]["COMB"] == 40 + 2 * 3
    total = blocks["total"]
    assert total == {"COMB": 28 + 100 + 70 + 46 + 2 + 9, "LUT4": 221, "CCU2C": 14,
                     "FF": 13, "DP16KD": 1, "MULT18X18D": 1}
    table = format_table(blocks)
    assert table.splitlines()[2].startswith("| NPU: array, FP16 multipliers (per PE) | 100 |")
    assert table.splitlines()[-1].startswith("| **total** | 255 |")
    assert "39.2 %" in table          # 100 of 255


def test_no_statistics_is_an_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="no module statistics"):
        parse_stat("nothing here")
    saved = tmp_path / "stat.txt"
    saved.write_text(STAT)
    assert main(["--stat", str(saved)]) == 0
    assert "| **total** | 255 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([])
