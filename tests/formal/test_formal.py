"""Formal checks with SymbiYosys (yowasp-sby, yosys-smtbmc, z3): see :mod:`dure.sim.verif.formal`.

Each proof runs ``mode prove`` (a BMC base case from the initial state plus k-induction, so the
property holds in every reachable cycle, not only up to the depth). Each check is paired with a
deliberately broken variant that must FAIL, so a harness that cannot fail is caught. A missing
tool or solver is an error, never a skip.
"""

from pathlib import Path

import pytest
from dure.sim.verif import formal

BUILD = Path(__file__).resolve().parents[2] / "build" / "formal"

# PE int8 latency: a_in (t) -> psum_out (t + 1 + mul_latency + add_latency) = t + 3.
PE_DEPTH = 3 + 4
# 2x2 int8 array: cols + 2 + mul_latency + rows * add_latency = 7 cycles to the first result.
STALL_DEPTH = 7 + 4

CASES = {
    # name: (harness factory, mode, depth, expected status)
    "pe_int8_shadow": (lambda: formal.PeShadowHarness(), "prove", PE_DEPTH, "PASS"),
    "pe_int8_shadow_late": (lambda: formal.PeShadowHarness(skew=1), "bmc", PE_DEPTH, "FAIL"),
    "pe_int8_shadow_unsigned": (lambda: formal.PeShadowHarness(signed_product=False), "bmc",
                                PE_DEPTH, "FAIL"),
    "array_results_stall": (lambda: formal.StreamStallHarness(2, 2), "prove", STALL_DEPTH, "PASS"),
    "array_results_after_transfer": (lambda: formal.StreamStallHarness(2, 2, broken=True), "bmc",
                                     STALL_DEPTH, "FAIL"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_formal(name):
    factory, mode, depth, expected = CASES[name]
    status, log = formal.run_sby(BUILD, name, factory(), mode=mode, depth=depth)
    assert status == expected, f"{name}: sby {mode} depth {depth} gave {status}:\n{log[-4000:]}"
    if expected == "PASS" and mode == "prove":
        assert "successful proof by k-induction" in log, log[-4000:]
