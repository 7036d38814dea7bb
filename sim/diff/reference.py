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
offset coming from the next word). Unicorn
raises no traps into ``mtvec``, so programs must not trap (``trap`` and ``intr`` stay 0).
"""

from elftools.elf.elffile import ELFFile
from unicorn import (
    UC_ARCH_RISCV,
    UC_HOOK_CODE,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn.riscv_const import UC_RISCV_REG_X0

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


def run_reference(elf_path, config=None, max_insns=1_000_000):
    """Run ``elf_path`` on Unicorn until the test-exit store; return a :class:`ReferenceResult`.

    Parameters
    ----------
    elf_path : path-like
        RV32IM program linked for on-chip RAM (or main memory).
    config : SoCConfig, optional
        Memory sizes; the default variant (``$DURE_VARIANT`` or ``sim``) if None.
    max_insns : int
        Instruction limit; reaching it raises :class:`ReferenceError`.
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
    state = {"open": None, "exit": None, "fault": None}

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

    def on_code(uc, addr, size, _):
        finish(addr)
        if state["exit"] is not None or len(records) >= max_insns:
            uc.emu_stop()
            return
        insn = int.from_bytes(uc.mem_read(addr, 4), "little")
        state["open"] = TraceRecord(pc=addr, insn=insn)

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
        return False

    hooks = [uc.hook_add(UC_HOOK_CODE, on_code),
             uc.hook_add(UC_HOOK_MEM_READ, on_read),
             uc.hook_add(UC_HOOK_MEM_WRITE, on_write),
             uc.hook_add(UC_HOOK_MEM_UNMAPPED, on_unmapped)]
    try:
        uc.emu_start(entry, 0xFFFF_FFFF)
    except UcError as error:
        pc = state["open"].pc if state["open"] else entry
        where = f" at address 0x{state['fault']:08x}" if state["fault"] is not None else ""
        raise ReferenceError(f"reference stopped at pc 0x{pc:08x}: {error}{where}") from None
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
