"""Reference execution of an RV32IM ELF on Unicorn, one :class:`TraceRecord` per instruction.

Unicorn (QEMU's RISC-V translator) starts in machine mode at the ELF entry point with every
register 0. On-chip RAM is mapped at its base with the variant's size and the test-exit page is
mapped as plain memory; any other access stops the run with :class:`ReferenceError`. A code hook
runs before each instruction: it completes the previous instruction's record (the value of the
register it wrote, the next pc) and opens the next one. Memory hooks fill in the access. The run
ends at the instruction after the store to the test-exit register.

Records follow the RVFI conventions of :mod:`dure.rtl.core.rvfi`: ``rd_addr`` is the
instruction's destination register (0 for none and for x0, then ``rd_wdata`` is 0), even when
the value does not change; memory masks are relative to the aligned word, ``mem_wdata`` holds
the store data shifted into its byte lanes and ``mem_rdata`` the aligned word read (a
misaligned access that crosses a word boundary, which Unicorn performs as the core does,
wraps around: lane ``i`` holds its byte at an address ``i`` modulo 4, the lanes below the
offset coming from the next word).

Unicorn does not enter ``mtvec`` by itself. With ``traps=True`` the reference models the trap
entry of the privileged specification (sections 3.1.6.1, 3.1.14 to 3.1.16; M-mode only,
written here: this layer does not import the verification models) where Unicorn stops or
reports an exception, and restarts Unicorn at ``mtvec`` with the trap CSRs written (mepc,
mcause, mtval, mstatus: MPIE = MIE, MIE = 0, MPP = M); the handler's CSR reads and its MRET
then run on Unicorn. The trapping instruction's record has ``trap`` = 1, no destination, no
memory access and ``pc_wdata`` = the trap vector; the handler's first record has ``intr`` = 1
(RVFI). Where each exception is recognised, and the mtval chosen (the core's documented
choices, the same as the trap model of the random program tests,
``dure.sim.verif.priv_spec``):

* illegal instruction (Unicorn's interrupt hook, number 2): mcause 2, mtval = the instruction;
* ECALL (interrupt hook, number 8, Unicorn's user-mode number: the program runs in M):
  mcause 11, mtval 0;
* EBREAK (Unicorn reports an invalid instruction): mcause 3, mtval = its pc;
* load / store at an unmapped address (Unicorn's unmapped-memory hook): mcause 5 / 7, mtval =
  the address (the SoC answers every address outside its regions with a bus error);
* a jump or branch to a target that is not 4-byte aligned (Unicorn implements the C extension
  and would run there; the code hook sees the target first): mcause 0 on the jump, mtval =
  the target, the jump's destination register restored (a trapping instruction writes
  nothing).

Without ``traps`` any of these stops the run with :class:`ReferenceError`.
"""

