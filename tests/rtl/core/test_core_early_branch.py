"""``early_branch`` (``rtl/core/options.py``): a conditional branch whose sources no
instruction in X or M writes is compared in D and steers fetch by its real direction (D's
two-bubble redirect instead of X's three-bubble misprediction). The cycles it saves (a
data-dependent skip, a short loop's exit) and where it changes nothing (a branch right behind
its producer); results and retirement records against the reference on fast and slow buses;
dense random branch code; the core's random programs (plain, with interrupts, in U-mode
under PMP / triggers); and that the option changes no retirement record, only cycles."""

import random
from dataclasses import replace

import pytest
from dure.rtl.core.options import core_options
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, RVFI_FIELDS, SLOW_BUS, run
from dure.sim.verif.core_loops import loop_cycles
from dure.sim.verif.core_random import (
    ERR_RANGES,
    TIMINGS,
    compare,
    random_program,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)

FULL = replace(core_options("full"), early_branch=False)
EARLY = replace(FULL, early_branch=True)


def _skip(p, n):
    """A forward branch over two instructions on bit 0 of the counter (taken every other
    iteration: the 2-bit counter never learns it), its source made three instructions before
    it (in W when the branch is in D)."""
    p.li(8, n)
    p.label("loop")
    p.andi(5, 8, 1)
    p.addi(9, 9, 1)
    p.addi(10, 10, 2)
    p.addi(11, 11, 3)
    p.beq(5, 0, "skip")
    p.addi(12, 12, 1)
    p.xori(13, 13, 5)
    p.label("skip")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _exit(p, n):
    """An inner loop of three iterations whose backward branch tests a counter decremented
    three instructions before it: its exit (predicted taken) is a misprediction on
    ``full``."""
    p.li(8, n)
    p.label("loop")
    p.li(7, 3)
    p.label("inner")
    p.addi(7, 7, -1)
    p.addi(9, 9, 1)
    p.addi(10, 10, 2)
    p.bne(7, 0, "inner")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _conditions(p, n):
    """Every condition on values made at least three instructions before (0 / 1 and -1 /
    0, by bit 0 of the counter), each a forward branch over one instruction, three taken
    every iteration: 15 instructions, and with the option 2 bubbles per taken branch (D's
    redirect; the history table keeps predicting not taken) only if D compares every
    condition right."""
    p.li(7, 1)
    p.li(8, n)
    p.label("loop")
    p.andi(5, 8, 1)
    p.addi(6, 5, -1)
    p.addi(10, 10, 1)
    p.addi(11, 11, 1)
    for k, (op, a, b) in enumerate((("beq", 5, 0), ("bne", 5, 0), ("blt", 6, 0),
                                    ("bge", 5, 7), ("bltu", 6, 7), ("bgeu", 6, 7))):
        getattr(p, op)(a, b, f"c{k}")
        p.addi(9, 9, 1)
        p.label(f"c{k}")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _due_at(distance, second):
    """The skip loop with the branch's source (``rs1``, or ``rs2`` when ``second``) made
    ``distance`` instructions before it (1: in X when the branch is in D, 2: in M): predicted
    as on ``full``."""
    def build(p, n):
        p.li(8, n)
        p.label("loop")
        fill = [lambda: p.addi(9, 9, 1), lambda: p.addi(10, 10, 2), lambda: p.addi(11, 11, 3)]
        for f in fill[:4 - distance]:
            f()
        p.andi(5, 8, 1)
        for f in fill[4 - distance:]:
            f()
        if second:
            p.beq(0, 5, "skip")
        else:
            p.beq(5, 0, "skip")
        p.addi(12, 12, 1)
        p.xori(13, 13, 5)
        p.label("skip")
        p.addi(8, 8, -1)
        p.bne(8, 0, "loop")
        p.halt()
    return build


