"""Core-level tests: short programs on the simulated core, checked through the retirement port.

The programs whose results do not depend on timing run on every core variant (the ``variant``
fixture: the five-stage core as ``full`` and ``small``, and the multi-cycle ``tiny`` core); the
IPC tests and the elaboration checks are the five-stage core's own.
"""

import gc
import warnings

import pytest
from amaranth.back import verilog
from dure.rtl.core.core import Core
from dure.rtl.core.isa import CSR, MISA_VALUE, ExceptionCause, InterruptCause
from dure.rtl.core.options import CoreOptions, core_options
from dure.sim.verif import core_bench
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import IRQ_BASE, RAM_BASE, Timing, run
from dure.sim.verif.core_random import compare

SLOW_BUS = dict(ibus=Timing(0.5, 3), dbus=Timing(0.4, 4))
TIMINGS = [pytest.param({}, id="fast"), pytest.param(SLOW_BUS, id="slow")]
LOG = RAM_BASE + 0x6000          # trap handlers log (mcause, mtval, mepc) here
BAD = RAM_BASE + 0x7000          # 256 bytes answering bus errors
#: What :func:`core_bench.run` builds per variant (``None``: its default, the full core).
VARIANTS = {"full": None, "small": core_options("small"), "tiny": "tiny"}


@pytest.fixture(params=list(VARIANTS))
def variant(request, monkeypatch):
    """Run the test once per core variant: same programs, same retirement records and results."""
    if VARIANTS[request.param] is not None:
        monkeypatch.setattr(core_bench, "DEFAULT_OPTIONS", VARIANTS[request.param])
    return request.param


def test_elaborates_to_verilog():
    text = verilog.convert(Core(), emit_src=False, name="dure_core")
    assert "module dure_core" in text


def test_bad_parameters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built Core is never elaborated
        with pytest.raises(ValueError, match="reset_vector must be a 4-byte aligned") as info:
            Core(reset_vector=2)
        del info
        gc.collect()


def test_bad_predictor_options():
    for kw, msg in ((dict(bht_entries=3), "bht_entries must be 0 or a power of two"),
                    (dict(btb_entries=-1), "btb_entries must be 0 or a power of two"),
                    (dict(ras_depth=33), "ras_depth must be an integer in 0..32"),
                    (dict(predictor=False), "need predictor=True"),
                    (dict(forwarding=False, load_store_forwarding=True),
                     "load_store_forwarding need forwarding=True")):
        with pytest.raises(ValueError, match=msg):
            CoreOptions(**kw)


def logging_handler(p):
    """Trap handler: log mcause, mtval, mepc at x20 (advancing it), resume at mepc + 4."""
    p.label("handler")
    p.csrr(25, CSR.MCAUSE)
    p.sw(25, 20, 0)
    p.csrr(25, CSR.MTVAL)
    p.sw(25, 20, 4)
    p.csrr(25, CSR.MEPC)
    p.sw(25, 20, 8)
    p.addi(20, 20, 12)
    p.addi(25, 25, 4)
    p.csrw(CSR.MEPC, 25)
    p.mret()


def prologue(p):
    p.li(1, 0)     # patched by finish()
    p.csrw(CSR.MTVEC, 1)
    p.li(20, LOG)


def finish(p):
    words = p.assemble()
    fix = Program()
    fix.li(1, p._labels["handler"])
    words[0:2] = fix.assemble()
    return words


def log_entries(result, n):
    return [tuple(result.mem.load_word(LOG + 12 * i + 4 * k) for k in range(3))
            for i in range(n)]


