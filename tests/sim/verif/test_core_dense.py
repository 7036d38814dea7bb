"""The dense late-producer code generator and the late-user count of
``sim/verif/core_dense.py``."""

import pytest
from dure.sim.verif.asm import Program
from dure.sim.verif.core_dense import dense_late_code, is_add, is_shift, late_users

MIX = [(0.3, "load"), (0.6, "mul"), (0.9, "shift_imm")]


def test_same_seed_same_program_and_mix_matters():
    assert dense_late_code(3, 50, MIX) == dense_late_code(3, 50, MIX)
    assert dense_late_code(3, 50, MIX) != dense_late_code(4, 50, MIX)
    assert dense_late_code(3, 50, MIX) != dense_late_code(3, 50, [(0.9, "add")])


@pytest.mark.parametrize("mix, match", [
    ([(0.5, "load"), (0.4, "mul")], "increase"),
    ([(1.0, "load")], "increase"),
    ([(0.5, "jump")], "unknown instruction kinds"),
])
def test_bad_mix_is_refused(mix, match):
    with pytest.raises(ValueError, match=match):
        dense_late_code(0, 10, mix)


def _words(build):
    p = Program()
    build(p)
    return [{"insn": w} for w in p.assemble()]


def test_late_users_counts_only_a_consumer_of_the_producers_result():
    trace = _words(lambda p: (
        p.lw(5, 6, 0), p.add(7, 5, 1),          # load -> ADD of its result: counted
        p.mul(8, 1, 2), p.add(9, 1, 2),         # MUL -> ADD of other registers: not
        p.csrr(10, 0x340), p.slli(11, 10, 3),   # CSR read -> shift: a shift, not an ADD
        p.addi(12, 1, 1), p.add(13, 12, 12),    # ADDI is no late producer
        p.lw(0, 6, 0), p.add(14, 0, 0),         # x0 is never a dependence
    ))
    assert late_users(trace, is_add) == 1
    assert late_users(trace, is_shift) == 1
