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


def test_read_only_rule_and_implemented_set_agree_on_every_address():
    implemented_rtl = {c.value for c in isa.CSR} | {
        n for lo, hi in isa.HPM_RANGES for n in range(lo, hi + 1)}
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
             "ECALL_M": "environment call from M-mode"}
    for cause in isa.ExceptionCause:
        assert cause.value == spec.EXCEPTION_CODES[names[cause.name]], cause
    assert {c.name: c.value for c in isa.InterruptCause} == {
        "MSI": spec.INTERRUPT_CODES["machine software"],
        "MTI": spec.INTERRUPT_CODES["machine timer"],
        "MEI": spec.INTERRUPT_CODES["machine external"]}
    assert {b.name: b.value for b in isa.MStatus} == spec.MSTATUS_BITS
    assert isa.MIP.ALL.value == spec.WARL["mie"]
    assert isa.MISA_VALUE == spec.MISA_RV32IM


#: CSRs whose read-back after a write is a pure function of the written value (the counters
#: move on their own and are checked elsewhere).
STATIC = [n for n in spec.CSR_NUMBERS
          if not spec.is_read_only(spec.CSR_NUMBERS[n])
          and n not in ("mcycle", "mcycleh", "minstret", "minstreth")]


def _expected(name, written):
    """The read-back of ``name`` after writing ``written``, per the spec statement."""
    fixed = {"mstatus": spec.MSTATUS_MPP_M << spec.MSTATUS_BITS["MPP"], "misa": spec.MISA_RV32IM}
    return (written & spec.write_mask(name)) | fixed.get(name, 0)


def _warl_program():
    p = Program()
    p.li(10, RAM_BASE + 0x8000)
    p.li(1, 0xFFFF_FFFF)
    offset = 0
    for name in STATIC:
        number = spec.CSR_NUMBERS[name]
        for reg in (1, 0):               # all ones, then zeros
            p.csrrw(0, number, reg)
            p.csrrs(2, number, 0)
            p.sw(2, 10, offset)
            offset += 4
    p.halt()
    return p.assemble()


def test_warl_masks_on_the_core():
    """Every writable CSR on the core keeps exactly the bits the spec statement says."""
    result = run(_warl_program(), max_cycles=3000)
    assert result.halted
    offset = 0
    for name in STATIC:
        for written in (0xFFFF_FFFF, 0):
            got = result.mem.words.get((RAM_BASE + 0x8000 + offset) >> 2, None)
            assert got == _expected(name, written), (name, hex(written), got)
            offset += 4


def test_warl_masks_on_the_reference_model():
    words = _warl_program()
    ref = Reference(MemoryModel(words), RAM_BASE)
    while ref.step()["insn"] != 0x0000_006F:
        pass
    offset = 0
    for name in STATIC:
        for written in (0xFFFF_FFFF, 0):
            got = ref.mem.words.get((RAM_BASE + 0x8000 + offset) >> 2)
            assert got == _expected(name, written), (name, hex(written), got)
            offset += 4


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


def test_interrupt_priority():
    every = (1 << 3) | (1 << 7) | (1 << 11)
    assert spec.pending_interrupt(every, every, 1) == 11
    assert spec.pending_interrupt((1 << 3) | (1 << 7), every, 1) == 3
    assert spec.pending_interrupt(1 << 7, every, 1) == 7
    assert spec.pending_interrupt(every, every, 0) is None
    assert spec.pending_interrupt(every, 1 << 7, 1) == 7
