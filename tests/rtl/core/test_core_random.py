"""Random programs (with traps, bus errors, interrupts and random bus timing) against the
reference model."""

import pytest
from dure.sim.verif.core_random import TIMINGS, run_random, run_random_interrupts


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
