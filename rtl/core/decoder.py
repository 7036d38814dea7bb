"""Instruction decoder (D stage): RV32IM + Zicsr + machine-mode SYSTEM instructions."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from .isa import (
    CSR,
    FLUSH_RANGES,
    HPM_RANGES,
    PMP_ADDR_RANGE,
    PMP_CFG_RANGE,
    ZERO_RANGES,
    Funct3Branch,
    Funct3Mem,
    Funct3MiscMem,
    Funct3Op,
    Funct3System,
    Funct7,
    Opcode,
    PrivInsn,
)

__all__ = ["ASel", "BSel", "Unit", "AluOp", "DecodedLayout", "Decoder"]


class ASel(enum.Enum, shape=2):
    """First ALU operand."""
    RS1  = 0
    PC   = 1
    ZERO = 2


class BSel(enum.Enum, shape=2):
    """Second ALU / shifter operand."""
    RS2  = 0
    IMM  = 1
    FOUR = 2


class Unit(enum.Enum, shape=3):
    """Which unit produces the instruction's result (or does its work)."""
    ALU   = 0
    SHIFT = 1
    MUL   = 2
    DIV   = 3
    LOAD  = 4
    STORE = 5
    CSR   = 6


class AluOp(enum.Enum, shape=4):
    """ALU and shifter operations."""
    ADD  = 0
    SUB  = 1
    SLT  = 2
    SLTU = 3
    XOR  = 4
    OR   = 5
    AND  = 6
    SLL  = 7
    SRL  = 8
    SRA  = 9


DecodedLayout = data.StructLayout({
    "rd":       5,
    "rs1":      5,
    "rs2":      5,
    "rd_we":    1,   # writes rd (rd may still be x0, which the pipeline ignores)
    "use_rs1":  1,
    "use_rs2":  1,
    "imm":      32,
    "a_sel":    ASel,
    "b_sel":    BSel,
    "alu_op":   AluOp,
    "unit":     Unit,
    "funct3":   3,   # branch condition, access size, mul/div operation, CSR operation
    "branch":   1,
    "jal":      1,
    "jalr":     1,
    "csr_addr": 12,
    "csr_write": 1,  # the CSR instruction writes its CSR (CSRRW*, or rs1/uimm != 0)
    "csr_imm":  1,   # the CSR operand is the zero-extended rs1 field
    "csr_flush": 1,  # a CSR write after which younger instructions are refetched
    "ecall":    1,
    "ebreak":   1,
    "mret":     1,
    "wfi":      1,
    "fence_i":  1,
    "illegal":  1,
})


def _csr_known(addr):
    """Whether ``addr`` (a 12-bit Value) names an implemented CSR."""
    hit = Const(0)
    for csr in CSR:
        hit = hit | (addr == csr.value)
    for first, last in (*HPM_RANGES, PMP_CFG_RANGE, PMP_ADDR_RANGE, *ZERO_RANGES):
        hit = hit | ((addr >= first) & (addr <= last))
    return hit


def _in_ranges(addr, ranges):
    hit = Const(0)
    for first, last in ranges:
        hit = hit | ((addr >= first) & (addr <= last))
    return hit


