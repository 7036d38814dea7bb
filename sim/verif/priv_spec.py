"""The machine-mode CSRs and trap rules of an RV32 hart with M- and U-mode, PMP and Sdtrig
triggers, written a second time from the specifications, independent of the RTL: nothing here
imports ``dure.rtl``. Sources: the RISC-V privileged specification (version 20211203,
chapter 2 "Control and Status Registers", chapter 3 "Machine-Level ISA" including section
3.7 "Physical Memory Protection") and the debug specification 1.0 (chapter 5 "Sdtrig": the
trigger CSRs, ``mcontrol`` type 2, ``tcontrol`` and the native-trigger re-entrancy rule).

``tests/sim/verif/test_priv_spec.py`` checks this statement against the RTL's own tables
(``rtl/core/isa.py``: CSR numbers, the read-only rule, mcause codes, mstatus / mip bits,
misa, the PMP ranges) and against the core itself and the reference model (every writable CSR
written with several patterns and read back, compared with :func:`csr_write`). :func:`trap_entry`
and :func:`mret` are the trap semantics the lock-step comparison of random programs with
interrupts uses (``dure.sim.verif.core_random``).

Where a specification leaves a choice, the value is the core's documented choice
(``rtl/core/README.md``, "Traps and CSRs"), marked *choice* below and stated as a module
constant (``PMP_ENTRIES``, ``TRIGGERS``, ``MPRV_IMPLEMENTED``, ...). Where the core departs
from a specification requirement the constant says so, marked *deviation*.
"""

from dataclasses import dataclass

__all__ = ["CSR_NUMBERS", "HPM_FIELDS", "PMP_CFG_NUMBERS", "PMP_ADDR_NUMBERS", "ZERO_CSRS",
           "PMP_ENTRIES", "TRIGGERS", "MPRV_IMPLEMENTED", "WARL", "READ_ONLY_ZERO",
           "EXCEPTION_CODES", "INTERRUPT_CODES", "INTERRUPT_PRIORITY", "MSTATUS_BITS",
           "PRIV_U", "PRIV_M", "MISA", "MCONTROL_BITS", "MCONTROL_TYPE", "MCONTROL6_BITS",
           "MCONTROL6_TYPE", "DISABLED_TYPE", "TINFO",
           "TCONTROL_BITS", "PMPCFG_BITS", "is_read_only", "is_implemented", "write_mask",
           "MSTATUS_MPP_M", "MCOUNTEREN_BITS", "reset_csrs", "csr_read", "csr_write",
           "TrapState", "trap_entry", "mret", "pending_interrupt"]

#: Privilege levels (section 1.2, table 1.1): encodings of U and M (no S-mode here).
PRIV_U, PRIV_M = 0b00, 0b11

#: *choice* Number of PMP entries implemented (the spec allows 0, 16 or 64; entries beyond
#: this read 0 and ignore writes, section 3.7.1). Default configuration: 16.
PMP_ENTRIES = 16
#: *choice* Number of Sdtrig triggers (debug spec 5.1: any number; 1 in the default config).
TRIGGERS = 1
#: The privileged spec (3.1.6.3) makes MPRV read-only 0 only when U-mode is not supported;
#: with U-mode it is a writable bit: while it is set, M-mode loads and stores are checked
#: (PMP) with the privilege in MPP, and an MRET (xRET) to a mode other than M clears it.
MPRV_IMPLEMENTED = True

