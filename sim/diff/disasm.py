"""A small RV32IM + Zicsr disassembler, for mismatch reports, and the ``rd`` decoder.

Only what the differential tests need: every instruction the generator emits disassembles to
the assembler's spelling (ABI register names are not used: ``x5``, not ``t0``); anything else is
shown as ``.word 0x...``.
"""

__all__ = ["disassemble", "writes_rd"]

_CSR_NAMES = {0x340: "mscratch", 0x300: "mstatus", 0x305: "mtvec", 0x341: "mepc",
              0x342: "mcause", 0x343: "mtval", 0x304: "mie", 0x344: "mip"}

_OP = {(0, 0x00): "add", (0, 0x20): "sub", (1, 0x00): "sll", (2, 0x00): "slt",
       (3, 0x00): "sltu", (4, 0x00): "xor", (5, 0x00): "srl", (5, 0x20): "sra",
       (6, 0x00): "or", (7, 0x00): "and",
       (0, 0x01): "mul", (1, 0x01): "mulh", (2, 0x01): "mulhsu", (3, 0x01): "mulhu",
       (4, 0x01): "div", (5, 0x01): "divu", (6, 0x01): "rem", (7, 0x01): "remu"}
_OP_IMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
_BRANCH = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
_LOAD = {0: "lb", 1: "lh", 2: "lw", 4: "lbu", 5: "lhu"}
_STORE = {0: "sb", 1: "sh", 2: "sw"}
_CSR = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}


def _sext(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def writes_rd(insn):
    """Destination register the instruction writes (0 if none), as RVFI reports it."""
    opcode = insn & 0x7F
    rd = (insn >> 7) & 0x1F
    if opcode in (0x37, 0x17, 0x6F, 0x67, 0x03, 0x13, 0x33):
        return rd
    if opcode == 0x73 and (insn >> 12) & 7 in _CSR:
        return rd
    return 0


def disassemble(insn, pc=0):
    """Assembly text of one 32-bit instruction at ``pc`` (branch targets shown absolute)."""
    opcode = insn & 0x7F
    rd = (insn >> 7) & 0x1F
    f3 = (insn >> 12) & 7
    rs1 = (insn >> 15) & 0x1F
    rs2 = (insn >> 20) & 0x1F
    f7 = insn >> 25
    imm_i = _sext(insn >> 20, 12)
    if opcode == 0x37:
        return f"lui x{rd}, 0x{insn >> 12:x}"
    if opcode == 0x17:
        return f"auipc x{rd}, 0x{insn >> 12:x}"
    if opcode == 0x6F:
        imm = ((insn >> 31) << 20 | ((insn >> 12) & 0xFF) << 12 | ((insn >> 20) & 1) << 11
               | ((insn >> 21) & 0x3FF) << 1)
        return f"jal x{rd}, 0x{(pc + _sext(imm, 21)) & 0xFFFFFFFF:08x}"
    if opcode == 0x67 and f3 == 0:
        return f"jalr x{rd}, {imm_i}(x{rs1})"
    if opcode == 0x63 and f3 in _BRANCH:
        imm = ((insn >> 31) << 12 | ((insn >> 7) & 1) << 11 | ((insn >> 25) & 0x3F) << 5
               | ((insn >> 8) & 0xF) << 1)
        target = (pc + _sext(imm, 13)) & 0xFFFFFFFF
        return f"{_BRANCH[f3]} x{rs1}, x{rs2}, 0x{target:08x}"
    if opcode == 0x03 and f3 in _LOAD:
        return f"{_LOAD[f3]} x{rd}, {imm_i}(x{rs1})"
    if opcode == 0x23 and f3 in _STORE:
        imm = _sext((f7 << 5) | rd, 12)
        return f"{_STORE[f3]} x{rs2}, {imm}(x{rs1})"
    if opcode == 0x13:
        if f3 == 1 and f7 == 0:
            return f"slli x{rd}, x{rs1}, {rs2}"
        if f3 == 5 and f7 in (0, 0x20):
            return f"{'srai' if f7 else 'srli'} x{rd}, x{rs1}, {rs2}"
        if f3 in _OP_IMM:
            return f"{_OP_IMM[f3]} x{rd}, x{rs1}, {imm_i}"
    if opcode == 0x33 and (f3, f7) in _OP:
        return f"{_OP[f3, f7]} x{rd}, x{rs1}, x{rs2}"
    if opcode == 0x0F and f3 == 0:
        return "fence"
    if opcode == 0x73:
        if insn == 0x00000073:
            return "ecall"
        if insn == 0x00100073:
            return "ebreak"
        if insn == 0x30200073:
            return "mret"
        if insn == 0x10500073:
            return "wfi"
        if f3 in _CSR:
            csr = insn >> 20
            name = _CSR_NAMES.get(csr, f"0x{csr:03x}")
            src = str(rs1) if f3 >= 5 else f"x{rs1}"
            return f"{_CSR[f3]} x{rd}, {name}, {src}"
    return f".word 0x{insn:08x}"
