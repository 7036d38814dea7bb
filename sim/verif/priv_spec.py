"""The machine-mode CSRs and trap rules, written a second time from the RISC-V privileged
specification (version 20211203, chapters 2 "Control and Status Registers" and 3 "Machine-Level
ISA"), independent of the RTL: nothing here imports ``dure.rtl``.

``tests/sim/verif/test_priv_spec.py`` checks this statement against the RTL's own tables
(``rtl/core/isa.py``: CSR numbers, the read-only rule, mcause codes, mstatus / mip bits,
misa) and against the core itself (the WARL masks, by writing ones and zeros to every CSR and
reading back). :func:`trap_entry` and :func:`mret` are the trap semantics the lock-step
comparison of random programs with interrupts uses (``dure.sim.verif.core_random``).

Where the specification leaves a choice, the value is the core's documented choice
(``rtl/core/README.md``, "Traps and CSRs"), marked *choice* below.
"""

from dataclasses import dataclass

__all__ = ["CSR_NUMBERS", "HPM_FIELDS", "WARL", "READ_ONLY_ZERO", "EXCEPTION_CODES",
           "INTERRUPT_CODES", "INTERRUPT_PRIORITY", "MSTATUS_BITS", "MISA_RV32IM",
           "is_read_only", "is_implemented", "write_mask", "TrapState", "trap_entry", "mret"]

#: CSR numbers by name (privileged spec, tables 2.2 to 2.5), for the CSRs an M-mode-only RV32
#: hart with counters has (no S/U-mode, no PMP, no debug: those are not implemented here).
CSR_NUMBERS = {
    # Machine information registers (read-only).
    "mvendorid": 0xF11, "marchid": 0xF12, "mimpid": 0xF13, "mhartid": 0xF14,
    "mconfigptr": 0xF15,
    # Machine trap setup.
    "mstatus": 0x300, "misa": 0x301, "mie": 0x304, "mtvec": 0x305, "mstatush": 0x310,
    # Machine trap handling.
    "mscratch": 0x340, "mepc": 0x341, "mcause": 0x342, "mtval": 0x343, "mip": 0x344,
    # Machine counters / counter setup.
    "mcycle": 0xB00, "minstret": 0xB02, "mcycleh": 0xB80, "minstreth": 0xB82,
    "mcountinhibit": 0x320,
    # Unprivileged counters (read-only shadows).
    "cycle": 0xC00, "time": 0xC01, "instret": 0xC02, "cycleh": 0xC80, "timeh": 0xC81,
    "instreth": 0xC82,
}

#: The numbered counter families: name -> (number of counter 3, counters 3..31).
HPM_FIELDS = {
    "mhpmevent": 0x323, "mhpmcounter": 0xB03, "mhpmcounterh": 0xB83,
    "hpmcounter": 0xC03, "hpmcounterh": 0xC83,
}

#: Bits of writable CSRs that hold what was written (the others read a fixed value).
WARL = {
    "mstatus": (1 << 3) | (1 << 7),          # MIE, MPIE (MPP is fixed at M: no other modes)
    "mie": (1 << 3) | (1 << 7) | (1 << 11),  # MSIE, MTIE, MEIE (no S-level interrupts)
    "mtvec": 0xFFFF_FFFC | 1,                # BASE, MODE 0 (direct) or 1 (vectored); 2, 3 reserved
    "mscratch": 0xFFFF_FFFF,
    "mepc": 0xFFFF_FFFC,                     # IALIGN = 32: bits 1:0 always zero
    "mcause": 0xFFFF_FFFF,                   # WLRL; *choice*: all 32 bits kept
    "mtval": 0xFFFF_FFFF,
    "mcountinhibit": (1 << 0) | (1 << 2),    # CY, IR (bit 1 TM is read-only zero)
    "mcycle": 0xFFFF_FFFF, "mcycleh": 0xFFFF_FFFF,
    "minstret": 0xFFFF_FFFF, "minstreth": 0xFFFF_FFFF,
}

#: Writable CSRs that read a constant whatever is written (writes ignored).
READ_ONLY_ZERO = ("mstatush", "misa", "mip")

