"""run_elf on the real SimTop (core + SoC) with tiny assembly programs: pass, fail n, bad exit,
timeout, UART output and input, the retirement trace."""

import pytest
from dure.sim.runner import run_elf

pytestmark = pytest.mark.usefixtures("simtop_model")

UART, EXIT = 0x1000_0000, 0x1000_2000

PRELUDE = f"""
.section .text.start
.globl _start
_start:
  li s0, {UART:#x}
  li s1, {EXIT:#x}
"""


def putc(ch):
    return f"  li t1, {ord(ch)}\n  sw t1, 0(s0)\n"


def exit_with(code):
    return f"  li t1, {code:#x}\n  sw t1, 0(s1)\n1: j 1b\n"


def test_pass_with_uart(assemble):
    elf = assemble(PRELUDE + putc("O") + putc("K") + putc("\n") + exit_with(1))
    result = run_elf(elf, max_cycles=20_000)
    assert (result.status, result.failure, result.exit_code) == ("pass", None, 1)
    assert result.uart == b"OK\n"
    # 2 x lui, 3 x (addi + sw), addi: 9 instructions before the exit store, which may still
    # be in the pipeline when its bus write ends the run
    assert result.instret in (9, 10)
    assert result.cycles >= result.instret


@pytest.mark.parametrize("n", [5, 300])
def test_fail(assemble, n):
    result = run_elf(assemble(PRELUDE + exit_with(n << 1 | 1)), max_cycles=20_000)
    assert (result.status, result.failure, result.exit_code) == ("fail", n, n << 1 | 1)


def test_bad_exit(assemble):
    result = run_elf(assemble(PRELUDE + exit_with(0x10)), max_cycles=20_000)
    assert (result.status, result.exit_code) == ("bad-exit", 0x10)


def test_timeout(assemble):
    result = run_elf(assemble(PRELUDE + putc("z") + "1: j 1b\n"), max_cycles=3000)
    assert (result.status, result.cycles, result.exit_code) == ("timeout", 3000, None)
    assert result.uart == b"z"
    assert result.instret > 100                 # the loop keeps retiring jumps


def test_uart_input_echo(assemble):
    body = """
  li s2, 3
2:
  lw t1, 0(s0)
  bltz t1, 2b          # bit 31: RX FIFO empty
  sw t1, 0(s0)
  addi s2, s2, -1
  bnez s2, 2b
"""
    result = run_elf(assemble(PRELUDE + body + exit_with(1)), max_cycles=50_000,
                     uart_input=b"xyz")
    assert result.status == "pass" and result.uart == b"xyz"


def test_trace(assemble, tmp_path):
    body = """
  addi a0, zero, 0x123
  la a1, scratch
  sw a0, 4(a1)
  lw a2, 4(a1)
"""
    tail = exit_with(1) + ".data\n.balign 4\nscratch: .word 0, 0\n"
    trace = tmp_path / "trace.txt"
    result = run_elf(assemble(PRELUDE + body + tail), max_cycles=20_000, trace=trace)
    assert result.status == "pass"
    lines = [line.split() for line in trace.read_text().splitlines()]
    assert all(len(f) == 12 for f in lines)
    assert sum(f[2] == "0" for f in lines) == result.instret
    pcs = [int(f[0], 16) for f in lines]
    assert pcs[0] == 0x8000_0000
    # pc insn trap intr rd_addr rd_wdata mem_addr mem_rmask mem_wmask mem_wdata mem_rdata pc_wdata
    addi = next(f for f in lines if f[1] == "12300513")        # addi a0, zero, 0x123
    assert addi[2:6] == ["0", "0", "a", "123"]
    store = next(f for f in lines if f[8] != "0")
    load = next(f for f in lines if f[7] != "0")
    assert store[8] == "f" and store[9] == "123"
    assert load[4] == "c" and load[5] == "123" and load[10] == "123"
    assert int(load[6], 16) == int(store[6], 16)
    for a, b in zip(lines, lines[1:], strict=False):
        assert int(a[11], 16) == int(b[0], 16)              # pc_wdata is the next pc