#: CSR numbers by name (privileged spec, tables 2.2 to 2.5; debug spec table 5.1 for the trigger
#: CSRs), for the named CSRs of this hart. PMP CSRs: :data:`PMP_CFG_NUMBERS`,
#: :data:`PMP_ADDR_NUMBERS`; counters 3..31: :data:`HPM_FIELDS`.
CSR_NUMBERS = {
    # Machine information registers (read-only).
    "mvendorid": 0xF11, "marchid": 0xF12, "mimpid": 0xF13, "mhartid": 0xF14,
    "mconfigptr": 0xF15,
    # Machine trap setup.
    "mstatus": 0x300, "misa": 0x301, "mie": 0x304, "mtvec": 0x305, "mcounteren": 0x306,
    "mstatush": 0x310,
    # Machine trap handling.
    "mscratch": 0x340, "mepc": 0x341, "mcause": 0x342, "mtval": 0x343, "mip": 0x344,
    # Machine counters / counter setup.
    "mcycle": 0xB00, "minstret": 0xB02, "mcycleh": 0xB80, "minstreth": 0xB82,
    "mcountinhibit": 0x320,
    # Debug / trace triggers (shared with debug mode), debug spec 5.7.
    "tselect": 0x7A0, "tdata1": 0x7A1, "tdata2": 0x7A2, "tdata3": 0x7A3, "tinfo": 0x7A4,
    "tcontrol": 0x7A5,
    # Unprivileged counters (read-only shadows).
    "cycle": 0xC00, "time": 0xC01, "instret": 0xC02, "cycleh": 0xC80, "timeh": 0xC81,
    "instreth": 0xC82,
}

#: The numbered counter families: name -> (number of counter 3, counters 3..31).
HPM_FIELDS = {
    "mhpmevent": 0x323, "mhpmcounter": 0xB03, "mhpmcounterh": 0xB83,
    "hpmcounter": 0xC03, "hpmcounterh": 0xC83,
}

#: PMP CSRs (table 2.5; RV32 uses every pmpcfg0..15, four entries each): all 16 / 64 numbers
#: exist whatever :data:`PMP_ENTRIES` is (section 3.7: "up to 64 PMP entries ... the CSRs of
#: unimplemented entries are read-only zero" when the lowest ones are implemented).
PMP_CFG_NUMBERS = tuple(range(0x3A0, 0x3A0 + 16))
PMP_ADDR_NUMBERS = tuple(range(0x3B0, 0x3B0 + 64))

#: *choice* CSRs that exist with every field read-only zero: menvcfg / menvcfgh (section
#: 3.1.18, present because U-mode is; FIOM and the extension fields read 0).
ZERO_CSRS = {"menvcfg": 0x30A, "menvcfgh": 0x31A}

#: mstatus fields (RV32 layout, section 3.1.6) of this hart.
MSTATUS_BITS = {"MIE": 3, "MPIE": 7, "MPP": 11, "MPRV": 17, "TW": 21}
MSTATUS_MPP_M = PRIV_M

#: mcounteren (3.1.11): CY, TM, IR (the hpmcounters read 0, so their enables read 0, which
#: makes them illegal in U-mode; *choice*, allowed: "any of the bits may be read-only zero").
MCOUNTEREN_BITS = {"CY": 0, "TM": 1, "IR": 2}

#: PMP configuration byte (figure 3.32): R, W, X, A (two bits), L; bits 6:5 read 0.
PMPCFG_BITS = {"R": 0, "W": 1, "X": 2, "A": 3, "L": 7}
PMP_A_OFF, PMP_A_TOR, PMP_A_NA4, PMP_A_NAPOT = 0, 1, 2, 3

