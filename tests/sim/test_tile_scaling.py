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


def test_shortfall_split_into_imbalance_sync_and_stall():
    """With the tiles' busy and idle cycles, the shortfall is imbalance + sync + stall, each
    against 1/K of the K = 1 point's own; without them (the firmware path) the split is left
    empty."""
    one = point(1, 1000)
    one.update(busy_cycles=900, idle_cycles=100, imbalance_cycles=0)
    two = point(2, 640)
    two.update(busy_cycles=560, idle_cycles=70, imbalance_cycles=10)
    bare = point(4, 300)
    p1, p2, p4 = ts.with_speedup([one, two, bare])
    assert (p1["sync_cycles"], p1["stall_cycles"], p1["shortfall_cycles"]) == (0, 0, 0)
    assert (p2["sync_cycles"], p2["stall_cycles"], p2["shortfall_cycles"]) == (20, 110, 140)
    assert p2["imbalance_cycles"] + p2["sync_cycles"] + p2["stall_cycles"] == \
        p2["shortfall_cycles"]
    assert p4["shortfall_cycles"] == 50 and p4["sync_cycles"] is None is p4["stall_cycles"]


#: The columns before the shortfall split (issue 14): new columns go after them only.
OLD_COLUMNS = ("family", "array", "tiles", "bandwidth", "main_bytes_per_cycle", "workload", "m",
               "k", "n", "precision", "macs", "peak_macs_per_cycle", "cycles", "macs_per_cycle",
               "utilization", "speedup", "efficiency", "shortfall_cycles", "imbalance_cycles",
               "launch_cycles", "wait_cycles", "record_cycles", "descriptors",
               "dma_bound_cycles", "exact")


def test_csv_has_the_stable_columns(tmp_path):
    assert ts.COLUMNS[:len(OLD_COLUMNS)] == OLD_COLUMNS
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
    eight = ts.family_config("4x4-8t", "scaled")
    assert (eight.npu_tiles, eight.main_ports, eight.npu_rows) == (8, 8, 4)
    assert ts.workload("gemm64").shape == (64, 64, 64)
