"""cocotb testbench of the simulation top ``dure_sim_top`` (``SimTop``): programs run to their exit.

Launched by ``tests/system/test_cocotb_soc.py`` (not collected by pytest itself). The launcher
passes, through the environment:

``DURE_TB_ELFS``
    Self-checking programs (the ISA suite), separated by ``os.pathsep``; one test each.
``DURE_TB_DIRECTED``
    Folder with the directed programs built from ``tests/cocotb/programs`` (``traps.elf``,
    ``interrupts.elf``).
``DURE_TB_MAX_CYCLES``
    Cycle limit of every run (default 2,000,000).

Every program is loaded through the loader port while ``hold`` is 1 (and checked not to retire
anything meanwhile), then runs with the clock free-running; Python waits on edges of
``exit_valid`` and ``uart_tx_valid`` only, so it is not in the per-cycle loop of long runs.
A run passes when the firmware writes 1 to the test-exit register within the limit.
"""

import os
import pathlib

import cocotb
from cocotb import Param
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time
from dure.sim.elf import load_elf

from dure.config import default_variant, preset

PERIOD_NS = 10
CONFIG = preset(default_variant())   # the suite sets cpu (tests/conftest.py)


def _elfs():
    value = os.environ.get("DURE_TB_ELFS", "")
    return [path for path in value.split(os.pathsep) if path]


def _directed(name):
    folder = os.environ.get("DURE_TB_DIRECTED")
    assert folder, "DURE_TB_DIRECTED is not set (run through tests/system/test_cocotb_soc.py)"
    return pathlib.Path(folder) / name


def _max_cycles():
    return int(os.environ.get("DURE_TB_MAX_CYCLES", "2000000"))


class SocTB:
    """Drives one ``dure_sim_top``: reset, program loading, UART, exit."""

    def __init__(self, dut):
        self.dut = dut
        self.uart = bytearray()
        self.retired_while_held = 0

    async def start(self):
        """Start the clock and reset everything with the core held."""
        dut = self.dut
        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        dut.hold.value = 1
        dut.load_valid.value = 0
        dut.load_addr.value = 0
        dut.load_data.value = 0
        dut.uart_rx_valid.value = 0
        dut.uart_rx_data.value = 0
        dut.gpio_in.value = 0
        dut.rst.value = 1
        await ClockCycles(dut.clk, 4)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def _transfer(self, valid, ready):
        """With ``valid`` driven high: wait for the clock edge where ``ready`` is also high."""
        while True:
            await ReadOnly()
            fire = ready.value == 1
            self.retired_while_held += int(self.dut.rvfi__valid.value == 1)
            await RisingEdge(self.dut.clk)
            if fire:
                return

    async def load(self, path):
        """Write every word of the ELF through the loader port (core held)."""
        dut = self.dut
        dut.hold.value = 1
        words = 0
        for addr, data in load_elf(path, CONFIG).word_runs():
            for offset in range(0, len(data), 4):
                dut.load_valid.value = 1
                dut.load_addr.value = addr + offset
                dut.load_data.value = int.from_bytes(data[offset:offset + 4], "little")
                await self._transfer(dut.load_valid, dut.load_ready)
                words += 1
        dut.load_valid.value = 0
        return words

    async def _uart_monitor(self):
        dut = self.dut
        while True:
            await ReadOnly()
            if dut.uart_tx_valid.value == 1:
                self.uart.append(dut.uart_tx_data.value.to_unsigned())
                await RisingEdge(dut.clk)
            else:
                await RisingEdge(dut.uart_tx_valid)

    async def _uart_feeder(self, data):
        dut = self.dut
        for byte in data:
            dut.uart_rx_valid.value = 1
            dut.uart_rx_data.value = byte
            await self._transfer(dut.uart_rx_valid, dut.uart_rx_ready)
        dut.uart_rx_valid.value = 0

    async def run(self, max_cycles, uart_input=b""):
        """Release the core; return ``(exit_code or None on timeout, cycles)``."""
        dut = self.dut
        self.uart.clear()
        monitor = cocotb.start_soon(self._uart_monitor())
        dut.hold.value = 0
        start = get_sim_time("ns")
        feeder = cocotb.start_soon(self._uart_feeder(uart_input)) if uart_input else None
        exit_edge = RisingEdge(dut.exit_valid)
        fired = await First(exit_edge, Timer(max_cycles * PERIOD_NS, unit="ns"))
        cycles = int(get_sim_time("ns") - start) // PERIOD_NS
        code = None
        if fired is exit_edge:
            await ReadOnly()
            code = dut.exit_code.value.to_unsigned()
        await RisingEdge(dut.clk)
        dut.hold.value = 1
        monitor.cancel()
        if feeder is not None:
            feeder.cancel()
        return code, cycles


async def run_program(dut, path, uart_input=b"", expect_uart=None):
    """Load and run one program; assert it exits with 1 within the cycle limit."""
    tb = SocTB(dut)
    await tb.start()
    words = await tb.load(path)
    assert tb.retired_while_held == 0, "the core retired instructions while held"
    limit = _max_cycles()
    code, cycles = await tb.run(limit, uart_input)
    name = pathlib.Path(path).name
    text = bytes(tb.uart).decode(errors="replace")
    dut._log.info("%s: %d words loaded, exit %s after %d cycles, UART %r",
                  name, words, code, cycles, text[-200:])
    assert code is not None, f"{name}: no exit within {limit} cycles (hang); UART: {text!r}"
    assert code == 1, (f"{name}: exit code 0x{code:x} (failure {code >> 1} if odd); "
                       f"UART: {text!r}")
    if expect_uart is not None:
        assert bytes(tb.uart) == expect_uart, f"{name}: UART sent {bytes(tb.uart)!r}"


@cocotb.test()
@cocotb.parametrize(elf=[Param(value=path, name=pathlib.Path(path).stem) for path in _elfs()]
                    or [Param(value="", name="none")])
async def program(dut, elf):
    """A self-checking program (ISA suite) exits with pass."""
    assert elf, "DURE_TB_ELFS lists no program (run through tests/system/test_cocotb_soc.py)"
    await run_program(dut, elf)


@cocotb.test()
async def traps_and_bus_errors(dut):
    """Unmapped and non-executable accesses, ecall, ebreak, illegal instructions all trap."""
    await run_program(dut, _directed("traps.elf"))


@cocotb.test()
async def interrupts(dut):
    """Software, timer and UART-receive interrupts; the handler echoes the received byte."""
    await run_program(dut, _directed("interrupts.elf"), uart_input=b"Z", expect_uart=b"Z")


@cocotb.test()
async def hang_is_reported(dut):
    """The testbench itself: a program that never exits is caught by the cycle limit."""
    tb = SocTB(dut)
    await tb.start()
    await tb.load(_directed("spin.elf"))
    code, cycles = await tb.run(2000)
    assert code is None and cycles == 2000
