"""The five-stage core's branch prediction (rtl/core/predictor.py): return address stack,
branch target buffer (offset calls, aliasing), branch history table, in cycles per loop
iteration; results always as the reference."""

import pytest
from dure.rtl.core.options import CoreOptions, core_options
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, SLOW_BUS, run
from dure.sim.verif.core_loops import loop_cycles
from dure.sim.verif.core_random import compare

TIMINGS = [pytest.param({}, id="fast"), pytest.param(SLOW_BUS, id="slow")]

def _calls(p, n):
    """A loop calling a leaf function (JAL, RET) and a function that calls it (nesting)."""
    p.li(1, 0)
    p.li(8, n)
    p.label("loop")
    p.jal(1, "leaf")            # call: ra = x1
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.li(9, 0)
    p.jal(5, "outer")           # call with the alternate link register x5
    p.halt()
    p.label("outer")
    p.jal(1, "leaf")
    p.jal(1, "leaf")
    p.jalr(0, 5, 0)             # return through x5
    p.label("leaf")
    p.addi(9, 9, 1)
    p.jalr(0, 1, 0)             # ret


def _indirect(p, n):
    """A loop calling a leaf function through a register (JALR with imm 0: a function
    pointer), which the stack cannot predict."""
    p.jal(0, "start")
    p.label("leaf")
    p.addi(9, 9, 1)
    p.jalr(0, 1, 0)
    p.label("start")
    p.li(6, p._labels["leaf"])
    p.li(8, n)
    p.label("loop")
    p.jalr(1, 6, 0)             # indirect call
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _branches(p, n):
    """A loop with a forward branch that is always taken (static guess: not taken)."""
    p.li(8, n)
    p.label("loop")
    p.addi(9, 9, 1)
    p.bne(8, 0, "skip")          # forward, always taken
    p.addi(9, 9, 100)
    p.label("skip")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_return_address_stack():
    """A return predicted in D costs two bubbles instead of three (D's and X's redirects are
    registered); results match the reference."""
    with_ras = loop_cycles(_calls, CoreOptions(btb_entries=0))
    without = loop_cycles(_calls, CoreOptions(btb_entries=0, ras_depth=0))
    print(f"call / return loop: {with_ras} cycles per iteration with the stack, {without} "
          f"without")
    assert without - with_ras == 1
    assert with_ras == 5 + 6      # 5 instructions + 2 bubbles each for JAL, RET and the branch


@pytest.mark.parametrize("timing", TIMINGS)
def test_deep_recursion(timing):
    """Recursion deeper than the return address stack: the oldest return addresses are
    overwritten and those returns mispredicted, which X must catch (results as the reference)."""
    p = Program()
    p.li(2, RAM_BASE + 0x8000)      # stack pointer
    p.li(10, 9)
    p.jal(1, "sum")
    p.addi(11, 10, 0)
    p.halt()
    p.label("sum")                  # a0 = a0 + sum(a0 - 1), sum(0) = 0
    p.beq(10, 0, "base")
    p.addi(2, 2, -8)
    p.sw(1, 2, 0)
    p.sw(10, 2, 4)
    p.addi(10, 10, -1)
    p.jal(1, "sum")
    p.lw(12, 2, 4)
    p.add(10, 10, 12)
    p.lw(1, 2, 0)
    p.addi(2, 2, 8)
    p.label("base")
    p.jalr(0, 1, 0)
    words = p.assemble()
    result = run(words, max_cycles=3000, **timing)
    compare(words, result)
    assert result.regs()[11] == 45


def test_branch_target_buffer():
    """With the branch target buffer, taken branches, calls and returns that it holds cost no
    bubble (the full core: buffer, history table and return address stack together)."""
    calls = loop_cycles(_calls, core_options("full"))
    branches = loop_cycles(_branches, core_options("full"))
    indirect = loop_cycles(_indirect, core_options("full"))
    unpredicted = loop_cycles(_indirect, CoreOptions(btb_entries=0))
    print(f"full core: call / return loop {calls}, forward-taken loop {branches}, indirect "
          f"call loop {indirect} ({unpredicted} without the buffer) cycles per iteration")
    assert calls == 5 and branches == 4 and indirect == 5
    assert unpredicted == 5 + 3 + 2 + 2   # indirect call from X, return and branch from D


