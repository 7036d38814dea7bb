"""The configuration's memory map and register offsets against the hand-written statement of
the documented map (:mod:`dure.sim.verif.memory_map_spec`)."""

import pytest
from dure.rtl.soc import registers
from dure.sim.runner import _classify
from dure.sim.verif import memory_map_spec as spec

from dure.config import preset


def test_sim_regions_as_documented():
    config = preset("sim")
    got = {r.name: (r.base, r.size, r.executable) for r in config.regions}
    assert got == spec.REGIONS
    assert config.reset_vector == spec.RESET_VECTOR


def test_regions_do_not_overlap_and_rest_is_unmapped():
    """The documented regions are disjoint, so an address between two of them (the README:
    a bus error) exists; the configuration's regions cover nothing else."""
    spans = sorted((base, base + size) for base, size, _ in spec.REGIONS.values())
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:], strict=False))
    config = preset("sim")
    for addr in (0x0, 0x1000_4000, 0x1101_0000, 0x4040_0000, 0x8004_0000):
        assert not any(r.base <= addr < r.base + r.size for r in config.regions), hex(addr)


def test_clint_offsets_as_documented():
    assert {reg.name: reg.offset for reg in registers.registers("clint")} == spec.CLINT


def test_test_exit_values():
    """The register at the region's base; the runner reads the documented values as pass /
    failure n (a value of neither form is a malformed exit)."""
    assert registers.offset("test_exit", "exit") == 0
    assert _classify({"status": "exit", "exit_code": spec.TEST_EXIT_PASS}) == ("pass", None, 1)
    for n in (1, 2, 77):
        assert _classify({"status": "exit", "exit_code": spec.test_exit_fail(n)})[:2] == \
            ("fail", n)
    assert _classify({"status": "exit", "exit_code": 4})[0] == "bad-exit"
    with pytest.raises(ValueError, match="start at 1"):
        spec.test_exit_fail(0)
