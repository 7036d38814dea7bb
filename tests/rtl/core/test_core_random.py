"""Random programs (with traps, bus errors, interrupts, U-mode under random PMP entries and
triggers, random bus timing) against the reference model."""

import pytest
from dure.sim.verif.core_random import (
    TIMINGS,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)


@pytest.mark.parametrize("seed", range(8))
def test_random_program(seed):
    run_random(seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8, 208))
def test_random_program_sweep(seed):
    run_random(seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(4))
def test_random_program_with_interrupts(seed):
    run_random_interrupts(seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 104))
def test_random_program_with_interrupts_sweep(seed):
    run_random_interrupts(seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(6))
def test_random_program_privileged(seed):
    run_random_privileged(seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6, 106))
def test_random_program_privileged_sweep(seed):
    run_random_privileged(seed, **TIMINGS[seed % len(TIMINGS)])
