"""run_elf's data segments (bytes placed in memory before the core starts) and read-back of
memory ranges after the program exits, on the real SimTop."""

import pytest
from dure.sim.runner import check_dumps, run_elf

from dure.config import preset
from dure.errors import UserError

pytestmark = pytest.mark.usefixtures("simtop_model")

EXIT = 0x1000_2000
MAIN = preset("sim").region("main").base
RAM = preset("sim").region("ram").base

# Reads the word at MAIN + 0x100, adds 0x01010101, stores it at MAIN + 0x204, copies the byte at
# MAIN + 0x103 to MAIN + 0x209, stores 0xCAFEF00D at RAM + 0x3000, then exits with pass.
PROGRAM = f"""
.section .text.start
.globl _start
_start:
  li s0, {MAIN:#x}
  lw t0, 0x100(s0)
  li t1, 0x01010101
  add t0, t0, t1
  sw t0, 0x204(s0)
  lbu t2, 0x103(s0)
  sb t2, 0x209(s0)
  li s2, {RAM + 0x3000:#x}
  li t3, 0xcafef00d
  sw t3, 0(s2)
  li s1, {EXIT:#x}
  li t1, 1
  sw t1, 0(s1)
1: j 1b
"""


def test_data_in_and_results_out(assemble):
    elf = assemble(PROGRAM)
    data = [(MAIN + 0x100, bytes([0x10, 0x20, 0x30, 0x40])), (MAIN + 0x1001, b"xyz")]
    dumps = [(MAIN + 0x204, 4), (MAIN + 0x209, 1), (MAIN + 0x1000, 6), (RAM + 0x3000, 4),
             (MAIN + 0x100, 4)]
    result = run_elf(elf, max_cycles=20_000, data=data, dumps=dumps)
    assert result.status == "pass"
    assert result.dumps[(MAIN + 0x204, 4)] == bytes([0x11, 0x21, 0x31, 0x41])
    assert result.dumps[(MAIN + 0x209, 1)] == bytes([0x40])
    assert result.dumps[(MAIN + 0x1000, 6)] == b"\0xyz\0\0"   # unaligned segment, zero around
    assert result.dumps[(RAM + 0x3000, 4)] == (0xCAFEF00D).to_bytes(4, "little")
    assert result.dumps[(MAIN + 0x100, 4)] == bytes([0x10, 0x20, 0x30, 0x40])


def test_large_read_back_is_exact(assemble):
    """A few thousand words through the pipelined read-back (main-memory latency included)."""
    elf = assemble(PROGRAM)
    blob = bytes((i * 37 + (i >> 8)) & 0xFF for i in range(12_000))
    result = run_elf(elf, max_cycles=20_000, data=[(MAIN + 0x4000, blob)],
                     dumps=[(MAIN + 0x4000, len(blob)), (MAIN + 0x4003, 17)])
    assert result.dumps[(MAIN + 0x4000, len(blob))] == blob
    assert result.dumps[(MAIN + 0x4003, 17)] == blob[3:20]


def test_no_dumps_gives_an_empty_dict(assemble):
    result = run_elf(assemble(PROGRAM), max_cycles=20_000)
    assert result.dumps == {}


@pytest.mark.parametrize("data, message", [
    ([(MAIN + preset("sim").main_size - 2, b"abcd")], "outside the memories"),
    ([(0x1000_0000, b"abcd")], "outside the memories"),
    ([(MAIN, b"")], "is empty"),
    ([(MAIN, b"abcd"), (MAIN + 2, b"ef")], "overlaps"),
    ([(RAM, b"abcd")], "overlaps the program"),
    ([(MAIN, 5)], "(address, bytes)"),
])
def test_bad_data_segments(assemble, data, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_elf(assemble(PROGRAM), max_cycles=100, data=data)


@pytest.mark.parametrize("dumps, message", [
    ([(MAIN + preset("sim").main_size - 2, 4)], "outside the memories"),
    ([(0x1100_0000, 4)], "outside the memories"),
    ([(MAIN, 0)], "at least 1 byte"),
    ([("x", 4)], "(address, length)"),
])
def test_bad_read_back_ranges(dumps, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_dumps(dumps, preset("sim"))


def test_read_back_word_ranges():
    assert check_dumps([(MAIN + 3, 2), (MAIN + 4, 4), (MAIN + 1, 8)], preset("sim")) == [
        (MAIN, 2), (MAIN + 4, 1), (MAIN, 3)]
