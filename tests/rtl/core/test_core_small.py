"""The small core (``core_options("small")``: no forwarding, shifts on the multiplier, serial
divider, 2-entry prefetch): random programs (with traps, bus errors and interrupts) against the
reference model, and a sweep of every shift amount. The directed programs of test_core.py run
on it too (their ``variant`` fixture): same retirement records and results, other cycle counts."""

import pytest
from dure.rtl.core.options import core_options
from dure.sim.verif import core_bench
from dure.sim.verif.core_random import (
    TIMINGS,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)

SMALL = core_options("small")


@pytest.fixture(autouse=True)
def small_core(monkeypatch):
    monkeypatch.setattr(core_bench, "DEFAULT_OPTIONS", SMALL)


def test_small_core_is_in_use():
    assert core_bench.DEFAULT_OPTIONS == SMALL != core_bench.CoreOptions()


def test_shifts_every_amount():
    """Every shift amount of SLL / SRL / SRA: the multiplier path has a special case at 0."""
    from dure.sim.verif.core_random import check_shifts_every_amount

    check_shifts_every_amount(max_cycles=20000)


@pytest.mark.parametrize("seed", range(4))
def test_random_program_small(seed):
    run_random(100 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(2))
def test_random_program_with_interrupts_small(seed):
    run_random_interrupts(100 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(3))
def test_random_program_privileged_small(seed):
    """U-mode under random PMP entries and a trigger."""
    run_random_privileged(100 + seed, **TIMINGS[seed % len(TIMINGS)])
