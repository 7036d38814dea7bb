"""Formal-only stand-ins for the M extension's results ("alternative operations").

An SMT solver cannot follow a real 32 x 32 multiplier or divider through the pipeline in
reasonable time. For the pipeline checks (operand routing, operation selection, stalls,
writeback, hazards) :class:`~.multiplier.Multiplier` and :class:`~.divider.Divider` built with
``alt_ops=True`` return a cheap stand-in of the same operands instead of the real result,
in the manner of riscv-formal's ``RISCV_FORMAL_ALTOPS``; the formal harness states the same
stand-in on the specification side. The real arithmetic is checked separately at unit level.
A core built this way is wrong on purpose and is never used outside formal checks.

The stand-in of an operation with ``funct3`` ``op`` on sources ``a`` (rs1) and ``b`` (rs2),
all 32-bit, modulo 2**32::

    MUL, MULH, MULHU           (a + b) ^ ALT_XOR[op]
    MULHSU, DIV, DIVU, REM, REMU   (a - b) ^ ALT_XOR[op]

The constants differ per operation, so a wrong operation (high / low word, signed / unsigned
variant, quotient / remainder) changes the result; the difference is not symmetric, so
swapped operands of the operations with operands of different roles change it too.
"""

from amaranth.hdl import Mux

from .isa import Funct3MulDiv

__all__ = ["ALT_XOR", "ALT_SUBTRACT", "alt_result"]

#: XOR constant of each operation's stand-in (by ``funct3``).
ALT_XOR = {
    Funct3MulDiv.MUL:    0x3C1E_97A5,
    Funct3MulDiv.MULH:   0xD2B4_0E69,
    Funct3MulDiv.MULHSU: 0x6F08_C3D1,
    Funct3MulDiv.MULHU:  0xA957_2B1E,
    Funct3MulDiv.DIV:    0x1BE3_74C9,
    Funct3MulDiv.DIVU:   0x8E6D_509B,
    Funct3MulDiv.REM:    0x47A2_E836,
    Funct3MulDiv.REMU:   0xF019_6D4C,
}

#: Operations whose stand-in subtracts (``a - b``); the others add.
ALT_SUBTRACT = frozenset({Funct3MulDiv.MULHSU, Funct3MulDiv.DIV, Funct3MulDiv.DIVU,
                          Funct3MulDiv.REM, Funct3MulDiv.REMU})


def alt_result(op, a, b):
    """Amaranth expression (32 bits) of the stand-in of ``funct3`` value ``op`` on ``a``, ``b``."""
    out = 0
    for funct3 in reversed(Funct3MulDiv):
        base = (a - b) if funct3 in ALT_SUBTRACT else (a + b)
        out = Mux(op == funct3, base[:32] ^ ALT_XOR[funct3], out)
    return out
