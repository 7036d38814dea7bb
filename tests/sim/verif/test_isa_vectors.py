"""The ISA vector generator (dure.sim.verif.isa_vectors): the committed firmware/isa/isa_alu.S
and isa_muldiv.S are exactly what it generates, and its model agrees with identities of the
specification checked here by other means (two's-complement arithmetic on Python integers,
the division identity, shifts as multiplications and floor divisions)."""

import pathlib
import random

import pytest
from dure.sim.verif import isa_vectors
from dure.sim.verif.isa_vectors import alu, muldiv

ISA = pathlib.Path(__file__).resolve().parents[3] / "firmware" / "isa"
M = 0xFFFF_FFFF


@pytest.mark.parametrize("name", sorted(isa_vectors.FILES))
def test_committed_files_are_generated(name):
    assert (ISA / name).read_text() == isa_vectors.FILES[name](), \
        f"firmware/isa/{name} differs from the generator: run make isa-vectors"


def s32(x):
    return x - (1 << 32) if x & (1 << 31) else x


def words(rng, n):
    edges = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, M, M - 1]
    return edges + [rng.getrandbits(32) for _ in range(n)]


def test_muldiv_identities(seed):
    rng = random.Random(seed)
    values = words(rng, 40)
    for a in values:
        for b in values:
            full_s, full_u, full_su = s32(a) * s32(b), a * b, s32(a) * b
            assert (muldiv("mulh", a, b) << 32 | muldiv("mul", a, b)) == full_s % (1 << 64)
            assert (muldiv("mulhu", a, b) << 32 | muldiv("mul", a, b)) == full_u
            assert (muldiv("mulhsu", a, b) << 32 | muldiv("mul", a, b)) == full_su % (1 << 64)
            q, r = muldiv("div", a, b), muldiv("rem", a, b)
            qu, ru = muldiv("divu", a, b), muldiv("remu", a, b)
            if b == 0:
                assert (q, r, qu, ru) == (M, a, M, a)
                continue
            assert (s32(q) * s32(b) + s32(r)) % (1 << 32) == a      # a = q b + r (mod 2^32)
            assert abs(s32(r)) < abs(s32(b)) or (a, b) == (0x8000_0000, M)
            assert s32(r) == 0 or (s32(r) < 0) == (s32(a) < 0)       # sign of the dividend
            assert qu * b + ru == a and ru < b


def test_alu_identities(seed):
    rng = random.Random(seed)
    for a in words(rng, 60):
        b = rng.getrandbits(32)
        assert alu("add", a, b) == (a + b) % (1 << 32)
        assert alu("sub", a, b) == (a + (~b + 1)) % (1 << 32)
        assert alu("sub", a, a) == 0 and alu("xor", a, a) == 0
        assert alu("or", a, b) == alu("xor", a, b) + alu("and", a, b)
        assert alu("slt", a, b) == int(s32(a) < s32(b))
        assert alu("sltu", a, b) == int(a < b)
        assert alu("sltiu", a, M) == int(a != M)      # the immediate -1 is 0xffffffff
        for shamt in (0, 1, 5, 31, rng.getrandbits(32)):
            s = shamt % 32
            assert alu("sll", a, shamt) == (a * 2 ** s) % (1 << 32)
            assert alu("srl", a, shamt) == a // 2 ** s
            assert s32(alu("sra", a, shamt)) == s32(a) // 2 ** s    # floor: towards -inf
        assert alu("addi", a, -1) == (a - 1) % (1 << 32)


def test_unknown_mnemonics_are_refused():
    with pytest.raises(ValueError, match="not an RV32I ALU instruction"):
        alu("mul", 1, 2)
    with pytest.raises(ValueError, match="not an M-extension instruction"):
        muldiv("add", 1, 2)