#: mstatus fields (RV32 layout) and what an M-only hart shows in them.
MSTATUS_BITS = {"MIE": 3, "MPIE": 7, "MPP": 11}
MSTATUS_MPP_M = 0b11

#: misa of an RV32IM hart: MXL = 1 in bits 31:30, extension letters I and M.
MISA_RV32IM = (1 << 30) | (1 << (ord("I") - ord("A"))) | (1 << (ord("M") - ord("A")))

#: Exception codes (mcause with the interrupt bit clear), table 3.6.
EXCEPTION_CODES = {
    "instruction address misaligned": 0, "instruction access fault": 1,
    "illegal instruction": 2, "breakpoint": 3, "load address misaligned": 4,
    "load access fault": 5, "store/AMO address misaligned": 6, "store/AMO access fault": 7,
    "environment call from M-mode": 11,
}

#: Interrupt codes (mcause with bit 31 set; also the mip / mie bit numbers).
INTERRUPT_CODES = {"machine software": 3, "machine timer": 7, "machine external": 11}

#: Simultaneous machine interrupts are taken in this order (section 3.1.9): MEI, MSI, MTI.
INTERRUPT_PRIORITY = (11, 3, 7)

_HPM = [(base, base + 28) for base in HPM_FIELDS.values()]


def is_read_only(number):
    """The address convention (section 2.1): bits 11:10 == 0b11 means read-only."""
    return (number >> 10) & 0b11 == 0b11


def is_implemented(number):
    """Whether CSR ``number`` exists on this hart (named, or one of the numbered counters)."""
    return number in CSR_NUMBERS.values() or any(lo <= number <= hi for lo, hi in _HPM)


def write_mask(name):
    """Bits of CSR ``name`` that keep a written value (0 for read-only and fixed CSRs)."""
    return WARL.get(name, 0)


@dataclass
class TrapState:
    """The trap-related machine state: the four trap CSRs, the two mstatus bits, mtvec."""
    mepc: int = 0
    mcause: int = 0
    mtval: int = 0
    mie: int = 0        # mstatus.MIE
    mpie: int = 0       # mstatus.MPIE
    mtvec: int = 0

    @property
    def mstatus(self):
        return (self.mie << MSTATUS_BITS["MIE"] | self.mpie << MSTATUS_BITS["MPIE"] |
                MSTATUS_MPP_M << MSTATUS_BITS["MPP"])


def trap_entry(state, *, pc, code, interrupt, tval=0):
    """Take a trap in M-mode (section 3.1.6.1, 3.1.7, 3.1.14 to 3.1.16); returns the new pc.

    ``pc`` is the instruction that traps (an exception) or the first one not executed (an
    interrupt); ``code`` the exception or interrupt code. mepc = pc (low bits cleared: IALIGN
    32), mcause = interrupt bit | code, mtval = ``tval`` (*choice*: 0 for interrupts and ECALL,
    the address for misaligned / access faults, the instruction for illegal ones, the pc for
    EBREAK), MPIE = MIE, MIE = 0, MPP = M. The new pc is mtvec.BASE, plus 4 x code for an
    interrupt when mtvec.MODE is vectored (1)."""
    state.mepc = pc & 0xFFFF_FFFC
    state.mcause = (1 << 31 if interrupt else 0) | code
    state.mtval = (0 if interrupt else tval) & 0xFFFF_FFFF
    state.mpie, state.mie = state.mie, 0
    base, mode = state.mtvec & 0xFFFF_FFFC, state.mtvec & 3
    return (base + 4 * code if interrupt and mode == 1 else base) & 0xFFFF_FFFF


def mret(state):
    """MRET (section 3.3.2): MIE = MPIE, MPIE = 1, MPP = M (the only mode); returns mepc."""
    state.mie, state.mpie = state.mpie, 1
    return state.mepc


def pending_interrupt(mip, mie_csr, mstatus_mie):
    """The interrupt code a hart takes now, or None: the highest-priority one pending in
    ``mip`` and enabled in ``mie`` (the CSR), with mstatus.MIE set (M-mode only)."""
    if not mstatus_mie:
        return None
    for code in INTERRUPT_PRIORITY:
        if (mip & mie_csr) >> code & 1:
            return code
    return None
