"""Lock-step of the core's retirement trace with Unicorn, asynchronous interrupts included.

The random-program benches (:mod:`dure.sim.verif.core_random`) compare the core with the
reference model :mod:`dure.sim.verif.core_ref`. This module compares the same trace with a
second, independent executor: Unicorn (QEMU's RV32 translator) runs every instruction of the
base ISA and the M extension, and the privileged part, which Unicorn's build does not model
the way the hart does (it takes no interrupts, its CSR set and WARL rules are QEMU's, it has
no bus errors), comes from :mod:`dure.sim.verif.priv_spec` (written from the privileged
specification, not from the RTL):

- CSR instructions (CSRRW / CSRRS / CSRRC and the immediate forms): a CSR that
  :func:`~dure.sim.verif.priv_spec.is_implemented` denies, or a write to a read-only one
  (bits 11:10 = 3), is an illegal instruction (mtval = the instruction); otherwise the old
  value (:func:`~dure.sim.verif.priv_spec.csr_read`) goes to ``rd`` and the new one is written
  by :func:`~dure.sim.verif.priv_spec.csr_write`. The numbered counters 3..31 read 0 and ignore
  writes (the core's *choice*). CSRs whose value depends on time (``mcycle``, ``minstret``,
  ``cycle``, ``time``, ``instret`` and their high halves, ``mip``) are not modelled: a program
  that reads them stops the comparison with an error.
- ECALL (mcause 11), EBREAK (3, mtval = pc), MRET (:func:`~dure.sim.verif.priv_spec.mret`),
  WFI (retires as a no-op; the interrupt that wakes it is taken after it).
- Traps: a fetch from a word answering a bus error (mcause 1, mtval = the pc; the record's
  ``insn`` is 0, as the core reports it); an illegal instruction where Unicorn raises one
  (its interrupt hook, number 2);
  a taken jump or branch to a target that is not 4-byte aligned (mcause 0, mtval = the
  target, the jump writes no register); a load / store whose word is outside the bench's
  RAM and interrupt-line registers or inside one of its bus-error ranges (mcause 5 / 7,
  mtval = the address; for a misaligned access whose *second* word answers the error, mtval
  = that word's address and a store's first part stays written, the core's documented
  choice); each entered with :func:`~dure.sim.verif.priv_spec.trap_entry`.
- Asynchronous interrupts: Unicorn has none, so the core decides *when* one is taken. Where
  the core's trace enters an interrupt vector without a trapping record before it, the
  interrupt is injected into the lock-step at that same retired instruction: the comparison
  checks it was allowed (mtvec vectored, the line's bit set in ``mie``, mstatus.MIE set in
  M-mode), enters it with ``trap_entry`` (mepc = the next instruction Unicorn would run,
  mcause = bit 31 | code, mtval = 0, MPIE = MIE, MIE = 0, MPP = M) and redirects Unicorn's pc
  to ``mtvec.BASE + 4 * code``. From there the handler runs on Unicorn as any code does.

Compared per record: ``pc_rdata``, ``insn``, ``trap``, ``rd_addr``, ``rd_wdata`` (every
register write), ``pc_wdata``, and ``intr`` (the first record of a handler); at the end the
RAM as the core left it. Memory access fields of the records are not compared here (the
reference model's comparison checks them; the final memory catches a wrong store).

M-mode only: an MRET to U-mode stops the comparison with an error (Unicorn does not apply
PMP, so U-mode programs stay with :mod:`~dure.sim.verif.core_ref` alone).
"""

from unicorn import UC_ARCH_RISCV, UC_HOOK_INTR, UC_MODE_RISCV32, Uc, UcError
from unicorn.riscv_const import UC_RISCV_REG_PC, UC_RISCV_REG_X0

from . import priv_spec as spec
from .core_bench import IRQ_BASE, IRQ_NAMES, RAM_BASE, RAM_SIZE

__all__ = ["UnicornLockstep", "compare_unicorn", "NotModelled"]

M32 = 0xFFFF_FFFF
ECALL, EBREAK, MRET, WFI = 0x0000_0073, 0x0010_0073, 0x3020_0073, 0x1050_0073
#: CSRs whose value depends on time or on the lines: not modelled here.
_TIMED = {"mcycle", "mcycleh", "minstret", "minstreth", "cycle", "cycleh", "time", "timeh",
          "instret", "instreth", "mip"}
