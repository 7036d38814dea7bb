"""The core tests again on the tiny multi-cycle core (``TinyCore``, SoC variant ``"tiny"``):
the same programs must give the same retirement records and results; only the cycle counts
differ (so the IPC tests are left out). Plus random programs (with traps, bus errors and
interrupts) against the reference model, and a sweep of every shift amount."""

import gc
import warnings

import dure_core_bench
import dure_core_random
import pytest
import test_core
from amaranth.back import verilog
from dure.rtl.core_mc.core import TinyCore
from dure_core_random import run_random, run_random_interrupts
from test_core_random import TIMINGS


@pytest.fixture(autouse=True)
def tiny_core(monkeypatch):
    monkeypatch.setattr(dure_core_bench, "DEFAULT_OPTIONS", "tiny")
    # The multi-cycle core needs more cycles for the same random programs.
    run = dure_core_bench.run
    monkeypatch.setattr(dure_core_random, "run",
                        lambda *a, max_cycles=3000, **kw: run(*a, max_cycles=4 * max_cycles,
                                                                **kw))


test_arithmetic_and_forwarding = test_core.test_arithmetic_and_forwarding
test_exceptions = test_core.test_exceptions
test_instruction_access_fault = test_core.test_instruction_access_fault
test_csr_values = test_core.test_csr_values
test_interrupts_priority_and_precision = test_core.test_interrupts_priority_and_precision
test_interrupt_masked_by_csr_write_in_flight = (
    test_core.test_interrupt_masked_by_csr_write_in_flight)
test_wfi = test_core.test_wfi
test_fence_i_refetches_modified_code = test_core.test_fence_i_refetches_modified_code


def test_tiny_core_is_in_use():
    result = dure_core_bench.run([dure_core_bench.HALT], max_cycles=20)
    assert result.halted
    # Three cycles per instruction at best (fetch, answer, execute), reported one later.
    assert result.trace[0]["cycle"] == 3


def test_elaborates_to_verilog_and_checks_its_parameters():
    assert "module dure_tiny_core" in verilog.convert(TinyCore(), emit_src=False,
                                                      name="dure_tiny_core")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built core is never elaborated
        with pytest.raises(ValueError, match="reset_vector must be a 4-byte aligned") as info:
            TinyCore(reset_vector=2)
        del info
        gc.collect()


def test_shifts_every_amount():
    """Every shift amount of SLL / SRL / SRA: the multiplier path has a special case at 0."""
    from dure_core_random import check_shifts_every_amount

    check_shifts_every_amount(max_cycles=60000)


@pytest.mark.parametrize("seed", range(4))
def test_random_program_tiny(seed):
    run_random(200 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(2))
def test_random_program_with_interrupts_tiny(seed):
    run_random_interrupts(200 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("emit, cycles", [
    (lambda p: p.add(3, 1, 2), 3),
    (lambda p: p.bne(1, 1, 8), 3),            # not taken
    (lambda p: p.csrr(3, 0xB00), 3),
    (lambda p: p.lw(3, 10, 0), 5),
    (lambda p: p.sw(3, 10, 0), 5),
    (lambda p: p.mul(3, 1, 2), 4),
    (lambda p: p.sll(3, 1, 2), 4),
    (lambda p: p.div(3, 1, 2), 39),
], ids=["alu", "branch", "csr", "load", "store", "mul", "shift", "div"])
def test_cycles_per_instruction_class(emit, cycles):
    """The cycle counts of rtl/core_mc/README.md, with one-cycle memories."""
    from dure.sim.verif.asm import Program

    p = Program()
    p.li(10, dure_core_bench.RAM_BASE + 0x8000)
    p.li(1, 7)
    p.li(2, 3)
    for _ in range(4):
        emit(p)
    p.halt()
    trace = dure_core_bench.run(p, max_cycles=2000).trace
    times = [r["cycle"] for r in trace[-6:-1]]   # the last `li`, then the four instructions
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [cycles] * 4
