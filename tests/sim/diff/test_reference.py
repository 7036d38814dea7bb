"""The Unicorn reference records what the ISA says, in the RVFI conventions of the trace."""

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.diff.disasm import disassemble
from dure.sim.diff.reference import ReferenceError, run_reference

from dure.config import TEST_EXIT_BASE

PROGRAM = f"""
.option norvc
.option norelax
.section .text
.globl _start
_start:
    la x3, data
    li x5, 0x80000000
    li x6, -1
    div x7, x5, x6
    rem x8, x5, x6
    divu x9, x5, x0
    remu x10, x5, x0
    mulh x11, x5, x5
    mulhsu x12, x6, x6
    lb x13, 1(x3)
    lbu x14, 1(x3)
    lh x15, 2(x3)
    sb x6, 5(x3)
    sh x5, 6(x3)
    lw x16, 4(x3)
    add x0, x5, x5
    csrrw x17, mscratch, x6
    csrrci x18, mscratch, 7
    la x19, .Lhere+1
    jalr x20, 0(x19)
.Lhere:
    li x5, {TEST_EXIT_BASE}
    li x6, 1
    sw x6, 0(x5)
.Lhalt:
    j .Lhalt
.section .data
.balign 16
data: .word 0x8081f0ff, 0x00000000
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_reference(assemble(PROGRAM, tmp_path_factory.mktemp("ref")))


def test_values(result):
    rd = {r.rd_addr: r.rd_wdata for r in result.records if r.rd_addr}
    assert rd[7] == 0x8000_0000          # INT_MIN / -1 overflows to INT_MIN
    assert rd[8] == 0                    # INT_MIN % -1
    assert rd[9] == 0xFFFF_FFFF          # divide by zero
    assert rd[10] == 0x8000_0000         # remainder by zero is the dividend
    assert rd[11] == 0x4000_0000         # (-2^31)^2 >> 32
    assert rd[12] == 0xFFFF_FFFF         # -1 * (2^32 - 1) >> 32
    assert rd[13] == 0xFFFF_FFF0         # lb of 0xf0
    assert rd[14] == 0xF0                # lbu
    assert rd[15] == 0xFFFF_8081         # lh of 0x8081
    assert rd[16] == 0x0000_FF00         # sb 0xff at +5, sh 0x0000 at +6
    assert rd[17] == 0                   # mscratch starts at 0
    assert rd[18] == 0xFFFF_FFFF


def test_records(result):
    records = result.records
    assert result.exit_code == 1
    assert records[0].pc == 0x8000_0000
    for before, after in zip(records, records[1:], strict=False):
        assert before.pc_wdata == after.pc                 # one record per instruction
    stores = [r for r in records if r.mem_wmask]
    assert [(r.mem_addr & 3, r.mem_wmask, r.mem_wdata) for r in stores[:2]] == [
        (1, 0b0010, 0x0000_FF00), (2, 0b1100, 0x0000_0000)]
    exit_store = records[-1]
    assert (exit_store.mem_addr, exit_store.mem_wmask, exit_store.mem_wdata) == (
        TEST_EXIT_BASE, 0b1111, 1)
    loads = [r for r in records if r.mem_rmask]
    assert [(r.mem_addr & 3, r.mem_rmask, r.mem_rdata) for r in loads[:3]] == [
        (1, 0b0010, 0x8081F0FF), (1, 0b0010, 0x8081F0FF), (2, 0b1100, 0x8081F0FF)]
    x0_write = next(r for r in records if disassemble(r.insn).startswith("add x0"))
    assert (x0_write.rd_addr, x0_write.rd_wdata) == (0, 0)
    jalr = next(r for r in records if disassemble(r.insn).startswith("jalr"))
    assert jalr.pc_wdata == jalr.pc + 4 and jalr.rd_addr == 20 and jalr.rd_wdata == jalr.pc + 4


def test_unmapped_access_is_an_error(tmp_path):
    source = PROGRAM.replace("lw x16, 4(x3)", "lui x16, 0x20000\n    lw x16, 0(x16)")
    with pytest.raises(ReferenceError, match="0x20000000"):
        run_reference(assemble(source, tmp_path))


def test_no_exit_is_an_error(tmp_path):
    source = PROGRAM.replace("sw x6, 0(x5)", "nop")
    with pytest.raises(ReferenceError, match="no test exit within 500"):
        run_reference(assemble(source, tmp_path), max_insns=500)


TRAPS = f"""
.option norvc
.option norelax
.section .text
.globl _start
_start:
    la x31, handler
    csrw mtvec, x31
    li x5, 0x30000010
    li x9, 0x99
.Lillegal:
    .word 0xffffffff
.Lecall:
    ecall
.Lebreak:
    ebreak
.Lload:
    lw x9, 0(x5)
.Lstore:
    sh x9, 0(x5)
    la x6, .Lafter
.Ljump:
    jalr x9, 2(x6)
.Lafter:
    nop
    li x5, {TEST_EXIT_BASE}
    li x6, 1
    sw x6, 0(x5)
.Lhalt:
    j .Lhalt
.balign 4
handler:
    csrr x29, mcause
    csrr x30, mtval
    csrr x31, mepc
    addi x31, x31, 4
    csrw mepc, x31
    mret
"""


def test_traps_modelled(tmp_path):
    """Each exception kind: the trap record, mepc / mcause / mtval as the handler reads them,
    intr on the handler's first instruction, and a trapping load or jump writes no register."""
    elf = assemble(TRAPS, tmp_path)
    with pytest.raises(ReferenceError, match="Invalid instruction|not modelled"):
        run_reference(elf)                            # without traps=True: an error
    records = run_reference(elf, traps=True).records
    trapped = [i for i, r in enumerate(records) if r.trap]
    assert len(trapped) == 6
    seen = []
    for i in trapped:
        r, cause, tval, epc = records[i], *records[i + 1:i + 4]
        assert (r.rd_addr, r.mem_rmask, r.mem_wmask) == (0, 0, 0)
        assert r.pc_wdata == cause.pc and cause.intr == 1 and tval.intr == 0
        assert disassemble(cause.insn, cause.pc).startswith("csrrs x29, mcause")
        assert epc.rd_wdata == r.pc                       # mepc = the trapping instruction
        seen.append((cause.rd_wdata, tval.rd_wdata, r.pc))
    assert seen[0][:2] == (2, 0xFFFF_FFFF)                # illegal: mtval = the word
    assert seen[1][:2] == (11, 0)                         # ECALL from M
    assert seen[2][:2] == (3, seen[2][2])                 # EBREAK: mtval = its pc
    assert seen[3][:2] == (5, 0x3000_0010)                # load access fault
    assert seen[4][:2] == (7, 0x3000_0010)                # store access fault
    assert seen[5][:2] == (0, seen[5][2] + 6)       # jump to .Lafter + 2
    # The trapped load and jump left x9 alone: no record writes it after the first trap.
    assert all(r.rd_addr != 9 for r in records[trapped[0]:])
