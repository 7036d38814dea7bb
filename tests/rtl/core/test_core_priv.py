"""Privilege on the core: U-mode and Sdtrig triggers, on every core variant (the ``variant``
fixture of conftest.py); PMP is test_core_pmp.py.

Each program's retirement records are compared with the reference model (``compare``), and
the trap log (mcause, mtval, mepc, mstatus per trap) is checked against the expected list
(programs: dure.sim.verif.core_priv).
"""

import pytest
from dure.rtl.core.isa import CSR, MISA_VALUE, TINFO_VALUE, ExceptionCause
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import IRQ_BASE, RAM_BASE, run
from dure.sim.verif.core_priv import (
    LOG,
    NAPOT,
    D,
    R,
    W,
    X,
    finish,
    log,
    patch_labels,
    start,
    to_user,
)
from dure.sim.verif.core_random import compare

C = ExceptionCause


def test_user_mode(variant):
    p = Program()
    start(p)
    p.csrr(3, CSR.MISA)
    p.li(2, 0x800)
    p.csrw(CSR.MSTATUS, 2)        # MPP = 0b01: not supported, reads U
    p.csrr(4, CSR.MSTATUS)
    p.li(2, 0xFFFF_FFFF)
    p.csrw(0x3B0, 2)              # pmpaddr0: everything...
    p.li(2, NAPOT | R | W | X)
    p.csrw(0x3A0, 2)              # ... RWX for U-mode
    p.li(2, 0b101)
    p.csrw(CSR.MCOUNTEREN, 2)     # U may read cycle and instret, not time
    p.li(2, 1 << 21)
    p.csrrs(0, CSR.MSTATUS, 2)    # TW: WFI in U-mode is illegal
    to_user(p, "user")
    p.label("user")
    p.addi(5, 0, 7)
    pcs = {}
    for name, emit in [("mstatus", lambda: p.csrr(6, CSR.MSTATUS)),
                       ("mscratch", lambda: p.csrw(CSR.MSCRATCH, 5)),
                       ("time", lambda: p.csrr(7, CSR.TIME)),
                       ("cycle", lambda: p.csrr(0, CSR.CYCLE)),   # value not modelled
                       ("instret", lambda: p.csrr(9, CSR.INSTRET)),
                       ("hpm", lambda: p.csrr(10, 0xC03)),
                       ("ecall", p.ecall), ("mret", p.mret), ("wfi", p.wfi),
                       ("ebreak", p.ebreak)]:
        pcs[name] = p.pc
        emit()
    p.halt()
    words = patch_labels(p, finish(p), ["user"])
    result = run(words)
    compare(words, result)
    regs = result.regs()
    assert regs[3] == MISA_VALUE and MISA_VALUE >> 20 & 1
    assert regs[4] & 0x1800 == 0
    insn = {RAM_BASE + 4 * i: w for i, w in enumerate(words)}
    got = log(result, 9)
    illegal = [(C.ILLEGAL_INSN.value, insn[pcs[n]], pcs[n]) for n in
               ("mstatus", "mscratch", "time")]
    assert [g[:3] for g in got] == illegal + [
        (C.ILLEGAL_INSN.value, insn[pcs["hpm"]], pcs["hpm"]),
        (C.ECALL_U.value, 0, pcs["ecall"]),
        (C.ILLEGAL_INSN.value, insn[pcs["mret"]], pcs["mret"]),
        (C.ILLEGAL_INSN.value, insn[pcs["wfi"]], pcs["wfi"]),
        (C.BREAKPOINT.value, pcs["ebreak"], pcs["ebreak"]),
        (0, 0, 0)]
    # mstatus in the handler: MPP = U (every trap came from U-mode), TW still set.
    assert all(g[3] & 0x1800 == 0 and g[3] >> 21 & 1 for g in got[:8]), got
    assert regs[9] > 10           # instret readable in U-mode (cycle too: no trap above)


