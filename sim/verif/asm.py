"""A tiny RV32IM + Zicsr assembler for tests: one function per instruction, plus labels.

Registers are integers 0..31. Immediates are checked against their field ranges (a value that
does not fit raises ``ValueError``), so every encoding produced here is exact.

Example::

    p = Program(base=0x8000_0000)
    p.label("loop")
    p.addi(1, 1, -1)
    p.bne(1, 0, "loop")
    words = p.assemble()
"""

from dure.rtl.core.isa import (
    Funct3Branch,
    Funct3Mem,
    Funct3MiscMem,
    Funct3MulDiv,
    Funct3Op,
    Funct3System,
    Funct7,
    Opcode,
    PrivInsn,
)

__all__ = ["Program", "r_type", "i_type", "s_type", "b_type", "u_type", "j_type"]


def _reg(r):
    if not isinstance(r, int) or not 0 <= r < 32:
        raise ValueError(f"register must be 0..31, not {r!r}")
    return r


def _signed(value, bits, what):
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise ValueError(f"{what} {value} does not fit in {bits} signed bits")
    return value & ((1 << bits) - 1)


def _v(e):
    return e.value if hasattr(e, "value") else e


def r_type(opcode, funct3, funct7, rd, rs1, rs2):
    return (_v(funct7) << 25 | _reg(rs2) << 20 | _reg(rs1) << 15 | _v(funct3) << 12 |
            _reg(rd) << 7 | _v(opcode))


def i_type(opcode, funct3, rd, rs1, imm):
    return (_signed(imm, 12, "immediate") << 20 | _reg(rs1) << 15 | _v(funct3) << 12 |
            _reg(rd) << 7 | _v(opcode))


def s_type(opcode, funct3, rs1, rs2, imm):
    imm = _signed(imm, 12, "offset")
    return ((imm >> 5) << 25 | _reg(rs2) << 20 | _reg(rs1) << 15 | _v(funct3) << 12 |
            (imm & 0x1F) << 7 | _v(opcode))


def b_type(funct3, rs1, rs2, offset):
    if offset % 2:
        raise ValueError(f"branch offset {offset} is odd")
    imm = _signed(offset, 13, "branch offset")
    return ((imm >> 12 & 1) << 31 | (imm >> 5 & 0x3F) << 25 | _reg(rs2) << 20 |
            _reg(rs1) << 15 | _v(funct3) << 12 | (imm >> 1 & 0xF) << 8 | (imm >> 11 & 1) << 7 |
            Opcode.BRANCH.value)


def u_type(opcode, rd, imm20):
    if not 0 <= imm20 < (1 << 20):
        raise ValueError(f"upper immediate {imm20:#x} does not fit in 20 bits")
    return imm20 << 12 | _reg(rd) << 7 | _v(opcode)


def j_type(rd, offset):
    if offset % 2:
        raise ValueError(f"jump offset {offset} is odd")
    imm = _signed(offset, 21, "jump offset")
    return ((imm >> 20 & 1) << 31 | (imm >> 1 & 0x3FF) << 21 | (imm >> 11 & 1) << 20 |
            (imm >> 12 & 0xFF) << 12 | _reg(rd) << 7 | Opcode.JAL.value)


_OPS = {  # name: (funct3, funct7)
    "add": (Funct3Op.ADD, Funct7.BASE), "sub": (Funct3Op.ADD, Funct7.ALT),
    "sll": (Funct3Op.SLL, Funct7.BASE), "slt": (Funct3Op.SLT, Funct7.BASE),
    "sltu": (Funct3Op.SLTU, Funct7.BASE), "xor": (Funct3Op.XOR, Funct7.BASE),
    "srl": (Funct3Op.SR, Funct7.BASE), "sra": (Funct3Op.SR, Funct7.ALT),
    "or_": (Funct3Op.OR, Funct7.BASE), "and_": (Funct3Op.AND, Funct7.BASE),
    **{f.name.lower(): (f, Funct7.MULDIV) for f in Funct3MulDiv},
}
_OP_IMMS = {"addi": Funct3Op.ADD, "slti": Funct3Op.SLT, "sltiu": Funct3Op.SLTU,
            "xori": Funct3Op.XOR, "ori": Funct3Op.OR, "andi": Funct3Op.AND}
_SHIFTS = {"slli": (Funct3Op.SLL, Funct7.BASE), "srli": (Funct3Op.SR, Funct7.BASE),
           "srai": (Funct3Op.SR, Funct7.ALT)}
_LOADS = {"lb": Funct3Mem.B, "lh": Funct3Mem.H, "lw": Funct3Mem.W, "lbu": Funct3Mem.BU,
          "lhu": Funct3Mem.HU}
_STORES = {"sb": Funct3Mem.B, "sh": Funct3Mem.H, "sw": Funct3Mem.W}
_BRANCHES = {f.name.lower(): f for f in Funct3Branch}
_CSRS = {"csrrw": Funct3System.CSRRW, "csrrs": Funct3System.CSRRS, "csrrc": Funct3System.CSRRC}
_CSRIS = {"csrrwi": Funct3System.CSRRWI, "csrrsi": Funct3System.CSRRSI,
          "csrrci": Funct3System.CSRRCI}


