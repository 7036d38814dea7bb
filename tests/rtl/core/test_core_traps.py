"""Traps and interrupts on the simulated core (rtl/core/trap.py), on every core variant (the
``variant`` fixture of conftest.py): exceptions with their mcause / mtval / mepc, misaligned
accesses done in hardware or faulting, instruction access faults, interrupt priority and
precision, WFI, and exceptions that wait for loaded operands."""

import pytest
from dure.rtl.core.isa import CSR, ExceptionCause, InterruptCause
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import IRQ_BASE, RAM_BASE, SLOW_BUS, run
from dure.sim.verif.core_random import compare
from dure.sim.verif.core_traps import BAD, LOG, finish, log_entries, logging_handler, prologue

TIMINGS = [pytest.param({}, id="fast"), pytest.param(SLOW_BUS, id="slow")]

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
