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
