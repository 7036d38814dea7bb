# amaranth: UnusedElaboratable=no
"""Formal check of the real multiplier alone with rs2 narrowed
(:mod:`dure.sim.verif.formal_muldiv`), paired with a planted MULHSU-as-MULH unit that must
FAIL. Both are slow (minutes with yices); run by ``make formal`` / ``make fuzz``."""

from pathlib import Path

import pytest
from dure.sim.verif import formal
from dure.sim.verif.formal_muldiv import MULHSU, MULHU, AsMulh, MultiplierHarness

BUILD = Path(__file__).resolve().parents[2] / "build" / "formal"
NARROW = 4


def run(name, harness, expect):
    status, log = formal.run_sby(BUILD, name, harness, mode="bmc", depth=2, solver="yices",
                                 timeout=3000)
    assert status == expect, f"{name}: gave {status}:\n{log[-4000:]}"
    return log


@pytest.mark.parametrize("narrow", [0, 33, 4.0])
def test_narrow_must_be_a_width(narrow):
    with pytest.raises(ValueError, match="narrow must be an integer in 1..32"):
        MultiplierHarness(narrow)


def test_sign_must_be_none_0_or_1():
    with pytest.raises(ValueError, match="sign must be None, 0 or 1"):
        MultiplierHarness(4, sign=-1)


@pytest.mark.slow
def test_multiplier_narrow_non_negative():
    """rs2 in [0, 7] (bits 3 and up constant 0), rs1 arbitrary: about a minute."""
    run(f"mul_unit_n{NARROW}_s0", MultiplierHarness(NARROW, sign=0), "PASS")


@pytest.mark.slow
def test_planted_mulhu_bug_caught():
    """MULHU as MULH differs for a negative rs1, so the non-negative check sees it."""
    harness = MultiplierHarness(NARROW, sign=0, unit_cls=lambda: AsMulh(MULHU))
    log = run(f"mul_unit_n{NARROW}_s0_bug", harness, "FAIL")
    assert "failed assertion: MUL*: m_result" in log, log[-2000:]


@pytest.mark.slow
def test_planted_mulhsu_bug_caught():
    """MULHSU as MULH differs only for a negative rs2: the check over rs2 in [-8, 7] sees it
    (its passing run, with the bits of rs2 only equal, not constant, did not finish in 10
    minutes; docs/verification.md)."""
    harness = MultiplierHarness(NARROW, unit_cls=lambda: AsMulh(MULHSU))
    log = run(f"mul_unit_n{NARROW}_bug", harness, "FAIL")
    assert "failed assertion: MUL*: m_result" in log, log[-2000:]
