"""The mismatch reports' disassembler and rd decoder agree with the assembler."""

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.diff.disasm import disassemble, writes_rd
from dure.sim.diff.reference import load_elf

from dure.config import preset

# One line per form the generator emits; the disassembler must print it back unchanged
# (branch and jump targets are absolute, so they are written that way here).
SAMPLES = [
    "lui x5, 0xfffff", "auipc x31, 0x1", "addi x1, x2, -2048", "slti x3, x4, 2047",
    "sltiu x5, x6, -1", "xori x7, x8, 5", "ori x9, x10, -7", "andi x11, x12, 2044",
    "slli x13, x14, 31", "srli x15, x16, 0", "srai x17, x18, 7",
    "add x1, x2, x3", "sub x4, x5, x6", "sll x7, x8, x9", "slt x10, x11, x12",
    "sltu x13, x14, x15", "xor x16, x17, x18", "srl x19, x20, x21", "sra x22, x23, x24",
    "or x25, x26, x27", "and x28, x29, x30",
    "mul x1, x2, x3", "mulh x4, x5, x6", "mulhsu x7, x8, x9", "mulhu x10, x11, x12",
    "div x13, x14, x15", "divu x16, x17, x18", "rem x19, x20, x21", "remu x22, x23, x24",
    "lb x1, -1(x3)", "lh x2, 2(x3)", "lw x3, -2048(x3)", "lbu x4, 2047(x3)", "lhu x5, 0(x3)",
    "sb x6, -3(x3)", "sh x7, 6(x3)", "sw x8, 2044(x3)",
    "jalr x1, -5(x9)", "jalr x0, 0(x1)",
    "csrrw x1, mscratch, x2", "csrrs x3, mscratch, x0", "csrrc x4, mscratch, x5",
    "csrrwi x6, mscratch, 31", "csrrsi x7, mscratch, 0", "csrrci x8, mscratch, 17",
    "fence", "ecall", "ebreak", "mret",
    "beq x1, x2, 0x80000000", "bne x3, x4, 0x80000000", "blt x5, x6, 0x80000000",
    "bge x7, x8, 0x80000000", "bltu x9, x10, 0x80000000", "bgeu x11, x12, 0x80000000",
    "jal x1, 0x80000000", "jal x0, 0x80000000",
]

WRITES = {"lui", "auipc", "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli",
          "srai", "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "mul",
          "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "lb", "lh", "lw", "lbu",
          "lhu", "jalr", "jal", "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    body = "\n".join("    " + line.replace(", 0x80000000", ", .Lhere") for line in SAMPLES)
    elf = assemble(f".option norvc\n.section .text\n.globl _start\n_start:\n.Lhere:\n{body}\n",
                   tmp_path_factory.mktemp("disasm"))
    entry, segments = load_elf(elf, preset("sim"))
    data = segments[0][1]
    return [(entry + 4 * i, int.from_bytes(data[4 * i:4 * i + 4], "little"))
            for i in range(len(SAMPLES))]


def test_round_trip(words):
    for text, (pc, insn) in zip(SAMPLES, words, strict=True):
        assert disassemble(insn, pc) == text, f"0x{insn:08x}"


def test_writes_rd(words):
    for text, (_, insn) in zip(SAMPLES, words, strict=True):
        mnemonic = text.split()[0]
        expected = (insn >> 7) & 31 if mnemonic in WRITES else 0
        assert writes_rd(insn) == expected, text


def test_unknown_word():
    assert disassemble(0xFFFF_FFFF) == ".word 0xffffffff"
    assert writes_rd(0x0000_0000) == 0
