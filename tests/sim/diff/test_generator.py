"""Random programs: deterministic per seed, cover RV32IM, stay inside the data area, exit."""

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.diff.disasm import disassemble
from dure.sim.diff.generator import DATA_SIZE, generate
from dure.sim.diff.reference import run_reference

from dure.config import TEST_EXIT_BASE

RV32IM = {"lui", "auipc", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu", "lb", "lh",
          "lw", "lbu", "lhu", "sb", "sh", "sw", "addi", "slti", "sltiu", "xori", "ori", "andi",
          "slli", "srli", "srai", "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or",
          "and", "fence", "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
          "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}


def test_deterministic():
    assert generate(7, 300) == generate(7, 300)
    assert generate(7, 300) != generate(8, 300)


def test_bad_length():
    with pytest.raises(ValueError, match="length must be an integer >= 1"):
        generate(0, 0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = []
    for seed in range(3):
        source = generate(seed, 800)
        out.append((source, run_reference(assemble(source, tmp_path_factory.mktemp("g")))))
    return out


def test_covers_rv32im(runs):
    executed = {disassemble(r.insn, r.pc).split()[0] for _, ref in runs for r in ref.records}
    assert RV32IM <= executed, sorted(RV32IM - executed)
    assert not any(m.startswith(".word") or m in ("ecall", "ebreak", "mret") for m in executed)


def test_control_flow_both_ways(runs):
    records = [r for _, ref in runs for r in ref.records]
    branches = [r for r in records if r.insn & 0x7F == 0x63]
    taken = {r.pc_wdata != r.pc + 4 for r in branches}
    assert taken == {True, False}
    assert any(r.pc_wdata < r.pc for r in branches)          # backward (loops)
    jalrs = [r for r in records if r.insn & 0x7F == 0x67]
    assert any(r.pc_wdata < r.pc for r in jalrs)             # returns
    assert any(r.pc_wdata > r.pc + 4 for r in jalrs)         # calls / jumps


def test_memory_stays_in_data_area(runs):
    for _, ref in runs:
        gp = ref.records[1].rd_wdata        # la x3, data_mid: auipc + addi
        assert ref.records[1].rd_addr == 3
        for record in ref.records[:-1]:
            if record.mem_rmask or record.mem_wmask:
                width = bin(record.mem_rmask | record.mem_wmask).count("1")
                assert gp - DATA_SIZE // 2 <= record.mem_addr
                assert record.mem_addr + width <= gp + DATA_SIZE // 2
        assert ref.records[-1].mem_addr == TEST_EXIT_BASE and ref.exit_code == 1
        assert sum(1 for r in ref.records if r.mem_rmask) > 50
        assert sum(1 for r in ref.records if r.mem_wmask) > 30


def test_misaligned_accesses(runs):
    """Misaligned loads and stores occur, and some cross a word boundary (wrap-around lanes)."""
    accesses = [r for _, ref in runs for r in ref.records[:-1] if r.mem_rmask or r.mem_wmask]
    widths = [(r, bin(r.mem_rmask | r.mem_wmask).count("1")) for r in accesses]
    misaligned = [r for r, w in widths if r.mem_addr % w]
    crossing = [r for r, w in widths if (r.mem_addr & 3) + w > 4]
    assert any(r.mem_rmask for r in crossing) and any(r.mem_wmask for r in crossing)
    assert len(misaligned) > len(crossing) > 5


def test_corner_operands_reach_divider(runs):
    divs = [r for _, ref in runs for r in ref.records
            if disassemble(r.insn).split()[0] in ("div", "rem") and r.rd_addr]
    # Division by zero gives -1 (div) or the dividend (rem); INT_MIN / -1 gives INT_MIN.
    assert any(r.rd_wdata == 0xFFFF_FFFF for r in divs)
    assert any(r.rd_wdata == 0x8000_0000 for r in divs)
