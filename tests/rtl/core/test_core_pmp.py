"""PMP on the core (rtl/core/pmp.py), on every core variant (the ``variant`` fixture of
conftest.py): address-matching modes, priority and faults, lock, MPRV, the CSRs' WARL fields;
and what a checked load / store costs (PMP, MPRV or an armed trigger) on the five-stage core.

Each program's retirement records are compared with the reference model, and the trap log
(mcause, mtval, mepc, mstatus per trap) is checked against the expected list (programs:
dure.sim.verif.core_priv).
"""

import pytest
from dure.rtl.core.isa import CSR, ExceptionCause
from dure.rtl.core.options import core_options
from dure.sim.verif import core_bench
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, run
from dure.sim.verif.core_priv import (
    NA4,
    NAPOT,
    TOR,
    D,
    L,
    R,
    W,
    X,
    check,
    finish,
    log,
    patch_labels,
    pmp_setup,
    start,
    to_user,
)
from dure.sim.verif.core_random import compare

C = ExceptionCause


DATA_PROGRAM = [  # (offset from D, U-mode access, expected cause or None)
    (0x00, "lw", None), (0x00, "sw", C.STORE_ACCESS_FAULT),      # e0 NA4 R beats e4 RW
    (0x04, "lw", C.LOAD_ACCESS_FAULT),                           # no match: U denied
    (0x20, "sw", None), (0x2C, "lw", None),                      # e1 NAPOT 16 B, RW
    (0x30, "lw", C.LOAD_ACCESS_FAULT),                           # just above it
    (0x1C, "sw", C.STORE_ACCESS_FAULT),                          # just below it
    (0x40, "lw", None), (0x5C, "lw", None),                      # e3 TOR [0x40, 0x60): R
    (0x5C, "sw", C.STORE_ACCESS_FAULT),
    (0x60, "lw", C.LOAD_ACCESS_FAULT), (0x3C, "lw", C.LOAD_ACCESS_FAULT),
    (0x80, "lw", C.LOAD_ACCESS_FAULT),                           # e6 X only
]


def test_pmp_modes_priority_and_faults(variant):
    p = Program()
    start(p)
    pmp_setup(p, [
        (NA4 | R, D >> 2),                                # e0
        (NAPOT | R | W, (D + 0x20) >> 2 | 0b1),           # e1: 16 bytes
        (0, (D + 0x40) >> 2),                             # e2: OFF, TOR bottom of e3
        (TOR | R, (D + 0x60) >> 2),                       # e3
        (NA4 | R | W, D >> 2),                            # e4: loses to e0
        (NAPOT | R | W | X, RAM_BASE >> 2 | 0xFFF),       # e5: code and log, 32 KiB
        (NAPOT | X, (D + 0x80) >> 2 | 0b11),              # e6: 32 bytes of code, X only
    ])
    p.li(10, D)
    p.li(11, 0x1234_5678)
    to_user(p, "user")
    p.label("user")
    expected = []
    for off, op, cause in DATA_PROGRAM:
        if cause is not None:
            expected.append((cause.value, D + off, p.pc, 0))
        getattr(p, op)(11, 10, off) if op == "sw" else p.lw(12, 10, off)
    # Fetch: X-only code runs, a fetch with no matching entry faults (mtval = mepc = address).
    p.li(13, D + 0x80)
    p.jalr(21, 13, 0)             # runs D+0x80: addi x14, x0, 42; jalr x0, x21
    p.li(13, D + 0x100)
    expected.append((C.INSN_ACCESS_FAULT.value, D + 0x100, D + 0x100, 0))
    p.jalr(21, 13, 0)             # handler resumes at x21
    p.halt()
    code = Program()
    code.addi(14, 0, 42)
    code.jalr(0, 21, 0)
    data = {D + 0x80 + 4 * i: w for i, w in enumerate(code.assemble())}
    data[D + 0x100] = 0x0000_0013
    result = check(p, ["user"], expected, data=data)
    assert result.regs()[14] == 42
    assert result.mem.load_word(D + 0x20) == 0x1234_5678 and result.mem.load_word(D) == 0


