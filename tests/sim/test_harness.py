"""The C++ harness against the toy stand-in top (dure.sim.verif.toy_top): loading through a port
that is ready every other cycle, UART both ways, retirement counting, exit classification, cycle
limit, trace format and the bare loop."""

import struct

import pytest
from dure.sim.runner import run_bare, run_elf

from dure.errors import UserError

RAM = 0x8000_0000


def tx(text):
    return [0x0100_0000 | b for b in text.encode()]


EXIT_PASS = [0x0200_0001]
ECHO, TRAP, SPIN, NOP = 0x0300_0000, 0x0400_0000, 0x0500_0000, 0x0000_0000


@pytest.fixture
def toy_program(tmp_path, make_elf):
    def write(words, name="toy"):
        path = tmp_path / f"{name}.elf"
        blob = struct.pack(f"<{len(words)}I", *words)
        path.write_bytes(make_elf([(RAM, blob, len(blob) + 256)], RAM))
        return path
    return write


def test_pass_with_uart(toy_top, toy_program):
    result = run_elf(toy_program(tx("hello\n") + EXIT_PASS), top=toy_top)
    assert (result.status, result.failure, result.exit_code) == ("pass", None, 1)
    assert result.uart == b"hello\n"
    assert result.cycles == 7                         # six bytes and the exit write
    assert result.instret == 7
    assert result.load_cycles == 2 * (7 + 64)         # words incl. zero fill, port ready 1/2


def test_fail_number(toy_top, toy_program):
    result = run_elf(toy_program([NOP, (0x0200_0000 | (42 << 1) | 1)]), top=toy_top)
    assert (result.status, result.failure, result.exit_code) == ("fail", 42, 85)


@pytest.mark.parametrize("code", [0, 2, 0x100])
def test_bad_exit(toy_top, toy_program, code):
    result = run_elf(toy_program([0x0200_0000 | code]), top=toy_top)
    assert (result.status, result.failure, result.exit_code) == ("bad-exit", None, code)


def test_timeout(toy_top, toy_program):
    result = run_elf(toy_program(tx("x") + [SPIN]), top=toy_top, max_cycles=5000)
    assert (result.status, result.exit_code, result.cycles) == ("timeout", None, 5000)
    assert result.uart == b"x"
    assert result.instret == 1


def test_trap_not_counted_and_trace(toy_top, toy_program, tmp_path):
    trace = tmp_path / "trace.txt"
    result = run_elf(toy_program([NOP | 7, TRAP, NOP] + EXIT_PASS), top=toy_top, trace=trace)
    assert result.status == "pass" and result.instret == 3
    lines = [line.split() for line in trace.read_text().splitlines()]
    assert len(lines) == 4
    # pc insn trap intr rd_addr rd_wdata mem_addr mem_rmask mem_wmask mem_wdata mem_rdata pc_wdata
    assert lines[0] == ["80000000", "7", "0", "0", "7", "0", "12345678", "0", "0", "0", "0",
                        "80000004"]
    assert lines[1][:3] == ["80000004", "4000000", "1"]
    assert all(len(fields) == 12 for fields in lines)


def test_uart_input(toy_top, toy_program):
    result = run_elf(toy_program([ECHO, ECHO, ECHO] + EXIT_PASS), top=toy_top,
                     uart_input=b"abc")
    assert result.status == "pass" and result.uart == b"abc"


def test_uart_input_runs_out(toy_top, toy_program):
    result = run_elf(toy_program([ECHO, ECHO] + EXIT_PASS), top=toy_top, uart_input=b"a",
                     max_cycles=1000)
    assert result.status == "timeout" and result.uart == b"a"


def test_vcd(toy_top, toy_program, tmp_path):
    waves = tmp_path / "toy.vcd"
    result = run_elf(toy_program(tx("v") + EXIT_PASS), top=toy_top, waves=waves)
    assert result.status == "pass"
    text = waves.read_text()
    assert "$var" in text and "uart_tx_valid" in text and "#" in text


def test_fst(toy_top, toy_program, tmp_path):
    waves = tmp_path / "toy.fst"
    result = run_elf(toy_program(tx("f") + EXIT_PASS), top=toy_top, waves=waves)
    assert result.status == "pass"
    assert waves.stat().st_size > 100
    assert waves.read_bytes()[0] == 0          # FST header block


def test_bare(toy_top, toy_program):
    """The bare loop runs exactly the cycles asked for (run_bare checks the harness's report
    of status and cycles) and times them; no bound on the time, which depends on the load."""
    seconds = run_bare(toy_program([SPIN]), 100_000, top=toy_top)
    assert isinstance(seconds, float) and seconds >= 0


@pytest.mark.parametrize("cycles", [0, -1, 1.5, True])
def test_bare_refuses_bad_cycle_count(toy_top, toy_program, cycles):
    with pytest.raises(UserError, match="cycle limit must be a positive integer"):
        run_bare(toy_program([SPIN]), cycles, top=toy_top)
