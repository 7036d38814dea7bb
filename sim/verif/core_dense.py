"""Dense random code for the core's late-result options (``late_add``, ``late_shift``).

:func:`dense_late_code` writes straight-line code over four registers in which late producers
(loads of every width, MUL / MULH*, CSR reads: results that are still in M when the next
instruction leaves X) are followed closely by the consumers an option takes in M; the mix of
instruction kinds is the caller's. :func:`late_users` counts, in a retirement trace, the
consumers that really sat right behind a late producer of one of their sources, so a test can
assert that its program exercised the path it is about.
"""

import random

from dure.rtl.core.isa import CSR
from dure.sim.verif.asm import Program

from .core_bench import RAM_BASE

__all__ = ["EMIT", "dense_late_code", "late_users", "is_add", "is_shift"]

_BASE = 6                     # x6: the four data words at RAM_BASE + 0x400
_REGS = [11, 12, 13, 14]


def _load(p, rng, rd, a, b):
    getattr(p, rng.choice(["lw", "lh", "lhu", "lb", "lbu"]))(rd, _BASE, 4 * rng.randrange(4))


def _mul(p, rng, rd, a, b):
    getattr(p, rng.choice(["mul", "mul", "mulh", "mulhu", "mulhsu"]))(rd, a, b)


def _csr(p, rng, rd, a, b):
    p.csrr(rd, rng.choice([CSR.MSCRATCH, CSR.MINSTRET]))


def _shift_imm(p, rng, rd, a, b):
    getattr(p, rng.choice(["slli", "srli", "srai"]))(rd, a, rng.randrange(32))


def _shift_reg(p, rng, rd, a, b):
    getattr(p, rng.choice(["sll", "srl", "sra"]))(rd, a, b)


def _andi(p, rng, rd, a, b):
    p.andi(rd, a, rng.randrange(-2048, 2048))


def _store(p, rng, rd, a, b):
    p.sw(a, _BASE, 4 * rng.randrange(4))


#: The instruction kinds a mix may name: ``emit(program, rng, rd, rs1, rs2)``.
EMIT = {
    "load": _load,
    "mul": _mul,
    "csr": _csr,
    "add": lambda p, rng, rd, a, b: p.add(rd, a, b),
    "sub": lambda p, rng, rd, a, b: p.sub(rd, a, b),
    "shift_imm": _shift_imm,
    "shift_reg": _shift_reg,
    "andi": _andi,
    "store": _store,
}


def dense_late_code(seed, length, mix):
    """Assembled words of ``length`` random instructions (then a halt). ``mix`` is a list of
    ``(upper, kind)``, ``upper`` increasing in (0, 1), ``kind`` a key of :data:`EMIT`: an
    instruction draws ``u`` uniformly and takes the first kind whose ``upper`` exceeds it;
    above the last one it is a short forward branch (BEQ / BNE / BLT over one instruction),
    or an ADDI where no instruction is left to branch over. Registers x11-x14 start random and
    in the four data words; the same seed and mix give the same program."""
    uppers = [u for u, _ in mix]
    if uppers != sorted(uppers) or not all(0 < u < 1 for u in uppers):
        raise ValueError(f"mix bounds must increase inside (0, 1): {uppers}")
    unknown = [k for _, k in mix if k not in EMIT]
    if unknown:
        raise ValueError(f"unknown instruction kinds {unknown}; known: {sorted(EMIT)}")
    rng = random.Random(seed)
    p = Program()
    p.li(_BASE, RAM_BASE + 0x400)
    for i, r in enumerate(_REGS):
        p.li(r, rng.getrandbits(32))
        p.sw(r, _BASE, 4 * i)
    for n in range(length):
        p.label(f"u{n}")
        rd, a, b = rng.choice(_REGS), rng.choice(_REGS), rng.choice(_REGS)
        u = rng.random()
        kind = next((k for upper, k in mix if u < upper), None)
        if kind is not None:
            EMIT[kind](p, rng, rd, a, b)
        elif n + 2 < length:
            getattr(p, rng.choice(["beq", "bne", "blt"]))(a, b, f"u{n + 2}")
        else:
            p.addi(rd, a, 1)
    p.label(f"u{length}")
    p.halt()
    return p.assemble()


def _is_late_producer(insn):
    op = insn & 0x7F
    return op == 0x03 or op == 0x73 or (op == 0x33 and insn >> 25 == 1)


def is_add(insn):
    """The register sources of a register-register ADD, else an empty set."""
    if insn & 0xFE00707F != 0x33:
        return set()
    return {(insn >> 15) & 31, (insn >> 20) & 31}


def is_shift(insn):
    """The register sources of a shift (SLL / SRL / SRA, immediate or register), else an
    empty set."""
    op, f3 = insn & 0x7F, (insn >> 12) & 7
    if f3 not in (1, 5) or not (op == 0x13 or (op == 0x33 and insn >> 25 != 1)):
        return set()
    return {(insn >> 15) & 31} | ({(insn >> 20) & 31} if op == 0x33 else set())


def late_users(trace, sources):
    """Retired instructions right behind a load / MUL* / CSR read that writes one of their
    register sources (``sources(insn)``: that set, empty for an instruction of another kind;
    :func:`is_add`, :func:`is_shift`)."""
    count, prev = 0, None
    for r in trace:
        insn = r["insn"]
        if prev is not None and _is_late_producer(prev):
            rd = (prev >> 7) & 31
            if rd and rd in sources(insn):
                count += 1
        prev = insn
    return count