#: tdata1 as mcontrol (type 2, debug spec 5.7.3, RV32): field -> (lowest bit, width).
MCONTROL_BITS = {
    "load": (0, 1), "store": (1, 1), "execute": (2, 1), "u": (3, 1), "s": (4, 1),
    "m": (6, 1), "match": (7, 4), "chain": (11, 1), "action": (12, 4), "sizelo": (16, 2),
    "timing": (18, 1), "select": (19, 1), "hit": (20, 1), "maskmax": (21, 6), "dmode": (27, 1),
    "type": (28, 4),
}
MCONTROL_TYPE = 2
#: tdata1 as mcontrol6 (type 6, debug spec 1.0 5.7.4, RV32): field -> (lowest bit, width).
MCONTROL6_BITS = {
    "load": (0, 1), "store": (1, 1), "execute": (2, 1), "u": (3, 1), "s": (4, 1),
    "uncertainen": (5, 1), "m": (6, 1), "match": (7, 4), "chain": (11, 1), "action": (12, 4),
    "size": (16, 3), "select": (21, 1), "hit0": (22, 1), "vu": (23, 1), "vs": (24, 1),
    "hit1": (25, 1), "uncertain": (26, 1), "dmode": (27, 1), "type": (28, 4),
}
MCONTROL6_TYPE = 6
#: tdata1.type 15: "this trigger exists but is disabled" (5.7.2); writing tdata1 = 0 must
#: disable a trigger, and one that supports several types does it by changing type to 15.
DISABLED_TYPE = 15
#: tinfo (debug spec 5.7.11): version 1 (spec 1.0) in bits 31:24, one bit per supported type
#: (*choice*: mcontrol, mcontrol6 and the disabled type 15, which a write can select).
TINFO = (1 << 24) | (1 << MCONTROL_TYPE) | (1 << MCONTROL6_TYPE) | (1 << DISABLED_TYPE)
#: tcontrol (debug spec 5.7.12): M-mode trigger enable and its previous value.
TCONTROL_BITS = {"MTE": 3, "MPTE": 7}

#: misa: MXL = 1 (RV32) in bits 31:30, extension letters I, M and U.
MISA = (1 << 30) | sum(1 << (ord(x) - ord("A")) for x in "IMU")


def _bits(*names, table=MSTATUS_BITS):
    return sum(1 << table[n] for n in names)


def _mcontrol_mask(*names, table=MCONTROL_BITS):
    return sum(((1 << table[n][1]) - 1) << table[n][0] for n in names)


#: Bits of writable CSRs that hold what was written when no other rule applies (see
#: :func:`csr_write` for mstatus.MPP, PMP, tselect and tdata1).
WARL = {
    "mstatus": _bits("MIE", "MPIE", "TW") | (_bits("MPRV") if MPRV_IMPLEMENTED else 0),
    "mie": (1 << 3) | (1 << 7) | (1 << 11),  # MSIE, MTIE, MEIE (no S-level interrupts)
    "mtvec": 0xFFFF_FFFC | 1,                # BASE, MODE 0 (direct) or 1 (vectored); 2, 3 reserved
    "mcounteren": _bits("CY", "TM", "IR", table=MCOUNTEREN_BITS),
    "mscratch": 0xFFFF_FFFF,
    "mepc": 0xFFFF_FFFC,                     # IALIGN = 32: bits 1:0 always zero
    "mcause": 0xFFFF_FFFF,                   # WLRL; *choice*: all 32 bits kept
    "mtval": 0xFFFF_FFFF,
    "mcountinhibit": (1 << 0) | (1 << 2),    # CY, IR (bit 1 TM is read-only zero)
    "mcycle": 0xFFFF_FFFF, "mcycleh": 0xFFFF_FFFF,
    "minstret": 0xFFFF_FFFF, "minstreth": 0xFFFF_FFFF,
    "tdata2": 0xFFFF_FFFF,                   # the match address (match = equal)
    "tcontrol": _bits("MTE", "MPTE", table=TCONTROL_BITS),
}

#: Writable CSRs that read a constant whatever is written (writes ignored): mstatush (MBE,
#: SBE 0: little-endian only), misa (*choice*: not writable), mip (the M-level pending bits
#: are read-only), tdata3 (*choice*: textra32 all zero, no extra match conditions), tinfo
#: (read-only fields).
READ_ONLY_ZERO = ("mstatush", "misa", "mip", "tdata3", "tinfo")