from elftools.elf.elffile import ELFFile
from unicorn import (
    UC_ARCH_RISCV,
    UC_HOOK_CODE,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn.riscv_const import (
    UC_RISCV_REG_MCAUSE,
    UC_RISCV_REG_MEPC,
    UC_RISCV_REG_MSTATUS,
    UC_RISCV_REG_MTVAL,
    UC_RISCV_REG_MTVEC,
    UC_RISCV_REG_X0,
)

from dure.config import TEST_EXIT_BASE, default_variant, preset

from .disasm import writes_rd
from .trace import TraceRecord

__all__ = ["ReferenceError", "ReferenceResult", "run_reference", "load_elf"]


class ReferenceError(RuntimeError):
    """The reference could not run the program to its test exit."""


class ReferenceResult:
    """Outcome of a reference run.

    Attributes
    ----------
    records : list of TraceRecord
        One per executed instruction, the test-exit store last.
    exit_code : int
        Value stored to the test-exit register.
    """

    def __init__(self, records, exit_code):
        self.records = records
        self.exit_code = exit_code


def load_elf(path, config):
    """``(entry, [(address, bytes), ...])`` of the ELF's loadable segments.

    Raises
    ------
    ReferenceError
        If the file is not a 32-bit RISC-V ELF or a segment lies outside on-chip RAM / main
        memory of ``config``.
    """
    try:
        with open(path, "rb") as file:
            elf = ELFFile(file)
            if elf.elfclass != 32 or elf["e_machine"] != "EM_RISCV":
                raise ReferenceError(f"{path}: not a 32-bit RISC-V ELF")
            segments = []
            for segment in elf.iter_segments():
                if segment["p_type"] != "PT_LOAD" or segment["p_memsz"] == 0:
                    continue
                data = segment.data().ljust(segment["p_memsz"], b"\0")
                addr = segment["p_paddr"]
                if config.loadable(addr, len(data)) is None:
                    raise ReferenceError(
                        f"{path}: segment 0x{addr:08x}+{len(data)} is outside loadable memory")
                segments.append((addr, data))
            return elf["e_entry"], segments
    except OSError as error:
        raise ReferenceError(f"cannot read {path}: {error.strerror}") from None
    except Exception as error:
        if isinstance(error, ReferenceError):
            raise
        raise ReferenceError(f"{path}: not a valid ELF ({error})") from None


def _mask(addr, size):
    wide = ((1 << size) - 1) << (addr & 3)
    return (wide | wide >> 4) & 15


def _rotl(value, addr):
    k = 8 * (addr & 3)
    return ((value << k) | (value >> (32 - k))) & 0xFFFF_FFFF


#: mcause of the exceptions the reference models (privileged spec, table 3.6).
CAUSE_MISALIGNED_FETCH, CAUSE_ILLEGAL, CAUSE_BREAKPOINT = 0, 2, 3
CAUSE_LOAD_FAULT, CAUSE_STORE_FAULT, CAUSE_ECALL_M = 5, 7, 11
_EBREAK = 0x0010_0073
_MSTATUS_MIE, _MSTATUS_MPIE, _MSTATUS_MPP = 1 << 3, 1 << 7, 3 << 11


def _enter_trap(uc, pc, cause, tval):
    """Write the trap CSRs as an M-mode exception entry does; return the vector (mtvec.BASE:
    exceptions are never vectored)."""
    mstatus = uc.reg_read(UC_RISCV_REG_MSTATUS)
    mpie = _MSTATUS_MPIE if mstatus & _MSTATUS_MIE else 0
    uc.reg_write(UC_RISCV_REG_MSTATUS,
                 (mstatus & ~(_MSTATUS_MIE | _MSTATUS_MPIE)) | mpie | _MSTATUS_MPP)
    uc.reg_write(UC_RISCV_REG_MEPC, pc & ~3)
    uc.reg_write(UC_RISCV_REG_MCAUSE, cause)
    uc.reg_write(UC_RISCV_REG_MTVAL, tval & 0xFFFF_FFFF)
    return uc.reg_read(UC_RISCV_REG_MTVEC) & 0xFFFF_FFFC


def run_reference(elf_path, config=None, max_insns=1_000_000, traps=False):
    """Run ``elf_path`` on Unicorn until the test-exit store; return a :class:`ReferenceResult`.

    Parameters
    ----------
    elf_path : path-like
        RV32IM program linked for on-chip RAM (or main memory).
    config : SoCConfig, optional
        Memory sizes; the default variant (``$DURE_VARIANT`` or ``sim``) if None.
    max_insns : int
        Instruction limit; reaching it raises :class:`ReferenceError`.
    traps : bool
        Model the exceptions listed in the module's docstring (else they stop the run).
    """
    config = config or preset(default_variant())
    entry, segments = load_elf(elf_path, config)
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    for region in config.regions:
        if region.name in ("ram", "main"):
            uc.mem_map(region.base, region.size)
    uc.mem_map(TEST_EXIT_BASE, 0x1000)
    for addr, data in segments:
        uc.mem_write(addr, data)

    records = []
    state = {"open": None, "exit": None, "fault": None, "trap": None, "rd_before": None,
             "intr": False}

    def finish(next_pc):
        record = state["open"]
        if record is None:
            return
        rd = writes_rd(record.insn)
        if rd:
            record.rd_addr = rd
            record.rd_wdata = uc.reg_read(UC_RISCV_REG_X0 + rd) & 0xFFFF_FFFF
        record.pc_wdata = next_pc
        records.append(record)
        state["open"] = None

    def raise_trap(cause, tval):
        """The open instruction traps: stop Unicorn; the loop below enters the handler."""
        state["trap"] = (cause, tval)
        uc.emu_stop()

    def on_code(uc, addr, size, _):
        if addr & 3 and traps and state["open"] is not None:
            # The previous instruction jumped to a target that is not 4-byte aligned: it
            # traps instead (and writes no register).
            rd = writes_rd(state["open"].insn)
            if rd:
                uc.reg_write(UC_RISCV_REG_X0 + rd, state["rd_before"])
            raise_trap(CAUSE_MISALIGNED_FETCH, addr)
            return
        finish(addr)
        if state["exit"] is not None or len(records) >= max_insns:
            uc.emu_stop()
            return
        insn = int.from_bytes(uc.mem_read(addr, 4), "little")
        state["open"] = TraceRecord(pc=addr, insn=insn, intr=int(state["intr"]))
        state["intr"] = False
        rd = writes_rd(insn)
        state["rd_before"] = uc.reg_read(UC_RISCV_REG_X0 + rd) if rd else 0

    def on_read(uc, access, addr, size, value, _):
        record = state["open"]
        record.mem_addr = addr
        record.mem_rmask = _mask(addr, size)
        value = int.from_bytes(uc.mem_read(addr, size), "little")   # the access's bytes
        below = int.from_bytes(uc.mem_read(addr & ~3, 4), "little")
        lanes = sum(0xFF << 8 * i for i in range(4) if _mask(addr, size) >> i & 1)
        record.mem_rdata = (below & ~lanes) | (_rotl(value, addr) & lanes)

    def on_write(uc, access, addr, size, value, _):
        record = state["open"]
        record.mem_addr = addr
        record.mem_wmask = _mask(addr, size)
        record.mem_wdata = _rotl(value & ((1 << 8 * size) - 1), addr)
        if addr & ~3 == TEST_EXIT_BASE:
            state["exit"] = value & 0xFFFF_FFFF

    def on_unmapped(uc, access, addr, size, value, _):
        state["fault"] = addr
        if traps and state["open"] is not None:
            store = access == UC_MEM_WRITE_UNMAPPED
            raise_trap(CAUSE_STORE_FAULT if store else CAUSE_LOAD_FAULT, addr)
        return False

    def on_intr(uc, number, _):
        record = state["open"]
        if traps and record is not None and number in (2, 8):
            if number == 2:
                raise_trap(CAUSE_ILLEGAL, record.insn)
            else:
                raise_trap(CAUSE_ECALL_M, 0)
        else:
            state["fault"] = None
            state["trap"] = ("unmodelled", number)
            uc.emu_stop()

    def on_invalid(uc, _):
        record = state["open"]
        if traps and record is not None and record.insn == _EBREAK:
            raise_trap(CAUSE_BREAKPOINT, record.pc)
            return True
        return False

    hooks = [uc.hook_add(UC_HOOK_CODE, on_code),
             uc.hook_add(UC_HOOK_MEM_READ, on_read),
             uc.hook_add(UC_HOOK_MEM_WRITE, on_write),
             uc.hook_add(UC_HOOK_MEM_UNMAPPED, on_unmapped),
             uc.hook_add(UC_HOOK_INTR, on_intr),
             uc.hook_add(UC_HOOK_INSN_INVALID, on_invalid)]
    start = entry
    try:
        while True:
            state["trap"] = None
            try:
                uc.emu_start(start, 0xFFFF_FFFF)
            except UcError as error:
                if state["trap"] is None:
                    pc = state["open"].pc if state["open"] else start
                    where = (f" at address 0x{state['fault']:08x}"
                             if state["fault"] is not None else "")
                    raise ReferenceError(
                        f"reference stopped at pc 0x{pc:08x}: {error}{where}") from None
            if state["trap"] is None:
                break
            cause, tval = state["trap"]
            record = state["open"]
            if cause == "unmodelled":
                pc = record.pc if record else start
                raise ReferenceError(f"reference stopped at pc 0x{pc:08x}: exception "
                                     f"{tval} not modelled")
            start = _enter_trap(uc, record.pc, cause, tval)
            records.append(TraceRecord(pc=record.pc, insn=record.insn, intr=record.intr,
                                       trap=1, pc_wdata=start))
            state["open"] = None
            state["fault"] = None
            state["intr"] = True
            if len(records) >= max_insns:
                break
    finally:
        for hook in hooks:  # the closures refer to uc: break the cycle so it is freed at once
            uc.hook_del(hook)
    if state["exit"] is None:
        if state["open"] is not None:
            raise ReferenceError(
                f"reference stopped at pc 0x{state['open'].pc:08x} without a test exit")
        raise ReferenceError(f"no test exit within {max_insns} instructions")
    if state["open"] is not None:  # the exit store was the last instruction run
        finish((state["open"].pc + 4) & 0xFFFF_FFFF)
    return ReferenceResult(records, state["exit"])
