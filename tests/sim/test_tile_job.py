"""The host side of :mod:`dure.sim.tile_job`: the descriptors the ``npu_tiles`` firmware
records per tile, and the refusal of a GEMM whose lists do not fit the firmware's list area
(before any simulation). The firmware runs themselves are tests/firmware/test_npu_tiles.py."""

from dataclasses import replace

import numpy as np
import pytest
from dure.sim import tile_job, tile_scaling
from dure.sim.tile_job import TileGemm, list_area, recorded_descriptors, run_tile_gemms

from dure.config import preset
from dure.errors import UserError

SMALL = preset("npu-small-2t")


def test_recorded_descriptors_match_the_firmware_counts_measured():
    # npu_tiles' own counts on the npu-small-2t SoC (docs/scaling.md, family 4x4-small):
    # 38,912 descriptors for 256^3 and 16,768 for the 1x512x256 GEMV, at K = 1 and 2
    for name, total in (("gemm256", 38_912), ("gemv512", 16_768)):
        g = tile_scaling.workload(name)
        assert recorded_descriptors(SMALL, g, 1) == [total]
        assert recorded_descriptors(SMALL, g, 2) == [total // 2, total // 2]


def test_shares_follow_the_firmware_split():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (5, 16), dtype=np.int8)
    b = rng.integers(-128, 128, (16, 6), dtype=np.int8)
    scale = np.ones(6, np.float32)
    # 6 columns = two 4-wide column tiles: the third tile gets none
    assert len(recorded_descriptors(SMALL, TileGemm(a, b, scale=scale), 3)) == 2
    # 5 rows over 3 tiles: 2, 2, 1 rows, all three tiles work
    rows = recorded_descriptors(SMALL, TileGemm(a, b, scale=scale, split="rows"), 3)
    assert len(rows) == 3 and all(c > 0 for c in rows)


def test_lists_beyond_the_list_area_are_refused_before_the_run(monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("simulated although the lists cannot fit")
    monkeypatch.setattr(tile_job, "tiles_elf", no_run)
    config = replace(SMALL, main_size=32 * 1024)
    g = tile_scaling.workload("gemm64")
    need = 32 * sum(recorded_descriptors(config, g, 2))
    assert list_area(config) == 16 * 1024 < need
    with pytest.raises(UserError, match=rf"records {need // 32} descriptors \({need} bytes"):
        run_tile_gemms(config, [g], 2)
    # the 512^3 workload on the 4x4 family's 4 MiB: 84,480 descriptors, 2.7 MB > 2 MiB
    assert list_area(tile_scaling.family_config("4x4")) == 2 * 1024 * 1024
