"""The hand-written privileged-spec statement (dure.sim.verif.priv_spec) against the RTL's own
tables (rtl/core/isa.py), against the core (every CSR written with ones and zeros and read
back, on the Amaranth-simulated core) and against the software reference model (core_ref)."""

import pytest
from dure.rtl.core import isa
from dure.sim.verif import priv_spec as spec
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, MemoryModel, run
from dure.sim.verif.core_ref import Reference


def test_csr_numbers_agree():
    rtl = {c.name.lower(): c.value for c in isa.CSR}
    assert rtl == spec.CSR_NUMBERS
    assert sorted(isa.HPM_RANGES) == sorted((lo, lo + 28) for lo in spec.HPM_FIELDS.values())
    assert isa.PMP_CFG_RANGE == (spec.PMP_CFG_NUMBERS[0], spec.PMP_CFG_NUMBERS[-1])
    assert isa.PMP_ADDR_RANGE == (spec.PMP_ADDR_NUMBERS[0], spec.PMP_ADDR_NUMBERS[-1])
    assert sorted(isa.ZERO_RANGES) == sorted((n, n) for n in spec.ZERO_CSRS.values())


def test_read_only_rule_and_implemented_set_agree_on_every_address():
    ranges = (*isa.HPM_RANGES, isa.PMP_CFG_RANGE, isa.PMP_ADDR_RANGE, *isa.ZERO_RANGES)
    implemented_rtl = {c.value for c in isa.CSR} | {
        n for lo, hi in ranges for n in range(lo, hi + 1)}
    for number in range(4096):
        assert isa.csr_is_read_only(number) == spec.is_read_only(number), hex(number)
        assert (number in implemented_rtl) == spec.is_implemented(number), hex(number)


def test_cause_codes_and_bits_agree():
    assert {c.value for c in isa.ExceptionCause} == set(spec.EXCEPTION_CODES.values())
    names = {"INSN_MISALIGNED": "instruction address misaligned",
             "INSN_ACCESS_FAULT": "instruction access fault",
             "ILLEGAL_INSN": "illegal instruction", "BREAKPOINT": "breakpoint",
             "LOAD_MISALIGNED": "load address misaligned", "LOAD_ACCESS_FAULT": "load access fault",
             "STORE_MISALIGNED": "store/AMO address misaligned",
             "STORE_ACCESS_FAULT": "store/AMO access fault",
             "ECALL_U": "environment call from U-mode",
             "ECALL_M": "environment call from M-mode"}
    for cause in isa.ExceptionCause:
        assert cause.value == spec.EXCEPTION_CODES[names[cause.name]], cause
    assert {c.name: c.value for c in isa.InterruptCause} == {
        "MSI": spec.INTERRUPT_CODES["machine software"],
        "MTI": spec.INTERRUPT_CODES["machine timer"],
        "MEI": spec.INTERRUPT_CODES["machine external"]}
    assert {b.name: b.value for b in isa.MStatus} == spec.MSTATUS_BITS
    assert isa.MIP.ALL.value == spec.WARL["mie"]
    assert isa.MISA_VALUE == spec.MISA == 0x4010_1100
    assert {p.name: p.value for p in isa.Priv} == {"U": spec.PRIV_U, "M": spec.PRIV_M}
    assert {b.name: b.value for b in isa.MCounterEn} == spec.MCOUNTEREN_BITS
    assert isa.PMPCfg == spec.PMPCFG_BITS
    assert {m.name: m.value for m in isa.PMPMode} == {
        "OFF": spec.PMP_A_OFF, "TOR": spec.PMP_A_TOR, "NA4": spec.PMP_A_NA4,
        "NAPOT": spec.PMP_A_NAPOT}
    assert {b.name.lower(): b.value for b in isa.MControl} == {
        name: lo for name, (lo, _) in spec.MCONTROL_BITS.items()
        if name in {b.name.lower() for b in isa.MControl}}
    assert len(isa.MControl) == 10
    assert isa.MCONTROL_TYPE == spec.MCONTROL_TYPE
    assert isa.TINFO_VALUE == spec.TINFO == 0x0100_8044
    assert (isa.MCONTROL6_TYPE, isa.DISABLED_TYPE) == (spec.MCONTROL6_TYPE, spec.DISABLED_TYPE)
    assert {b.name.lower(): b.value for b in isa.MControl6} == {
        name: lo for name, (lo, _) in spec.MCONTROL6_BITS.items()
        if name in {b.name.lower() for b in isa.MControl6}}
    assert len(isa.MControl6) == 8
    assert {b.name: b.value for b in isa.TControl} == spec.TCONTROL_BITS


#: CSRs whose read-back after a write is a pure function of the writes (the counters move on
#: their own and are checked elsewhere).
STATIC = [n for n in spec.CSR_NUMBERS
          if not spec.is_read_only(spec.CSR_NUMBERS[n])
          and n not in ("mcycle", "mcycleh", "minstret", "minstreth")]