def test_triggers(variant):
    p = Program()
    start(p)
    target = D + 0x10
    p.li(10, target)
    p.li(2, 1)
    p.csrw(CSR.TSELECT, 2)
    p.csrr(3, CSR.TSELECT)        # one trigger: reads 0
    p.csrr(4, CSR.TINFO)
    p.li(2, (2 << 28) | (1 << 12) | (1 << 6) | 0b111)   # action 1: not supported
    p.csrw(CSR.TDATA1, 2)
    p.csrr(5, CSR.TDATA1)         # M kept, L / S / X cleared
    expected = []
    # Execute trigger in M-mode: only with tcontrol.MTE.
    p.li(2, 0)                    # patched: address of "bp"
    p.label("la_bp")
    p.csrw(CSR.TDATA2, 2)
    p.li(2, (2 << 28) | (1 << 6) | 0b100)
    p.csrw(CSR.TDATA1, 2)
    p.csrr(6, CSR.TDATA1)         # reads back exactly
    p.jal(0, "bp")                # MTE = 0: no trap
    p.label("bp")
    p.addi(7, 7, 1)
    p.csrrsi(0, CSR.TCONTROL, 8)  # MTE
    p.jal(0, "again")
    p.label("again")
    p.li(2, 0)                    # patched: address of "bp2"
    p.label("la_bp2")
    p.csrw(CSR.TDATA2, 2)
    p.label("bp2")
    expected.append((C.BREAKPOINT.value, None, None, 0x1800))   # filled below
    p.addi(7, 7, 1)               # skipped by the handler
    p.csrr(8, CSR.TCONTROL)       # MTE restored by MRET (MPTE = 1)
    # Load trigger in M-mode.
    p.csrw(CSR.TDATA2, 10)
    p.li(2, (2 << 28) | (1 << 6) | 0b001)
    p.csrw(CSR.TDATA1, 2)
    p.li(11, 0x99)
    p.sw(11, 10, 0)               # stores do not fire a load trigger
    expected.append((C.BREAKPOINT.value, target, p.pc, 0x1800))
    p.lw(12, 10, 0)
    p.lw(13, 10, 4)               # another address: no trap
    # Store trigger, as an mcontrol6 (type 6).
    p.li(2, (6 << 28) | (1 << 6) | 0b010)
    p.csrw(CSR.TDATA1, 2)
    p.csrr(17, CSR.TDATA1)
    p.li(11, 0x42)
    expected.append((C.BREAKPOINT.value, target, p.pc, 0x1800))
    p.sw(11, 10, 0)               # the store does not happen
    p.lw(14, 10, 0)
    # tdata1 = 0 disables the trigger (type 15).
    p.csrw(CSR.TDATA1, 0)
    p.csrr(18, CSR.TDATA1)
    p.sw(14, 10, 0)               # no trap: stores 0x99 again
    # U-mode: the U bit, not M.
    p.li(2, 0xFFFF_FFFF)
    p.csrw(0x3B0, 2)
    p.li(2, NAPOT | R | W | X)
    p.csrw(0x3A0, 2)
    p.li(2, (2 << 28) | (1 << 3) | 0b011)
    p.csrw(CSR.TDATA1, 2)
    p.lw(15, 10, 0)               # M-mode: no trap
    to_user(p, "user")
    p.label("user")
    expected.append((C.BREAKPOINT.value, target, p.pc, 0x80))
    p.lw(16, 10, 0)
    p.sh(11, 10, 2)               # tdata2 is compared with the lowest address: no trap
    p.halt()
    words = patch_labels(p, finish(p), ["bp", "bp2", "user"])
    bp2 = p._labels["bp2"]
    expected[0] = (C.BREAKPOINT.value, bp2, bp2, 0x1800)
    result = run(words, max_cycles=3000)
    compare(words, result)
    got = log(result, len(expected) + 1)
    assert got[:-1] == expected and got[-1] == (0, 0, 0, 0)
    regs = result.regs()
    assert regs[3] == 0 and regs[4] == TINFO_VALUE
    assert regs[5] == (2 << 28) | (1 << 6)
    assert regs[6] == (2 << 28) | (1 << 6) | 0b100
    assert regs[7] == 1 and regs[8] == 0x88
    assert regs[17] == (6 << 28) | (1 << 6) | 0b010 and regs[18] == 0xF000_0000
    assert regs[12] == 0 and regs[14] == 0x99 and regs[15] == 0x99


