"""Functional coverage bookkeeping: counting, per-process dumps, merging, the report's hit /
missed / unexpected bins."""

import json

import pytest
from dure.sim.verif import coverage


@pytest.fixture
def fresh():
    """Empty counts for the test; the counts of the session (make coverage) are put back."""
    saved = coverage.counts()
    coverage.reset()
    yield
    coverage.reset()
    for group, points in saved.items():
        for point, n in points.items():
            coverage.cover(group, point, n)


def test_dump_merge_report(tmp_path, fresh):
    coverage.cover("core.trap", 2)
    coverage.cover("core.trap", 2)
    coverage.cover("npu.hazard", "FENCE/-", 3)
    coverage.cover("npu.hazard", "nonsense")
    path = coverage.dump(tmp_path)
    coverage.dump(tmp_path)                       # a second dump of the same process adds up
    assert json.loads(path.read_text())["core.trap"] == {"2": 4}
    (tmp_path / "other.json").write_text(json.dumps({"core.trap": {"11": 1}}))
    total = coverage.merge(tmp_path)
    assert total["core.trap"] == {"2": 4, "11": 1}
    text, summary = coverage.report(total)
    assert summary["core.trap"] == (2, len(coverage.GROUPS["core.trap"]))
    assert summary["npu.hazard"] == (1, len(coverage.GROUPS["npu.hazard"]))
    assert "unexpected: `nonsense` (2)" in text
    assert "missed: `0`, `1`, `3`" in text
    coverage.reset()
    assert coverage.dump(tmp_path / "none") is None


def test_every_group_has_distinct_bins():
    for group, bins in coverage.GROUPS.items():
        assert len(bins) == len(set(bins)) > 0, group


def test_suspended_drops_hits_inside_only():
    coverage.reset()
    coverage.cover("core.trap", 2)
    with coverage.suspended():
        coverage.cover("core.trap", 2)
        coverage.cover("core.trap", 5)
    coverage.cover("core.trap", 5)
    assert coverage.counts() == {"core.trap": {"2": 1, "5": 1}}
    coverage.reset()


def test_store_modes_follow_the_store_table():
    """``npu.store_mode`` (written out by hand) has a bin for every legal (acc_type, out) pair
    of rtl/npu/store_cmd.py's STORE table and follows its scale rule: no unscaled bin where
    the scale is required, only ``raw`` where it is forbidden, an unscaled one where
    optional; INT8 -> INT8 in every requantization mode."""
    from dure.rtl.npu.commands import STORE_COMBINATIONS, RequantMode

    bins = coverage.GROUPS["npu.store_mode"]
    by_pair = {}
    for b in bins:
        pair, rest = b.split("/", 1)
        by_pair.setdefault(pair, []).append(rest)
    assert set(by_pair) == {f"{a.name}->{o.name}" for a, o in STORE_COMBINATIONS}
    for (a, o), rule in STORE_COMBINATIONS.items():
        rests = by_pair[f"{a.name}->{o.name}"]
        if rule == "forbidden":
            assert rests == ["raw"]
        elif rule == "required":
            assert not any("none" in r or r == "raw" for r in rests)
            assert any("lane_scales" in r for r in rests)
        else:
            assert {r.split("/")[0] for r in rests} == {"none", "per_column", "lane_scales"}
    modes = {r.split("/")[0] for r in by_pair["INT8->INT8"]}
    assert modes == {m.name for m in RequantMode}


def test_incomplete_groups_fail_the_report(tmp_path, fresh):
    for group, bins in coverage.GROUPS.items():
        for b in bins:
            coverage.cover(group, b)
    coverage.dump(tmp_path)
    text, missing = coverage.main(tmp_path)
    assert missing == [] and "missed: none" in text
    (tmp_path / "extra.json").write_text(json.dumps({"npu.store_mode": {"bogus": 1}}))
    assert coverage.main(tmp_path)[1] == []        # an unexpected hit is reported, not a miss
    coverage.reset()
    coverage.cover("npu.store_mode", "INT8->INT32/raw")
    other = tmp_path / "other"
    coverage.dump(other)
    missing = coverage.main(other)[1]
    n = len(coverage.GROUPS["npu.store_mode"])
    assert f"npu.store_mode (1 of {n})" in missing and len(missing) == len(coverage.GROUPS)