PATTERNS = (0xFFFF_FFFF, 0, 0x5555_5555, 0xAAAA_AAAA, 0x0202_0202, 1)
#: Single-field cases: each unsupported mcontrol (type 2) field alone with a kind bit (disarms
#: the trigger), dmode from M-mode (ignored, the rest applies); the same for mcontrol6 (type
#: 6; hit0 reads 0); types 0, 15 and an unsupported one (3) disable the trigger (type 15,
#: other fields 0); then the PMP lock rule for the
#: address below a locked TOR entry (ignored) and below a locked NA4 entry (kept). The entries
#: locked here match nothing the program touches (pmpaddr 0: addresses 0..3).
SINGLE = [("tdata1", 0x2000_0000 | v) for v in (0x0001_0044, 0x0004_0044, 0x0008_0044,
                                                0x0000_0844, 0x0000_1044, 0x0000_0144,
                                                0x0800_0044, 0x0000_0047)] + [
    ("tdata1", 0x6000_0000 | v) for v in (0x0000_004F, 0x0000_0064, 0x0001_0044, 0x0020_0044,
                                          0x0000_1044, 0x0000_0844, 0x0000_0144, 0x0840_0044,
                                          0x0680_0049)] + [
    ("tdata1", v) for v in (0x0000_0044, 0, 0xF000_0044, 0x3000_0044, 0x2000_0041)] + [
    ("pmpcfg3", 0x0088_0000), ("pmpaddr13", 0xFFFF_FFFF), ("pmpaddr12", 0x0000_1234),
    ("pmpaddr12", 0), ("pmpcfg2", 0x0000_9000), ("pmpaddr8", 7), ("pmpaddr8", 0)]
_PMPADDR = [f"pmpaddr{i}" for i in range(64)]
_PMPCFG = [f"pmpcfg{k}" for k in range(16)]
#: The write sequence: every static CSR and menvcfg(h) with every pattern, SINGLE; the pmpaddr CSRs
#: (ending with 0, so that the TOR entries locked next match nothing), then pmpcfg (R = 0 with
#: W = 1 in 0x02 / 0xAA, then 0xAA locks the entries), then pmpaddr again (now locked: ignored).
WRITES = ([(n, v) for n in (*STATIC, *spec.ZERO_CSRS) for v in PATTERNS] + SINGLE +
          [(n, v) for n in _PMPADDR for v in (0xFFFF_FFFF, 0x1234_5678, 0)] +
          [(n, v) for n in _PMPCFG for v in (0x0202_0202, 0x5555_5555, 0xAAAA_AAAA, 0)] +
          [(n, 0xFFFF_FFFF) for n in _PMPADDR])


def _number(name):
    if name.startswith("pmpcfg"):
        return spec.PMP_CFG_NUMBERS[int(name[6:])]
    if name.startswith("pmpaddr"):
        return spec.PMP_ADDR_NUMBERS[int(name[7:])]
    return {**spec.CSR_NUMBERS, **spec.ZERO_CSRS}[name]


def _expected():
    """The read-back after every write of WRITES, per the spec statement."""
    csrs = spec.reset_csrs()
    return [spec.csr_write(csrs, name, value) for name, value in WRITES]


def test_spec_statement_examples():
    """A few read-backs worked out by hand from the spec text (guards the statement itself)."""
    csrs = spec.reset_csrs()
    assert spec.csr_write(csrs, "mstatus", 0xFFFF_FFFF) == 0x0022_1888   # MIE MPIE MPP=M MPRV TW
    assert spec.csr_write(csrs, "mstatus", 1 << 12) == 0                 # MPP = S -> U
    assert spec.csr_write(csrs, "pmpcfg0", 0x0000_0A02) == 0x0000_0800   # W without R dropped
    assert spec.csr_write(csrs, "pmpcfg0", 0x0000_0089) == 0x0000_0089   # entry 0 locked, TOR
    assert spec.csr_write(csrs, "pmpcfg0", 0) == 0x0000_0089
    assert spec.csr_write(csrs, "pmpaddr0", 5) == 0                      # locked
    assert spec.csr_write(csrs, "pmpaddr15", 5) == 5
    assert spec.csr_write(csrs, "pmpaddr16", 5) == 0                     # no entry 16
    assert spec.csr_write(csrs, "tselect", 1) == 0
    assert spec.csr_write(csrs, "tdata1", 0x2000_0044) == 0x2000_0044    # M, EXECUTE
    assert spec.csr_write(csrs, "tdata1", 0x2000_10CC) == 0x2000_0048    # action 1: disarmed
    assert spec.csr_write(csrs, "tdata1", 0x6000_0049) == 0x6000_0049    # mcontrol6: M, U, LOAD
    assert spec.csr_write(csrs, "tdata1", 0x6001_0049) == 0x6000_0048    # size 1: disarmed
    assert spec.csr_write(csrs, "tdata1", 0) == 0xF000_0000              # disabled
    assert spec.csr_write(csrs, "tdata1", 0xF000_0044) == 0xF000_0000
    assert spec.csr_write(csrs, "tinfo", 0) == 0x0100_8044
    with pytest.raises(ValueError):
        spec.csr_write(csrs, "mhartid", 1)