@pytest.mark.parametrize("pmp_entries, triggers", [(0, 0), (4, 2)])
def test_fewer_entries_and_triggers(variant, pmp_entries, triggers):
    """The counts are parameters: CSRs of absent entries read 0, U-mode with no PMP entry may
    access everything, tselect keeps values below the trigger count, no trigger: tdata1 = 0,
    tinfo = 1."""
    p = Program()
    start(p)
    p.li(2, 0xFFFF_FFFF)
    for i in range(6):
        p.csrw(0x3B0 + i, 2)
    p.li(2, 0x1F1F_1F1F)
    p.csrw(0x3A0, 2)
    p.csrw(0x3A1, 2)
    p.csrr(3, 0x3A0)
    p.csrr(4, 0x3A1)
    p.csrr(5, 0x3B5)
    p.li(2, 1)
    p.csrw(CSR.TSELECT, 2)
    p.csrr(6, CSR.TSELECT)
    p.csrr(7, CSR.TDATA1)
    p.csrr(8, CSR.TINFO)
    p.li(2, RAM_BASE >> 2 | 0xFFF)
    p.csrw(0x3B1, 2)
    p.li(2, (NAPOT | R | W | X) << 8)
    p.csrw(0x3A0, 2)              # entry 1: the code (32 KiB), the others off
    p.li(2, 0)
    p.csrw(0x3A1, 2)
    p.li(10, D)                   # no entry: only without PMP may U-mode read it
    to_user(p, "user")
    p.label("user")
    expected = []
    if pmp_entries:
        expected.append((C.LOAD_ACCESS_FAULT.value, D, p.pc, 0))
    p.lw(11, 10, 0)
    p.halt()
    words = patch_labels(p, finish(p), ["user"])
    prot = dict(pmp_entries=pmp_entries, triggers=triggers)
    result = run(words, **prot)
    compare(words, result, **prot)
    got = log(result, len(expected) + 1)
    assert got[:-1] == expected and got[-1] == (0, 0, 0, 0)
    regs = result.regs()
    assert regs[3] == (0x1F1F_1F1F if pmp_entries else 0) and regs[4] == 0
    assert regs[5] == 0
    assert regs[6] == (1 if triggers > 1 else 0)
    assert regs[7] == (2 << 28 if triggers else 0) and regs[8] == (TINFO_VALUE if triggers else 1)


def test_interrupts_are_enabled_in_user_mode(variant):
    """In U-mode M-level interrupts are taken even with mstatus.MIE = 0; in M-mode not."""
    p = Program()
    p.li(1, 0)                    # patched: the handler
    p.csrw(CSR.MTVEC, 1)
    p.li(20, LOG)
    p.li(28, IRQ_BASE)
    p.li(2, 0xFFFF_FFFF)
    p.csrw(0x3B0, 2)
    p.li(2, NAPOT | R | W | X)
    p.csrw(0x3A0, 2)
    p.li(2, 0x80)
    p.csrw(CSR.MIE, 2)            # MTIE; mstatus.MIE stays 0
    p.li(3, 1)
    p.sw(3, 28, 4)                # raise the timer line in M-mode: nothing happens
    for _ in range(6):
        p.nop()
    p.addi(5, 0, 1)
    to_user(p, "user")
    p.label("user")               # the pending interrupt is taken at once in U-mode
    for _ in range(6):
        p.nop()
    p.addi(6, 0, 1)
    p.halt()
    p.label("handler")
    p.csrr(25, CSR.MCAUSE)
    p.sw(25, 20, 0)
    p.csrr(25, CSR.MSTATUS)
    p.sw(25, 20, 4)
    p.sw(0, 28, 4)                # clear the line
    p.addi(20, 20, 8)
    p.mret()
    words = p.assemble()
    fix = Program()
    fix.li(1, p._labels["handler"])
    words[0:2] = fix.assemble()
    words = patch_labels(p, words, ["user"])
    result = run(words)
    got = [result.mem.load_word(LOG + 4 * i) for i in range(4)]
    assert got == [0x8000_0007, 0x0000_0000, 0, 0]   # one interrupt, from U (MPP = U, MPIE = 0)
    regs = result.regs()
    assert regs[5] == 1 and regs[6] == 1
