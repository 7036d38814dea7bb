"""Run non-trapping Dure firmware on Unicorn (an RV32 emulator without our peripherals).

Unicorn takes no traps to ``mtvec`` and knows nothing of the SoC, so this maps the on-chip RAM,
a UART whose TX side collects bytes (status always "TX empty, RX empty") and the test-exit
register, all at the addresses of :mod:`dure.config` and :mod:`dure.rtl.soc.registers`. Good
for checking benchmarks, printf and C code before (and independently of) the RTL; anything that
traps, waits for the timer or reads other peripherals cannot run here.

Usage: ``python -m dure.sim.verif.unicorn_run PROGRAM.elf [...]`` (prints the UART output and
the number of instructions executed; Unicorn's own cycle / instret CSRs follow host time, so
the ``BENCH`` lines' numbers mean nothing here).
"""

import dataclasses
import sys

from elftools.elf.elffile import ELFFile
from unicorn import (
    UC_ARCH_RISCV,
    UC_HOOK_CODE,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn.riscv_const import UC_RISCV_REG_PC

from dure.config import preset

__all__ = ["UnicornResult", "run_unicorn", "register_offsets"]

PAGE = 0x1000


def register_offsets(block):
    """``{register: offset}`` of the peripheral ``block`` in rtl/soc/registers.py."""
    from dure.rtl.soc.registers import REGISTER_BLOCKS

    for name, registers in REGISTER_BLOCKS:
        if name == block:
            return dict(registers)
    raise KeyError(f"rtl/soc/registers.py has no register block {block!r}")


@dataclasses.dataclass
class UnicornResult:
    status: str            # "pass" | "fail" | "bad-exit" | "timeout" | "error"
    failure: int | None
    exit_code: int | None
    uart: bytes
    error: str = ""
    instructions: int | None = None     # executed, when run with count=True


def run_unicorn(elf_path, *, config=None, max_insns=50_000_000, count=False):
    """Load ``elf_path`` and run it from its entry point until it writes the test-exit register.

    ``count=True`` counts executed instructions with a per-instruction hook (slow).
    """
    config = config or preset("sim")
    ram = config.region("ram")
    uart_regs = register_offsets("uart")
    exit_regs = register_offsets("test_exit")
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    uc.mem_map(ram.base, ram.size)
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        entry = elf.header.e_entry
        for seg in elf.iter_segments():
            if seg.header.p_type != "PT_LOAD" or seg.header.p_memsz == 0:
                continue
            addr = seg.header.p_paddr
            if not ram.contains(addr, seg.header.p_memsz):
                raise ValueError(f"{elf_path}: segment at {addr:#x} lies outside on-chip RAM")
            uc.mem_write(addr, seg.data())

    uart = bytearray()
    state = {"exit": None}
    uart_base = config.region("uart").base
    exit_base = config.region("test_exit").base

    from dure.rtl.soc.registers import field

    def mask(register, name):
        lsb, width = field("uart", register, name)
        return ((1 << width) - 1) << lsb

    # TX always ready and idle; RX always empty.
    status_idle = mask("status", "tx_empty") | mask("status", "tx_idle")
    data_rx_empty = mask("data", "rx_empty")

    def uart_read(_uc, offset, _size, _ud):
        if offset == uart_regs["status"]:
            return status_idle
        if offset == uart_regs["data"]:
            return data_rx_empty
        return 0

    def uart_write(_uc, offset, _size, value, _ud):
        if offset == uart_regs["data"]:
            uart.append(value & 0xFF)

    def exit_write(uc_, offset, _size, value, _ud):
        if offset == exit_regs["exit"]:
            state["exit"] = value & 0xFFFF_FFFF
            uc_.emu_stop()

    uc.mmio_map(uart_base, PAGE, uart_read, None, uart_write, None)
    uc.mmio_map(exit_base, PAGE, lambda *a: 0, None, exit_write, None)

    executed = [0]
    if count:
        def on_code(_uc, _addr, _size, _ud):
            executed[0] += 1
        uc.hook_add(UC_HOOK_CODE, on_code)

    def result(status, failure=None, code=None, error=""):
        return UnicornResult(status, failure, code, bytes(uart), error,
                             executed[0] if count else None)

    try:
        uc.emu_start(entry, 0xFFFF_FFFF, count=max_insns)
    except UcError as error:
        pc = uc.reg_read(UC_RISCV_REG_PC)
        return result("error", error=f"{error} at pc={pc:#010x}")
    code = state["exit"]
    if code is None:
        return result("timeout")
    if code == 1:
        return result("pass", None, code)
    if code & 1:
        return result("fail", code >> 1, code)
    return result("bad-exit", None, code)


def main(argv):
    worst = 0
    for path in argv:
        result = run_unicorn(path, count=True)
        sys.stdout.write(result.uart.decode("latin-1"))
        print(f"[{path}: {result.status}"
              + (f" {result.failure}" if result.failure is not None else "")
              + (f" {result.error}" if result.error else "")
              + f", {result.instructions} instructions]")
        worst = max(worst, 0 if result.status == "pass" else 1)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
