"""Decoder: field extraction per format, and legality of every kind of encoding (compared with
the reference model's reading of the spec on mutated and random words)."""

import random

from amaranth.sim import Simulator
from dure.rtl.core.decoder import AluOp, ASel, BSel, Decoder, Unit
from dure.rtl.core.isa import CSR
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, MemoryModel
from dure.sim.verif.core_ref import Reference


def decode_all(words):
    dut = Decoder()
    sim = Simulator(dut)
    out = []

    async def bench(ctx):
        for w in words:
            ctx.set(dut.insn, w)
            out.append(ctx.get(dut.decoded))

    sim.add_testbench(bench)
    sim.run()
    return out


def ref_illegal(word):
    mem = MemoryModel([word])
    ref = Reference(mem, RAM_BASE)
    rec = ref.step()
    return bool(rec["trap"]) and ref.csrs[CSR.MCAUSE] == 2


def test_fields():
    p = Program()
    p.addi(1, 2, -5)
    p.sw(3, 4, -2048)
    p.beq(5, 6, -4096)
    p.lui(7, 0xABCDE)
    p.jal(8, -2)
    p.sra(9, 10, 11)
    p.divu(12, 13, 14)
    p.csrrci(15, CSR.MTVEC, 17)
    p.auipc(16, 1)
    d = decode_all(p.assemble())
    assert (d[0].rd, d[0].rs1, d[0].imm, d[0].unit, d[0].b_sel, d[0].rd_we) == \
        (1, 2, 0xFFFF_FFFB, Unit.ALU, BSel.IMM, 1)
    assert (d[1].rs1, d[1].rs2, d[1].imm, d[1].unit, d[1].rd_we) == \
        (4, 3, 0xFFFF_F800, Unit.STORE, 0)
    assert (d[2].branch, d[2].imm, d[2].use_rs2) == (1, 0xFFFF_F000, 1)
    assert (d[3].imm, d[3].a_sel) == (0xABCDE000, ASel.ZERO)
    assert (d[4].jal, d[4].imm, d[4].rd) == (1, 0xFFFF_FFFE, 8)
    assert (d[5].unit, d[5].alu_op) == (Unit.SHIFT, AluOp.SRA)
    assert (d[6].unit, d[6].funct3) == (Unit.DIV, 0b101)
    assert (d[7].unit, d[7].csr_addr, d[7].csr_imm, d[7].csr_write, d[7].use_rs1) == \
        (Unit.CSR, CSR.MTVEC.value, 1, 1, 0)
    assert (d[8].a_sel, d[8].imm) == (ASel.PC, 0x1000)
    assert not any(x.illegal for x in d)


def test_legality_matches_reference():
    rng = random.Random(5)
    p = Program()
    for name in ("add", "sub", "mul", "sra", "srl", "sltu", "remu"):
        getattr(p, name)(1, 2, 3)
    p.slli(1, 2, 3)
    p.srai(1, 2, 31)
    p.fence()
    p.fence_i()
    p.ecall()
    p.ebreak()
    p.mret()
    p.wfi()
    for csr in CSR:
        p.csrrs(1, csr, 0)
        p.csrrw(1, csr, 2)
        p.csrrci(1, csr, 1)
    base = p.assemble()
    words = list(base)
    for _ in range(1500):          # legal words with random bits flipped
        w = rng.choice(base)
        for _ in range(rng.randint(1, 3)):
            w ^= 1 << rng.randrange(32)
        words.append(w)
    words += [rng.getrandbits(32) for _ in range(500)]
    words += [rng.getrandbits(25) << 7 | op for op in (0x73, 0x0F, 0x13, 0x33, 0x67, 0x63)
              for _ in range(100)]
    words += [0, 0xFFFF_FFFF, 0x0000_0001, 0x1050_0073 ^ 1 << 20, 0x3020_0073 ^ 1 << 29,
              0xB030_1073, 0xC030_2073, 0x3230_1073, 0x7B00_2073]
    decoded = decode_all(words)
    for w, d in zip(words, decoded, strict=True):
        assert bool(d.illegal) == ref_illegal(w), hex(w)
    assert sum(d.illegal for d in decoded) > 500      # both classes well represented
    assert sum(not d.illegal for d in decoded) > 500
