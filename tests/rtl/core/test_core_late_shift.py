"""``late_shift`` (``rtl/core/options.py``): a shift whose value or amount a load, MUL or CSR
read still in M writes is shifted in M from W's value instead of waiting in X. Results and
the operand values on the retirement port against the reference; the bubbles it saves (alone
and with ``late_add``: ``full`` since round 9) and the one it moves (a user right behind the
late shift), against ``full-early`` (both off); random programs (plain, with interrupts, in
U-mode under PMP / triggers) with the option on."""


import pytest
from dure.rtl.core.isa import CSR
from dure.rtl.core.options import CoreOptions, core_options
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, SLOW_BUS, run
from dure.sim.verif.core_dense import dense_late_code, is_shift, late_users
from dure.sim.verif.core_loops import loop_cycles
from dure.sim.verif.core_random import (
    TIMINGS,
    compare,
    run_random,
    run_random_interrupts,
    run_random_privileged,
)

EARLY = core_options("full-early")
LATE_SHIFT = CoreOptions(late_add=False, late_shift=True)
LATE_ALU = core_options("full")          # late_add and late_shift


def _bitfields(p, n):
    """The bit-field loop of a matrix kernel as GCC -O2 emits it (``bench_cmark``'s fourth
    matrix product): two halfword loads, their product, two bit fields of it (SRAI right
    behind the MUL), the product of the fields accumulated (ADD right behind the MUL)."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 0x7FF3_1234)          # lh: 0x1234 (low half)
    p.sw(7, 6, 0)
    p.li(7, -0x2F5B)              # lh: a negative half
    p.sw(7, 6, 4)
    p.li(16, 0)
    p.li(8, n)
    p.label("loop")
    p.lh(29, 6, 0)
    p.lh(30, 6, 4)
    p.addi(17, 17, 24)
    p.addi(18, 18, 2)
    p.mul(29, 29, 30)
    p.srai(30, 29, 2)             # MUL -> shift: 1 bubble without late_shift
    p.srai(29, 29, 5)
    p.andi(30, 30, 15)
    p.andi(29, 29, 127)
    p.mul(29, 30, 29)
    p.add(16, 16, 29)             # MUL -> ADD: 1 bubble without late_add
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _shift_kinds(p, n):
    """Every shift on a late producer: immediate shifts of a product and of loaded values
    (LH, LBU), register shifts whose value or amount (LW, only its low five bits count) is
    late, a late shift feeding a shift and an ADD at once (chains), a CSR read shifted."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 0x8765_4321)
    p.sw(7, 6, 0)
    p.li(7, 0x1234_5677)          # as an amount: 23 (0x17)
    p.sw(7, 6, 4)
    p.li(9, -7)
    p.li(20, 0x0F0F_F0F0)
    p.csrw(CSR.MSCRATCH, 7)
    p.li(8, n)
    p.label("loop")
    p.mul(10, 9, 8)
    p.slli(11, 10, 3)             # MUL -> SLLI
    p.srl(12, 11, 8)              # late SLLI -> SRL (value), amount from the counter
    p.sra(13, 10, 12)             # MUL two back (forwarded), amount a late shift: in M
    p.lh(14, 6, 2)
    p.srai(15, 14, 4)             # load -> SRAI
    p.add(21, 15, 20)             # late shift -> ADD (late_add: also in M)
    p.lw(16, 6, 4)
    p.sll(17, 20, 16)             # load -> SLL as the amount (rs2)
    p.lbu(18, 6, 3)
    p.srli(19, 18, 1)             # load -> SRLI
    p.sra(22, 19, 19)             # late shift -> SRA as value and amount
    p.csrr(23, CSR.MSCRATCH)
    p.srli(24, 23, 31)            # CSR read -> SRLI
    p.xor(25, 13, 17)
    p.xor(25, 25, 21)
    p.xor(25, 25, 22)
    p.xor(25, 25, 24)
    p.sw(25, 6, 8)
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def _shift_user(p, n):
    """A late shift whose result the next instruction uses (an ANDI, which neither option
    takes, and a store): the bubble moves behind the shift instead of disappearing."""
    p.li(6, RAM_BASE + 0x400)
    p.li(8, n)
    p.label("loop")
    p.mul(12, 8, 8)
    p.srli(13, 12, 1)
    p.andi(14, 13, 0x55)          # uses the late shift's result at once
    p.sw(14, 6, 0)
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


