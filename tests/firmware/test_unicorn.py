"""Firmware that takes no traps runs on Unicorn, independently of the RTL: hello, the printf
self-check (also compared with Python's formatting), the benchmarks and the non-trapping ISA
programs (whose expected values Unicorn cross-checks)."""

import pytest
from dure.sim.verif.firmware_build import program_names
from dure.sim.verif.unicorn_run import run_unicorn
from elftools.elf.elffile import ELFFile

# Programs that need traps, interrupts, the timer or CSR behaviour Unicorn does not model.
NEEDS_SOC = {"isa_trap", "isa_irq", "isa_csr", "isa_c_trap",
             "isa_priv", "isa_pmp", "user_npu"}   # U-mode, PMP, triggers: not in Unicorn
ON_UNICORN = [n for n in program_names() if n not in NEEDS_SOC]


def test_there_is_something_to_run():
    assert "hello" in ON_UNICORN and "isa_alu" in ON_UNICORN
    assert [n for n in ON_UNICORN if n.startswith("bench_")]


@pytest.mark.parametrize("name", ON_UNICORN)
def test_runs_on_unicorn(firmware_build, name):
    result = run_unicorn(firmware_build / f"{name}.elf", max_insns=20_000_000)
    assert result.status == "pass", (result, result.uart.decode("latin-1"))
    if name.startswith("bench_"):
        line = [t for t in result.uart.decode().splitlines() if t.startswith("BENCH ")]
        assert len(line) == 1 and " cycles=" in line[0] and " instret=" in line[0]


def test_printf_matches_python(firmware_build):
    result = run_unicorn(firmware_build / "rt_printf.elf")
    assert result.status == "pass"
    lines = [t[:-1] for t in result.uart.decode().splitlines() if t.endswith("|")]
    # The same cases as apps/rt_printf.c, formatted by Python's C-style % operator.
    cases = [
        ("%d", 0), ("%d", -1), ("%d", 2147483647), ("%d", -2147483648), ("%u", 0xFFFFFFFF),
        ("%x", 0xDEADBEEF), ("%X", 0xDEADBEEF), ("%08x", 42), ("%8d", 42), ("%-8d|", 42),
        ("%08d", -42), ("%8d", -42), ("%c", "x"), ("%4s", "ab"), ("%-4s|", "ab"),
        ("%d%%", 100), ("%s", "(null)"), ("%d", 2**64 - 1), ("%d", -(2**63)),
        ("%x", 0x123456789ABCDEF0), ("0x%x", 0x80000000), ("%*d", (4, 7)),
        ("a=%d b=%x c=%s", (1, 255, "str")), ("%3d", 12345),
    ]
    expected = [fmt % args for fmt, args in cases]
    assert lines == expected


def test_a_failing_check_reports_its_number(firmware_build, tmp_path):
    # Patch one instruction of isa_alu in a copy of the ELF: the run must fail with exactly
    # that case number, so passes are not vacuous.
    elf = firmware_build / "isa_alu.elf"
    data = bytearray(elf.read_bytes())
    with open(elf, "rb") as f:
        offset = ELFFile(f).get_section_by_name(".text")["sh_offset"]
    # first instruction "lui a4, 0x12345" (case 1000's operation) becomes "lui a4, 0x12346"
    want = (0x12345 << 12 | 14 << 7 | 0x37).to_bytes(4, "little")
    where = data.index(want, offset)
    data[where:where + 4] = (0x12346 << 12 | 14 << 7 | 0x37).to_bytes(4, "little")
    bad = tmp_path / "isa_alu_bad.elf"
    bad.write_bytes(bytes(data))
    result = run_unicorn(bad)
    assert (result.status, result.failure) == ("fail", 1000), result
