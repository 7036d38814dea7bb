"""Model tile-scaling bookkeeping (the simulated runs are `make bench-scaling`'s and
tests/compiler/test_tile_split.py's): speedup and efficiency against the one-tile point, the
stable CSV columns, and the command line refusing an unknown model."""

import csv

import pytest
from dure.compiler import tile_bench as tb

from dure.cli import main


def _point(model, tiles, cycles, bandwidth="shared"):
    p = dict.fromkeys(tb.COLUMNS)
    p.update(model=model, family="4x4", tiles=tiles, bandwidth=bandwidth, cycles=cycles,
             exact=True)
    return p


def test_speedup_and_efficiency_against_one_tile():
    points = tb.with_speedup([_point("rn8", 1, 1000), _point("rn8", 2, 600),
                              _point("rn8", 4, 400), _point("ds", 2, 500),
                              _point("rn8", 2, 550, "scaled")])
    got = {(p["model"], p["tiles"], p["bandwidth"]): (p["speedup"], p["efficiency"])
           for p in points}
    assert got[("rn8", 1, "shared")] == (1.0, 1.0)
    assert got[("rn8", 2, "shared")] == (1.667, 0.833)
    assert got[("rn8", 4, "shared")] == (2.5, 0.625)
    assert got[("ds", 2, "shared")] == (None, None)          # no K = 1 point
    assert got[("rn8", 2, "scaled")] == (None, None)         # other bandwidth: its own base


def test_csv_has_the_stable_columns(tmp_path):
    path = tb.write_csv(tb.with_speedup([_point("rn8", 1, 10)]), tmp_path / "m.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == tb.COLUMNS and rows[0]["speedup"] == "1.0"
    assert rows[0]["macs"] == ""


@pytest.mark.parametrize("models", ["nope", "resnet8,x"])
def test_model_names_checked_before_any_run(models, capsys, monkeypatch, tmp_path):
    from dure.sim import tile_scaling

    def never(*args, **kwargs):
        raise AssertionError("ran the GEMM points before checking the model names")
    monkeypatch.setattr(tile_scaling, "run_scaling", never)
    assert main(["bench", "--scaling", "--families", "4x4", "--models", models,
                 "--out-dir", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_gemm_point_host_lists_match_the_firmware_path():
    """The host-built lists (gemm_point) on the one-tile ``sim`` SoC: bit-exact, and the same
    planner stream as the firmware records (one descriptor more: the list's FENCE), so the
    cycles agree with the recorded path to within the few cycles of the layer walk."""
    from dure.sim import tile_scaling

    from dure.config import preset
    config = preset("sim")
    host = tb.gemm_point(config, "gemv512", 1)
    fw = tile_scaling.scaling_point(config, "gemv512", 1)
    assert host["exact"] and fw["exact"]
    assert host["descriptors"] == fw["descriptors"] + 1 and host["record_cycles"] == 0
    assert abs(host["cycles"] - fw["cycles"]) < 200
    with pytest.raises(ValueError, match="tiles"):
        tb.gemm_point(config, "gemv512", 2)
