"""`dure run`, `dure demo`, `dure bench-cpu` end to end (subprocesses): exit statuses, one-line
errors, UART on stdout, the summary and the tables."""

import subprocess
import sys

import pytest
from dure.sim.report import format_table, parse_bench_lines

UART, EXIT = 0x1000_0000, 0x1000_2000


def dure(*args, **kwargs):
    # generous timeout: if the RTL changed since the session's build, the subprocess rebuilds
    return subprocess.run([sys.executable, "-m", "dure.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=3600, **kwargs)


def program(text, code):
    sends = "".join(f"  li t1, {b}\n  sw t1, 0(s0)\n" for b in text.encode())
    return (f".section .text.start\n.globl _start\n_start:\n  li s0, {UART:#x}\n"
            f"  li s1, {EXIT:#x}\n{sends}  li t1, {code:#x}\n  sw t1, 0(s1)\n1: j 1b\n")


def one_line_error(proc, fragment):
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dure: ") and fragment in lines[0], lines


def test_run_missing_file(tmp_path):
    one_line_error(dure("run", tmp_path / "none.elf"), "no such file")


def test_run_not_an_elf(tmp_path):
    (tmp_path / "x.elf").write_text("not an elf")
    one_line_error(dure("run", tmp_path / "x.elf"), "not an ELF")


def test_run_bad_variant(tmp_path, make_elf):
    (tmp_path / "x.elf").write_bytes(make_elf([(0x8000_0000, bytes(8), 8)], 0x8000_0000))
    one_line_error(dure("run", tmp_path / "x.elf", "--variant", "nope"), "unknown SoC variant")


def test_run_wrong_machine(tmp_path, make_elf):
    (tmp_path / "x.elf").write_bytes(make_elf([(0x8000_0000, bytes(8), 8)], 0x8000_0000,
                                              machine=40))
    one_line_error(dure("run", tmp_path / "x.elf"), "not a RISC-V ELF")


def test_run_unwritable_trace(tmp_path, make_elf):
    (tmp_path / "x.elf").write_bytes(make_elf([(0x8000_0000, bytes(8), 8)], 0x8000_0000))
    proc = dure("run", tmp_path / "x.elf", "--trace", tmp_path / "no" / "t.txt")
    one_line_error(proc, "cannot write the trace file")


@pytest.mark.parametrize("args", [["--max-cycles", "0"], ["--vcd", "a.vcd", "--fst", "b.fst"]])
def test_run_bad_arguments(tmp_path, args):
    assert dure("run", tmp_path / "x.elf", *args).returncode == 2


@pytest.mark.usefixtures("simtop_model")
@pytest.mark.parametrize("code, status, word", [
    (1, 0, "pass"), (5 << 1 | 1, 5, "fail 5"), (1000 << 1 | 1, 125, "fail 1000"),
    (4, 126, "bad exit code 0x00000004"),
])
def test_run_exit_status(assemble, code, status, word):
    proc = dure("run", assemble(program("hi\n", code)))
    assert proc.returncode == status
    assert proc.stdout == "hi\n"
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"dure: {word} | cycles ") and "IPC" in summary


@pytest.mark.usefixtures("simtop_model")
def test_run_timeout_and_trace(assemble, tmp_path):
    elf = assemble("_start: .globl _start\n1: j 1b\n")
    proc = dure("run", elf, "--max-cycles", "500", "--trace", tmp_path / "t.txt")
    assert proc.returncode == 124
    assert "timeout after 500 cycles" in proc.stderr
    assert (tmp_path / "t.txt").read_text().startswith("80000000 6f 0 0 0 0 ")   # j .


@pytest.mark.parametrize("command", ["demo", "bench-cpu"])
def test_missing_firmware(tmp_path, command):
    one_line_error(dure(command, "--firmware-dir", tmp_path), "run `make firmware`")


@pytest.mark.usefixtures("simtop_model")
def test_demo_and_bench_cpu(assemble, tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    assemble(program("Hello\n", 1), "hello").rename(fw / "hello.elf")
    assemble(program("BENCH add cycles=300 instret=200\n", 1), "bench_a").rename(
        fw / "bench_a.elf")
    demo = dure("demo", "--firmware-dir", fw)
    assert demo.returncode == 0, demo.stderr
    assert "Hello\n" in demo.stdout
    rows = {line.split()[0]: line.split() for line in demo.stdout.splitlines() if line}
    assert rows["hello.elf"][1] == "pass" and rows["bench_a.elf"][1] == "pass"
    bench = dure("bench-cpu", "--firmware-dir", fw)
    assert bench.returncode == 0, bench.stderr
    kernel = next(line.split() for line in bench.stdout.splitlines() if " add " in line)
    assert kernel == ["bench_a.elf", "add", "300", "200", "1.500"]
    assert "run/bare" in bench.stdout
    # The bubble table: every retirement but the first closes a gap; the gaps add up to the
    # cycles not spent retiring (the run ends with the exit store, which may not retire).
    head = next(line.split() for line in bench.stdout.splitlines() if "load-use" in line)
    row = next(line for line in bench.stdout.splitlines()
               if line.startswith("bench_a.elf") and "%" in line)
    cells = dict(zip(head, row.replace(" (", "(").split(), strict=True))
    bubbles = sum(int(cells[h].split("(")[0]) for h in head[3:])
    cycles, retired = int(cells["cycles"]), int(cells["retired"])
    assert 0 < cycles - retired - bubbles <= 8, (cycles, retired, bubbles)


def test_parse_bench_lines():
    uart = (b"hello\nBENCH mm cycles=1000 instret=800\nBENCH crc cycles=5 instret=4 cpi=1.250\r\n"
            b"BENCH x\nBENCH y cycles=1 instret=1 junk\n")
    assert parse_bench_lines(uart) == [("mm", 1000, 800), ("crc", 5, 4)]


def test_format_table():
    text = format_table(["name", "n"], [["a", 1], ["bbb", 22]])
    assert text.splitlines() == ["name   n", "----  --", "a      1", "bbb   22"]
