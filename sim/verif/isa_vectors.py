"""Generator of the ISA self-test vectors ``firmware/isa/isa_alu.S`` and ``isa_muldiv.S``.

The expected values come from :func:`alu` and :func:`muldiv`, plain Python integer arithmetic
written from the RISC-V unprivileged specification (chapters RV32I "Integer Computational
Instructions" and "M" Standard Extension), independent of the RTL (nothing here imports
``dure.rtl``). ``tests/sim/verif/test_isa_vectors.py`` checks that the generated text is the
committed file byte for byte, and checks the model on identities of its own; ``make
isa-vectors`` (``python -m dure.sim.verif.isa_vectors firmware/isa``) rewrites the files after
a change here. The test macros (``TEST_RR``, ``TEST_RI``, ...) are in
``firmware/include/isa_test.h``: each runs one instruction and compares the destination with
the expected word, failing with the case number.

Operand grids (what the files cover):

* ALU register-register: the 12 :data:`ALU_VALUES`, pairs ``(VALUES[i], VALUES[j])`` with
  ``j = 3 i (mod 5)`` (29 pairs: every value as rs1 and as rs2, varied partners), then the
  sign / overflow edges of :data:`ALU_EDGE_PAIRS`; shifts (SLL SRL SRA): 5 values x
  :data:`SHIFT_AMOUNTS` (including 32, 33 and -31: only the low five bits of rs2 count).
* ALU register-immediate: 8 values x 8 immediates (including 2047 and -2048); immediate shifts
  5 values x shift amounts 0, 1, 7, 15, 31.
* M extension: the full 16 x 16 grid of :data:`MULDIV_VALUES` for each of the eight
  instructions (division by zero, INT_MIN / -1, mixed signs, large unsigned).
* For every instruction: destination equal to a source (rd = rs1, rd = rs2, rd = rs1 = rs2),
  rd = x0, and forwarding with 0 to 3 (immediate forms 0 to 2) instructions in between.
"""

import pathlib
import sys

__all__ = ["alu", "muldiv", "render_alu", "render_muldiv", "write", "FILES"]

M32 = 0xFFFF_FFFF


def _signed(x):
    x &= M32
    return x - (1 << 32) if x >> 31 else x


def alu(op, a, b):
    """Result of an RV32I ALU instruction on the 32-bit words ``a`` (rs1) and ``b`` (rs2, or
    the sign-extended immediate as a 32-bit word; a shift amount for the shift-immediates).

    ``op`` is the mnemonic (``add``, ``addi``, ... ``srai``). Per the specification: ADD/SUB
    wrap modulo 2**32; SLT/SLTU compare signed / unsigned and write 1 or 0; SLTIU compares with
    the sign-extended immediate taken as unsigned; shifts use the low five bits of rs2 (of the
    immediate's shamt field); SRA/SRAI shift in copies of bit 31."""
    a &= M32
    b &= M32
    base = op[:-1] if op.endswith("i") and op not in ("sltiu",) else op
    if op == "sltiu":
        base = "sltu"
    shamt = b & 31
    if base == "add":
        r = a + b
    elif base == "sub":
        r = a - b
    elif base == "and":
        r = a & b
    elif base == "or":
        r = a | b
    elif base == "xor":
        r = a ^ b
    elif base == "sll":
        r = a << shamt
    elif base == "srl":
        r = a >> shamt
    elif base == "sra":
        r = _signed(a) >> shamt
    elif base == "slt":
        r = int(_signed(a) < _signed(b))
    elif base == "sltu":
        r = int(a < b)
    else:
        raise ValueError(f"not an RV32I ALU instruction: {op!r}")
    return r & M32


