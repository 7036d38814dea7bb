"""RV32IM + Zicsr encodings: the one place opcodes, function codes, CSR numbers, trap causes,
privilege levels, PMP and trigger (Sdtrig) field layouts are written down.

The RTL, the tests' assembler and (later) the firmware header generator all read these enums.
Every enum has a shape, so it can be used directly in Amaranth expressions and patterns.
"""

from amaranth.lib import enum

__all__ = [
    "Opcode", "Funct3Op", "Funct3Branch", "Funct3Mem", "Funct3MulDiv", "Funct3System",
    "Funct3MiscMem", "Funct7", "PrivInsn", "CSR", "HPM_RANGES", "ExceptionCause",
    "InterruptCause", "MStatus", "MIP", "MISA_VALUE", "csr_is_read_only", "Priv",
    "csr_min_priv", "PMP_CFG_RANGE", "PMP_ADDR_RANGE", "ZERO_RANGES", "FLUSH_RANGES",
    "PMPMode", "PMPCfg", "MControl", "MControl6", "MCONTROL_TYPE", "MCONTROL6_TYPE",
    "DISABLED_TYPE", "TINFO_VALUE", "TControl",
    "MCounterEn",
]


class Opcode(enum.Enum, shape=7):
    """Major opcodes (``insn[6:0]``, including the ``11`` of a 32-bit instruction)."""
    LOAD     = 0b0000011
    MISC_MEM = 0b0001111
    OP_IMM   = 0b0010011
    AUIPC    = 0b0010111
    STORE    = 0b0100011
    OP       = 0b0110011
    LUI      = 0b0110111
    BRANCH   = 0b1100011
    JALR     = 0b1100111
    JAL      = 0b1101111
    SYSTEM   = 0b1110011


class Funct3Op(enum.Enum, shape=3):
    """``funct3`` of OP / OP-IMM (integer register-register and register-immediate)."""
    ADD  = 0b000   # ADD / SUB (funct7 selects), ADDI
    SLL  = 0b001
    SLT  = 0b010
    SLTU = 0b011
    XOR  = 0b100
    SR   = 0b101   # SRL / SRA (funct7 selects)
    OR   = 0b110
    AND  = 0b111


class Funct3Branch(enum.Enum, shape=3):
    BEQ  = 0b000
    BNE  = 0b001
    BLT  = 0b100
    BGE  = 0b101
    BLTU = 0b110
    BGEU = 0b111


class Funct3Mem(enum.Enum, shape=3):
    """``funct3`` of LOAD / STORE: access size and (for loads) signedness."""
    B  = 0b000
    H  = 0b001
    W  = 0b010
    BU = 0b100
    HU = 0b101


class Funct3MulDiv(enum.Enum, shape=3):
    """``funct3`` of the M extension (OP with ``funct7 == MULDIV``)."""
    MUL    = 0b000
    MULH   = 0b001
    MULHSU = 0b010
    MULHU  = 0b011
    DIV    = 0b100
    DIVU   = 0b101
    REM    = 0b110
    REMU   = 0b111


class Funct3System(enum.Enum, shape=3):
    PRIV   = 0b000   # ECALL, EBREAK, MRET, WFI (full encodings in PrivInsn)
    CSRRW  = 0b001
    CSRRS  = 0b010
    CSRRC  = 0b011
    CSRRWI = 0b101
    CSRRSI = 0b110
    CSRRCI = 0b111


class Funct3MiscMem(enum.Enum, shape=3):
    FENCE   = 0b000
    FENCE_I = 0b001


class Funct7(enum.Enum, shape=7):
    BASE   = 0b0000000
    ALT    = 0b0100000   # SUB, SRA, SRAI
    MULDIV = 0b0000001


class PrivInsn(enum.Enum, shape=32):
    """Complete encodings of the SYSTEM instructions with ``funct3 == PRIV`` that exist here."""
    ECALL  = 0x0000_0073
    EBREAK = 0x0010_0073
    MRET   = 0x3020_0073
    WFI    = 0x1050_0073


