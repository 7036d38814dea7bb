"""Run NPU firmware on Unicorn with the golden command model behind the NPU registers.

On-chip RAM and main memory are plain Unicorn memory; the UART (TX collected), the test-exit
register, the interrupt controller (a plain register pair) and the NPU region (a
:class:`dure.sim.npu_model_regs.NpuRegisters`) are MMIO hooks. The model's DMA reads and writes
the emulator's memory directly, so the firmware driver runs end to end, with every descriptor
checked and executed by the golden model at its DOORBELL write. Nothing here needs the RTL.
"""

import dataclasses

from dure.sim.npu_model import NpuModel
from dure.sim.npu_model_regs import NpuRegisters
from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, Uc, UcError
from unicorn.riscv_const import UC_RISCV_REG_PC

from dure.config import preset

from .unicorn_run import register_offsets

PAGE = 0x1000


class UnicornMemory:
    """The memory interface of :class:`NpuModel` over Unicorn's RAM and main memory."""

    def __init__(self, uc, regions):
        self.uc = uc
        self.regions = regions          # [(base, size)]

    def contains(self, addr, length):
        return any(base <= addr and addr + length <= base + size for base, size in self.regions)

    def read(self, addr, length):
        return bytes(self.uc.mem_read(addr, length))

    def write(self, addr, data):
        self.uc.mem_write(addr, bytes(data))


@dataclasses.dataclass
class NpuRun:
    status: str            # "pass" | "fail" | "bad-exit" | "timeout" | "error"
    failure: int | None
    uart: bytes
    error: str
    npu: NpuRegisters


def run_npu_unicorn(elf_path, *, config=None, max_insns=200_000_000):
    """Run ``elf_path`` until it writes the test-exit register; returns an :class:`NpuRun`."""
    config = config or preset("sim")
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    mems = [config.region("ram"), config.region("main")]
    for region in mems:
        uc.mem_map(region.base, region.size)
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        entry = elf.header.e_entry
        for seg in elf.iter_segments():
            if seg.header.p_type == "PT_LOAD" and seg.header.p_memsz:
                uc.mem_write(seg.header.p_paddr, seg.data())
    model = NpuModel(config, memory=UnicornMemory(uc, [(r.base, r.size) for r in mems]))
    npu = NpuRegisters(model)
    uart = bytearray()
    state = {"exit": None, "error": ""}
    uart_regs = register_offsets("uart")
    irq_regs = {"pending": 0, "enable": 0}
    from dure.rtl.soc.registers import field

    def mask(register, name):
        lsb, width = field("uart", register, name)
        return ((1 << width) - 1) << lsb

    status_idle = mask("status", "tx_empty") | mask("status", "tx_idle")

    def uart_read(_uc, offset, _size, _ud):
        if offset == uart_regs["status"]:
            return status_idle
        return mask("data", "rx_empty") if offset == uart_regs["data"] else 0

    def uart_write(_uc, offset, _size, value, _ud):
        if offset == uart_regs["data"]:
            uart.append(value & 0xFF)

    def exit_write(uc_, _offset, _size, value, _ud):
        state["exit"] = value & 0xFFFF_FFFF
        uc_.emu_stop()

    offsets = register_offsets("irq")

    def irq_read(_uc, offset, _size, _ud):
        if offset == offsets["pending"]:
            return int(npu.irq) << 1
        return irq_regs["enable"] if offset == offsets["enable"] else 0

    def irq_write(_uc, offset, _size, value, _ud):
        if offset == offsets["enable"]:
            irq_regs["enable"] = value

    def npu_read(uc_, offset, _size, _ud):
        try:
            return npu.read(offset)
        except ValueError as error:
            state["error"] = str(error)
            uc_.emu_stop()
            return 0

    def npu_write(uc_, offset, _size, value, _ud):
        try:
            npu.write(offset, value)
        except ValueError as error:
            state["error"] = str(error)
            uc_.emu_stop()

    uc.mmio_map(config.region("uart").base, PAGE, uart_read, None, uart_write, None)
    uc.mmio_map(config.region("test_exit").base, PAGE, lambda *a: 0, None, exit_write, None)
    uc.mmio_map(config.region("irq").base, PAGE, irq_read, None, irq_write, None)
    npu_region = config.region("npu")
    uc.mmio_map(npu_region.base, npu_region.size, npu_read, None, npu_write, None)
    try:
        uc.emu_start(entry, 0xFFFF_FFFF, count=max_insns)
    except UcError as error:
        pc = uc.reg_read(UC_RISCV_REG_PC)
        return NpuRun("error", None, bytes(uart), f"{error} at pc={pc:#010x}", npu)
    if state["error"]:
        return NpuRun("error", None, bytes(uart), state["error"], npu)
    code = state["exit"]
    if code is None:
        return NpuRun("timeout", None, bytes(uart), "", npu)
    if code == 1:
        return NpuRun("pass", None, bytes(uart), "", npu)
    if code & 1:
        return NpuRun("fail", code >> 1, bytes(uart), "", npu)
    return NpuRun("bad-exit", None, bytes(uart), "", npu)
