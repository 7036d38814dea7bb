"""Tile scaling bookkeeping (the simulated runs are `make bench-scaling`'s): speedup,
efficiency and shortfall against the K = 1 point, the CSV's stable columns, the families."""

import csv

import pytest
from dure.sim import tile_scaling as ts

from dure.config import preset


def point(tiles, cycles, bandwidth="shared", workload="gemm256"):
    p = dict.fromkeys(ts.COLUMNS)
    p.update(family="4x4", tiles=tiles, bandwidth=bandwidth, workload=workload, cycles=cycles,
             exact=True)
    return p


def test_speedup_efficiency_and_shortfall_against_one_tile():
    points = ts.with_speedup([point(1, 1000), point(2, 520), point(4, 400),
                              point(4, 300, bandwidth="scaled")])
    assert [(p["speedup"], p["efficiency"], p["shortfall_cycles"]) for p in points] == [
        (1.0, 1.0, 0), (1.923, 0.962, 20), (2.5, 0.625, 150), (None, None, None)]


def test_csv_has_the_stable_columns(tmp_path):
    path = ts.write_csv(ts.with_speedup([point(1, 1000), point(2, 500)]), tmp_path / "s.csv")
    with open(path) as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == ts.COLUMNS
    assert rows[2][ts.COLUMNS.index("efficiency")] == "1.0"


def test_families_and_workloads():
    four = ts.family_config("4x4", "scaled")
    assert (four.npu_rows, four.npu_cols, four.npu_tiles, four.main_ports) == (4, 4, 4, 4)
    assert four.npu_spad_rows == preset("sim").npu_spad_rows
    assert ts.family_config("8x8", "scaled") == preset("sim")     # one tile: the sim SoC
    assert four.npu_tiles * four.npu_peak_macs_per_cycle == preset("sim").npu_peak_macs_per_cycle
    g = ts.workload("gemv512")
    assert g.shape == (1, 512, 256) and g.golden().dtype.name == "int8"
    with pytest.raises(ValueError, match="unknown workload"):
        ts.workload("nope")
    with pytest.raises(ValueError, match="unknown family"):
        ts.family_config("2x2")
