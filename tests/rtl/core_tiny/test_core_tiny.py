"""The tiny multi-cycle core (``TinyCore``, SoC variant ``"tiny"``): elaboration, its cycle
counts, random programs (with traps, bus errors and interrupts) against the reference model, and
a sweep of every shift amount. The directed programs of tests/rtl/core/test_core.py run on it too
(their ``variant`` fixture): same retirement records and results, other cycle counts."""

import gc
import warnings

import pytest
from amaranth.back import verilog
from dure.rtl.core_tiny.core import TinyCore
from dure.sim.verif import core_bench, core_random
from dure.sim.verif.core_random import (
    TIMINGS,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)


@pytest.fixture(autouse=True)
def tiny_core(monkeypatch):
    monkeypatch.setattr(core_bench, "DEFAULT_OPTIONS", "tiny")
    # The multi-cycle core needs more cycles for the same random programs.
    run = core_bench.run
    monkeypatch.setattr(core_random, "run",
                        lambda *a, max_cycles=3000, **kw: run(*a, max_cycles=4 * max_cycles,
                                                                **kw))


def test_tiny_core_is_in_use():
    result = core_bench.run([core_bench.HALT], max_cycles=20)
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
    from dure.sim.verif.core_random import check_shifts_every_amount

    check_shifts_every_amount(max_cycles=60000)


@pytest.mark.parametrize("seed", range(4))
def test_random_program_tiny(seed):
    run_random(200 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(2))
def test_random_program_with_interrupts_tiny(seed):
    run_random_interrupts(200 + seed, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(3))
def test_random_program_privileged_tiny(seed):
    """U-mode under random PMP entries and a trigger."""
    run_random_privileged(200 + seed, **TIMINGS[seed % len(TIMINGS)])


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
    """The cycle counts of rtl/core_tiny/README.md, with one-cycle memories."""
    from dure.sim.verif.asm import Program

    p = Program()
    p.li(10, core_bench.RAM_BASE + 0x8000)
    p.li(1, 7)
    p.li(2, 3)
    for _ in range(4):
        emit(p)
    p.halt()
    trace = core_bench.run(p, max_cycles=2000).trace
    times = [r["cycle"] for r in trace[-6:-1]]   # the last `li`, then the four instructions
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [cycles] * 4
