"""Lock-step differential test of the core (on the simulated SoC) against Unicorn.

``make test`` runs six seeds of 2000 items each (about 30 thousand retired instructions, every
one compared: pc, instruction, destination register and value, next pc, load/store address,
mask and data). The slow sweep (``make fuzz``) runs a hundred seeds and some very short and long
programs. A failing seed prints the first mismatch with context and keeps its files in
``build/diff-tests/seed_<n>/``.
"""

import pytest
from dure.sim.diff.compare import run_diff
from dure.sim.rtlgen import build_root

FAST_SEEDS = range(8)
LENGTH = 2000


def check(seed, length, folder="diff-tests"):
    result = run_diff(seed, length, build_root() / folder / f"seed_{seed}_{length}")
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