_COMPARED = ("pc_rdata", "insn", "trap", "rd_addr", "rd_wdata", "pc_wdata")


class NotModelled(RuntimeError):
    """The program does something this lock-step does not model (a time-dependent CSR,
    U-mode)."""


def _csr_names():
    names = {}
    for table in (spec.CSR_NUMBERS, spec.ZERO_CSRS):
        names.update({n: name for name, n in table.items()})
    names.update({n: f"pmpcfg{i}" for i, n in enumerate(spec.PMP_CFG_NUMBERS)})
    names.update({n: f"pmpaddr{i}" for i, n in enumerate(spec.PMP_ADDR_NUMBERS)})
    return names


_CSR_NAMES = _csr_names()


def _sx(value, bits):
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def _writes_rd(insn):
    """Destination register of ``insn`` (0 if none), by the base ISA's formats."""
    op, rd = insn & 0x7F, insn >> 7 & 31
    if op in (0x37, 0x17, 0x6F, 0x67, 0x03, 0x13, 0x33):
        return rd
    return 0


class UnicornLockstep:
    """Unicorn plus the priv_spec CSR / trap state, stepped one record at a time.

    ``words``: the program at ``RAM_BASE`` (the bench's memory); ``err_ranges``: byte ranges
    answering a bus error, as the bench's :class:`~dure.sim.verif.core_bench.MemoryModel`;
    ``data``: further RAM words ``{byte address: word}``, as ``run(data=...)``."""

    def __init__(self, words, err_ranges=(), data=None):
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        self.uc.mem_map(RAM_BASE, RAM_SIZE)
        self.uc.mem_map(IRQ_BASE, 0x1000)
        self.uc.mem_write(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in words))
        for addr, value in (data or {}).items():
            self.uc.mem_write(addr & ~3, value.to_bytes(4, "little"))
        self.err_ranges = list(err_ranges)
        self.csrs = spec.reset_csrs()
        self.priv = spec.PRIV_M
        self.pc = RAM_BASE
        self._illegal = False
        self.uc.hook_add(UC_HOOK_INTR, self._on_intr)

    # --- state ---------------------------------------------------------------------------

    def _on_intr(self, uc, number, _):
        if number != 2:
            raise NotModelled(f"Unicorn raised exception {number} at {self.pc:#x}")
        self._illegal = True
        uc.emu_stop()

    def x(self, r):
        return self.uc.reg_read(UC_RISCV_REG_X0 + r) & M32 if r else 0

    def _set_x(self, r, value):
        if r:
            self.uc.reg_write(UC_RISCV_REG_X0 + r, value & M32)

    def _bit(self, name):
        return self.csrs["mstatus"] >> spec.MSTATUS_BITS[name] & 1

    def _trap_state(self):
        tc = self.csrs["tcontrol"]
        return spec.TrapState(
            mepc=self.csrs["mepc"], mcause=self.csrs["mcause"], mtval=self.csrs["mtval"],
            mie=self._bit("MIE"), mpie=self._bit("MPIE"), mtvec=self.csrs["mtvec"],
            priv=self.priv, mpp=self.csrs["mstatus"] >> spec.MSTATUS_BITS["MPP"] & 3,
            mte=tc >> spec.TCONTROL_BITS["MTE"] & 1, mpte=tc >> spec.TCONTROL_BITS["MPTE"] & 1,
            mprv=self._bit("MPRV"))

    def _put_state(self, st):
        fields = spec.TrapState(mie=1, mpie=1, mpp=3, mprv=1).mstatus
        self.csrs["mstatus"] = (self.csrs["mstatus"] & ~fields) | st.mstatus
        self.csrs["mepc"], self.csrs["mcause"], self.csrs["mtval"] = st.mepc, st.mcause, st.mtval
        self.csrs["tcontrol"] = (st.mte << spec.TCONTROL_BITS["MTE"] |
                                 st.mpte << spec.TCONTROL_BITS["MPTE"])
        self.priv = st.priv

    def _enter(self, rec, code, tval=0, interrupt=False):
        st = self._trap_state()
        self.pc = spec.trap_entry(st, pc=self.pc, code=code, interrupt=interrupt, tval=tval)
        self._put_state(st)
        if rec is not None:
            rec.update(trap=1, rd_addr=0, rd_wdata=0, pc_wdata=self.pc)
        return rec

    # --- interrupts ----------------------------------------------------------------------

    def interrupt(self, code):
        """Take interrupt ``code`` before the next instruction; checks it was allowed."""
        mtvec = self.csrs["mtvec"]
        assert mtvec & 3 == 1, "an interrupt in direct mode: the comparison needs vectored mode"
        assert code in spec.INTERRUPT_CODES.values(), f"no interrupt has code {code}"
        assert self.csrs["mie"] >> code & 1, f"interrupt {code} taken while disabled in mie"
        assert self._bit("MIE") or self.priv != spec.PRIV_M, \
            f"interrupt {code} taken in M-mode with mstatus.MIE clear (pc {self.pc:#x})"
        self._enter(None, code, interrupt=True)

    # --- one instruction -----------------------------------------------------------------

    def _bus_error(self, word_addr):
        addr = word_addr << 2 & M32
        if any(lo <= addr < hi for lo, hi in self.err_ranges):
            return True
        return not (RAM_BASE <= addr < RAM_BASE + RAM_SIZE or
                    IRQ_BASE <= addr < IRQ_BASE + 4 * len(IRQ_NAMES))

    def _access_fault(self, rec, insn):
        """The trap a load / store takes for a bus error (rec updated), or None."""
        f3, store = insn >> 12 & 7, (insn & 0x7F) == 0x23
        imm = (_sx((insn >> 25) << 5 | (insn >> 7 & 31), 12) if store
               else _sx(insn >> 20, 12))
        addr = (self.x(insn >> 15 & 31) + imm) & M32
        size = 1 << (f3 & 3)
        first, crosses = addr >> 2, (addr & 3) + size > 4
        code = 7 if store else 5
        if self._bus_error(first):
            return self._enter(rec, code, addr)
        if crosses and self._bus_error(first + 1):
            if store:     # the part in the first word is written, the second faults
                n = 4 - (addr & 3)
                data = self.x(insn >> 20 & 31).to_bytes(4, "little")[:n]
                self.uc.mem_write(addr, data)
            return self._enter(rec, code, (first + 1) << 2 & M32)
        return None

    def _system(self, rec, insn):
        f3, rd, rs1, number = insn >> 12 & 7, insn >> 7 & 31, insn >> 15 & 31, insn >> 20
        if f3 == 0:
            if insn == ECALL:
                return self._enter(rec, 11 if self.priv == spec.PRIV_M else 8)
            if insn == EBREAK:
                return self._enter(rec, 3, self.pc)
            if insn == MRET and self.priv == spec.PRIV_M:
                st = self._trap_state()
                target = spec.mret(st)
                self._put_state(st)
                if self.priv != spec.PRIV_M:
                    raise NotModelled(f"MRET to U-mode at {self.pc:#x}")
                rec["pc_wdata"] = target
                return rec
            if insn == WFI:
                return rec
            return self._enter(rec, 2, insn)
        if f3 == 4 or not spec.is_implemented(number):
            return self._enter(rec, 2, insn)
        writes = f3 & 3 == 1 or rs1 != 0
        if (writes and spec.is_read_only(number)) or number >> 8 & 3 > self.priv:
            return self._enter(rec, 2, insn)
        name = _CSR_NAMES.get(number)
        if name in _TIMED:
            raise NotModelled(f"CSR {name} (time-dependent) read at {self.pc:#x}")
        old = spec.csr_read(self.csrs, name) if name else 0     # counters 3..31 read 0
        operand = rs1 if f3 & 4 else self.x(rs1)
        if writes and name in ("tdata1", "tdata2"):
            raise NotModelled(f"trigger CSR {name} written at {self.pc:#x}")
        if writes and name:
            new = {1: operand, 2: old | operand, 3: old & ~operand & M32}[f3 & 3]
            spec.csr_write(self.csrs, name, new)
        if rd:
            self._set_x(rd, old)
            rec.update(rd_addr=rd, rd_wdata=old)
        return rec

    def step(self):
        """Execute the instruction at the current pc; return its record."""
        pc = self.pc
        if self._bus_error(pc >> 2):          # instruction access fault: the word is not run
            rec = dict(pc_rdata=pc, insn=0, trap=0, rd_addr=0, rd_wdata=0, pc_wdata=0)
            return self._enter(rec, 1, pc)
        insn = int.from_bytes(self.uc.mem_read(pc, 4), "little")
        rec = dict(pc_rdata=pc, insn=insn, trap=0, rd_addr=0, rd_wdata=0,
                   pc_wdata=(pc + 4) & M32)
        op = insn & 0x7F
        if op == 0x73:
            rec = self._system(rec, insn)
            self.pc = rec["pc_wdata"]
            return rec
        if op in (0x03, 0x23) and self._access_fault(rec, insn):
            return rec
        rd = _writes_rd(insn)
        before = self.x(rd)
        self._illegal = False
        try:
            self.uc.emu_start(pc, 0xFFFF_FFFF, count=1)
        except UcError as error:
            if not self._illegal:
                raise AssertionError(f"Unicorn stopped at {pc:#x}: {error}") from None
        if self._illegal:
            self.uc.reg_write(UC_RISCV_REG_PC, pc)
            self._set_x(rd, before)
            return self._enter(rec, 2, insn)
        next_pc = self.uc.reg_read(UC_RISCV_REG_PC) & M32
        if op in (0x6F, 0x67, 0x63) and next_pc & 3:
            self._set_x(rd, before)           # a trapping jump writes no register
            return self._enter(rec, 0, next_pc)
        if rd:
            rec.update(rd_addr=rd, rd_wdata=self.x(rd))
        rec["pc_wdata"] = self.pc = next_pc
        return rec

    def ram_words(self):
        data = self.uc.mem_read(RAM_BASE, RAM_SIZE)
        return {(RAM_BASE >> 2) + i: int.from_bytes(data[4 * i:4 * i + 4], "little")
                for i in range(RAM_SIZE // 4)}


def compare_unicorn(words, result, err_ranges=(), interrupts=False, max_steps=50_000,
                    data=None):
    """Check the core's trace (``result`` of :func:`dure.sim.verif.core_bench.run` on
    ``words``, with ``data`` words) record by record against :class:`UnicornLockstep`;
    interrupts (with ``interrupts``) injected where the core took them. Returns the number
    of records compared and the interrupts taken as ``(records, interrupts)``. Raises
    AssertionError at the first difference, naming the record and both versions."""
    ref = UnicornLockstep(words, err_ranges, data)
    prev_trap, taken = False, 0
    for i, got in enumerate(result.trace):
        assert i < max_steps, f"more than {max_steps} records"
        if got["intr"] and not prev_trap:
            assert interrupts, f"record {i}: an interrupt in a program without interrupts"
            base = ref.csrs["mtvec"] & ~3
            code, rest = divmod((got["pc_rdata"] - base) & M32, 4)
            assert rest == 0, f"record {i}: handler entered at {got['pc_rdata']:#x}"
            ref.interrupt(code)
            taken, prev_trap = taken + 1, True
        want = ref.step()
        got_cmp = {k: got[k] for k in _COMPARED}
        assert got_cmp == want, (
            f"record {i} (Unicorn lock-step):\n got  " +
            " ".join(f"{k}={v:#x}" for k, v in got_cmp.items()) +
            "\n want " + " ".join(f"{k}={want[k]:#x}" for k in _COMPARED))
        assert bool(got["intr"]) == prev_trap, f"record {i}: intr={got['intr']}"
        prev_trap = bool(want["trap"])
    assert result.halted, f"did not halt in {result.cycles} cycles"
    ram = ref.ram_words()
    core = {a: w for a, w in result.mem.words.items() if a in ram}
    diff = [a << 2 for a in ram if ram[a] != core.get(a, 0)]
    assert not diff, f"memory differs from Unicorn's at {[hex(a) for a in diff[:8]]}"
    return len(result.trace), taken
