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


def _offsets(words):
    """Immediates of the loads and stores (all based on x10, which stays word-aligned)."""
    out = []
    for w in words:
        if w & 0x7F == 0x03:
            out.append((w >> 20) - (1 << 12) * (w >> 31))
        elif w & 0x7F == 0x23:
            imm = ((w >> 25) << 5) | ((w >> 7) & 0x1F)
            out.append(imm - (1 << 12) * (w >> 31))
    return out


def test_misaligned_data_accesses_can_be_switched_off():
    on, off, causes_on, causes_off = [], [], set(), set()
    for seed in range(40):
        on += _offsets(random_program(seed))
        off += _offsets(random_program(seed, misaligned_data=False))
        causes_on |= causes(random_program(seed))
        causes_off |= causes(random_program(seed, misaligned_data=False))
    assert any(o % 4 for o in on)           # the default makes misaligned loads and stores
    assert not any(o % 4 for o in off)
    # Misaligned data accesses are done in hardware (no cause 4 / 6); every other exception
    # still occurs either way.
    assert not {4, 6} & (causes_on | causes_off)
    assert {0, 2, 3, 5, 7, 11} <= causes_on and {0, 2, 3, 5, 7, 11} <= causes_off


def test_same_program_apart_from_offsets():
    a, b = random_program(5), random_program(5, misaligned_data=False)
    assert len(a) == len(b)
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert all(a[i] & 0x7F in (0x03, 0x23) for i in differ)    # loads and stores only