def muldiv(op, a, b):
    """Result of an M-extension instruction on the 32-bit words ``a`` (rs1) and ``b`` (rs2).

    MUL: low 32 bits of the product; MULH / MULHSU / MULHU: high 32 bits of the 64-bit product
    of signed x signed / signed x unsigned / unsigned x unsigned operands. DIV / DIVU round
    towards zero; REM / REMU take the sign of the dividend. Division by zero: quotient all ones
    (-1), remainder the dividend. Signed overflow (-2**31 / -1): quotient -2**31, remainder
    0."""
    a &= M32
    b &= M32
    sa, sb = _signed(a), _signed(b)
    if op == "mul":
        r = sa * sb
    elif op == "mulh":
        r = (sa * sb) >> 32
    elif op == "mulhsu":
        r = (sa * b) >> 32
    elif op == "mulhu":
        r = (a * b) >> 32
    elif op in ("div", "rem"):
        if sb == 0:
            q, rem = -1, sa
        elif sa == -(1 << 31) and sb == -1:
            q, rem = sa, 0
        else:
            q = abs(sa) // abs(sb)
            if (sa < 0) != (sb < 0):
                q = -q
            rem = sa - q * sb
        r = q if op == "div" else rem
    elif op in ("divu", "remu"):
        q, rem = (M32, a) if b == 0 else (a // b, a % b)
        r = q if op == "divu" else rem
    else:
        raise ValueError(f"not an M-extension instruction: {op!r}")
    return r & M32


ALU_VALUES = [0x00000000, 0x00000001, 0x00000002, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
              0x12345678, 0xFEDCBA98, 0x00FF00FF, 0xFF00FF00, 0x0000FFFF, 0xFFFF8000]
ALU_EDGE_PAIRS = [(0x7FFFFFFF, 1), (0x80000000, 1), (0xFFFFFFFF, 1), (0x80000000, 0x7FFFFFFF),
                  (0x7FFFFFFF, 0x80000000), (0, 0xFFFFFFFF), (0xFFFFFFFF, 0)]
SHIFT_VALUES = [0x00000001, 0x80000000, 0xFFFFFFFF, 0x12345678, 0x7FFFFFFF]
SHIFT_AMOUNTS = [0, 1, 7, 14, 31, 32, 33, 0xFFFFFFE1]
IMM_VALUES = [0x00000000, 0x00000001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x12345678,
              0xFFFFF800, 0x000007FF]
IMMEDIATES = [0, 1, -1, 2047, -2048, 1365, -2, 291]
SHAMTS = [0, 1, 7, 15, 31]
ALU_RR = ["add", "sub", "and", "or", "xor", "sll", "srl", "sra", "slt", "sltu"]
ALU_RI = ["addi", "andi", "ori", "xori", "slti", "sltiu", "slli", "srli", "srai"]
RR_SPECIAL = (0x0F0F1234, 0x00000F03)       # rs1, rs2 of the dest = source / bypass cases
RI_SPECIAL = (0x00FF00F0, -5, 3)            # rs1, immediate, shift amount

MULDIV_VALUES = [0, 1, 2, 3, 7, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFF9, 0x7FFFFFFF, 0x80000000,
                 0x80000001, 0x12345678, 0xFEDCBA98, 0x0000FFFF, 0x00010000, 0xAAAAAAAA]
MULDIV_OPS = ["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"]
MULDIV_SPECIAL = (0x00012345, 0xFFFFFFF3)

_ALU_HEAD = """\
/* isa_alu: every RV32I register-register and register-immediate ALU instruction (ADD SUB AND
 * OR XOR SLL SRL SRA SLT SLTU, ADDI ANDI ORI XORI SLTI SLTIU SLLI SRLI SRAI), shifts by 0, 31
 * and amounts >= 32 (only the low 5 bits count), sign/overflow edges, destination = source,
 * writes to x0, operand forwarding with 0..3 instructions in between; LUI and AUIPC.
 * Generated by sim/verif/isa_vectors.py (make isa-vectors) from an independent model of the
 * ISA definition; do not edit by hand. The file also runs on Unicorn
 * (tests/firmware/test_unicorn.py) as a cross-check. */
#include "isa_test.h"

TEST_BEGIN

/* LUI */
TEST_CASE(1000, a4, 0x12345000, lui a4, 0x12345)
TEST_CASE(1001, a4, 0xfffff000, lui a4, 0xfffff)
TEST_CASE(1002, a4, 0x80000000, lui a4, 0x80000)
TEST_CASE(1003, a4, 0x00000000, li a4, 77; lui a4, 0)
TEST_CASE(1004, a4, 0x00001001, lui a4, 0x1; addi a4, a4, 1)
TEST_CASE(1005, x0, 0, lui x0, 0x12345)

/* AUIPC: the result is the address of the AUIPC itself plus the shifted immediate */
TEST_CASE(1010, a4, 0, 1: auipc a4, 0; la t5, 1b; sub a4, a4, t5)
TEST_CASE(1011, a4, 0x1000, 1: auipc a4, 1; la t5, 1b; sub a4, a4, t5)
TEST_CASE(1012, a4, 0x80000000, 1: auipc a4, 0x80000; la t5, 1b; sub a4, a4, t5)
TEST_CASE(1013, a4, 0xfffff000, 1: auipc a4, 0xfffff; la t5, 1b; sub a4, a4, t5)
TEST_CASE(1014, a4, 0x12345000, nop; 1: auipc a4, 0x12345; la t5, 1b; sub a4, a4, t5)

/* x0 stays zero */
TEST_CASE(1020, a4, 0, addi x0, x0, 5; add a4, x0, x0)
TEST_CASE(1021, a4, 0, li a1, -1; or x0, a1, a1; mv a4, x0)

/* generated case list */
"""

_MULDIV_HEAD = """\
/* isa_muldiv: the M extension (MUL MULH MULHSU MULHU DIV DIVU REM REMU) over a grid of edge
 * values (0, +-1, INT_MIN, INT_MAX, mixed signs, large unsigned), including division by zero
 * (quotient all ones, remainder = dividend) and INT_MIN / -1 (quotient INT_MIN, remainder 0),
 * destination = source, writes to x0 and forwarding. Generated by sim/verif/isa_vectors.py
 * (make isa-vectors) from an independent model of the ISA definition; do not edit by hand.
 * The program also runs on Unicorn as a cross-check. */
#include "isa_test.h"

TEST_BEGIN

/* back-to-back dependent multiply/divide */
TEST_CASE(1000, a4, 0x00000006, li a1, 2; li a2, 3; mul a3, a1, a2; mul a4, a3, a1; divu a4, a4, a1)
TEST_CASE(1001, a4, 0xfffffffd, li a1, -7; li a2, 2; div a3, a1, a2; rem a4, a1, a2; \
add a4, a3, a4; addi a4, a4, 1)

"""

_TAIL = "\nTEST_END\n"


def _h(x):
    return f"0x{x & M32:08x}"


def _rr_block(op, fn, pairs, first):
    """Lines of one register-register instruction from case number ``first``; returns
    (lines, next case number)."""
    lines, n = [f"/* {op} */"], first
    for a, b in pairs:
        lines.append(f"TEST_RR({n}, {op}, {_h(fn(op, a, b))}, {_h(a)}, {_h(b)})")
        n += 1
    a, b = RR_SPECIAL if fn is alu else MULDIV_SPECIAL
    r = _h(fn(op, a, b))
    lines += [f"TEST_RR_SRC1_DEST({n}, {op}, {r}, {_h(a)}, {_h(b)})",
              f"TEST_RR_SRC2_DEST({n + 1}, {op}, {r}, {_h(a)}, {_h(b)})",
              f"TEST_RR_SRC12_DEST({n + 2}, {op}, {_h(fn(op, a, a))}, {_h(a)})",
              f"TEST_RR_ZERODEST({n + 3}, {op}, {_h(a)}, {_h(b)})"]
    n += 4
    for gap in range(4):
        lines.append(f"TEST_RR_BYPASS({n}, {gap}, {op}, {r}, {_h(a)}, {_h(b)})")
        n += 1
    return lines, n


def _ri_block(op, first):
    lines, n = [f"/* {op} */"], first
    shift = op in ("slli", "srli", "srai")
    grid = [(a, i) for a in (SHIFT_VALUES if shift else IMM_VALUES)
            for i in (SHAMTS if shift else IMMEDIATES)]
    for a, imm in grid:
        lines.append(f"TEST_RI({n}, {op}, {_h(alu(op, a, imm))}, {_h(a)}, {imm})")
        n += 1
    a, imm, shamt = RI_SPECIAL
    imm = shamt if shift else imm
    r = _h(alu(op, a, imm))
    lines.append(f"TEST_RI_SRC1_DEST({n}, {op}, {r}, {_h(a)}, {imm})")
    n += 1
    for gap in range(3):
        lines.append(f"TEST_RI_BYPASS({n}, {gap}, {op}, {r}, {_h(a)}, {imm})")
        n += 1
    lines.append(f"TEST_CASE({n}, x0, 0, li a1, {_h(a)}; {op} x0, a1, {imm})")
    return lines, n + 1


def render_alu():
    """The text of ``firmware/isa/isa_alu.S``."""
    v = ALU_VALUES
    pairs = [(v[i], v[j]) for i in range(len(v)) for j in range(len(v)) if (j - 3 * i) % 5 == 0]
    pairs += ALU_EDGE_PAIRS
    shifts = [(a, s) for a in SHIFT_VALUES for s in SHIFT_AMOUNTS]
    lines, n = [], 2
    for op in ALU_RR:
        block, n = _rr_block(op, alu, shifts if op in ("sll", "srl", "sra") else pairs, n)
        lines += block
    for op in ALU_RI:
        block, n = _ri_block(op, n)
        lines += block
    return _ALU_HEAD + "\n".join(lines) + "\n" + _TAIL


def render_muldiv():
    """The text of ``firmware/isa/isa_muldiv.S``."""
    grid = [(a, b) for a in MULDIV_VALUES for b in MULDIV_VALUES]
    lines, n = [], 2000
    for op in MULDIV_OPS:
        block, n = _rr_block(op, muldiv, grid, n)
        lines += block
    return _MULDIV_HEAD + "\n".join(lines) + "\n" + _TAIL


#: File name -> renderer.
FILES = {"isa_alu.S": render_alu, "isa_muldiv.S": render_muldiv}


def write(folder):
    """Write every generated file into ``folder`` (``firmware/isa``); returns the paths."""
    folder = pathlib.Path(folder)
    paths = []
    for name, render in FILES.items():
        path = folder / name
        path.write_text(render())
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dure.sim.verif.isa_vectors FOLDER  (e.g. firmware/isa)")
    for path in write(sys.argv[1]):
        print(f"wrote {path}")
