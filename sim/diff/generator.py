"""Seeded random RV32IM programs for differential testing.

:func:`generate` returns assembly text (GNU/LLVM syntax, ``x``-register names) of a program that

* seeds every register from random data biased to corner values (0, 1, -1, INT_MIN, INT_MAX,
  small numbers);
* runs ``length`` randomly chosen items: ALU register/immediate operations, shifts, LUI/AUIPC,
  MUL/MULH*/DIV*/REM* (often with corner operands loaded just before), loads and stores of
  every width with sign/zero extension (always inside the data area; about one in five
  halfword / word accesses at a misaligned address, often crossing a word boundary), FENCE,
  forward branches of every kind over a few instructions, bounded backward loops, forward
  JAL/JALR over dead code (JALR also with odd offsets, whose bit 0 is cleared), calls to leaf
  subroutines and their returns, and CSR instructions on ``mscratch`` (every CSR form);
* ends by writing 1 to the test-exit register and spinning.

Without ``traps`` it never traps; with ``traps`` it also raises exceptions now and then
(:data:`TRAP_KINDS`: illegal instructions, ECALL, EBREAK, loads and stores at unmapped
addresses, JALR, JAL and taken branches to a target that is not 4-byte aligned) and installs
a handler at ``mtvec`` that reads mcause, mtval and mepc into x29 / x30 / x31 and returns to
mepc + 4 (the reference models the trap entry: :mod:`.reference`). It reads no counter CSR
(their values differ between an ISS and a pipeline). Sources prefer recently written
registers, so back-to-back dependencies (forwarding, load-use) are frequent.

Register roles: ``x3`` (gp) points to the middle of the 4 KiB data area and is never written
after the start; ``x4`` (tp) is the loop counter and is written only by loop control; inside
subroutines ``x1`` (ra) holds the return address and is not written by the body; with
``traps``, x29..x31 belong to the trap handler (the program reads them, never writes them).
"""

import random

from dure.config import TEST_EXIT_BASE

__all__ = ["generate", "DATA_SIZE", "TRAP_KINDS", "UNMAPPED"]

#: Bytes of the data area every load and store stays inside.
DATA_SIZE = 4096

GP, TP, RA = 3, 4, 1
HANDLER_REGS = (29, 30, 31)

#: Exceptions a program with ``traps`` raises.
TRAP_KINDS = ("illegal", "ecall", "ebreak", "load_fault", "store_fault", "misaligned_jump",
              "misaligned_jal", "misaligned_branch")
#: Word-aligned addresses with nothing behind them in the SoC (a bus error: access fault) and
#: not mapped in the reference.
UNMAPPED = (0x2000_0000, 0x3000_0000, 0x0400_0000, 0xF000_0000)

_MASK32 = 0xFFFF_FFFF
_CORNERS = (0, 1, 2, 3, -1, -2, 0x8000_0000, 0x7FFF_FFFF, 0x8000_0001, 0xFFFF_8000, 0x0000_7FFF,
            0x0000_FFFF, 0x0000_0080, 0xFFFF_FF80, 0x0000_001F, 0x0000_0020)

_ALU_R = ("add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and")
_ALU_I = ("addi", "slti", "sltiu", "xori", "ori", "andi")
_SHIFT_I = ("slli", "srli", "srai")
_MULDIV = ("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu")
_BRANCH = ("beq", "bne", "blt", "bge", "bltu", "bgeu")
_LOADS = (("lb", 1), ("lh", 2), ("lw", 4), ("lbu", 1), ("lhu", 2))
_STORES = (("sb", 1), ("sh", 2), ("sw", 4))