def test_late_shift_needs_forwarding_and_a_shifter():
    with pytest.raises(ValueError, match="late_shift needs forwarding"):
        CoreOptions(late_add=False, late_shift=True, forwarding=False)
    with pytest.raises(ValueError, match="shift_in_multiplier=False"):
        CoreOptions(late_shift=True, shift_in_multiplier=True)


@pytest.mark.parametrize("options", [pytest.param(LATE_SHIFT, id="late_shift"),
                                     pytest.param(LATE_ALU, id="full")])
@pytest.mark.parametrize("timing", [pytest.param({}, id="fast"),
                                    pytest.param(SLOW_BUS, id="slow")])
def test_late_shift_results(options, timing):
    """Register values and every retirement record (operand values included) match the
    reference, on one-cycle and slow buses (M waits for the answer while the shift is in X)."""
    for build in (_bitfields, _shift_kinds, _shift_user):
        p = Program()
        build(p, 9)
        words = p.assemble()
        result = run(words, max_cycles=8000, options=options, **timing)
        compare(words, result)
    p = Program()
    _bitfields(p, 9)
    result = run(p.assemble(), max_cycles=8000, options=options, **timing)
    srai_30_29_2 = 0x4000_0000 | 2 << 20 | 29 << 15 | 5 << 12 | 30 << 7 | 0x13
    srai = [r for r in result.trace if r["insn"] == srai_30_29_2]
    assert len(srai) == 9
    # the product 0x1234 * -0x2F5B reported as rs1 of the SRAI, taken from W in M
    assert all(r["rs1_rdata"] == (0x1234 * -0x2F5B) & 0xFFFF_FFFF for r in srai)


def test_late_shift_cycles():
    """The bit-field loop (13 instructions, a taken branch from the buffer; two bubbles on
    ``full-early``: MUL -> SRAI and MUL -> ADD) loses the first with ``late_shift`` and both
    on ``full`` (both options; the SRAI behind the late one and the ANDIs take W's and M's values as
    usual); the loop of every shift kind (21 instructions) has five bubbles on ``full-early``
    (a load, MUL or CSR read -> shift), one with ``late_shift`` alone (its late SRAI -> ADD)
    and none on ``full``: the shifts and ADDs behind late shifts are shifted / added in M
    too; in the third loop the bubble moves behind the shift."""
    counts = {name: [loop_cycles(build, options) for build in
                     (_bitfields, _shift_kinds, _shift_user)]
              for name, options in (("full-early", EARLY), ("late_shift", LATE_SHIFT),
                                    ("full", LATE_ALU))}
    print(f"cycles per iteration (bit fields, shift kinds, user behind): {counts}")
    assert counts["full-early"][0] == 13 + 2
    assert counts["late_shift"][0] == 13 + 1
    assert counts["full"][0] == 13
    assert counts["full-early"][1] == 21 + 5
    assert counts["late_shift"][1] == 21 + 1          # the late SRAI -> ADD
    assert counts["full"][1] == 21
    assert counts["full-early"][2] == counts["late_shift"][2] == 6 + 1


#: Late producers followed by shifts of every kind (by an immediate, by a register), ADDs,
#: ANDIs and stores (``dense_late_code``'s mix).
DENSE_MIX = [(0.25, "load"), (0.42, "mul"), (0.47, "csr"), (0.62, "shift_imm"),
             (0.77, "shift_reg"), (0.84, "add"), (0.88, "andi"), (0.95, "store")]


@pytest.mark.parametrize("seed", range(6))
def test_dense_random_late_shift(seed):
    """Dense random code against the reference, each program with at least five late
    shifts (``full``: late ADDs and shifts mixed)."""
    words = dense_late_code(seed, 240, DENSE_MIX)
    result = run(words, seed=seed, max_cycles=4000, options=LATE_ALU,
                 **TIMINGS[seed % len(TIMINGS)])
    compare(words, result)
    assert late_users(result.trace, is_shift) >= 5


@pytest.mark.parametrize("seed", range(8))
def test_random_program_late_alu(seed):
    """The core's random programs (traps, bus errors, misaligned accesses) with both
    options: nothing else changes."""
    run_random(seed, options=LATE_ALU, **TIMINGS[seed % len(TIMINGS)])


@pytest.mark.parametrize("seed", range(3))
def test_random_program_late_alu_irq_priv(seed):
    timing = TIMINGS[seed % len(TIMINGS)]
    run_random_interrupts(seed, options=LATE_ALU, **timing)
    run_random_privileged(seed, options=LATE_ALU, **timing)
