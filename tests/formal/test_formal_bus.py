"""Formal checks of the bus arbiter and the NPU dispatcher (:mod:`dure.sim.verif.formal_bus`).

Bounded model checking from reset with yices; each real check is paired with a variant that
must FAIL (an environment that breaks the protocol, or a false claim), so a check that cannot
fail is caught.
"""

from pathlib import Path

import pytest
from dure.sim.verif import formal
from dure.sim.verif.formal_bus import ArbiterHarness, RefusedCommandHarness

BUILD = Path(__file__).resolve().parents[2] / "build" / "formal"

CASES = {
    # name: (harness factory, depth, expected status, marks)
    "arbiter": (lambda: ArbiterHarness(2), 8, "PASS", ()),
    "arbiter_parked": (lambda: ArbiterHarness(2, parked=True), 8, "PASS", ()),
    "arbiter_parked_target_answers_unasked": (
        lambda: ArbiterHarness(2, parked=True, broken="target_answers_unasked"), 8, "FAIL",
        (pytest.mark.slow,)),
    "arbiter_target_answers_unasked": (
        lambda: ArbiterHarness(2, broken="target_answers_unasked"), 8, "FAIL", ()),
    "arbiter_wrong_order": (lambda: ArbiterHarness(2, broken="wrong_order"), 8, "FAIL",
                            (pytest.mark.slow,)),
    "npu_refused_never_issued": (lambda: RefusedCommandHarness(), 7, "PASS",
                                 (pytest.mark.slow,)),
    "npu_watched_issued": (lambda: RefusedCommandHarness(broken="never_issued"), 7, "FAIL",
                           (pytest.mark.slow,)),
    "npu_watched_refused": (lambda: RefusedCommandHarness(broken="never_refused"), 7, "FAIL",
                            (pytest.mark.slow,)),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=c[3]) for n, c in CASES.items()])
def test_formal_bus(name):
    factory, depth, expected, _ = CASES[name]
    status, log = formal.run_sby(BUILD, name, factory(), mode="bmc", depth=depth,
                                 solver="yices", timeout=1800)
    assert status == expected, f"{name}: bmc depth {depth} gave {status}:\n{log[-4000:]}"