class _Builder:
    def __init__(self, seed, traps=False):
        self.traps = traps
        self.rng = random.Random(seed)
        self.lines = []
        self.labels = 0
        self.recent = []
        self.subroutines = []
        self.words = []  # gp-relative word offsets of recent accesses
        self.reserved = {GP, TP} | (set(HANDLER_REGS) if traps else set())

    # -- registers and values --------------------------------------------------------------
    def label(self, stem="L"):
        self.labels += 1
        return f".{stem}{self.labels}"

    def emit(self, text):
        self.lines.append("    " + text)

    def value(self):
        rng = self.rng
        choice = rng.random()
        if choice < 0.35:
            value = rng.choice(_CORNERS)
        elif choice < 0.55:
            value = rng.randint(-16, 16)
        else:
            value = rng.getrandbits(32)
        return value & _MASK32

    def dest(self):
        rng = self.rng
        if rng.random() < 0.03:
            reg = 0
        else:
            reg = rng.choice([r for r in range(1, 32) if r not in self.reserved])
        if reg:
            self.recent = ([reg] + [r for r in self.recent if r != reg])[:4]
        return reg

    def src(self):
        rng = self.rng
        if self.recent and rng.random() < 0.5:
            return rng.choice(self.recent)
        return rng.randrange(32)

    def scratch(self):
        """A register free for address computation (not x0, not reserved)."""
        return self.rng.choice([r for r in range(1, 32) if r not in self.reserved])

    def li(self, reg, value):
        value &= _MASK32
        signed = value - (1 << 32) if value >> 31 else value
        self.emit(f"li x{reg}, {signed}")

    # -- items ---------------------------------------------------------------------------
    def simple(self):
        """One item that falls through (no control flow)."""
        rng = self.rng
        kind = rng.choices(
            ("alu_r", "alu_i", "shift_i", "lui", "auipc", "muldiv", "load", "store", "csr",
             "fence", "li"),
            weights=(20, 15, 8, 3, 2, 14, 14, 10, 4, 1, 3))[0]
        # Sources are picked before the destination joins the recent list (see src()).
        if kind == "alu_r":
            rs1, rs2 = self.src(), self.src()
            self.emit(f"{rng.choice(_ALU_R)} x{self.dest()}, x{rs1}, x{rs2}")
        elif kind == "alu_i":
            rs1 = self.src()
            imm = rng.choice((rng.randint(-2048, 2047), rng.randint(-8, 8), -1, 0, 2047, -2048))
            self.emit(f"{rng.choice(_ALU_I)} x{self.dest()}, x{rs1}, {imm}")
        elif kind == "shift_i":
            rs1 = self.src()
            shamt = rng.choice((0, 1, 31, rng.randrange(32)))
            self.emit(f"{rng.choice(_SHIFT_I)} x{self.dest()}, x{rs1}, {shamt}")
        elif kind == "lui":
            self.emit(f"lui x{self.dest()}, {rng.getrandbits(20)}")
        elif kind == "auipc":
            self.emit(f"auipc x{self.dest()}, {rng.getrandbits(20)}")
        elif kind == "muldiv":
            self.muldiv()
        elif kind == "load":
            self.memory(rng.choice(_LOADS), load=True)
        elif kind == "store":
            self.memory(rng.choice(_STORES), load=False)
        elif kind == "csr":
            self.csr()
        elif kind == "fence":
            self.emit("fence")
        else:
            self.li(self.dest(), self.value())

    def muldiv(self):
        rng = self.rng
        rs1, rs2 = self.src(), self.src()
        if rng.random() < 0.4 and rs1 and rs1 not in self.reserved:
            self.li(rs1, rng.choice(_CORNERS))
        if rng.random() < 0.4 and rs2 and rs2 not in self.reserved and rs2 != rs1:
            self.li(rs2, rng.choice(_CORNERS))
        self.emit(f"{rng.choice(_MULDIV)} x{self.dest()}, x{rs1}, x{rs2}")

    def memory(self, op, load):
        rng = self.rng
        mnemonic, width = op
        # Alignment step of the offset: misaligned accesses (done in hardware) now and then.
        step = 1 if width > 1 and rng.random() < 0.2 else width
        top = DATA_SIZE // 2 - width            # last start address (gp-relative) in the area
        choice = rng.random()
        if choice < 0.3 and self.words:
            # Near a recent access (same or neighbouring word, any lane): store-to-load
            # forwarding and byte-lane merging get exercised.
            base = GP
            word = rng.choice(self.words) + rng.choice((0, 0, 0, 4, -4))
            word = min(max(word, -DATA_SIZE // 2), DATA_SIZE // 2 - 4)
            offset = min(word + rng.randrange(0, 4, step), top)
        elif choice < 0.6:
            base = GP
            offset = rng.randrange(-DATA_SIZE // 2, top + 1, step)
        else:
            # Computed address: gp + (rs & mask) + offset, with (rs & mask) in
            # [0, 2048 - step] and offset in [-2048, step - width]: the access stays inside
            # [gp - 2048, gp + 2047], aligned to the step.
            base = self.scratch()
            self.emit(f"andi x{base}, x{self.src()}, {0x7FF & ~(step - 1)}")
            self.emit(f"add x{base}, x{base}, x{GP}")
            offset = rng.randrange(-DATA_SIZE // 2, step - width + 1, step)
        if base == GP:
            self.words = ([offset & ~3] + self.words)[:4]
        if load:
            self.emit(f"{mnemonic} x{self.dest()}, {offset}(x{base})")
        else:
            self.emit(f"{mnemonic} x{self.src()}, {offset}(x{base})")

    def csr(self):
        rng = self.rng
        form = rng.choice(("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci", "read"))
        if form == "read":
            self.emit(f"csrrs x{self.dest()}, mscratch, x0")
        elif form.endswith("i"):
            self.emit(f"{form} x{self.dest()}, mscratch, {rng.randrange(32)}")
        else:
            rs1 = self.src()
            self.emit(f"{form} x{self.dest()}, mscratch, x{rs1}")

    def trap(self):
        """One instruction that raises an exception (the handler resumes after it)."""
        rng = self.rng
        kind = rng.choice(TRAP_KINDS)
        if kind == "illegal":
            # 0 and all ones, and opcode 0x7F (reserved for 80-bit and longer instructions);
            # the low bits stay 0b11 so that an ISS with the C extension sees 4 bytes too.
            word = rng.choice((0, 0xFFFF_FFFF, rng.getrandbits(25) << 7 | 0x7F))
            self.emit(f".word 0x{word:08x}")
        elif kind in ("ecall", "ebreak"):
            self.emit(kind)
        elif kind in ("load_fault", "store_fault"):
            base = self.scratch()
            self.li(base, rng.choice(UNMAPPED) + 4 * rng.randrange(1024))
            if kind == "load_fault":
                mnemonic = rng.choice(("lb", "lh", "lw", "lbu", "lhu"))
                self.emit(f"{mnemonic} x{self.dest()}, 0(x{base})")
            else:
                self.emit(f"{rng.choice(('sb', 'sh', 'sw'))} x{self.src()}, 0(x{base})")
        elif kind == "misaligned_jal":
            self.emit(f"jal x{self.dest()}, .{rng.choice(('+6', '+10', '-2'))}")
        elif kind == "misaligned_branch":
            # Traps only when taken (a branch not taken goes on at the next instruction).
            rs1 = self.src()
            rs2 = rs1 if rng.random() < 0.3 else self.src()
            self.emit(f"{rng.choice(_BRANCH)} x{rs1}, x{rs2}, .{rng.choice(('+6', '+10', '-6'))}")
        else:
            # JALR to a target 2 bytes past a word: the jump traps (rd not written); the
            # handler resumes at the next instruction.
            base = self.scratch()
            target = self.label()
            self.emit(f"la x{base}, {target}")
            self.emit(f"jalr x{self.dest()}, {rng.choice((2, 6, -2))}(x{base})")
            self.emit("nop")
            self.lines.append(f"{target}:")
            self.emit("nop")

    def forward_branch(self, depth=0):
        rng = self.rng
        target = self.label()
        rs1 = self.src()
        rs2 = rs1 if rng.random() < 0.1 else self.src()
        self.emit(f"{rng.choice(_BRANCH)} x{rs1}, x{rs2}, {target}")
        for _ in range(rng.randint(0, 5)):
            if depth < 1 and rng.random() < 0.15:
                self.forward_branch(depth + 1)
            else:
                self.simple()
        self.lines.append(f"{target}:")

    def loop(self):
        rng = self.rng
        head = self.label()
        self.li(TP, rng.randint(1, 6))
        self.lines.append(f"{head}:")
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.2:
                self.forward_branch(1)
            else:
                self.simple()
        self.emit(f"addi x{TP}, x{TP}, -1")
        self.emit(rng.choice((f"bne x{TP}, x0, {head}", f"blt x0, x{TP}, {head}",
                              f"bltu x0, x{TP}, {head}", f"bge x0, x{TP}, .+8\n    j {head}")))

    def jump(self):
        rng = self.rng
        target = self.label()
        if rng.random() < 0.5:
            self.emit(f"jal x{self.dest()}, {target}")
        else:
            base = self.scratch()
            offset = rng.choice((0, 0, 4, -4, 3, rng.randint(-64, 64)))
            odd = int(rng.random() < 0.25)  # base + offset odd: JALR clears bit 0
            self.emit(f"la x{base}, {target}{odd - offset:+d}")
            self.emit(f"jalr x{self.dest()}, {offset}(x{base})")
        for _ in range(rng.randint(0, 3)):
            self.simple()  # dead code, skipped
        self.lines.append(f"{target}:")

    def call(self):
        rng = self.rng
        if not self.subroutines or (len(self.subroutines) < 8 and rng.random() < 0.3):
            self.subroutines.append((self.label("F"), rng.randint(1, 6), rng.getrandbits(32)))
        name = rng.choice(self.subroutines)[0]
        if rng.random() < 0.5:
            self.emit(f"jal x{RA}, {name}")
        else:
            base = self.scratch()
            self.emit(f"la x{base}, {name}")
            self.emit(f"jalr x{RA}, 0(x{base})")
        self.recent = ([RA] + [r for r in self.recent if r != RA])[:4]

    def emit_subroutines(self):
        self.reserved.add(RA)
        for name, size, seed in self.subroutines:
            self.lines.append(f"{name}:")
            saved, self.rng = self.rng, random.Random(seed)
            for _ in range(size):
                self.simple()
            self.rng = saved
            self.emit(self.rng.choice(("jalr x0, 0(x1)", "ret")))
        self.reserved.discard(RA)


def generate(seed, length=2000, traps=False):
    """Assembly text of random program ``seed`` with about ``length`` items.

    Parameters
    ----------
    seed : int
        Seed of the random choices; the same seed always gives the same text.
    length : int
        Number of top-level items (an item is one instruction or a small group: a branch over
        a few instructions, a loop, a call); >= 1.
    traps : bool
        Also raise exceptions (about one item in 25) and install the trap handler.

    Returns
    -------
    str
        A complete assembly source with ``_start`` in ``.text`` and the data area in ``.data``.
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an integer >= 1, not {length!r}")
    b = _Builder(seed, traps)
    b.lines += [f"# random RV32IM program, seed {seed}, length {length}",
                ".option norelax", ".option norvc", ".section .text", ".globl _start",
                "_start:"]
    b.emit(f"la x{GP}, data_mid")
    b.emit(f"li x{TP}, 0")
    for reg in range(1, 32):
        if reg not in (GP, TP):
            b.li(reg, b.value())
    b.emit(f"csrrw x0, mscratch, x{b.rng.randrange(5, 32)}")
    if traps:
        b.emit("la x31, trap_handler")
        b.emit("csrw mtvec, x31")
    for _ in range(length):
        kind = b.rng.choices(("simple", "branch", "loop", "jump", "call", "trap"),
                             weights=(80, 9, 3, 4, 4, 4 if traps else 0))[0]
        if kind == "trap":
            b.trap()
        elif kind == "simple":
            b.simple()
        elif kind == "branch":
            b.forward_branch()
        elif kind == "loop":
            b.loop()
        elif kind == "jump":
            b.jump()
        else:
            b.call()
    b.lines.append(".Lexit:")
    b.li(5, TEST_EXIT_BASE)
    b.li(6, 1)
    b.emit("sw x6, 0(x5)")
    b.lines.append(".Lhalt:")
    b.emit("j .Lhalt")
    b.emit_subroutines()
    if traps:
        b.lines += [".balign 4", "trap_handler:"]
        for reg, csr in zip(HANDLER_REGS, ("mcause", "mtval", "mepc"), strict=True):
            b.emit(f"csrr x{reg}, {csr}")
        b.emit(f"addi x{HANDLER_REGS[2]}, x{HANDLER_REGS[2]}, 4")
        b.emit(f"csrw mepc, x{HANDLER_REGS[2]}")
        b.emit("mret")
    words = [b.rng.getrandbits(32) for _ in range(DATA_SIZE // 4)]
    b.lines += [".section .data", ".balign 16", "data_base:"]
    for index in range(0, len(words), 8):
        if index == len(words) // 2:
            b.lines.append("data_mid:")
        b.emit(".word " + ", ".join(f"0x{w:08x}" for w in words[index:index + 8]))
    return "\n".join(b.lines) + "\n"