class Program:
    """A list of instruction words at ``base``, with labels for branch and jump targets.

    Each instruction method appends one word; branch / jump targets may be label names
    (resolved by :meth:`assemble`) or byte offsets. Method names follow the mnemonics (``or_``
    and ``and_`` for OR / AND).
    """

    def __init__(self, base=0x8000_0000):
        self.base = base
        self._items = []      # int, or (function, label) resolved later
        self._labels = {}

    @property
    def pc(self):
        """Address of the next instruction appended."""
        return self.base + 4 * len(self._items)

    def label(self, name):
        if name in self._labels:
            raise ValueError(f"label {name!r} defined twice")
        self._labels[name] = self.pc
        return self.pc

    def word(self, value):
        """Append a raw 32-bit word (data, or a deliberately illegal instruction)."""
        if not 0 <= value < 2**32:
            raise ValueError(f"word {value!r} is not a 32-bit value")
        self._items.append(value)

    def _target(self, pc, target, encode):
        if isinstance(target, str):
            self._items.append(lambda: encode(self._labels[target] - pc))
        else:
            self._items.append(encode(target))

    def assemble(self):
        """The instruction words."""
        words = []
        for item in self._items:
            try:
                words.append(item() if callable(item) else item)
            except KeyError as e:
                raise ValueError(f"undefined label {e.args[0]!r}") from None
        return words

    def __getattr__(self, name):
        if name in _OPS:
            f3, f7 = _OPS[name]
            return lambda rd, rs1, rs2: self.word(r_type(Opcode.OP, f3, f7, rd, rs1, rs2))
        if name in _OP_IMMS:
            return lambda rd, rs1, imm: self.word(i_type(Opcode.OP_IMM, _OP_IMMS[name], rd, rs1,
                                                         imm))
        if name in _SHIFTS:
            f3, f7 = _SHIFTS[name]

            def shift(rd, rs1, shamt):
                if not 0 <= shamt < 32:
                    raise ValueError(f"shift amount {shamt} is not 0..31")
                self.word(r_type(Opcode.OP_IMM, f3, f7, rd, rs1, shamt))
            return shift
        if name in _LOADS:
            return lambda rd, rs1, imm=0: self.word(i_type(Opcode.LOAD, _LOADS[name], rd, rs1,
                                                           imm))
        if name in _STORES:
            return lambda rs2, rs1, imm=0: self.word(s_type(Opcode.STORE, _STORES[name], rs1,
                                                            rs2, imm))
        if name in _BRANCHES:
            return lambda rs1, rs2, target: self._target(
                self.pc, target, lambda off: b_type(_BRANCHES[name], rs1, rs2, off))
        if name in _CSRS:
            return lambda rd, csr, rs1: self.word(
                (_v(csr) << 20) | _reg(rs1) << 15 | _CSRS[name].value << 12 | _reg(rd) << 7 |
                Opcode.SYSTEM.value)
        if name in _CSRIS:
            def csri(rd, csr, uimm):
                if not 0 <= uimm < 32:
                    raise ValueError(f"CSR immediate {uimm} is not 0..31")
                self.word((_v(csr) << 20) | uimm << 15 | _CSRIS[name].value << 12 |
                          _reg(rd) << 7 | Opcode.SYSTEM.value)
            return csri
        raise AttributeError(f"no instruction {name!r}")

    def lui(self, rd, imm20):
        self.word(u_type(Opcode.LUI, rd, imm20))

    def auipc(self, rd, imm20):
        self.word(u_type(Opcode.AUIPC, rd, imm20))

    def jal(self, rd, target):
        self._target(self.pc, target, lambda off: j_type(rd, off))

    def jalr(self, rd, rs1, imm=0):
        self.word(i_type(Opcode.JALR, 0, rd, rs1, imm))

    def li(self, rd, value):
        """Load a 32-bit constant (LUI + ADDI, or just ADDI; always two words, for stable
        addresses)."""
        value &= 0xFFFF_FFFF
        low = value & 0xFFF
        low = low - 0x1000 if low >= 0x800 else low
        high = ((value - low) >> 12) & 0xFFFFF
        self.lui(rd, high)
        self.addi(rd, rd, low)

    def nop(self):
        self.addi(0, 0, 0)

    def fence(self):
        self.word(i_type(Opcode.MISC_MEM, Funct3MiscMem.FENCE, 0, 0, 0x0FF))

    def fence_i(self):
        self.word(i_type(Opcode.MISC_MEM, Funct3MiscMem.FENCE_I, 0, 0, 0))

    def ecall(self):
        self.word(PrivInsn.ECALL.value)

    def ebreak(self):
        self.word(PrivInsn.EBREAK.value)

    def mret(self):
        self.word(PrivInsn.MRET.value)

    def wfi(self):
        self.word(PrivInsn.WFI.value)

    def csrr(self, rd, csr):
        self.csrrs(rd, csr, 0)

    def csrw(self, csr, rs1):
        self.csrrw(0, csr, rs1)

    def halt(self):
        """``jal x0, 0``: the test benches stop when this instruction retires."""
        self.word(j_type(0, 0))

