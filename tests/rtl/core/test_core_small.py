"""The core tests again on the small core (``core_options("small")``: no forwarding, shifts on
the multiplier, serial divider, 2-entry prefetch): the same programs must give the same
retirement records and results; only the cycle counts differ (so the IPC tests are left out).
Plus random programs (with traps, bus errors and interrupts) against the reference model."""

import dure_core_bench
import pytest
import test_core
from dure.rtl.core.options import core_options
from dure_core_random import run_random, run_random_interrupts
from test_core_random import TIMINGS

SMALL = core_options("small")


@pytest.fixture(autouse=True)
def small_core(monkeypatch):
    monkeypatch.setattr(dure_core_bench, "DEFAULT_OPTIONS", SMALL)


test_arithmetic_and_forwarding = test_core.test_arithmetic_and_forwarding
test_exceptions = test_core.test_exceptions
test_instruction_access_fault = test_core.test_instruction_access_fault
test_csr_values = test_core.test_csr_values
test_interrupts_priority_and_precision = test_core.test_interrupts_priority_and_precision
test_interrupt_masked_by_csr_write_in_flight = (
    test_core.test_interrupt_masked_by_csr_write_in_flight)
test_wfi = test_core.test_wfi
test_fence_i_refetches_modified_code = test_core.test_fence_i_refetches_modified_code


def test_small_core_is_in_use():
    assert dure_core_bench.DEFAULT_OPTIONS == SMALL != dure_core_bench.CoreOptions()


def test_shifts_every_amount():
    """Every shift amount of SLL / SRL / SRA: the multiplier path has a special case at 0."""
    from dure_core_random import check_shifts_every_amount

    check_shifts_every_amount(max_cycles=20000)


@pytest.mark.parametrize("seed", range(4))
def test_random_program_small(seed):
    run_random(100 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(2))
def test_random_program_with_interrupts_small(seed):
    run_random_interrupts(100 + seed, **TIMINGS[seed % len(TIMINGS)])
