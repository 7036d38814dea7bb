"""The Unicorn lock-step (sim/verif/core_unicorn.py) on traces of the reference model
(sim/verif/core_ref.py, interrupts taken with priv_spec's trap entry): two independent
executors must agree on the random interrupt programs without any RTL, and a trace with a
wrong mepc, an interrupt taken while masked or a time-dependent CSR read must not pass. The
core's own traces are compared in tests/rtl/core/test_core_random.py."""

import random

import pytest
from dure.rtl.core.isa import CSR
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import HALT, RAM_BASE, MemoryModel, Result
from dure.sim.verif.core_random import ERR_RANGES, random_program, take_interrupt
from dure.sim.verif.core_ref import Reference
from dure.sim.verif.core_unicorn import NotModelled, compare_unicorn


def reference_trace(words, interrupts=(), err_ranges=ERR_RANGES, wrong_mepc=0, force=False,
                    limit=20_000, data=None):
    """The reference model's records of ``words`` as a core trace (up to the halt, or
    ``limit`` records, then not halted); ``interrupts``: (record number, code) pairs, each
    taken at the first record from that number on where it is enabled (or at once with
    ``force``); ``wrong_mepc`` is added to mepc at each interrupt."""
    mem = MemoryModel(words, err_ranges=err_ranges)
    for addr, value in (data or {}).items():
        mem.words[addr >> 2] = value
    ref = Reference(mem, RAM_BASE)
    pending, trace, prev_trap = sorted(interrupts), [], False
    for i in range(limit):
        intr = prev_trap
        if pending and pending[0][0] <= i and not prev_trap:
            code = pending[0][1]
            enabled = ref.csrs[CSR.MIE] >> code & 1 and ref.mie_bit
            if enabled or force:
                vector = (ref.csrs[CSR.MTVEC] & ~3) + 4 * code
                if force:     # the checks of take_interrupt would refuse it: enter by hand
                    ref.csrs[CSR.MEPC], ref.pc = ref.pc, vector
                else:
                    take_interrupt(ref, {"pc_rdata": vector})
                ref.csrs[CSR.MEPC] = (ref.csrs[CSR.MEPC] + wrong_mepc) & 0xFFFF_FFFF
                pending.pop(0)
                intr = True
        rec = ref.step()
        rec["intr"] = int(intr)
        trace.append(rec)
        prev_trap = bool(rec["trap"])
        if rec["insn"] == HALT and not rec["trap"]:
            return Result(trace=trace, halted=True, mem=mem)
    return Result(trace=trace, halted=False, mem=mem)


def interrupt_times(seed, n=8):
    rng = random.Random(seed)
    return [(rng.randrange(10, 250), rng.choice((3, 7, 11))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(12))
def test_reference_and_unicorn_agree(seed):
    """Random programs with every exception, bus-error faults, nested ECALLs and interrupts:
    every record of the reference model equals Unicorn's (with priv_spec's CSRs / traps)."""
    words = random_program(seed, interrupts=True)
    result = reference_trace(words, interrupt_times(seed))
    records, taken = compare_unicorn(words, result, ERR_RANGES, interrupts=True)
    assert records == len(result.trace) > 100 and taken >= 4
    assert any(r["trap"] for r in result.trace)


SEED_WITH_TRAPS = 2     # six exceptions


def test_exceptions_without_interrupts():
    words = random_program(SEED_WITH_TRAPS)
    result = reference_trace(words)
    assert sum(r["trap"] for r in result.trace) >= 3
    compare_unicorn(words, result, ERR_RANGES)


def test_wrong_interrupt_mepc_caught():
    """An interrupt entry writing mepc + 4 is caught at the handler's read of mepc."""
    words = random_program(1, interrupts=True)
    result = reference_trace(words, interrupt_times(1), wrong_mepc=4)
    with pytest.raises(AssertionError, match="Unicorn lock-step") as error:
        compare_unicorn(words, result, ERR_RANGES, interrupts=True)
    assert "insn=0x34102ef3" in str(error.value)          # csrrs x29, mepc


def test_masked_interrupt_refused():
    """An interrupt the trace takes before the program enabled any (mie = 0) is refused."""
    words = random_program(2, interrupts=True)
    result = reference_trace(words, [(3, 7)], force=True)   # mtvec set, mie not yet
    with pytest.raises(AssertionError, match="mie|MIE"):
        compare_unicorn(words, result, ERR_RANGES, interrupts=True)


def test_interrupt_in_a_program_without_interrupts_refused():
    words = random_program(2, interrupts=True)
    result = reference_trace(words, interrupt_times(2))
    with pytest.raises(AssertionError, match="without interrupts"):
        compare_unicorn(words, result, ERR_RANGES)


def test_time_dependent_csr_not_modelled():
    p = Program()
    p.csrrs(5, CSR.MCYCLE, 0)
    p.halt()
    words = p.assemble()
    result = reference_trace(words)
    with pytest.raises(NotModelled, match="mcycle"):
        compare_unicorn(words, result)


def test_directed_traps_until_user_mode():
    """The directed trap program (misaligned targets after a jump / load / multiply / store,
    an illegal word, a load fault through a loaded pointer, ECALL, a fetch fault) matches up
    to its switch to U-mode, which the Unicorn lock-step does not model."""
    from dure.sim.verif.core_random import TRAP_SITUATION_DATA, trap_situation_program

    words = trap_situation_program()
    result = reference_trace(words, data=TRAP_SITUATION_DATA)
    assert {r["insn"] for r in result.trace if r["trap"]} >= {0, 0x73}
    with pytest.raises(NotModelled, match="MRET to U-mode"):
        compare_unicorn(words, result, ERR_RANGES, data=TRAP_SITUATION_DATA)