@pytest.mark.parametrize("timing", TIMINGS)
def test_arithmetic_and_forwarding(timing, variant):
    p = Program()
    p.addi(1, 0, 5)
    p.addi(2, 1, 7)           # forwarded from M
    p.add(3, 1, 2)            # from W and M
    p.sub(4, 1, 3)
    p.li(5, RAM_BASE + 0x100)
    p.sw(3, 5, 0)
    p.lw(6, 5, 0)
    p.addi(7, 6, 1)           # load-use
    p.mul(8, 7, 7)
    p.add(9, 8, 1)            # mul-use
    p.div(11, 8, 2)           # div of a mul result
    p.rem(12, 8, 2)
    p.csrrw(13, CSR.MSCRATCH, 9)
    p.csrr(14, CSR.MSCRATCH)
    p.add(15, 14, 14)         # CSR-read-use
    p.halt()
    words = p.assemble()
    result = run(words, **timing)
    compare(words, result)
    regs = result.regs()
    assert regs[1:10] == [5, 12, 17, (5 - 17) & 0xFFFF_FFFF, RAM_BASE + 0x100, 17, 18, 324, 329]
    assert regs[11:16] == [324 // 12, 0, 0, 329, 658]


def test_ipc_straight_line():
    """Straight-line code (ALU, loads, stores, MUL; no dependent load) on one-cycle memory."""
    p = Program()
    p.li(10, RAM_BASE + 0x4000)
    for i in range(100):
        rd = 1 + i % 8
        if i % 10 == 3:
            p.sw(rd, 10, 4 * (i % 16))
        elif i % 10 == 6:
            p.lw(9, 10, 4 * (i % 16))
        elif i % 10 == 8:
            p.mul(rd, rd, 2)
        else:
            p.addi(rd, rd, i)
    p.halt()
    result = run(p)
    assert result.halted
    ipc = result.ipc()
    print(f"IPC straight-line = {ipc:.3f}")
    assert ipc >= 0.8


def test_ipc_loop():
    """A counted loop: the backward branch is predicted taken in D (one bubble)."""
    p = Program()
    p.li(1, 20)
    p.label("loop")
    for _ in range(6):
        p.addi(2, 2, 1)
    p.addi(1, 1, -1)
    p.bne(1, 0, "loop")
    p.halt()
    result = run(p)
    assert result.regs()[2] == 120
    assert result.ipc() >= 0.8


def _loop_cycles(p_build, options, iterations=12):
    """Cycles per iteration of the loop labelled "loop" (from its fifth pass: the predictor
    has learned by then)."""
    p = Program()
    p_build(p, iterations)
    words = p.assemble()
    result = run(words, options=options, max_cycles=3000)
    compare(words, result)
    loop = p._labels["loop"]
    starts = [r["cycle"] for r in result.trace if r["pc_rdata"] == loop]
    assert len(starts) == iterations
    return (starts[-1] - starts[4]) / (iterations - 5)


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
    with_ras = _loop_cycles(_calls, CoreOptions(btb_entries=0))
    without = _loop_cycles(_calls, CoreOptions(btb_entries=0, ras_depth=0))
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
    calls = _loop_cycles(_calls, core_options("full"))
    branches = _loop_cycles(_branches, core_options("full"))
    indirect = _loop_cycles(_indirect, core_options("full"))
    unpredicted = _loop_cycles(_indirect, CoreOptions(btb_entries=0))
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
    even = _loop_cycles(_offset_calls, core_options("full"))
    odd = _loop_cycles(lambda p, n: _offset_calls(p, n, imm=9), core_options("full"))
    print(f"offset call loop: {even} cycles per iteration (imm 8), {odd} (imm 9)")
    assert even == 5 and odd == 5 + 3


def _load_users(p, n):
    """A loop whose loaded values feed a store's data and a branch's comparison at once."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 5)
    p.sw(7, 6, 0)
    p.li(8, n)
    p.label("loop")
    p.lw(10, 6, 0)
    p.sw(10, 6, 4)              # store data straight from the load
    p.lw(11, 6, 4)
    p.bne(11, 7, "fail")        # compares the loaded value (forward: not taken)
    p.lw(12, 6, 4)
    p.beq(7, 12, "next")        # ... as rs2, taken (the history table learns it)
    p.label("fail")
    p.li(13, 1)
    p.label("next")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


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
    both = _loop_cycles(_alternating, CoreOptions(btb_entries=0, gshare_entries=256),
                        iterations=40)
    alone = _loop_cycles(_alternating, CoreOptions(btb_entries=0), iterations=40)
    print(f"alternating-branch loop, no branch target buffer: {both} cycles per iteration "
          f"with the global history, {alone} without")
    assert alone - both >= 0.4


def test_weak_counters_follow_fetch():
    """``weak_follows_fetch`` (a weak counter keeps the branch target buffer's direction) keeps
    the results (checked against the reference) and costs no cycles on the branch loops (its
    decisions are checked one by one in test_predictor.py; its gain on the firmware
    benchmarks: rtl/core/README.md)."""
    for build in (_alternating, _branches, _calls):
        weak = _loop_cycles(build, CoreOptions(weak_follows_fetch=True), iterations=40)
        full = _loop_cycles(build, core_options("full"), iterations=40)
        print(f"{build.__name__}: {weak} cycles per iteration with weak counters following "
              f"fetch, {full} without")
        assert weak <= full


@pytest.mark.parametrize("timing", TIMINGS)
def test_load_forwarding(timing):
    """A branch comparing a value loaded by the instruction just before it, and a store of
    such a value, take it from the load's answer in M: no bubble (one each without
    ``load_branch_forwarding`` / ``load_store_forwarding``, both off in the full core: the
    bus answer on X's paths cost too much clock). Results, and the operand values reported
    on the retirement port, match the reference with both on (slow buses too: M waits for
    the answer meanwhile)."""
    both = CoreOptions(load_branch_forwarding=True, load_store_forwarding=True)
    p = Program()
    _load_users(p, 12)
    words = p.assemble()
    result = run(words, max_cycles=4000, options=both, **timing)
    compare(words, result)
    assert result.regs()[13] == 0
    checked = 0
    for r in result.trace:
        opcode, rs1, rs2 = r["insn"] & 0x7F, (r["insn"] >> 15) & 31, (r["insn"] >> 20) & 31
        if opcode == 0x23 and rs2 == 10 or opcode == 0x63 and rs2 == 12:
            assert r["rs2_rdata"] == 5, r
            checked += 1
        if opcode == 0x63 and rs1 == 11:
            assert r["rs1_rdata"] == 5, r
            checked += 1
    assert checked == 3 * 12
    if timing:
        return
    fast = _loop_cycles(_load_users, both)
    store = _loop_cycles(_load_users, CoreOptions(load_store_forwarding=True))
    full = _loop_cycles(_load_users, core_options("full"))
    print(f"load -> store / branch loop: {fast} cycles per iteration with both forwardings, "
          f"{store} with the store's only, {full} on the full core (neither)")
    # 8 instructions (taken branches from the buffer); 2 loads -> branches, 1 load -> store
    assert (fast, store, full) == (8, 8 + 2, 8 + 3)


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
    redirect) instead of three (X's)."""
    with_bht = _loop_cycles(_branches, CoreOptions(btb_entries=0))
    without = _loop_cycles(_branches, CoreOptions(btb_entries=0, bht_entries=0, gshare_entries=0))
    print(f"forward-taken loop: {with_bht} cycles per iteration with the table, {without} "
          f"without")
    assert without - with_bht == 1
    assert with_bht == 4 + 4      # 4 instructions + 2 bubbles for each taken branch


@pytest.mark.parametrize("timing", TIMINGS)
def test_exceptions(timing, variant):
    p = Program()
    prologue(p)
    p.li(5, BAD)
    p.li(6, RAM_BASE + 0x200)
    p.li(7, 0x5555_5555)
    p.sw(7, 6, 0)
    expected = []
    # (mcause, mtval, mepc) -- mtval/mepc None: filled from the pc below.
    expected.append((ExceptionCause.ILLEGAL_INSN, None, p.pc))
    p.word(0xFFFF_FFFF)
    expected.append((ExceptionCause.ECALL_M, 0, p.pc))
    p.ecall()
    expected.append((ExceptionCause.BREAKPOINT, p.pc, p.pc))
    p.ebreak()
    p.lw(8, 6, 2)                     # misaligned: done in hardware, no trap
    p.sh(0, 6, 0x11)
    expected.append((ExceptionCause.LOAD_ACCESS_FAULT, BAD + 8, p.pc))
    p.lw(8, 5, 8)
    expected.append((ExceptionCause.STORE_ACCESS_FAULT, BAD + 12, p.pc))
    p.sw(7, 5, 12)
    expected.append((ExceptionCause.INSN_MISALIGNED, p.pc + 6, p.pc))
    p.jal(9, 6)                       # target not 4-byte aligned: traps, x9 unchanged
    p.nop()
    p.nop()
    expected.append((ExceptionCause.INSN_MISALIGNED, p.pc + 10, p.pc))
    p.beq(0, 0, 10)
    p.bne(0, 0, 10)                   # not taken: no trap
    p.auipc(11, 0)
    expected.append((ExceptionCause.INSN_MISALIGNED, p.pc - 4 + 14, p.pc))
    p.jalr(12, 11, 15)                # bit 0 cleared, bit 1 set: traps
    expected.append((ExceptionCause.ILLEGAL_INSN, None, p.pc))
    p.csrw(CSR.CYCLE, 1)              # write to a read-only CSR
    expected.append((ExceptionCause.ILLEGAL_INSN, None, p.pc))
    p.csrr(1, 0x7C0)                  # unimplemented CSR
    expected.append((ExceptionCause.ILLEGAL_INSN, None, p.pc))
    p.csrrsi(0, CSR.MVENDORID, 1)     # set bits of a read-only CSR
    p.csrrs(13, CSR.MVENDORID, 0)     # reading it is fine
    p.lw(14, 6, 0)                    # the stores that faulted changed nothing
    p.csrr(15, CSR.MINSTRET)
    p.halt()
    logging_handler(p)
    words = finish(p)
    result = run(words, err_ranges=[(BAD, BAD + 256)], **timing)
    compare(words, result, err_ranges=[(BAD, BAD + 256)])
    insn = {RAM_BASE + 4 * i: w for i, w in enumerate(words)}
    assert log_entries(result, len(expected)) == \
        [(c.value, insn[pc] if t is None else t, pc) for c, t, pc in expected]
    regs = result.regs()
    assert regs[9] == 0 and regs[12] == 0 and regs[14] == 0x5555_5555
    assert regs[8] == 0x5555 and result.mem.load_word(RAM_BASE + 0x210) == 0
    # minstret counts retired instructions, not trapping ones.
    index = next(i for i, r in enumerate(result.trace) if r["rd_addr"] == 15)
    assert regs[15] == sum(not r["trap"] for r in result.trace[:index])
    assert sum(r["trap"] for r in result.trace[:index]) == len(expected)


MIS = RAM_BASE + 0x300           # data area of the misaligned-access tests
MIS_INIT = [0x8786_8584, 0x8B8A_8988, 0x0F0E_0D0C, 0x1312_1110, 0x9796_9594]


def _expected_load(name, addr):
    """The value of load ``name`` at ``addr`` from MIS_INIT, computed byte by byte."""
    size = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4}[name]
    raw = b"".join(w.to_bytes(4, "little") for w in MIS_INIT)
    value = int.from_bytes(raw[addr - MIS:addr - MIS + size], "little")
    if name in ("lb", "lh") and value >> (8 * size - 1):
        value -= 1 << 8 * size
    return value & 0xFFFF_FFFF


@pytest.mark.parametrize("timing", TIMINGS)
def test_misaligned_loads(timing, variant):
    """Every load size and sign at every offset of a word (crossing ones split into two
    accesses), with the result used at once (forwarding) and compared with the reference."""
    p = Program()
    prologue(p)
    p.li(6, MIS + 4)
    cases = []
    reg = 8
    for name in ("lb", "lbu", "lh", "lhu", "lw"):
        for offset in range(4):
            for base_off in (0, 8):   # the second case crosses into the word at MIS + 16
                if base_off == 8 and name in ("lb", "lbu") or base_off and offset == 0:
                    continue
                getattr(p, name)(reg, 6, base_off + offset)
                p.add(9, reg, 0)            # a user of the loaded value right behind it
                p.sw(9, 20, 0)
                p.addi(20, 20, 4)
                cases.append(_expected_load(name, MIS + 4 + base_off + offset))
    p.halt()
    logging_handler(p)
    words = finish(p)
    data = {MIS + 4 * i: w for i, w in enumerate(MIS_INIT)}
    result = run(words, data=data, max_cycles=4000, **timing)
    compare(words, result, data=data)
    got = [result.mem.load_word(LOG + 4 * i) for i in range(len(cases))]
    assert got == cases
    assert not any(r["trap"] for r in result.trace)


@pytest.mark.parametrize("timing", TIMINGS)
def test_misaligned_stores(timing, variant):
    """Every store size at every offset; then every byte of the area read back."""
    p = Program()
    prologue(p)
    p.li(6, MIS)
    p.li(7, 0xA1B2_C3D4)
    expect = bytearray(64)
    spots = []
    at = 0
    for name, size in (("sh", 2), ("sw", 4), ("sb", 1)):
        for offset in range(4):
            at = (at + 3) // 4 * 4 + offset   # next free word, at this offset
            spots.append((name, size, at))
            at += size
    assert at <= len(expect)
    value = 0xA1B2_C3D4
    for name, size, at in spots:
        getattr(p, name)(7, 6, at)
        expect[at:at + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")
        p.addi(7, 7, 0x101)
        value += 0x101
    for i in range(len(expect) // 4):
        p.lw(9, 6, 4 * i)
        p.sw(9, 20, 4 * i)
    p.halt()
    logging_handler(p)
    words = finish(p)
    result = run(words, max_cycles=3000, **timing)
    compare(words, result)
    got = b"".join(result.mem.load_word(LOG + 4 * i).to_bytes(4, "little")
                   for i in range(len(expect) // 4))
    assert got == bytes(expect)
    assert not any(r["trap"] for r in result.trace)


@pytest.mark.parametrize("timing", TIMINGS)
def test_misaligned_access_faults(timing, variant):
    """A split access whose first or second part answers err: the trap has mtval = the first
    byte of the faulting part; a load writes no register; a store whose second part faults
    has written its first word only, one whose first part faults nothing."""
    p = Program()
    prologue(p)
    p.li(5, BAD)                      # BAD .. BAD + 256 answers err
    p.li(7, 0x1122_3344)
    p.li(8, 0x0BAD_0BAD)
    p.li(9, 0x0BAD_0BAD)
    expected = []
    expected.append((ExceptionCause.LOAD_ACCESS_FAULT, BAD, p.pc))
    p.lw(8, 5, -2)                    # first part fine (BAD - 4), second faults at BAD
    expected.append((ExceptionCause.LOAD_ACCESS_FAULT, BAD + 255, p.pc))
    p.lh(9, 5, 255)                   # first part faults, second would be fine
    expected.append((ExceptionCause.STORE_ACCESS_FAULT, BAD, p.pc))
    p.sw(7, 5, -1)                    # writes BAD - 3 .. BAD - 1, then faults
    expected.append((ExceptionCause.STORE_ACCESS_FAULT, BAD + 254, p.pc))
    p.sw(7, 5, 254)                   # faults first: BAD + 256 .. + 258 stay untouched
    p.lw(10, 5, -4)
    p.lw(11, 5, 256)
    p.halt()
    logging_handler(p)
    words = finish(p)
    data = {BAD - 4: 0x5566_7788, BAD + 256: 0x99AA_BBCC}
    errs = [(BAD, BAD + 256)]
    result = run(words, data=data, err_ranges=errs, max_cycles=3000, **timing)
    compare(words, result, data=data, err_ranges=errs)
    assert log_entries(result, len(expected)) == [(c.value, t, pc) for c, t, pc in expected]
    regs = result.regs()
    assert regs[8] == 0x0BAD_0BAD and regs[9] == 0x0BAD_0BAD
    assert regs[10] == 0x4466_7788 and regs[11] == 0x99AA_BBCC


def test_instruction_access_fault(variant):
    p = Program()
    prologue(p)
    p.li(5, BAD + 16)
    link = p.pc + 4
    p.jalr(6, 5, 0)                   # x6 written (the JALR retires), the fetch faults
    p.halt()
    p.label("back")
    p.halt()
    logging_handler(p)
    words = finish(p)
    # Resume at mepc + 4 = BAD + 20 also faults; the handler then sees it again... stop at 2.
    result = run(words, err_ranges=[(BAD, BAD + 256)], stop_on_halt=False, max_cycles=150)
    faults = [r for r in result.trace if r["trap"]]
    assert faults[0]["pc_rdata"] == BAD + 16 and faults[1]["pc_rdata"] == BAD + 20
    assert log_entries(result, 2) == [(1, BAD + 16, BAD + 16), (1, BAD + 20, BAD + 20)]
    assert result.regs()[6] == link
    assert not result.protocol_errors


def test_csr_values(variant):
    p = Program()
    p.csrr(1, CSR.MISA)
    p.csrr(2, CSR.MSTATUS)
    p.li(3, 0xFFFF_FFFF)
    p.csrw(CSR.MSTATUS, 3)
    p.csrr(4, CSR.MSTATUS)
    p.csrw(CSR.MEPC, 3)
    p.csrr(5, CSR.MEPC)
    p.csrw(CSR.MIE, 3)
    p.csrr(6, CSR.MIE)
    p.csrw(CSR.MISA, 0)
    p.csrr(7, CSR.MISA)
    p.csrr(8, CSR.MHARTID)
    p.csrr(9, CSR.MSTATUSH)
    p.csrw(CSR.MTVEC, 3)
    p.csrr(11, CSR.MTVEC)
    p.csrr(12, CSR.MINSTRET)          # 16 instructions retired before this one
    p.csrw(CSR.MINSTRET, 3)           # the write replaces this instruction's increment
    p.csrr(13, CSR.MINSTRET)
    p.csrr(14, CSR.MINSTRETH)
    p.csrr(15, CSR.TIME)
    p.csrr(16, CSR.TIMEH)
    p.csrr(17, CSR.CYCLE)
    p.csrr(18, CSR.MCYCLE)
    p.csrw(CSR.MSTATUS, 0)
    p.csrw(CSR.MCYCLEH, 3)
    p.csrr(19, CSR.MCYCLEH)
    p.csrr(21, 0xB03)                 # mhpmcounter3: reads zero
    p.csrw(0xB03, 3)                  # and ignores writes
    p.halt()
    result = run(p, mtime=0x1234_5678_9ABC_DEF0)
    regs = result.regs()
    assert regs[1] == MISA_VALUE == regs[7]
    assert regs[2] == 0x1800 and regs[4] == 0x1888 | 1 << 17 | 1 << 21   # MPP = M, MPRV, TW
    assert regs[5] == 0xFFFF_FFFC and regs[6] == 0x888
    assert regs[8] == 0 and regs[9] == 0 and regs[11] == 0xFFFF_FFFD
    assert regs[12] == 16 and regs[13] == 0xFFFF_FFFF and regs[14] == 1
    assert (regs[15], regs[16]) == (0x9ABC_DEF0, 0x1234_5678)
    assert 0 < regs[17] < regs[18] < 100
    assert regs[19] == 0xFFFF_FFFF and regs[21] == 0
    assert not any(r["trap"] for r in result.trace)


def interrupt_program(vectored=False):
    p = Program()
    p.li(1, 0)                         # patched: handler (or vector table)
    p.csrw(CSR.MTVEC, 1)
    p.li(20, LOG)
    p.li(21, IRQ_BASE)
    p.li(2, 0x888)
    p.csrw(CSR.MIE, 2)
    p.li(3, 1)
    p.sw(3, 21, 4 * 1)                 # raise MTI, MSI, MEI while mstatus.MIE = 0
    p.sw(3, 21, 4 * 0)
    p.sw(3, 21, 4 * 2)
    for _ in range(4):
        p.nop()
    p.csrrsi(0, CSR.MSTATUS, 8)        # enable: MEI, then MSI, then MTI are taken
    for i in range(8):
        p.addi(4, 4, 1 << i)
    p.halt()
    p.label("handler")
    p.csrr(6, CSR.MCAUSE)
    p.sw(6, 20, 0)
    p.csrr(7, CSR.MEPC)
    p.sw(7, 20, 4)
    p.addi(20, 20, 8)
    p.andi(7, 6, 15)
    p.srli(7, 7, 2)
    p.slli(7, 7, 2)
    p.add(7, 7, 21)
    p.sw(0, 7, 0)                      # clear the line
    p.nop()
    p.nop()
    p.mret()
    words = p.assemble()
    handler = p._labels["handler"]
    fix = Program()
    if vectored:
        table = RAM_BASE + 0x3000      # jumps at base + 4 * cause
        fix.li(1, table | 1)
        data = {}
        for cause in (3, 7, 11):
            jump = Program(base=table + 4 * cause)
            jump.jal(0, handler - (table + 4 * cause))
            data[table + 4 * cause] = jump.assemble()[0]
    else:
        fix.li(1, handler)
        data = {}
    words[0:2] = fix.assemble()
    return words, data


@pytest.mark.parametrize("vectored", [False, True])
@pytest.mark.parametrize("timing", TIMINGS)
def test_interrupts_priority_and_precision(timing, vectored, variant):
    words, data = interrupt_program(vectored)
    result = run(words, data=data, **timing)
    assert result.halted and not result.protocol_errors
    log = [tuple(result.mem.load_word(LOG + 8 * i + 4 * k) for k in range(2)) for i in range(3)]
    causes = [c for c, _ in log]
    assert causes == [0x8000_0000 | c.value for c in
                      (InterruptCause.MEI, InterruptCause.MSI, InterruptCause.MTI)]
    # Precision: each handler entry follows the instruction before mepc, the handler returns to
    # mepc, and the main program retires each instruction exactly once, in order.
    handler_entries = [i for i, r in enumerate(result.trace) if r["intr"]]
    assert len(handler_entries) == 3
    for (cause, mepc), i in zip(log, handler_entries, strict=True):
        assert result.trace[i - 1]["pc_wdata"] == mepc
        if vectored:
            assert result.trace[i]["pc_rdata"] == RAM_BASE + 0x3000 + 4 * (cause & 15)
    halt = RAM_BASE + 4 * words.index(0x0000_006F)
    main = [r["pc_rdata"] for r in result.trace if r["pc_rdata"] <= halt]
    assert main == list(range(RAM_BASE, halt + 4, 4))
    assert result.regs()[4] == 255


def test_interrupt_masked_by_csr_write_in_flight(variant):
    """An interrupt arriving while an instruction clears mstatus.MIE is not taken after it."""
    p = Program()
    p.li(1, RAM_BASE + 0x100)
    p.csrw(CSR.MTVEC, 1)
    p.li(2, 0x80)
    p.csrw(CSR.MIE, 2)
    p.csrrsi(0, CSR.MSTATUS, 8)
    p.li(21, IRQ_BASE)
    p.li(3, 1)
    p.sw(3, 21, 4)                     # raise MTI: taken within a few instructions ...
    clear = p.pc
    p.csrrci(0, CSR.MSTATUS, 8)        # ... or not at all once this has committed
    for _ in range(6):
        p.addi(4, 4, 1)
    p.halt()
    result = run(p, max_cycles=200, stop_on_halt=True)
    intr = [i for i, r in enumerate(result.trace) if r["intr"]]
    if intr:   # taken before the csrrci committed: mepc must be at or before the csrrci
        assert result.trace[intr[0] - 1]["pc_rdata"] < clear
    else:
        assert result.regs()[4] == 6


@pytest.mark.parametrize("enabled", [False, True])
def test_wfi(enabled, variant):
    p = Program()
    p.li(1, 0)
    p.csrw(CSR.MTVEC, 1)
    p.li(2, 0x80)
    p.csrw(CSR.MIE, 2)
    if enabled:
        p.csrrsi(0, CSR.MSTATUS, 8)
    else:
        p.nop()
    p.wfi()
    p.addi(5, 5, 1)
    p.halt()
    p.label("handler")
    p.csrr(6, CSR.MEPC)
    p.csrr(7, CSR.MCAUSE)
    p.halt()
    words = p.assemble()
    fix = Program()
    fix.li(1, p._labels["handler"])
    words[0:2] = fix.assemble()
    result = run(words, irq_schedule=[(60, 1, 1)], max_cycles=300)
    wfi = next(r for r in result.trace if r["insn"] == 0x1050_0073)
    assert wfi["cycle"] > 60
    assert not wfi["trap"]
    regs = result.regs()
    if enabled:
        assert regs[6] == wfi["pc_rdata"] + 4 and regs[7] == 0x8000_0007 and regs[5] == 0
    else:
        assert regs[5] == 1 and regs[7] == 0


@pytest.mark.parametrize("timing", TIMINGS)
def test_fence_i_refetches_modified_code(timing, variant):
    p = Program()
    new = Program()
    new.addi(5, 0, 2)
    p.li(1, new.assemble()[0])
    p.auipc(2, 0)
    p.sw(1, 2, 16)                     # overwrite the instruction after fence.i
    p.fence()
    p.fence_i()
    p.addi(5, 0, 1)                    # replaced by addi x5, x0, 2
    p.halt()
    result = run(p, **timing)
    assert result.halted
    assert result.regs()[5] == 2


@pytest.mark.parametrize("timing", TIMINGS)
def test_x_exceptions_wait_for_loaded_operands(timing, variant):
    """A JALR whose base register a load in M has not delivered yet: X must not raise a
    misaligned-target exception (or a trigger / PMP fault) on the stale operand it sees while
    it waits for the value; it jumps (base + 2 is aligned, stale 0 + 2 would not be)."""
    p = Program()
    p.li(10, RAM_BASE + 0x8000)
    p.li(6, 0)                   # patched: address of "there" - 2
    p.label("la_there")
    p.sw(6, 10, 0)
    p.lw(5, 10, 0)
    p.jalr(1, 5, 2)
    p.addi(7, 0, 1)              # skipped
    p.label("there")
    p.addi(8, 0, 2)
    p.halt()
    words = p.assemble()
    at = (p._labels["la_there"] - RAM_BASE) // 4
    fix = Program()
    fix.li(6, p._labels["there"] - 2)
    code = fix.assemble()
    assert len(code) == 2
    words[at - 2:at] = code
    result = run(words, max_cycles=500, **timing)
    compare(words, result)
    regs = result.regs()
    assert regs[7] == 0 and regs[8] == 2
