"""Lock-step differential test of the core (on the simulated SoC) against Unicorn.

``make test`` runs six seeds of 2000 items each (about 30 thousand retired instructions, every
one compared: pc, instruction, destination register and value, next pc, load/store address,
mask and data). The slow sweep (``make fuzz``) runs a hundred seeds and some very short and long
programs. A failing seed prints the first mismatch with context and keeps its files in
``build/diff-tests/seed_<n>/``.

With traps (``test_lockstep_traps``): the programs also raise illegal instructions, ECALL,
EBREAK, access faults at unmapped addresses and jumps to misaligned targets; the trap
records (``trap``, the trap vector as next pc), the handler's first instruction (``intr``) and
its reads of mcause, mtval and mepc are compared against the reference's model of the trap
entry. Two fixed seeds and one rotating seed per run (``rot``) in ``make test``; a hundred
rotating ones under ``make fuzz``.
"""

from unittest import mock

import pytest
from dure.sim.diff import reference
from dure.sim.diff.compare import compare, run_diff
from dure.sim.diff.trace import read_trace
from dure.sim.rtlgen import build_root

FAST_SEEDS = range(8)
LENGTH = 2000


def check(seed, length, folder="diff-tests", traps=False):
    result = run_diff(seed, length, build_root() / folder / f"seed_{seed}_{length}",
                      traps=traps)
    assert result.ok, result.report()
    # Every generated program retires well over a thousand instructions per thousand items.
    assert result.compared > length, result.report()
    return result


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_lockstep(seed):
    check(seed, LENGTH)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 200))
def test_lockstep_sweep(seed):
    check(seed, LENGTH, "diff-sweep")


@pytest.mark.slow
@pytest.mark.parametrize("seed, length", [(1000 + n, n) for n in (1, 2, 5, 20)]
                         + [(2000, 20_000), (2001, 20_000)])
def test_lockstep_lengths(seed, length):
    result = run_diff(seed, length, build_root() / "diff-sweep" / f"seed_{seed}_{length}")
    assert result.ok, result.report()


@pytest.mark.parametrize("seed", [0, 1])
def test_lockstep_traps(seed):
    result = check(seed, LENGTH, "diff-traps", traps=True)
    trace = read_trace(result.workdir / "soc.trace")
    traps = [r for r in trace if r.trap]
    assert len(traps) > 20, result.report()       # about one item in 26 traps
    assert {r.insn & 0x7F for r in traps} >= {0x73, 0x03, 0x23, 0x67}, result.report()


def test_lockstep_traps_catch_a_wrong_mepc():
    """The comparison sees the trap CSRs: a reference whose trap entry writes mepc + 4
    disagrees with the SoC at the handler's read of mepc."""
    result = check(3, 300, "diff-traps", traps=True)
    enter = reference._enter_trap

    def off_by_four(uc, pc, cause, tval):
        return enter(uc, pc + 4, cause, tval)

    with mock.patch.object(reference, "_enter_trap", off_by_four):
        wrong = reference.run_reference(result.workdir / "prog.elf", traps=True)
    mismatch = compare(wrong.records, read_trace(result.workdir / "soc.trace"))
    assert mismatch is not None and mismatch.fields == ["rd_wdata"], mismatch
    assert mismatch.ref.insn >> 20 == 0x341          # csrr x31, mepc


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(300, 400))
def test_lockstep_traps_sweep(seed):
    check(seed, LENGTH, "diff-traps-sweep", traps=True)