#: Exception codes (mcause with the interrupt bit clear), table 3.6.
EXCEPTION_CODES = {
    "instruction address misaligned": 0, "instruction access fault": 1,
    "illegal instruction": 2, "breakpoint": 3, "load address misaligned": 4,
    "load access fault": 5, "store/AMO address misaligned": 6, "store/AMO access fault": 7,
    "environment call from U-mode": 8, "environment call from M-mode": 11,
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
    """Whether CSR ``number`` exists on this hart (named, PMP, read-zero, or a numbered
    counter). Absent: medeleg / mideleg (no S-mode), mseccfg, the debug-mode CSRs."""
    return (number in CSR_NUMBERS.values() or number in ZERO_CSRS.values() or
            number in PMP_CFG_NUMBERS or number in PMP_ADDR_NUMBERS or
            any(lo <= number <= hi for lo, hi in _HPM))


def write_mask(name):
    """Bits of CSR ``name`` that keep a written value by a plain mask (0 for read-only and
    fixed CSRs; the CSRs with further rules are handled by :func:`csr_write`)."""
    return WARL.get(name, 0)


def _name(number):
    for table in (CSR_NUMBERS, ZERO_CSRS):
        for name, n in table.items():
            if n == number:
                return name
    if number in PMP_CFG_NUMBERS:
        return f"pmpcfg{number - PMP_CFG_NUMBERS[0]}"
    if number in PMP_ADDR_NUMBERS:
        return f"pmpaddr{number - PMP_ADDR_NUMBERS[0]}"
    raise ValueError(f"CSR {number:#x} is not implemented")


def reset_csrs():
    """The reset values of the CSRs :func:`csr_write` models, by name: MPP = M (the hart
    starts in M with MPP = M, *choice*), misa, tinfo, tdata1 type 2, PMP entries OFF
    (section 3.7.1: L and A cleared at reset), everything else 0."""
    csrs = {name: 0 for name in WARL}
    csrs.update({name: 0 for name in READ_ONLY_ZERO})
    csrs["mstatus"] = MSTATUS_MPP_M << MSTATUS_BITS["MPP"]
    csrs["misa"] = MISA
    csrs["tinfo"] = TINFO if TRIGGERS else 1
    csrs["tselect"] = 0
    csrs["tdata1"] = [MCONTROL_TYPE << 28] * TRIGGERS
    csrs["tdata2"] = [0] * TRIGGERS
    csrs["pmpcfg"] = [0] * PMP_ENTRIES          # one byte per entry
    csrs["pmpaddr"] = [0] * PMP_ENTRIES
    return csrs


def _pmpcfg_byte(byte):
    """WARL of one configuration byte: bits 6:5 read 0; R = 0 with W = 1 is reserved (3.7.1)
    and *choice* legalized by clearing W (X, A, L kept as written)."""
    byte &= 0x9F
    if byte >> PMPCFG_BITS["W"] & 1 and not byte >> PMPCFG_BITS["R"] & 1:
        byte &= ~(1 << PMPCFG_BITS["W"])
    return byte


def _pmp_locked(cfg, i):
    return bool(cfg[i] >> PMPCFG_BITS["L"] & 1)


def _mcontrol(value):
    """WARL of tdata1 (debug spec 5.7.2 to 5.7.4). The type field selects: 2 (mcontrol) or 6
    (mcontrol6) are kept; *choice*: any other written type (0, 15, or one not implemented:
    1, 3, 4, 5, 7..14) gives a disabled trigger, type 15 with every other field 0 (dmode
    reads 0 anyway: no debug mode). For types 2 and 6: dmode reads 0 (only writable from
    debug mode, which does not exist); hit / hit0 / hit1, maskmax, s, vs, vu, uncertain read
    0 (*choice*). u, m are kept. Supported: match 0 (equal), chain 0, action 0 (breakpoint
    exception), and for type 2 timing 0 (before), select 0 (address), sizelo 0 (any), for
    type 6 size 0 (any), select 0, uncertainen 0. *choice*: a write asking for any other
    value of those keeps u / m and clears load / store / execute, so the trigger cannot fire
    on a condition it does not implement (the debug spec requires an unsupported write not to
    leave a trigger firing on some other condition)."""
    kind = value >> 28 & 0xF
    if kind not in (MCONTROL_TYPE, MCONTROL6_TYPE):
        return DISABLED_TYPE << 28
    table = MCONTROL_BITS if kind == MCONTROL_TYPE else MCONTROL6_BITS

    def get(name):
        lo, width = table[name]
        return value >> lo & ((1 << width) - 1)
    checked = ("match", "chain", "action") + (("timing", "select", "sizelo")
                                              if kind == MCONTROL_TYPE else
                                              ("size", "select", "uncertainen"))
    kept = value & _mcontrol_mask("u", "m", table=table)
    if not any(get(f) for f in checked):
        kept |= value & _mcontrol_mask("load", "store", "execute", table=table)
    return (kind << 28) | kept


def csr_read(csrs, name):
    """The value CSR ``name`` reads in the state ``csrs`` (from :func:`reset_csrs`)."""
    if name.startswith("pmpcfg"):
        k = int(name[6:])
        return sum(csrs["pmpcfg"][i] << 8 * (i - 4 * k)
                   for i in range(4 * k, min(4 * k + 4, PMP_ENTRIES)))
    if name.startswith("pmpaddr"):
        i = int(name[7:])
        return csrs["pmpaddr"][i] if i < PMP_ENTRIES else 0
    if name in ("tdata1", "tdata2"):
        return csrs[name][csrs["tselect"]] if TRIGGERS else 0
    if name in ZERO_CSRS:
        return 0
    return csrs[name]


def csr_write(csrs, name, value):
    """Write ``value`` to CSR ``name`` in ``csrs`` (from :func:`reset_csrs`), by the spec's
    rules and the choices above; returns what the CSR then reads (:func:`csr_read`).

    - mstatus: MIE, MPIE, MPRV, TW kept; MPP is WARL {M, U} (3.1.6.1: "M-mode software can determine
      whether a privilege mode is implemented by writing that mode to MPP then reading it
      back"), *choice*: 0b01 / 0b10 (S, reserved) give U; MPRV see :data:`MPRV_IMPLEMENTED`;
      every other field reads 0 (no S-mode, F, V, big-endian).
    - pmpcfgK: the bytes of entries 4K..4K+3 below :data:`PMP_ENTRIES`, each legalized, unless
      the entry is locked (3.7.1: "If PMP entry i is locked, writes to pmpicfg and pmpaddri
      are ignored", until reset).
    - pmpaddrI (G = 0: all 32 bits, address bits 33:2): ignored when entry I is locked, or
      when entry I + 1 is locked with A = TOR ("writes to pmpaddri-1 are ignored").
    - tselect: *choice*: a value >= :data:`TRIGGERS` is ignored (debug spec: WARL, software
      reads back to find the number of triggers).
    - tdata1: :func:`_mcontrol`; tdata2: the selected trigger's address.
    """
    value &= 0xFFFF_FFFF
    if name == "mstatus":
        mpp = value >> MSTATUS_BITS["MPP"] & 3
        csrs[name] = (value & WARL["mstatus"]) | (
            (PRIV_M if mpp == PRIV_M else PRIV_U) << MSTATUS_BITS["MPP"])
    elif name.startswith("pmpcfg"):
        k = int(name[6:])
        for i in range(4 * k, min(4 * k + 4, PMP_ENTRIES)):
            if not _pmp_locked(csrs["pmpcfg"], i):
                csrs["pmpcfg"][i] = _pmpcfg_byte(value >> 8 * (i - 4 * k) & 0xFF)
    elif name.startswith("pmpaddr"):
        i = int(name[7:])
        cfg = csrs["pmpcfg"]
        if i < PMP_ENTRIES and not _pmp_locked(cfg, i) and not (
                i + 1 < PMP_ENTRIES and _pmp_locked(cfg, i + 1) and
                cfg[i + 1] >> PMPCFG_BITS["A"] & 3 == PMP_A_TOR):
            csrs["pmpaddr"][i] = value
    elif name == "tselect":
        if value < TRIGGERS:
            csrs[name] = value
    elif name == "tdata1":
        if TRIGGERS:
            csrs[name][csrs["tselect"]] = _mcontrol(value)
    elif name == "tdata2":
        if TRIGGERS:
            csrs[name][csrs["tselect"]] = value
    elif name in WARL:
        csrs[name] = value & WARL[name]
    elif name not in READ_ONLY_ZERO and name not in ZERO_CSRS:
        raise ValueError(f"CSR {name!r} is read-only or not modelled")
    return csr_read(csrs, name)


@dataclass
class TrapState:
    """The trap-related machine state: the four trap CSRs, the mstatus bits, mtvec, the
    privilege level and tcontrol (MTE, MPTE)."""
    mepc: int = 0
    mcause: int = 0
    mtval: int = 0
    mie: int = 0        # mstatus.MIE
    mpie: int = 0       # mstatus.MPIE
    mtvec: int = 0
    priv: int = PRIV_M
    mpp: int = PRIV_M   # mstatus.MPP (reset: M)
    mte: int = 0        # tcontrol.MTE
    mpte: int = 0       # tcontrol.MPTE
    mprv: int = 0       # mstatus.MPRV (a trap keeps it)

    @property
    def mstatus(self):
        return (self.mie << MSTATUS_BITS["MIE"] | self.mpie << MSTATUS_BITS["MPIE"] |
                self.mpp << MSTATUS_BITS["MPP"] | self.mprv << MSTATUS_BITS["MPRV"])


def trap_entry(state, *, pc, code, interrupt, tval=0):
    """Take a trap into M-mode (sections 3.1.6.1, 3.1.7, 3.1.14 to 3.1.16; no delegation: there
    is no S-mode, so medeleg / mideleg do not exist); returns the new pc.

    ``pc`` is the instruction that traps (an exception) or the first one not executed (an
    interrupt); ``code`` the exception or interrupt code. mepc = pc (low bits cleared: IALIGN
    32), mcause = interrupt bit | code, mtval = ``tval`` (*choice*: 0 for interrupts and ECALL,
    the address for misaligned / access faults and triggers, the instruction for illegal ones,
    the pc for EBREAK), MPIE = MIE, MIE = 0, MPP = the previous privilege, privilege = M;
    tcontrol.MPTE = MTE, MTE = 0 (debug spec 5.4). The new pc is mtvec.BASE, plus 4 x code
    for an interrupt when mtvec.MODE is vectored (1)."""
    state.mepc = pc & 0xFFFF_FFFC
    state.mcause = (1 << 31 if interrupt else 0) | code
    state.mtval = (0 if interrupt else tval) & 0xFFFF_FFFF
    state.mpie, state.mie = state.mie, 0
    state.mpp, state.priv = state.priv, PRIV_M
    state.mpte, state.mte = state.mte, 0
    base, mode = state.mtvec & 0xFFFF_FFFC, state.mtvec & 3
    return (base + 4 * code if interrupt and mode == 1 else base) & 0xFFFF_FFFF


def mret(state):
    """MRET (section 3.3.2): privilege = MPP, MIE = MPIE, MPIE = 1, MPP = U (the least
    privileged supported mode), MPRV = 0 when the new privilege is not M (3.1.6.3);
    tcontrol.MTE = MPTE (debug spec 5.4). Returns mepc."""
    if state.mpp != PRIV_M and MPRV_IMPLEMENTED:
        state.mprv = 0
    state.mie, state.mpie = state.mpie, 1
    state.priv, state.mpp = state.mpp, PRIV_U
    state.mte = state.mpte
    return state.mepc


def pending_interrupt(mip, mie_csr, mstatus_mie, priv=PRIV_M):
    """The interrupt code a hart takes now, or None: the highest-priority one pending in
    ``mip`` and enabled in ``mie`` (the CSR), globally enabled: in M-mode when mstatus.MIE is
    set, in U-mode always (3.1.6.1: interrupts for a more privileged mode are always globally
    enabled)."""
    if priv == PRIV_M and not mstatus_mie:
        return None
    for code in INTERRUPT_PRIORITY:
        if (mip & mie_csr) >> code & 1:
            return code
    return None