def _offset_calls(p, n, imm=8):
    """A loop calling a leaf function through ``jalr ra, imm(t1)`` (the ``auipc`` + ``jalr``
    call of code linked without relaxation)."""
    p.jal(0, "start")
    p.label("leaf")
    p.addi(9, 9, 1)
    p.jalr(0, 1, 0)
    p.label("start")
    p.li(6, p._labels["leaf"] - imm)
    p.li(8, n)
    p.label("loop")
    p.jalr(1, 6, imm)           # call with an offset
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_branch_target_buffer_offset_calls():
    """A JALR with an even non-zero offset is predicted from the buffer like one with offset 0
    (no bubble); an odd offset (target bit 0 cleared) is left to X: three more bubbles."""
    even = loop_cycles(_offset_calls, core_options("full"))
    odd = loop_cycles(lambda p, n: _offset_calls(p, n, imm=9), core_options("full"))
    print(f"offset call loop: {even} cycles per iteration (imm 8), {odd} (imm 9)")
    assert even == 5 and odd == 5 + 3


def test_branch_target_buffer_alias():
    """Two jumps 32 KiB apart share an entry of a 32-entry buffer (same index and partial
    tag): the second finds the first's target, which D sees differ from its own and X
    corrects (refetch). (The full core's 64 entries alias at 64 KiB, the whole bench RAM.)"""
    p = Program()
    p.li(8, 4)
    p.li(9, 0)
    p.label("loop")
    p.jal(1, "a")
    p.jal(1, "b")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()
    for name, at, add in (("a", RAM_BASE + 0x200, 1), ("b", RAM_BASE + 0x8200, 10)):
        while p.pc < at:
            p.nop()
        p.label(name)
        p.addi(9, 9, add)
        p.jal(0, f"{name}_ret")       # the aliased jumps: same target offset, other target
        p.addi(9, 9, 1000)            # skipped
        p.label(f"{name}_ret")
        p.jalr(0, 1, 0)
    words = p.assemble()
    for timing in ({}, SLOW_BUS):
        result = run(words, max_cycles=2000, options=CoreOptions(btb_entries=32), **timing)
        compare(words, result)
        assert result.regs()[9] == 4 * 11


def test_branch_history_table():
    """A forward branch that is always taken is learned: two bubbles (D's registered
    redirect) instead of three (X's). Without ``early_branch``: with it (``full`` since
    round 10) this branch, whose source was made three instructions before, is compared in
    D and costs the two bubbles of D's redirect with or without the table."""
    with_bht = loop_cycles(_branches, CoreOptions(btb_entries=0, early_branch=False))
    without = loop_cycles(_branches, CoreOptions(btb_entries=0, bht_entries=0,
                                                 gshare_entries=0, early_branch=False))
    compared = loop_cycles(_branches, CoreOptions(btb_entries=0, bht_entries=0,
                                                  gshare_entries=0))
    print(f"forward-taken loop: {with_bht} cycles per iteration with the table, {without} "
          f"without, {compared} without the table but compared in D")
    assert without - with_bht == 1
    assert with_bht == compared == 4 + 4      # 4 instructions + 2 bubbles for each taken branch


def _alternating(p, n):
    """A loop with a forward branch taken every other iteration: its own counter cannot learn
    it, the global history can."""
    p.li(8, n)
    p.li(10, 0)
    p.label("loop")
    p.xori(10, 10, 1)
    p.bne(10, 0, "skip")         # forward, taken in odd iterations
    p.addi(9, 9, 1)
    p.label("skip")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_global_history_table():
    """The global-history table (with its chooser) learns a branch that alternates, which the
    per-branch table alone mispredicts about every other time (three bubbles each). Without
    the branch target buffer: with it, the buffer's direction (the one D last predicted)
    alternates too and D's redirects cost about what the history saves, which is why the
    full core leaves the table off (rtl/core/README.md)."""
    both = loop_cycles(_alternating, CoreOptions(btb_entries=0, gshare_entries=256),
                        iterations=40)
    alone = loop_cycles(_alternating, CoreOptions(btb_entries=0), iterations=40)
    print(f"alternating-branch loop, no branch target buffer: {both} cycles per iteration "
          f"with the global history, {alone} without")
    assert alone - both >= 0.4


def test_weak_counters_follow_fetch():
    """``weak_follows_fetch`` (a weak counter keeps the branch target buffer's direction) keeps
    the results (checked against the reference) and costs no cycles on the branch loops (its
    decisions are checked one by one in test_predictor.py; its gain on the firmware
    benchmarks: rtl/core/README.md)."""
    for build in (_alternating, _branches, _calls):
        weak = loop_cycles(build, CoreOptions(weak_follows_fetch=True), iterations=40)
        full = loop_cycles(build, core_options("full"), iterations=40)
        print(f"{build.__name__}: {weak} cycles per iteration with weak counters following "
              f"fetch, {full} without")
        assert weak <= full


