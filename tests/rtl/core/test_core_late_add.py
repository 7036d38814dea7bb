"""``late_add`` (``rtl/core/options.py``): a register-register ADD whose source a load, MUL or
CSR read still in M writes is added in M from W's value instead of waiting in X. Results and
the operand values on the retirement port against the reference; the bubbles it saves and the
one it moves (a user right behind the late ADD); random programs (plain, with interrupts, in
U-mode under PMP / triggers) with the option on (alone: ``late_shift`` off; ``full`` has both
since round 9, ``full-early`` neither)."""


import pytest
from dure.rtl.core.options import CoreOptions, core_options
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, SLOW_BUS, run
from dure.sim.verif.core_dense import dense_late_code, is_add, late_users
from dure.sim.verif.core_loops import loop_cycles
from dure.sim.verif.core_random import (
    TIMINGS,
    compare,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)

LATE_ADD = CoreOptions(late_add=True, late_shift=False)
EARLY = core_options("full-early")


def _mac(p, n):
    """A multiply-accumulate loop of the shape GCC -O2 emits for a dot product (loads, MUL,
    ADD of the product right behind it), with the product also as rs1 of an ADD and a load
    feeding an ADD and that ADD's result feeding another ADD at once (a chain of late ADDs)."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 0x1234_5678)
    p.sw(7, 6, 0)
    p.li(7, -3)
    p.sw(7, 6, 4)
    p.li(20, 0)
    p.li(21, 7)
    p.li(22, 100)
    p.li(8, n)
    p.label("loop")
    p.lw(10, 6, 0)
    p.lw(11, 6, 4)
    p.mul(12, 10, 11)
    p.add(20, 20, 12)           # MUL -> ADD (product as rs2): 1 bubble without late_add
    p.mul(13, 11, 8)
    p.add(21, 13, 21)           # MUL -> ADD (product as rs1)
    p.lw(14, 6, 4)
    p.add(22, 14, 22)           # load -> ADD
    p.add(23, 22, 21)           # late ADD -> ADD: a chain, also added in M
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _mac_user(p, n):
    """A late ADD whose result the next instruction uses (an ADDI, not an ADD, and a store):
    the bubble moves behind the ADD instead of disappearing."""
    p.li(6, RAM_BASE + 0x400)
    p.li(20, 0)
    p.li(8, n)
    p.label("loop")
    p.mul(12, 8, 8)
    p.add(20, 20, 12)
    p.addi(21, 20, 1)           # uses the late ADD's result at once
    p.sw(21, 6, 0)
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_late_add_needs_forwarding():
    with pytest.raises(ValueError, match="late_add needs forwarding"):
        CoreOptions(late_add=True, forwarding=False, load_branch_forwarding=False,
                    load_store_forwarding=False)


@pytest.mark.parametrize("timing", [pytest.param({}, id="fast"),
                                    pytest.param(SLOW_BUS, id="slow")])
def test_late_add_results(timing):
    """Register values and every retirement record (operand values included) match the
    reference, on one-cycle and slow buses (M waits for the answer while the ADD is in X)."""
    for build in (_mac, _mac_user):
        p = Program()
        build(p, 9)
        words = p.assemble()
        result = run(words, max_cycles=6000, options=LATE_ADD, **timing)
        compare(words, result)
    p = Program()
    _mac(p, 9)
    result = run(p.assemble(), max_cycles=6000, options=LATE_ADD, **timing)
    adds = [r for r in result.trace if r["insn"] & 0xFE00707F == 0x33 and
            (r["insn"] >> 7) & 31 == 20]
    assert len(adds) == 9
    # the product 0x12345678 * -3 reported as rs2 of the ADD, taken from W in M
    assert all(r["rs2_rdata"] == (0x1234_5678 * -3) & 0xFFFF_FFFF for r in adds)


def test_late_add_cycles():
    """The MAC loop (11 instructions, a taken branch from the buffer; four bubbles on
    ``full-early``: load -> MUL and three late producers -> ADD) keeps only the load -> MUL one
    (the ADD chain behind the load -> ADD costs nothing either); in the second loop the
    bubble moves behind the ADD."""
    full = loop_cycles(_mac, EARLY)
    late = loop_cycles(_mac, LATE_ADD)
    moved_full = loop_cycles(_mac_user, EARLY)
    moved_late = loop_cycles(_mac_user, LATE_ADD)
    print(f"MAC loop: {full} cycles per iteration on full-early, {late} with late_add; a late "
          f"ADD's user right behind it: {moved_full} -> {moved_late}")
    assert (full, late) == (11 + 4, 11 + 1)
    assert (moved_full, moved_late) == (6 + 1, 6 + 1)


#: Late producers followed by ADDs, SUBs and stores (``dense_late_code``'s mix).
DENSE_MIX = [(0.25, "load"), (0.45, "mul"), (0.50, "csr"), (0.80, "add"), (0.86, "sub"),
             (0.94, "store")]


@pytest.mark.parametrize("seed", range(6))
def test_dense_random_late_add(seed):
    """Dense random code against the reference, each program with at least five late ADDs."""
    words = dense_late_code(seed, 160, DENSE_MIX)
    result = run(words, seed=seed, max_cycles=4000, options=LATE_ADD,
                 **TIMINGS[seed % len(TIMINGS)])
    compare(words, result)
    assert late_users(result.trace, is_add) >= 5


@pytest.mark.parametrize("seed", range(8))
def test_random_program_late_add(seed):
    """The core's random programs (traps, bus errors, misaligned accesses) with the option:
    nothing else changes."""
    run_random(seed, options=LATE_ADD, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(3))
def test_random_program_late_add_irq_priv(seed):
    timing = TIMINGS[seed % len(TIMINGS)]
    run_random_interrupts(seed, options=LATE_ADD, **timing)
    run_random_privileged(seed, options=LATE_ADD, **timing)
