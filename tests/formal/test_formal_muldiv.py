"""Formal check of the real multiplier alone with rs2 narrowed
(:mod:`dure.sim.verif.formal_muldiv`), paired with a planted MULHSU-as-MULH unit that must
FAIL. Both are slow (minutes with yices); run by ``make formal`` / ``make fuzz``."""

from pathlib import Path

import pytest
from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from dure.rtl.core.multiplier import Multiplier
from dure.sim.verif import formal
from dure.sim.verif.formal_muldiv import MULH, MULHSU, MultiplierHarness

BUILD = Path(__file__).resolve().parents[2] / "build" / "formal"
NARROW = 4


class MulhsuAsMulh(wiring.Component):
    """Planted bug: MULHSU computed as MULH (rs2 taken as signed)."""

    def __init__(self):
        super().__init__(wiring.Signature(Multiplier.__annotations__))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Multiplier()
        m.d.comb += [inner.x_en.eq(self.x_en), inner.x_a.eq(self.x_a), inner.x_b.eq(self.x_b),
                     inner.x_op.eq(Mux(self.x_op == MULHSU, MULH, self.x_op)),
                     self.m_result.eq(inner.m_result)]
        return m


def run(name, harness, expect):
    status, log = formal.run_sby(BUILD, name, harness, mode="bmc", depth=2, solver="yices",
                                 timeout=3000)
    assert status == expect, f"{name}: gave {status}:\n{log[-4000:]}"
    return log


@pytest.mark.parametrize("narrow", [0, 33, 4.0])
def test_narrow_must_be_a_width(narrow):
    with pytest.raises(ValueError, match="narrow must be an integer in 1..32"):
        MultiplierHarness(narrow)


@pytest.mark.slow
def test_multiplier_narrow():
    run(f"mul_unit_n{NARROW}", MultiplierHarness(NARROW), "PASS")


@pytest.mark.slow
def test_planted_mulhsu_bug_caught():
    log = run(f"mul_unit_n{NARROW}_bug", MultiplierHarness(NARROW, unit_cls=MulhsuAsMulh), "FAIL")
    assert "failed assertion: MUL*: m_result" in log, log[-2000:]