def test_pmp_lock(variant):
    p = Program()
    start(p)
    pmp_setup(p, [
        (NA4 | R | L, D >> 2),                            # e0: locked, applies to M-mode
        (0, (D + 0x40) >> 2),                             # e1: TOR bottom, locked by e2
        (TOR | R | L, (D + 0x60) >> 2),                   # e2: locked TOR
        (NAPOT | R | W, (D + 0x80) >> 2 | 1),             # e3: not locked: M unaffected
    ])
    p.li(10, D)
    p.li(11, 0x55)
    expected = []
    p.lw(12, 10, 0)                                       # M may read e0
    expected.append((C.STORE_ACCESS_FAULT.value, D, p.pc, 0x1800))
    p.sw(11, 10, 0)                                       # but not write it
    expected.append((C.STORE_ACCESS_FAULT.value, D + 0x44, p.pc, 0x1800))
    p.sw(11, 10, 0x44)
    p.li(11, 0)
    p.csrw(0x3A0, 11)                                     # e0..e3: only e1 and e3 change
    p.li(11, 0xFFFF_FFFF)
    p.csrw(0x3B0, 11)                                     # ignored: e0 locked
    p.csrw(0x3B1, 11)                                     # ignored: e2 is a locked TOR
    p.csrw(0x3B2, 11)                                     # ignored: e2 locked
    p.csrw(0x3B3, 11)                                     # written
    p.csrr(13, 0x3A0)
    p.csrr(14, 0x3B0)
    p.csrr(15, 0x3B1)
    p.csrr(16, 0x3B2)
    p.csrr(17, 0x3B3)
    p.li(11, 0x77)
    p.sw(11, 10, 0x80)                                    # e3 off now, M-mode: allowed
    p.halt()
    result = check(p, [], expected)
    regs = result.regs()
    assert regs[13] == (TOR | R | L) << 16 | (NA4 | R | L)
    assert regs[14:18] == [D >> 2, (D + 0x40) >> 2, (D + 0x60) >> 2, 0xFFFF_FFFF]
    assert result.mem.load_word(D) == 0 and result.mem.load_word(D + 0x80) == 0x77


MPRV = 1 << 17


def test_mprv(variant):
    """mstatus.MPRV: M-mode loads and stores are checked with MPP's privilege (the write that
    sets or clears it, or changes MPP under it, applies to the very next instruction); fetch
    is not affected; a trap keeps MPRV, an MRET to U clears it."""
    p = Program()
    start(p)
    pmp_setup(p, [
        (NAPOT | R | W | X, RAM_BASE >> 2 | 0xFFF),       # e0: code and log, 32 KiB
        (NA4 | R, D >> 2),                                # e1: U may read D, not write it
    ])
    p.li(10, D)
    p.li(11, 0x66)
    p.li(2, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 2)                            # MPP = U
    p.li(3, MPRV)
    expected = []
    p.csrrs(0, CSR.MSTATUS, 3)                            # MPRV = 1: data as U from here
    expected.append((C.STORE_ACCESS_FAULT.value, D, p.pc, MPRV | 0x1800))
    p.sw(11, 10, 0)                                       # denied (R only)
    p.lw(12, 10, 0)                                       # allowed
    expected.append((C.LOAD_ACCESS_FAULT.value, D + 0x40, p.pc, MPRV | 0x1800))
    p.lw(13, 10, 0x40)                                    # no entry: denied to U
    p.csrrc(0, CSR.MSTATUS, 3)                            # MPRV = 0: M again
    p.sw(11, 10, 0x40)                                    # allowed
    p.li(2, MPRV | 0x1800)
    p.csrrs(0, CSR.MSTATUS, 2)                            # MPRV = 1, MPP = M: still M
    p.sw(11, 10, 0x44)
    p.li(2, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 2)                            # MPP = U under MPRV: as U
    expected.append((C.STORE_ACCESS_FAULT.value, D + 0x48, p.pc, MPRV | 0x1800))
    p.sw(11, 10, 0x48)
    p.csrr(14, CSR.MSTATUS)                               # MPRV kept by the traps
    to_user(p, "user")                                    # MRET to U clears MPRV
    p.label("user")
    expected.append((C.ECALL_U.value, 0, p.pc, 0x80))
    p.ecall()
    p.lw(15, 10, 0)
    p.halt()
    result = check(p, ["user"], expected)
    regs = result.regs()
    assert regs[12] == regs[15] == 0 and regs[14] & MPRV
    assert [result.mem.load_word(D + k) for k in (0, 0x40, 0x44, 0x48)] == [0, 0x66, 0x66, 0]


def test_pmp_csr_warl(variant):
    p = Program()
    p.li(2, 0xFFFF_FFFF)
    p.csrw(0x3B5, 2)
    p.csrr(3, 0x3B5)              # G = 0: every bit
    p.li(2, 0x6262_6262)          # bits 6:5 and W without R: read as 0x02 -> 0x00
    p.csrw(0x3A1, 2)
    p.csrr(4, 0x3A1)
    p.li(2, 0x9F1F_0B03)
    p.csrw(0x3A2, 2)
    p.csrr(5, 0x3A2)
    p.csrr(6, 0x3A7)              # beyond 16 entries: zero
    p.csrw(0x3C0, 2)              # pmpaddr16: writes ignored
    p.csrr(7, 0x3C0)
    p.csrw(0x30A, 2)              # menvcfg: zero
    p.csrr(8, 0x30A)
    p.li(2, 0)
    p.csrw(0x3A2, 2)              # e8..e11 off again (e11 was locked: it stays)
    p.csrr(9, 0x3A2)
    p.halt()
    words = p.assemble()
    result = run(words)
    compare(words, result)
    regs = result.regs()
    assert regs[3] == 0xFFFF_FFFF and regs[4] == 0x0000_0000
    assert regs[5] == 0x9F1F_0B03 and regs[6] == regs[7] == regs[8] == 0
    assert regs[9] == 0x9F00_0000
    assert not any(r["trap"] for r in result.trace)