class CSR(enum.Enum, shape=12):
    """Implemented CSRs with a name (the hardware performance counters are in HPM_RANGES)."""
    MSTATUS       = 0x300
    MISA          = 0x301
    MIE           = 0x304
    MTVEC         = 0x305
    MCOUNTEREN    = 0x306
    MSTATUSH      = 0x310
    MCOUNTINHIBIT = 0x320
    MSCRATCH      = 0x340
    MEPC          = 0x341
    MCAUSE        = 0x342
    MTVAL         = 0x343
    MIP           = 0x344
    TSELECT       = 0x7A0
    TDATA1        = 0x7A1
    TDATA2        = 0x7A2
    TDATA3        = 0x7A3
    TINFO         = 0x7A4
    TCONTROL      = 0x7A5
    MCYCLE        = 0xB00
    MINSTRET      = 0xB02
    MCYCLEH       = 0xB80
    MINSTRETH     = 0xB82
    CYCLE         = 0xC00
    TIME          = 0xC01
    INSTRET       = 0xC02
    CYCLEH        = 0xC80
    TIMEH         = 0xC81
    INSTRETH      = 0xC82
    MVENDORID     = 0xF11
    MARCHID       = 0xF12
    MIMPID        = 0xF13
    MHARTID       = 0xF14
    MCONFIGPTR    = 0xF15


#: Hardware performance monitor CSRs (counters 3..31 and their event selectors), implemented as
#: read-only zero as the privileged spec allows: inclusive (first, last) address ranges.
HPM_RANGES = (
    (0x323, 0x33F),   # mhpmevent3..31      (writable, writes ignored)
    (0xB03, 0xB1F),   # mhpmcounter3..31    (writable, writes ignored)
    (0xB83, 0xB9F),   # mhpmcounter3h..31h  (writable, writes ignored)
    (0xC03, 0xC1F),   # hpmcounter3..31     (read-only)
    (0xC83, 0xC9F),   # hpmcounter3h..31h   (read-only)
)


#: PMP CSRs (inclusive ranges): pmpcfg0..15 and pmpaddr0..63 all exist (M-mode only); entries
#: beyond the core's ``pmp_entries`` read zero and ignore writes.
PMP_CFG_RANGE = (0x3A0, 0x3AF)
PMP_ADDR_RANGE = (0x3B0, 0x3EF)

#: Further CSRs that exist, read zero and ignore writes (inclusive ranges): menvcfg(h).
ZERO_RANGES = (
    (0x30A, 0x30A),   # menvcfg
    (0x31A, 0x31A),   # menvcfgh
)

#: CSRs whose write changes how younger instructions are checked (PMP, triggers): the pipeline
#: refetches after such a write so that the next instruction sees the new state.
FLUSH_RANGES = (PMP_CFG_RANGE, PMP_ADDR_RANGE, (0x7A0, 0x7A5))


def csr_is_read_only(addr):
    """Whether CSR number ``addr`` is read-only by the address convention (bits 11:10 == 0b11)."""
    return (addr >> 10) & 0b11 == 0b11


def csr_min_priv(addr):
    """Lowest privilege level that may access CSR ``addr`` (bits 9:8 of the number)."""
    return (addr >> 8) & 0b11


class Priv(enum.Enum, shape=2):
    """Privilege levels implemented: user and machine (no supervisor mode)."""
    U = 0b00
    M = 0b11


class ExceptionCause(enum.Enum, shape=4):
    """``mcause`` exception codes (interrupt bit clear)."""
    INSN_MISALIGNED    = 0
    INSN_ACCESS_FAULT  = 1
    ILLEGAL_INSN       = 2
    BREAKPOINT         = 3
    LOAD_MISALIGNED    = 4
    LOAD_ACCESS_FAULT  = 5
    STORE_MISALIGNED   = 6
    STORE_ACCESS_FAULT = 7
    ECALL_U            = 8
    ECALL_M            = 11


