"""The congestion report from a router2 heat map and a placed design (fpga/congestion.py)."""

import json

import pytest
from dure.fpga.congestion import (
    cells_near,
    format_fanout,
    format_report,
    high_fanout_nets,
    hot_tiles,
    main,
    placed_cells,
    read_heatmap,
    read_net_congestion,
    report,
)

# nextpnr 0.11's layout, a line per column x: 4 columns x 3 rows; the hottest tile is X2/Y1 (7),
# then X3/Y2 (5), X0/Y0 (1)
HEATMAP = "1,0,0,\n0,0,0,\n0,7,0,\n0,0,5,\n"
HEATMAP_ROWS_Y = "1,0,0,0,\n0,0,7,0,\n0,0,0,5,\n"      # the same map, a line per row y

PE = "soc.npu.datapath.array.core.mesh.pe_0_1"
CELLS = {
    f"{PE}.add.s1_LUT4_Z": ("TRELLIS_COMB", "X2/Y1/SLICEA"),
    f"{PE}.add.s1_TRELLIS_FF_Q": ("TRELLIS_FF", "X2/Y1/SLICEB"),
    "soc.core.x.pmp.chk_lo_CCU2C_S0": ("TRELLIS_COMB", "X3/Y2/SLICEC"),
    "soc.core.csr.mcycle_LUT4_Z": ("TRELLIS_COMB", "X1/Y0/SLICEA"),     # next to X2/Y1
    "soc.uart.tx_LUT4_Z": ("TRELLIS_COMB", "X0/Y2/SLICEA"),            # 2 tiles from X2/Y1
    "$abc$1$lut": ("TRELLIS_COMB", "X2/Y1/SLICED"),
    "crg.unplaced_cell": ("TRELLIS_FF", None),
}


def _placed(cells=CELLS):
    out = {}
    for name, (kind, bel) in cells.items():
        out[name] = {"type": kind, "attributes": {"NEXTPNR_BEL": bel} if bel else {}}
    return json.dumps({"modules": {"top": {"cells": out}}})


def test_read_heatmap_lines_are_x_or_y():
    assert read_heatmap(HEATMAP) == {(0, 0): 1, (2, 1): 7, (3, 2): 5}
    assert read_heatmap(HEATMAP_ROWS_Y, rows="y") == read_heatmap(HEATMAP)
    with pytest.raises(ValueError, match="rows must be"):
        read_heatmap(HEATMAP, rows="z")


def test_read_net_congestion_most_first():
    text = "$PACKER_GND_NET,10\nsoc.a[1],3\nsoc.rst,12\nodd,name,5\n\n"
    assert read_net_congestion(text) == [("soc.rst", 12), ("$PACKER_GND_NET", 10),
                                         ("odd,name", 5), ("soc.a[1]", 3)]
    assert read_net_congestion(text, 1) == [("soc.rst", 12)]


def test_read_heatmap_refuses_the_wire_type_histogram():
    with pytest.raises(ValueError, match="not a spatial heat map"):
        read_heatmap("type,bound=0,bound=1,\nH02,100,3,\n")


def test_placed_cells_by_tile():
    tiles = placed_cells(_placed())
    assert sorted(tiles[(2, 1)]) == sorted([(f"{PE}.add.s1_LUT4_Z", "TRELLIS_COMB"),
                                            (f"{PE}.add.s1_TRELLIS_FF_Q", "TRELLIS_FF"),
                                            ("$abc$1$lut", "TRELLIS_COMB")])
    assert sum(len(v) for v in tiles.values()) == 6         # the unplaced cell is left out


@pytest.mark.parametrize("placed", ['{"modules": {}}',
                                    json.dumps({"modules": {"top": {"cells": {}}}})])
def test_placed_cells_refuses_a_design_without_placement(placed):
    with pytest.raises(ValueError):
        placed_cells(placed)


def test_hot_tiles_hottest_first():
    heat = read_heatmap(HEATMAP)
    assert hot_tiles(heat, 2) == [((2, 1), 7), ((3, 2), 5)]