def test_fetch_direction():
    """``fetch_gshare_entries`` (``full-gshare``): fetch predicts the direction of the branches
    its buffer holds from a per-branch counter and the global history, and D keeps it. The
    alternating branch, which the per-branch table and the buffer's last direction get wrong
    about every other time (a misprediction or a redirect from D), is learned from the
    history: its loop runs without bubbles. The other loops cost no more than on ``full``
    (results checked against the reference)."""
    gshare = core_options("full-gshare")
    assert gshare.fetch_gshare_entries and not core_options("full").fetch_gshare_entries
    alternating = loop_cycles(_alternating, gshare, iterations=80)
    full = loop_cycles(_alternating, core_options("full"), iterations=80)
    print(f"alternating-branch loop: {alternating} cycles per iteration with fetch's "
          f"direction tables, {full} without")
    # 4 instructions, 5 in odd iterations, no bubble once the tables have learned (two
    # mispredictions after the fifth pass while the chooser moves to the history: 4.573)
    assert alternating < 4.6
    assert full - alternating >= 1.4      # full: 6.01
    # Without D's history table (static guess for branches fetch does not know) the same.
    no_bht = loop_cycles(_alternating, CoreOptions(fetch_gshare_entries=256, bht_entries=0),
                         iterations=80)
    assert no_bht < 4.6
    for build in (_branches, _calls, _indirect):
        cycles = loop_cycles(build, gshare, iterations=40)
        base = loop_cycles(build, core_options("full"), iterations=40)
        print(f"{build.__name__}: {cycles} cycles per iteration with fetch's direction "
              f"tables, {base} without")
        assert cycles <= base


def _late_users(p, n):
    """Branches right behind a load, a MUL and a CSR read of one of their sources (rs1 or
    rs2), in directions that change (a loaded word that flips every iteration): some are
    mispredicted; the instructions behind them (a register write, a store, a CSR write, a
    load) must then have no effect."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 1)
    p.li(8, n)
    p.sw(0, 6, 0)
    p.label("loop")
    p.lw(10, 6, 0)
    p.xori(11, 10, 1)
    p.sw(11, 6, 0)              # the word flips: 0, 1, 0, ...
    p.lw(12, 6, 0)
    p.beq(12, 0, "a")           # rs1 from a load; taken every other iteration
    p.addi(9, 9, 1)             # wrong path when taken
    p.sw(9, 6, 8)
    p.label("a")
    p.lw(13, 6, 0)
    p.bne(7, 13, "b")           # rs2 from a load
    p.csrw(0x340, 8)            # mscratch = x8 (wrong path when taken)
    p.lw(14, 6, 8)
    p.add(15, 15, 14)
    p.label("b")
    p.mul(16, 12, 7)
    p.blt(16, 7, "c")           # rs1 from a MUL
    p.addi(17, 17, 3)
    p.label("c")
    p.csrr(18, 0x340)
    p.bgeu(18, 8, "d")          # rs1 from a CSR read
    p.addi(19, 19, 1)
    p.label("d")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


@pytest.mark.parametrize("timing", TIMINGS)
def test_late_branch(timing):
    """``late_branch`` (the ``full-late`` variant): a branch whose source a load, MUL or CSR read
    in M writes leaves X at once and is resolved in M. Results, traps-free control flow and
    the operand values on the retirement port as the reference (fast and slow buses), and it
    costs no more cycles than waiting in X (mispredicted: the same four bubbles)."""
    p = Program()
    _late_users(p, 12)
    words = p.assemble()
    requests = CoreOptions(late_branch=True, late_branch_requests=True)
    for options in (core_options("full-late"), requests, core_options("full")):
        result = run(words, max_cycles=6000, options=options, **timing)
        compare(words, result)
    if timing:
        return
    late = loop_cycles(_late_users, core_options("full-late"), iterations=24)
    early = loop_cycles(_late_users, requests, iterations=24)
    wait = loop_cycles(_late_users, core_options("full"), iterations=24)
    print(f"late-producer branch loop: {late} cycles per iteration with branches resolved "
          f"in M, {early} when the access behind one may request, {wait} waiting in X")
    assert early <= late < wait


def test_late_branch_options():
    """``late_branch`` needs forwarding and the predictor and excludes
    ``load_branch_forwarding``."""
    for kw in (dict(forwarding=False), dict(predictor=False, bht_entries=0, btb_entries=0,
                                            ras_depth=0),
               dict(load_branch_forwarding=True)):
        with pytest.raises(ValueError, match="late_branch"):
            CoreOptions(late_branch=True, **kw)
    with pytest.raises(ValueError, match="late_branch_requests needs late_branch"):
        CoreOptions(late_branch_requests=True)