def _warl_program():
    p = Program()
    p.li(10, RAM_BASE + 0x8000)
    offset = 0
    for name, value in WRITES:
        if offset == 2040:               # keep the store offsets in the 12-bit immediate
            p.addi(10, 10, 2040)
            offset = 0
        p.li(1, value)
        p.csrrw(0, _number(name), 1)
        p.csrrs(2, _number(name), 0)
        if name == "mstatus":            # MPRV with MPP = U would check the store below as U
            p.li(3, 1 << spec.MSTATUS_BITS["MPRV"])
            p.csrrc(0, _number(name), 3)
        p.sw(2, 10, offset)
        offset += 4
    p.halt()
    return p.assemble()


def _check(words):
    for k, ((name, value), want) in enumerate(zip(WRITES, _expected(), strict=True)):
        got = words.get(((RAM_BASE + 0x8000) >> 2) + k, None)
        assert got == want, (k, name, hex(value), got if got is None else hex(got), hex(want))


def test_warl_masks_on_the_core():
    """Every writable CSR on the core keeps exactly the bits the spec statement says."""
    result = run(_warl_program(), max_cycles=20000)
    assert result.halted
    _check(result.mem.words)


def test_warl_masks_on_the_reference_model():
    words = _warl_program()
    ref = Reference(MemoryModel(words), RAM_BASE)
    while ref.step()["insn"] != 0x0000_006F:
        pass
    _check(ref.mem.words)


@pytest.mark.parametrize("mode", [0, 1])
def test_trap_entry_and_mret(mode):
    state = spec.TrapState(mie=1, mpie=0, mtvec=0x8000_0100 | mode)
    target = spec.trap_entry(state, pc=0x8000_0040, code=7, interrupt=True, tval=0x55)
    assert target == 0x8000_0100 + (28 if mode else 0)
    assert (state.mepc, state.mcause, state.mtval) == (0x8000_0040, 0x8000_0007, 0)
    assert (state.mie, state.mpie) == (0, 1) and state.mstatus == 0x1880
    assert spec.mret(state) == 0x8000_0040 and (state.mie, state.mpie) == (1, 1)
    target = spec.trap_entry(state, pc=0x8000_0044, code=2, interrupt=False, tval=0xFFFF_FFFF)
    assert target == 0x8000_0100 and state.mcause == 2 and state.mtval == 0xFFFF_FFFF


def test_trap_from_u_mode_and_mret_to_u():
    """Trap from U: MPP = U, the hart enters M, tcontrol MPTE = MTE, MTE = 0; MRET returns to
    U, sets MPP = U (least privileged mode) and MTE = MPTE."""
    state = spec.TrapState(mie=0, mpie=0, mtvec=0x8000_0100, priv=spec.PRIV_U, mpp=spec.PRIV_M,
                           mte=1, mpte=0)
    target = spec.trap_entry(state, pc=0x8000_0200, code=8, interrupt=False)
    assert target == 0x8000_0100 and state.mcause == 8 and state.mtval == 0
    assert (state.priv, state.mpp, state.mte, state.mpte) == (spec.PRIV_M, spec.PRIV_U, 0, 1)
    assert state.mstatus == 0
    assert spec.mret(state) == 0x8000_0200
    assert (state.priv, state.mpp, state.mte, state.mpie) == (spec.PRIV_U, spec.PRIV_U, 1, 1)
    spec.trap_entry(state, pc=0x8000_0300, code=3, interrupt=False, tval=0x8000_0300)
    assert state.mpp == spec.PRIV_U and state.mtval == 0x8000_0300 and state.mcause == 3
    state.mpp = spec.PRIV_M
    spec.mret(state)
    assert (state.priv, state.mpp) == (spec.PRIV_M, spec.PRIV_U)


def test_interrupt_priority():
    every = (1 << 3) | (1 << 7) | (1 << 11)
    assert spec.pending_interrupt(every, every, 1) == 11
    assert spec.pending_interrupt((1 << 3) | (1 << 7), every, 1) == 3
    assert spec.pending_interrupt(1 << 7, every, 1) == 7
    assert spec.pending_interrupt(every, every, 0) is None
    assert spec.pending_interrupt(every, 1 << 7, 1) == 7
    assert spec.pending_interrupt(every, every, 0, priv=spec.PRIV_U) == 11   # MIE ignored in U
    assert spec.pending_interrupt(every, 0, 1, priv=spec.PRIV_U) is None
