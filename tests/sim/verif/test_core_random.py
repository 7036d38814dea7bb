"""The random-program generator's switches, on the reference model alone (the RTL runs are in
tests/rtl/core/test_core_random.py)."""

from dure.rtl.core.isa import CSR
from dure.sim.verif.core_bench import RAM_BASE, MemoryModel
from dure.sim.verif.core_random import ERR_RANGES, random_program
from dure.sim.verif.core_ref import Reference


def causes(words, steps=3000):
    ref = Reference(MemoryModel(words, err_ranges=ERR_RANGES), RAM_BASE)
    seen = set()
    for _ in range(steps):
        rec = ref.step()
        if rec["trap"]:
            seen.add(ref.csrs[CSR.MCAUSE])
        if rec["insn"] == 0x0000_006F and not rec["trap"]:
            break
    return seen


def test_misaligned_data_accesses_can_be_switched_off():
    on, off = set(), set()
    for seed in range(40):
        on |= causes(random_program(seed))
        off |= causes(random_program(seed, misaligned_data=False))
    assert {4, 6} <= on                     # the default makes misaligned loads and stores
    assert not {4, 6} & off
    assert {0, 2, 3, 5, 7, 11} <= off       # every other exception still occurs


def test_same_program_apart_from_offsets():
    a, b = random_program(5), random_program(5, misaligned_data=False)
    assert len(a) == len(b)
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert all(a[i] & 0x7F in (0x03, 0x23) for i in differ)    # loads and stores only