def _loaded(p, n):
    """Branches on loaded values and on a MUL, at distances 1 to 3 from the producer (the
    value due from M, from W, or in the register file), both directions, against the
    stored data; a store and loads behind the branches (wrong-path work must not land)."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 5)
    p.sw(7, 6, 0)
    p.li(7, -3)
    p.sw(7, 6, 4)
    p.li(8, n)
    p.label("loop")
    p.lw(14, 6, 0)
    p.lw(15, 6, 4)
    p.blt(15, 14, "a")          # due from M: predicted
    p.sw(8, 6, 8)
    p.label("a")
    p.mul(16, 14, 8)
    p.addi(17, 17, 1)
    p.bgeu(16, 15, "b")         # the product from W: compared in D
    p.lw(18, 6, 8)
    p.addi(19, 19, 1)
    p.label("b")
    p.andi(20, 8, 3)
    p.addi(21, 21, 1)
    p.addi(22, 22, 1)
    p.bne(20, 0, "c")           # from the register file
    p.sw(20, 6, 12)
    p.label("c")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_early_branch_cycles():
    """Skip loop (9 / 7 instructions when not taken / taken): the branch is mispredicted
    when taken on ``full`` (3 bubbles every other iteration), redirected from D with the
    option (2); the same for every condition (``_conditions``); 13 iterations, so that the
    eight measured ones hold both directions equally. Exit loop (``li`` is two words: 2 +
    3 x 4 + 2 = 16 instructions per outer iteration): the inner exit costs 3 bubbles on
    ``full``, 2 with the option, and the buffer keeps the inner branch (taken again at no
    cost next time). A branch whose ``rs1`` or ``rs2`` X or M writes costs what it did
    (compared in D with the stale value, the skip loop would go the wrong way every
    time)."""
    builds = (_skip, _exit, _conditions, _due_at(1, False), _due_at(1, True),
              _due_at(2, False), _due_at(2, True))
    counts = {name: [loop_cycles(build, options, iterations=13) for build in builds]
              for name, options in (("full", FULL), ("early", EARLY))}
    print(f"cycles per iteration (skip, exit, conditions, due x4): {counts}")
    assert counts["full"][0] == (9 + 7 + 3) / 2
    assert counts["early"][0] == (9 + 7 + 2) / 2
    assert counts["full"][1] == 16 + 3
    assert counts["early"][1] == 16 + 2
    assert counts["full"][2] == 15 + 3 * 3
    assert counts["early"][2] == 15 + 3 * 2
    assert counts["early"][3:] == counts["full"][3:]
    assert counts["full"][3] == counts["full"][0]


@pytest.mark.parametrize("timing", [pytest.param({}, id="fast"),
                                    pytest.param(SLOW_BUS, id="slow")])
def test_early_branch_results(timing):
    """Register values, memory and every retirement record match the reference."""
    for build in (_skip, _exit, _conditions, _due_at(2, True), _loaded):
        p = Program()
        build(p, 11)
        words = p.assemble()
        compare(words, run(words, max_cycles=8000, options=EARLY, **timing))


def _dense(seed, length=200):
    """Random code over five registers: ALU operations, loads, MULs, stores and many
    branches (every condition, forward over one to three instructions, and counted backward
    loops) at random distances from their sources' producers."""
    rng = random.Random(seed)
    p = Program()
    regs = [11, 12, 13, 14, 15]
    p.li(6, RAM_BASE + 0x400)
    for i, r in enumerate(regs):
        p.li(r, rng.choice([0, 1, -1, 7, -0x8000_0000, rng.getrandbits(32)]))
        p.sw(r, 6, 4 * i)
    loops = 0
    for n in range(length):
        p.label(f"u{n}")
        rd, a, b = rng.choice(regs), rng.choice(regs), rng.choice(regs)
        kind = rng.random()
        if kind < 0.25:
            getattr(p, rng.choice(["add", "sub", "xor", "slt", "sltu", "and_"]))(rd, a, b)
        elif kind < 0.35:
            p.addi(rd, a, rng.choice([0, 1, -1, 3]))
        elif kind < 0.47:
            getattr(p, rng.choice(["lw", "lh", "lbu"]))(rd, 6, 4 * rng.randrange(5))
        elif kind < 0.53:
            p.mul(rd, a, b)
        elif kind < 0.60:
            p.sw(a, 6, 4 * rng.randrange(5))
        elif kind < 0.93 and n + 4 < length:
            getattr(p, rng.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"]))(
                a, b, f"u{n + rng.randint(2, 4)}")
        elif loops < 4 and n + 2 < length:
            # a counted loop of two to four iterations over the next instruction
            loops += 1
            p.li(9, rng.randint(2, 4))
            p.label(f"l{n}")
            p.xor(rd, a, 9)
            p.addi(9, 9, -1)
            p.addi(10, 10, 1) if rng.random() < 0.5 else p.xor(10, 10, 9)
            p.addi(16, 16, 1) if rng.random() < 0.5 else p.add(16, 16, 9)
            p.bne(9, 0, f"l{n}")
        else:
            p.xori(rd, a, 1)
    p.label(f"u{length}")
    p.halt()
    return p.assemble()


def _resolved(trace):
    """Retired conditional branches whose sources none of the two instructions before
    them wrote (the branches the option compares in D on one-cycle memory)."""
    count, window = 0, [0, 0]
    for r in trace:
        insn = r["insn"]
        if insn & 0x7F == 0x63:
            srcs = {(insn >> 15) & 31, (insn >> 20) & 31} - {0}
            count += not srcs & set(window)
        window = [window[1], r["rd_addr"]]
    return count


@pytest.mark.parametrize("seed", range(6))
def test_dense_random_early_branch(seed):
    """Dense random branch code against the reference, each program with at least 20
    branches of the kind the option compares in D."""
    words = _dense(seed)
    result = run(words, seed=seed, max_cycles=6000, options=EARLY,
                 **TIMINGS[seed % len(TIMINGS)])
    compare(words, result)
    assert _resolved(result.trace) >= 20


def _records(result):
    return [{k: r[k] for k in RVFI_FIELDS} for r in result.trace]


@pytest.mark.parametrize("seed", range(4))
def test_early_branch_changes_only_cycles(seed):
    """The same program on ``full`` with and without the option retires the same records
    (every field of the retirement port but the cycle) and leaves the same memory; the dense
    code takes fewer cycles with it."""
    timing = TIMINGS[seed % len(TIMINGS)]
    cycles = []
    for words, kw in ((_dense(seed), {}), (random_program(seed), dict(err_ranges=ERR_RANGES))):
        a = run(words, seed=seed, max_cycles=6000, options=FULL, **kw, **timing)
        b = run(words, seed=seed, max_cycles=6000, options=EARLY, **kw, **timing)
        assert a.halted and b.halted
        assert _records(a) == _records(b)
        assert a.mem.words == b.mem.words
        cycles.append((a.cycles, b.cycles))
    print(f"cycles without / with the option (dense, random): {cycles}")
    assert cycles[0][1] < cycles[0][0]


@pytest.mark.parametrize("seed", range(8))
def test_random_program_early_branch(seed):
    """The core's random programs (traps, bus errors, misaligned accesses) with the option."""
    run_random(seed, options=EARLY, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(3))
def test_random_program_early_branch_irq_priv(seed):
    timing = TIMINGS[seed % len(TIMINGS)]
    run_random_interrupts(seed, options=EARLY, **timing)
    run_random_privileged(seed, options=EARLY, **timing)