# ---- cost of a checked load / store --------------------------------------------------------
# While a PMP entry or a trigger could refuse a load / store (U-mode, MPRV with MPP = U, a
# locked entry, a load / store trigger armed in this mode), the five-stage core keeps the
# access two more cycles in X: its addresses are registered, then the checks of those
# registered addresses, and the request follows from the registers (rtl/core/x_stage.py).
# Otherwise (M-mode, no locked entry, no trigger armed for M) nothing is checked and nothing
# is paid. So on one-cycle memories a straight run of n independent loads / stores takes
# exactly 2 n cycles more when checked, and exactly as long as unchecked otherwise.
CHECK_COST = 2           # cycles per checked load / store (the two registers in X)
ALL = 0xFFFF_FFFF        # pmpaddr of a NAPOT entry covering every address
TRIGGER_LS = (2 << 28) | 0b011     # mcontrol, LOAD | STORE; | M (1 << 6) or U (1 << 3)
CHECK_SETUPS = {
    # name: (checked, setup); the setup runs in M-mode before the timed block
    "unchecked": (False, lambda p: None),
    "pmp_unlocked_m": (False, lambda p: pmp_setup(p, [(NAPOT | R | W | X, ALL)])),
    "trigger_for_u_in_m": (False, lambda p: _trigger(p, 1 << 3)),
    "trigger_without_mte": (False, lambda p: _trigger(p, 1 << 6, mte=False)),
    "user": (True, lambda p: pmp_setup(p, [(NAPOT | R | W | X, ALL)])),
    "locked": (True, lambda p: pmp_setup(p, [(NAPOT | R | W | X | L, ALL)])),
    "trigger_m": (True, lambda p: _trigger(p, 1 << 6)),
    "mprv": (True, lambda p: _mprv(p)),
}


def _trigger(p, mode, *, mte=True):
    """Arm a load + store trigger for ``mode`` on an address the block never touches."""
    p.li(2, D + 0x100)
    p.csrw(CSR.TDATA2, 2)
    p.li(2, TRIGGER_LS | mode)
    p.csrw(CSR.TDATA1, 2)
    if mte:
        p.csrrsi(0, CSR.TCONTROL, 8)


def _mprv(p):
    """MPRV = 1 with MPP = U: M-mode loads / stores checked as U (PMP allows them)."""
    pmp_setup(p, [(NAPOT | R | W | X, ALL)])
    p.li(2, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 2)
    p.li(2, 1 << 17)
    p.csrrs(0, CSR.MSTATUS, 2)


def _timed_block(name, accesses):
    """Cycles from the retirement of the block's first instruction to that of its last: a
    run of ``accesses`` loads / stores (aligned, independent, each followed by an ALU
    instruction), and whether it ran checked; results compared with the reference model."""
    checked, setup = CHECK_SETUPS[name]
    p = Program()
    start(p)
    p.li(10, D)
    p.li(11, 0x5A5A_0000)
    setup(p)
    if name == "user":
        to_user(p, "user")       # MRET: the block starts after a redirect from M ...
        p.label("user")
    else:
        p.fence_i()              # ... as it does here (same pipeline state at t0)
    p.label("t0")
    p.addi(3, 0, 1)
    for i in range(accesses):
        if i % 2:
            p.lw(12 + i % 4, 10, 4 * (i // 2))
        else:
            p.sw(11, 10, 4 * (i // 2))
        p.addi(4 + i % 4, 0, i)
    p.label("t1")
    p.addi(3, 0, 2)
    p.halt()
    words = patch_labels(p, finish(p), ["user"] if name == "user" else [])
    result = run(words, max_cycles=3000)
    compare(words, result)
    assert result.halted and log(result, 1) == [(0, 0, 0, 0)], "the block trapped"
    cycle = {r["pc_rdata"]: r["cycle"] for r in result.trace if not r["trap"]}
    return cycle[p._labels["t1"]] - cycle[p._labels["t0"]], checked


@pytest.mark.parametrize("core", ["full", "small"])
def test_checked_access_costs_two_cycles(core, monkeypatch):
    """Each load / store costs exactly ``CHECK_COST`` more cycles in a mode where a check
    could fire (U-mode, MPRV, a locked entry, an armed trigger) and nothing otherwise (an
    unlocked entry in M-mode, a trigger armed for U or without tcontrol.MTE)."""
    if core == "small":
        monkeypatch.setattr(core_bench, "DEFAULT_OPTIONS", core_options("small"))
    accesses = 8
    base, _ = _timed_block("unchecked", accesses)
    extra = {}
    for name in CHECK_SETUPS:
        cycles, checked = _timed_block(name, accesses)
        extra[name] = cycles - base
        assert cycles - base == (CHECK_COST * accesses if checked else 0), (name, extra)
    print(f"{core}: {accesses} accesses in {base} cycles unchecked; extra cycles: {extra}")
