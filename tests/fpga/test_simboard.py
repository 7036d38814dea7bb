"""The host link tool end to end against the simulated board (Verilator model of the SoC with
the boot loader in its ROM and the exit mailbox), through a pseudo-terminal: the real protocol,
with and without injected faults. Needs build/firmware/hello.elf (make test builds firmware)."""

import pathlib
import struct

import pytest
from dure.fpga.link import BoardLink, LinkError
from dure.fpga.protocol import Type, crc32, encode
from dure.fpga.simboard import Faults, SimBoard

from dure.cli import main

REPO = pathlib.Path(__file__).resolve().parents[2]
HELLO = REPO / "build" / "firmware" / "hello.elf"
EXPECTED = b"Hello from Dure"

pytestmark = pytest.mark.skipif(not HELLO.is_file(), reason="run `make firmware` first")


@pytest.fixture(scope="module")
def sim_board():
    with SimBoard() as board:
        yield board


@pytest.fixture
def link(sim_board):
    sim_board.faults = None
    link = BoardLink.open(sim_board.port, timeout=10.0)   # generous: CI machines are busy
    yield link
    link.close()


def test_load_run_twice(link):
    for _ in range(2):                 # the second run starts from the boot loader re-entered
        result = link.run_elf(HELLO, timeout=120)
        assert result.status == "pass" and result.go_confirmed
        assert result.output.startswith(EXPECTED)
    assert link.stats.resent == 0


def test_data_blob_and_read_back(link):
    blob = bytes((i * 7 + 3) & 0xFF for i in range(1500))      # e.g. a 30 x 50 int8 matrix
    link.load(0x4000_0100, blob, what="matrix")
    assert link.read(0x4000_0100, len(blob)) == blob
    assert link.crc(0x4000_0100, len(blob)) == crc32(blob)


def test_refused_commands_are_errors_not_retries(link):
    info = link.ping()
    with pytest.raises(LinkError, match="outside loadable memory"):
        link.load(info.reserved_base, b"1234")                   # host-side check
    with pytest.raises(LinkError, match="refused WRITE .*BAD_ADDRESS"):
        link.write(info.reserved_base, b"1234")                  # the boot loader's own check
    with pytest.raises(LinkError, match="refused GO: BAD_ADDRESS"):
        link.command(Type.GO, struct.pack("<I", 0x1000_0000), what="GO")
    assert link.stats.resent == 0


def test_faults_are_recovered(sim_board, link):
    # Drops, bit flips and inserted bytes in both directions while loading; the start
    # command and the exit report travel on a clean line (see fpga/protocol.py on GO).
    sim_board.faults = Faults(drop=0.003, flip=0.003, insert=0.002, h2d_bytes=3500,
                              d2h_bytes=150, seed=5)
    link.timeout = 5.0                           # a lost frame costs one timeout
    result = link.run_elf(HELLO, timeout=120)
    assert result.status == "pass"
    assert result.output.startswith(EXPECTED)
    injected = sim_board.faults.injected
    assert sum(injected.values()) >= 5
    assert link.stats.resent >= 1                # the faults did hit frames
    assert link.stats.resent >= link.stats.naks


# Under `make fuzz` only: in fresh-clone runs of the whole suite the byte-count fault window
# lands on a command frame instead of the final EXIT acknowledgement (the faulted run sees a NAK
# and a resend, so the two runs' traffic differs); the assertion below reports that. Known issue:
# the window should be placed by frame, not by byte count.
@pytest.mark.slow
def test_lost_exit_acknowledgement_is_repeated(sim_board, link):
    # The host's acknowledgement of EXIT (the last frame it sends) is dropped: the boot loader
    # must send EXIT again, and the host sees the repeat.
    # A clean run gives the byte count of one run; it is only usable if nothing was resent
    # (a resend on a busy machine changes the count and would move the fault window).
    for _ in range(3):
        sent, resent = link.stats.bytes_sent, link.stats.resent
        link.run_elf(HELLO, timeout=120)
        per_run = link.stats.bytes_sent - sent
        if link.stats.resent == resent:
            break
    else:
        pytest.fail("three clean runs all needed resends: the machine is too busy to measure")
    ack = len(encode(Type.ACK, 0))
    sim_board.faults = None        # the window counts from the next fresh Faults object
    sent = link.stats.bytes_sent
    sim_board.faults = Faults(drop=1.0, h2d_from=per_run - ack, h2d_bytes=ack, d2h_bytes=0)
    result = link.run_elf(HELLO, timeout=120)
    assert result.status == "pass"
    assert sim_board.faults.injected["drop"] == ack
    # the dropped bytes were the run's last frame (the EXIT acknowledgement) only if this run
    # sent exactly as many bytes as the clean one
    assert link.stats.bytes_sent - sent == per_run, "a resend moved the fault window"
    code, output = link.wait_exit(timeout=120)          # the repeated report
    assert code == 1 and output == b""


def test_cli_load_and_read_back(sim_board, tmp_path, capfdbinary):
    sim_board.faults = None
    blob = tmp_path / "matrix.bin"
    blob.write_bytes(bytes(range(200)))
    out = tmp_path / "readback.bin"
    status = main(["board", "load", str(HELLO), "--port", sim_board.port, "--timeout", "10",
                   "--data", f"0x40000000:{blob}", "--read", f"0x40000000:200:{out}"])
    captured = capfdbinary.readouterr()
    assert status == 0, captured.err.decode()
    assert captured.out.startswith(EXPECTED)
    assert b"pass (exit code 1)" in captured.err
    assert out.read_bytes() == bytes(range(200))


@pytest.mark.slow      # a second link model (~3 min to build): make fuzz
def test_boot_loader_on_the_tiny_core():
    # The iCEBreaker's multi-cycle core runs the same boot loader and program: load, run, exit
    # code back to the host, memory read back (one model build, one short run).
    with SimBoard(core="tiny") as board:
        link = BoardLink.open(board.port, timeout=20.0)
        try:
            result = link.run_elf(HELLO, timeout=300)
            assert result.status == "pass" and result.go_confirmed
            assert result.output.startswith(EXPECTED)
            blob = bytes(range(256)) * 3
            link.load(0x4000_0100, blob, what="matrix")
            assert link.read(0x4000_0100, len(blob)) == blob
        finally:
            link.close()