def test_cells_near_counts_each_cell_once():
    tiles = placed_cells(_placed())
    # X2/Y1 and X3/Y2 overlap within radius 1: the PE's cells counted once
    near = cells_near(tiles, [(2, 1), (3, 2)], 1)
    names = [n for n, _ in near]
    assert len(names) == len(set(names)) == 5
    assert "soc.uart.tx_LUT4_Z" not in names
    assert "soc.uart.tx_LUT4_Z" in [n for n, _ in cells_near(tiles, [(2, 1)], 2)]


def test_report_blocks_and_modules():
    rep = report(read_heatmap(HEATMAP), placed_cells(_placed()), top=2, radius=0, depth=3)
    assert rep["total"] == 13
    assert rep["share"] == pytest.approx(12 / 13)
    assert rep["bbox"] == (2, 1, 3, 2)
    assert rep["hot"][0]["tile"] == (2, 1)
    assert rep["hot"][0]["blocks"] == {"NPU: array, FP32 adders (per PE)": 2, "other": 1}
    assert rep["blocks"] == {"NPU: array, FP32 adders (per PE)": 2,
                             "control core (5-stage, PMP, trigger, predictors)": 1, "other": 1}
    assert rep["modules"] == {"top.soc.npu.datapath": 2, "top.soc.core.x": 1, "$unnamed": 1}
    text = format_report(rep)
    assert "| X2/Y1 | 7 |" in text and "92.3 %" in text


def _connected():
    """Three flip-flops and a LUT: net 2 (``rst`` and a ``$`` alias) reaches two LSR pins and a
    LUT input, net 3 one CE; net 4 is driven only."""
    ff = {"type": "TRELLIS_FF", "port_directions": {"LSR": "input", "CE": "input", "Q": "output"}}
    cells = {
        "a": dict(ff, attributes={"NEXTPNR_BEL": "X1/Y5/SLICEA"},
                  connections={"LSR": [2], "CE": [3], "Q": [4]}),
        "b": dict(ff, attributes={"NEXTPNR_BEL": "X7/Y2/SLICEB"},
                  connections={"LSR": [2], "CE": ["1"], "Q": [5]}),
        "c": {"type": "TRELLIS_COMB", "attributes": {"NEXTPNR_BEL": "X3/Y9/SLICEA"},
              "port_directions": {"A": "input", "F": "output"},
              "connections": {"A": [2], "F": [6]}},
    }
    netnames = {"$auto$rst": {"bits": [2]}, "soc.rst": {"bits": [2]}, "rst": {"bits": [2]},
                "en": {"bits": [3]}, "q": {"bits": [4]}}
    return {"modules": {"top": {"cells": cells, "netnames": netnames}}}


def test_high_fanout_nets_counts_sinks_by_pin_and_their_extent():
    rows = high_fanout_nets(json.dumps(_connected()), top=5)
    assert rows[0] == {"net": "rst", "sinks": 3, "bbox": (1, 2, 7, 9),
                       "ports": {"TRELLIS_FF.LSR": 2, "TRELLIS_COMB.A": 1}}
    assert rows[1] == {"net": "en", "sinks": 1, "bbox": (1, 5, 1, 5), "ports": {"TRELLIS_FF.CE": 1}}
    assert len(rows) == 2                        # constants and driven-only nets are no sinks
    assert high_fanout_nets(_connected(), top=1) == rows[:1]
    assert "| `rst` | 3 | TRELLIS_FF.LSR 2, TRELLIS_COMB.A 1 | X1-7 / Y2-9 |" in format_fanout(rows)


def test_main_prints_the_report(tmp_path, capsys):
    (tmp_path / "h_congestion_by_coordinate_1.csv").write_text(HEATMAP)
    (tmp_path / "h_congestion_by_net_1.csv").write_text("soc.rst,12\nsoc.a,3\n")
    (tmp_path / "placed.json").write_text(json.dumps(_connected()))
    assert main([str(tmp_path / "h_congestion_by_coordinate_1.csv"),
                 str(tmp_path / "placed.json"), "--top", "1", "--nets", "1"]) == 0
    out = capsys.readouterr().out
    assert "| X2/Y1 | 7 |" in out and "X3/Y2" not in out.split("by block:")[0]
    assert "| `rst` | 3 |" in out                        # the net with the most sinks
    assert "| `soc.rst` | 12 |" in out and "soc.a" not in out   # the most over-used, 1 of 2


def test_main_names_a_missing_file(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nothing.csv"), str(tmp_path / "placed.json")])
