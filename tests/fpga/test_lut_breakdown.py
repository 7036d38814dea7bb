"""The per-block breakdown of a flattened Yosys netlist by cell names (fpga/lut_breakdown.py)."""

import json

import pytest
from dure.fpga.lut_breakdown import (
    block_of,
    breakdown,
    cells_from_netlist,
    format_table,
    main,
)

PE = "soc.npu.datapath.array.core.mesh.pe_0_1"
CELLS = {
    f"{PE}.acc_LUT4_Z": "LUT4",
    f"{PE}.acc_CCU2C_S0": "CCU2C",
    f"{PE}.w_TRELLIS_FF_Q": "TRELLIS_FF",
    f"{PE}.mul.p_LUT4_Z": "LUT4",
    f"{PE}.mul.p_LUT4_Z_1": "LUT4",
    f"{PE}.add.s1_CCU2C_S0": "CCU2C",
    "soc.npu.datapath.store.postproc.col1.f2h.x_TRELLIS_DPR16X4_DO": "TRELLIS_DPR16X4",
    "soc.main_arbiter.gnt_LUT4_Z": "LUT4",
    "crg.locked_LUT4_D": "LUT4",
    "$abc$123$lut": "LUT4",
}


def _netlist(cells=CELLS):
    return json.dumps({"modules": {"top": {"cells": {
        name: {"type": kind, "parameters": {}} for name, kind in cells.items()}}}})


def test_cells_grouped_by_the_hierarchy_in_their_names():
    modules = cells_from_netlist(_netlist())
    assert modules[f"top.{PE}"] == {"LUT4": 1, "CCU2C": 1, "TRELLIS_FF": 1}
    assert modules[f"top.{PE}.mul"] == {"LUT4": 2}
    assert modules["top.crg"] == {"LUT4": 1}
    assert modules["$unnamed"] == {"LUT4": 1}
    with pytest.raises(ValueError, match="module `top`"):
        cells_from_netlist('{"modules": {}}')


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
    assert block_of("top.soc.core.x.branch$172").startswith("control core")
    assert block_of("$unnamed") == "other"


def test_breakdown_sums_blocks_and_estimates_comb(tmp_path, capsys):
    blocks = breakdown(cells_from_netlist(_netlist()))
    assert blocks["NPU: array, INT8 MACs, registers and skews"]["COMB"] == 1 + 2
    assert blocks["NPU: array, FP16 multipliers (per PE)"]["COMB"] == 2
    assert blocks["NPU: array, FP32 adders (per PE)"]["COMB"] == 2
    assert blocks["NPU: post-processing, fp32 (per column)"]["COMB"] == 2
    assert blocks["other"]["COMB"] == 1
    assert blocks["total"] == {"COMB": 12, "LUT4": 6, "CCU2C": 2, "FF": 1, "DP16KD": 0,
                               "MULT18X18D": 0}
    table = format_table(blocks)
    assert table.splitlines()[-1] == "| **total** | 12 | 6 | 2 | 1 | 0 | 0 | 100.0 % |"
    assert "| NPU: array, INT8 MACs, registers and skews | 3 | 1 | 1 | 1 | 0 | 0 | 25.0 % |" \
        in table
    (tmp_path / "top.json").write_text(_netlist())
    assert main([str(tmp_path)]) == 0
    assert "| **total** | 12 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
