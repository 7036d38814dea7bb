"""Model tile-scaling bookkeeping (the simulated runs are `make bench-scaling`'s and
tests/compiler/test_tile_split.py's): speedup and efficiency against the one-tile point, the
stable CSV columns, and the command line refusing an unknown model."""

import csv
import pathlib
import re
import struct

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


def test_boot_block_matches_the_firmware():
    """compiler.soc reads the tile statistics at the word offsets npu_model_run writes them."""
    from dure.compiler import soc

    main_c = (pathlib.Path(__file__).resolve().parents[2] / "firmware" / "npu_jobs" /
              "npu_model_run" / "main.c").read_text()
    defs = {k: int(v) for k, v in re.findall(r"#define (BOOT_BYTES|STAT_\w+) (\d+)u", main_c)}
    assert defs["BOOT_BYTES"] == soc.BOOT_BYTES and defs["STAT_TILES"] == soc.STAT_TILES
    words = list(range(1000, 1000 + soc.BOOT_BYTES // 4))
    stats = soc.tile_stats(struct.pack(f"<{len(words)}I", *words))
    n = defs["STAT_TILES"]
    assert stats["layers"] == words[defs["STAT_LAYERS"]]
    assert stats["launch"] == words[defs["STAT_LAUNCH"]]
    assert stats["cycles"] == words[defs["STAT_CYCLES"]]
    assert stats["imbalance"] == words[defs["STAT_IMBALANCE"]]
    assert stats["done"] == words[defs["STAT_DONE"]:defs["STAT_DONE"] + n]
    assert stats["busy"] == words[defs["STAT_BUSY"]:defs["STAT_BUSY"] + n]
    assert stats["wait"] == words[4:4 + n]         # the tile fabric's grant-wait counters


def test_model_columns_extended_at_the_end_only():
    old = ("model", "family", "array", "tiles", "bandwidth", "macs", "peak_macs_per_cycle",
           "cycles", "npu_cycles", "core_cycles", "split_layers", "npu_layers",
           "one_tile_cycles", "macs_per_cycle", "utilization", "speedup", "efficiency", "exact")
    assert tb.COLUMNS[:len(old)] == old
    p = tb.with_speedup([_point("rn8", 1, 1000), _point("rn8", 4, 400)])[1]
    assert p["shortfall_cycles"] == 150


def test_scaling_models_and_tile_counts(capsys, tmp_path):
    from dure.commands.bench import scaling_models

    models = scaling_models()
    assert {"resnet8", "dscnn", "autoencoder", "gemv1024"} <= set(models)
    for bad in ("0", "1,9", "x"):
        assert main(["bench", "--scaling", "--tiles", bad, "--out-dir", str(tmp_path)]) == 2
        assert "--tiles" in capsys.readouterr().err


def test_gemm_point_refuses_lists_beyond_main_memory():
    from dataclasses import replace

    from dure.config import preset
    config = replace(preset("npu-small-2t"), main_size=16 * 1024)
    with pytest.raises(ValueError, match=r"641 descriptors .* main memory has 16128 below"):
        tb.gemm_point(config, "gemm64", 1)


@pytest.mark.slow
def test_gemm_point_tile_statistics_on_two_tiles():
    """gemm64 on the two-tile npu-small-2t SoC, K = 1 and 2: bit-exact, and the firmware's tile
    statistics split the shortfall exactly (imbalance + sync + stall, up to rounding)."""
    from dure.sim import tile_scaling

    from dure.config import preset
    config = preset("npu-small-2t")
    one, two = tile_scaling.with_speedup([tb.gemm_point(config, "gemm64", k) for k in (1, 2)])
    assert one["exact"] and two["exact"]
    assert one["launch_cycles"] is None and one["imbalance_cycles"] == 0
    assert 0 < one["busy_cycles"] < one["cycles"] and one["idle_cycles"] > 0
    assert 0 < two["launch_cycles"] < two["cycles"] and two["imbalance_cycles"] >= 0
    assert two["wait_cycles"] > 0 and two["busy_cycles"] < one["busy_cycles"]
    split = two["imbalance_cycles"] + two["sync_cycles"] + two["stall_cycles"]
    assert abs(split - two["shortfall_cycles"]) <= 2, two


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