class Decoder(wiring.Component):
    """Combinational decoder for RV32IM + Zicsr in M- and U-mode.

    Every encoding that is not a defined RV32IM / Zicsr / Zifencei / machine-mode instruction
    sets ``decoded.illegal`` (including compressed encodings, reserved ``funct`` values, shifts
    with ``imm[11:5]`` other than the defined ones, unknown CSRs and writes to read-only CSRs).
    In U-mode (``priv_m`` = 0) also: CSRs above U level (number bits 9:8 != 0), the counters
    cycle / time / instret unless enabled in ``mcounteren``, hpmcounter3..31(h), MRET, and WFI
    when ``mstatus.TW`` is set. When ``illegal`` is set the other fields must be ignored.

    Members
    -------
    insn : In(32)
        Instruction bits.
    priv_m : In(1, init=1)
        The instruction executes in M-mode (else U-mode).
    tw : In(1)
        ``mstatus.TW``.
    counteren : In(3)
        ``mcounteren`` CY, TM, IR.
    decoded : Out(DecodedLayout)
        Control fields; see :data:`DecodedLayout`.
    """

    insn: In(32)
    priv_m: In(1, init=1)
    tw: In(1)
    counteren: In(3)
    decoded: Out(DecodedLayout)

    def elaborate(self, platform):
        m = Module()
        i = self.insn
        d = self.decoded

        opcode = i[0:7]
        funct3 = i[12:15]
        funct7 = i[25:32]
        imm_i = i[20:32].as_signed()
        imm_s = Cat(i[7:12], i[25:32]).as_signed()
        imm_b = Cat(Const(0, 1), i[8:12], i[25:31], i[7], i[31]).as_signed()
        imm_u = Cat(Const(0, 12), i[12:32])
        imm_j = Cat(Const(0, 1), i[21:31], i[20], i[12:20], i[31]).as_signed()

        m.d.comb += [
            d.rd.eq(i[7:12]),
            d.rs1.eq(i[15:20]),
            d.rs2.eq(i[20:25]),
            d.funct3.eq(funct3),
            d.csr_addr.eq(i[20:32]),
            d.a_sel.eq(ASel.RS1),
            d.b_sel.eq(BSel.IMM),
            d.alu_op.eq(AluOp.ADD),
            d.unit.eq(Unit.ALU),
        ]
        illegal = Signal()
        m.d.comb += d.illegal.eq(illegal)

        # ALU operation from funct3 (and funct7 bit 5 for SUB / SRA).
        alu_op = Signal(AluOp)
        with m.Switch(funct3):
            with m.Case(Funct3Op.ADD):
                m.d.comb += alu_op.eq(AluOp.ADD)
            with m.Case(Funct3Op.SLL):
                m.d.comb += alu_op.eq(AluOp.SLL)
            with m.Case(Funct3Op.SLT):
                m.d.comb += alu_op.eq(AluOp.SLT)
            with m.Case(Funct3Op.SLTU):
                m.d.comb += alu_op.eq(AluOp.SLTU)
            with m.Case(Funct3Op.XOR):
                m.d.comb += alu_op.eq(AluOp.XOR)
            with m.Case(Funct3Op.SR):
                m.d.comb += alu_op.eq(AluOp.SRL)
            with m.Case(Funct3Op.OR):
                m.d.comb += alu_op.eq(AluOp.OR)
            with m.Case(Funct3Op.AND):
                m.d.comb += alu_op.eq(AluOp.AND)
        is_shift = (funct3 == Funct3Op.SLL) | (funct3 == Funct3Op.SR)

        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_u), d.a_sel.eq(ASel.ZERO)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_u), d.a_sel.eq(ASel.PC)]
            with m.Case(Opcode.JAL):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_j), d.jal.eq(1),
                             d.a_sel.eq(ASel.PC), d.b_sel.eq(BSel.FOUR)]
            with m.Case(Opcode.JALR):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_i), d.jalr.eq(1), d.use_rs1.eq(1),
                             d.a_sel.eq(ASel.PC), d.b_sel.eq(BSel.FOUR),
                             illegal.eq(funct3 != 0)]
            with m.Case(Opcode.BRANCH):
                m.d.comb += [d.imm.eq(imm_b), d.branch.eq(1), d.use_rs1.eq(1), d.use_rs2.eq(1)]
                with m.Switch(funct3):
                    with m.Case(Funct3Branch.BEQ, Funct3Branch.BNE, Funct3Branch.BLT,
                                Funct3Branch.BGE, Funct3Branch.BLTU, Funct3Branch.BGEU):
                        pass
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Case(Opcode.LOAD):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_i), d.use_rs1.eq(1),
                             d.unit.eq(Unit.LOAD)]
                with m.Switch(funct3):
                    with m.Case(Funct3Mem.B, Funct3Mem.H, Funct3Mem.W, Funct3Mem.BU,
                                Funct3Mem.HU):
                        pass
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Case(Opcode.STORE):
                m.d.comb += [d.imm.eq(imm_s), d.use_rs1.eq(1), d.use_rs2.eq(1),
                             d.unit.eq(Unit.STORE)]
                with m.Switch(funct3):
                    with m.Case(Funct3Mem.B, Funct3Mem.H, Funct3Mem.W):
                        pass
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Case(Opcode.OP_IMM):
                m.d.comb += [d.rd_we.eq(1), d.imm.eq(imm_i), d.use_rs1.eq(1),
                             d.alu_op.eq(alu_op)]
                with m.If(is_shift):
                    m.d.comb += d.unit.eq(Unit.SHIFT)
                    with m.If(funct3 == Funct3Op.SLL):
                        m.d.comb += illegal.eq(funct7 != Funct7.BASE)
                    with m.Elif(funct7 == Funct7.ALT):
                        m.d.comb += d.alu_op.eq(AluOp.SRA)
                    with m.Elif(funct7 != Funct7.BASE):
                        m.d.comb += illegal.eq(1)
            with m.Case(Opcode.OP):
                m.d.comb += [d.rd_we.eq(1), d.use_rs1.eq(1), d.use_rs2.eq(1),
                             d.b_sel.eq(BSel.RS2), d.alu_op.eq(alu_op)]
                with m.If(funct7 == Funct7.MULDIV):
                    m.d.comb += d.unit.eq(Unit.MUL)
                    with m.If(funct3[2]):
                        m.d.comb += d.unit.eq(Unit.DIV)
                with m.Elif(funct7 == Funct7.BASE):
                    with m.If(is_shift):
                        m.d.comb += d.unit.eq(Unit.SHIFT)
                with m.Elif(funct7 == Funct7.ALT):
                    with m.If(funct3 == Funct3Op.ADD):
                        m.d.comb += d.alu_op.eq(AluOp.SUB)
                    with m.Elif(funct3 == Funct3Op.SR):
                        m.d.comb += [d.unit.eq(Unit.SHIFT), d.alu_op.eq(AluOp.SRA)]
                    with m.Else():
                        m.d.comb += illegal.eq(1)
                with m.Else():
                    m.d.comb += illegal.eq(1)
            with m.Case(Opcode.MISC_MEM):
                # FENCE is a no-op (the bus is in order); the unused fields are ignored as the
                # spec requires. FENCE.I flushes the pipeline and refetches.
                with m.Switch(funct3):
                    with m.Case(Funct3MiscMem.FENCE):
                        pass
                    with m.Case(Funct3MiscMem.FENCE_I):
                        m.d.comb += d.fence_i.eq(1)
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Case(Opcode.SYSTEM):
                with m.Switch(funct3):
                    with m.Case(Funct3System.PRIV):
                        with m.Switch(i):
                            with m.Case(PrivInsn.ECALL):
                                m.d.comb += d.ecall.eq(1)
                            with m.Case(PrivInsn.EBREAK):
                                m.d.comb += d.ebreak.eq(1)
                            with m.Case(PrivInsn.MRET):
                                m.d.comb += [d.mret.eq(1), illegal.eq(~self.priv_m)]
                            with m.Case(PrivInsn.WFI):
                                m.d.comb += [d.wfi.eq(1), illegal.eq(~self.priv_m & self.tw)]
                            with m.Default():
                                m.d.comb += illegal.eq(1)
                    with m.Case(Funct3System.CSRRW, Funct3System.CSRRS, Funct3System.CSRRC,
                                Funct3System.CSRRWI, Funct3System.CSRRSI,
                                Funct3System.CSRRCI):
                        # CSRRW* always write; CSRRS*/CSRRC* write when rs1 / uimm != 0.
                        write = (funct3[0:2] == 0b01) | (i[15:20] != 0)
                        read_only = i[30:32] == 0b11
                        addr = i[20:32]
                        # U-mode: only the user counters, each enabled in mcounteren.
                        counter = _in_ranges(addr, ((0xC00, 0xC1F), (0xC80, 0xC9F)))
                        index = addr[0:5]
                        enabled = (index < 3) & self.counteren.bit_select(index[0:2], 1)
                        user_ok = (addr[8:10] == 0) & ~(counter & ~enabled)
                        m.d.comb += [
                            d.rd_we.eq(1),
                            d.unit.eq(Unit.CSR),
                            d.csr_imm.eq(funct3[2]),
                            d.use_rs1.eq(~funct3[2]),
                            d.csr_write.eq(write),
                            d.csr_flush.eq(write & _in_ranges(addr, FLUSH_RANGES)),
                            illegal.eq(~_csr_known(addr) | (write & read_only) |
                                       (~self.priv_m & ~user_ok)),
                        ]
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Default():
                m.d.comb += illegal.eq(1)

        return m
