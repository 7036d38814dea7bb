"""Every firmware program on the simulated SoC (Verilator model of SimTop with the real core):
hello, the runtime check, the whole ISA suite and the CPU benchmarks must exit with pass.

The Verilator model is built once per RTL hash and cached under build/sim/ by the simulator
(:func:`dure.sim.runner.run_elf`); the firmware is built incrementally by the session fixture.
"""

import re

import pytest
from dure.sim.verif.firmware_build import program_names

PROGRAMS = program_names()
MAX_CYCLES = 20_000_000
BENCH_LINE = re.compile(r"^BENCH (\w+) cycles=(\d+) instret=(\d+) cpi=(\d+)\.(\d{3})$", re.M)


def test_program_list_is_not_empty():
    assert "hello" in PROGRAMS
    assert len([n for n in PROGRAMS if n.startswith("isa_")]) >= 8
    assert len([n for n in PROGRAMS if n.startswith("bench_")]) >= 4


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_passes_on_the_soc(firmware_build, name):
    from dure.sim.runner import run_elf

    result = run_elf(firmware_build / f"{name}.elf", max_cycles=MAX_CYCLES)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{name}: {result.status} failure={result.failure} exit={result.exit_code} "
        f"after {result.cycles} cycles\n{uart}")
    assert result.instret > 0
    if name == "hello":
        assert uart.startswith("Hello from Dure")
    if name.startswith("bench_"):
        lines = BENCH_LINE.findall(uart)
        assert len(lines) == 1, uart
        _, cycles, instret, whole, frac = lines[0]
        cycles, instret = int(cycles), int(instret)
        # the kernel is part of the whole run, and the printed CPI matches the counts
        assert 0 < instret <= result.instret and 0 < cycles <= result.cycles
        assert int(whole) * 1000 + int(frac) == cycles * 1000 // instret