class InterruptCause(enum.Enum, shape=4):
    """``mcause`` interrupt codes (with bit 31 set); also the bit numbers in ``mip`` / ``mie``."""
    MSI = 3
    MTI = 7
    MEI = 11


class MStatus(enum.Enum, shape=5):
    """Bit positions in ``mstatus``."""
    MIE = 3
    MPIE = 7
    MPP = 11   # two bits: 0b11 (M) or 0b00 (U); a write of 0b01 / 0b10 gives U
    MPRV = 17  # modify privilege: M-mode loads / stores checked with MPP's privilege
    TW = 21    # timeout wait: WFI in U-mode is an illegal instruction when set


class MIP(enum.Enum, shape=12):
    """Masks of the implemented bits of ``mip`` / ``mie``."""
    MSIP = 1 << 3
    MTIP = 1 << 7
    MEIP = 1 << 11
    ALL = (1 << 3) | (1 << 7) | (1 << 11)


class MCounterEn(enum.Enum, shape=5):
    """Bit positions in ``mcounteren`` (the others read 0): U-mode may read cycle / time /
    instret when the bit is set."""
    CY = 0
    TM = 1
    IR = 2


class PMPMode(enum.Enum, shape=2):
    """Address-matching mode of a PMP entry (``pmpcfg`` field A)."""
    OFF   = 0
    TOR   = 1
    NA4   = 2
    NAPOT = 3


#: One PMP entry's configuration byte. Bits 6:5 read 0; W = 1 with R = 0 is reserved and
#: written as W = 0.
PMPCfg = {"R": 0, "W": 1, "X": 2, "A": 3, "L": 7}   # bit positions (A is two bits)


class MControl(enum.Enum, shape=5):
    """Bit positions in ``tdata1`` as ``mcontrol`` (type 2). Implemented: LOAD, STORE,
    EXECUTE, U, M (writable); TYPE reads 2; every other field reads 0 (dmode, maskmax, hit,
    select, timing = before, sizelo = any, action = breakpoint exception, chain, match =
    equal, S, H)."""
    LOAD    = 0
    STORE   = 1
    EXECUTE = 2
    U       = 3
    S       = 4
    M       = 6
    MATCH   = 7    # four bits
    CHAIN   = 11
    ACTION  = 12   # four bits
    TYPE    = 28   # four bits


class MControl6(enum.Enum, shape=5):
    """Bit positions in ``tdata1`` as ``mcontrol6`` (type 6) where they differ from
    :class:`MControl` (LOAD, STORE, EXECUTE, U, S, M, MATCH, CHAIN, ACTION, TYPE are the
    same). Implemented as in type 2: LOAD, STORE, EXECUTE, U, M writable; uncertainen,
    size (any), select (address), hit0 / hit1, vs / vu, uncertain, dmode read 0."""
    UNCERTAINEN = 5
    SIZE        = 16   # three bits
    SELECT      = 21
    HIT0        = 22
    VU          = 23
    VS          = 24
    HIT1        = 25
    UNCERTAIN   = 26


#: ``tdata1.type`` of an address-match trigger: ``mcontrol`` (the reset type), ``mcontrol6``,
#: and 15, a disabled trigger (what a write of type 0, 15 or any unsupported type gives).
MCONTROL_TYPE = 2
MCONTROL6_TYPE = 6
DISABLED_TYPE = 15
#: ``tinfo`` of an existing trigger: version 1 (debug spec 1.0); types 2, 6 and 15.
TINFO_VALUE = (1 << 24) | (1 << MCONTROL_TYPE) | (1 << MCONTROL6_TYPE) | (1 << DISABLED_TYPE)


class TControl(enum.Enum, shape=5):
    """Bit positions in ``tcontrol``: M-mode trigger enable and its previous value (a trap
    into M clears MTE after saving it in MPTE; MRET restores it)."""
    MTE = 3
    MPTE = 7


#: ``misa``: MXL = 1 (32 bit), extensions I, M and U (user mode).
MISA_VALUE = (1 << 30) | (1 << 8) | (1 << 12) | (1 << 20)
