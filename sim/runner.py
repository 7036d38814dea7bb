"""Run an ELF on the Verilator model of the SoC: the simulator's Python API.

Python only prepares the run (checks the ELF, builds or reuses the model, writes the program
image) and collects the result; the per-cycle loop is the C++ harness (``harness.cpp``).

Example
-------
>>> from dure.sim.runner import run_elf
>>> result = run_elf("build/firmware/hello.elf")          # doctest: +SKIP
>>> result.status, result.cycles, result.uart               # doctest: +SKIP
('pass', 4711, b'Hello from Dure\\n')
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from dure.config import default_variant, preset
from dure.errors import UserError

from .elf import load_elf
from .verilator import build_model

__all__ = ["RunResult", "run_elf", "run_bare", "STATUSES", "check_dumps"]

#: Every value of :attr:`RunResult.status`.
STATUSES = ("pass", "fail", "timeout", "bad-exit")


@dataclass(frozen=True)
class RunResult:
    """Outcome of one simulation.

    Attributes
    ----------
    status : str
        ``pass`` (exit code 1), ``fail`` (exit code ``(n << 1) | 1``), ``timeout`` (cycle limit
        reached without an exit) or ``bad-exit`` (any other exit code).
    failure : int or None
        ``n`` when ``status == "fail"``.
    exit_code : int or None
        Raw value written to the test-exit register; None on timeout.
    cycles : int
        Clock cycles from the release of the core to the exit write (inclusive), or the limit.
    instret : int
        Instructions retired (``rvfi__valid`` with ``trap == 0``) in those cycles. The store
        that writes the exit register ends the run when it reaches the bus, so it is counted
        only if it also retired by then (pipeline dependent).
    uart : bytes
        Everything the firmware sent on the UART.
    sim_seconds : float
        Wall time of the harness's cycle loop (program loading excluded).
    wall_seconds : float
        Wall time of the simulator process (start-up and loading included; model build excluded).
    load_cycles : int
        Cycles spent writing the program through the loader port (not in ``cycles``).
    dumps : dict of {(int, int): bytes}
        Memory read back after the run: ``dumps[(addr, length)]`` holds the ``length`` bytes at
        ``addr`` for every range requested with ``run_elf(..., dumps=...)``.
    stalls : dict
        The bubbles between retirements by cause (``sim/stall_counts.h`` states the rules):
        ``{"retired": n, cause: [events, bubbles], ...}``; empty if the harness gave none.
    """

    status: str
    failure: int | None
    exit_code: int | None
    cycles: int
    instret: int
    uart: bytes
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    load_cycles: int = 0
    dumps: dict = field(default_factory=dict)
    stalls: dict = field(default_factory=dict)

    @property
    def ipc(self):
        """Instructions per cycle (0.0 for an empty run)."""
        return self.instret / self.cycles if self.cycles else 0.0

    @property
    def cpi(self):
        """Cycles per instruction (inf when nothing retired)."""
        return self.cycles / self.instret if self.instret else float("inf")

    @property
    def cycles_per_second(self):
        """Simulation speed of the cycle loop."""
        return self.cycles / self.sim_seconds if self.sim_seconds > 0 else 0.0


def _classify(raw):
    if raw["status"] == "timeout":
        return "timeout", None, None
    code = raw["exit_code"]
    if code == 1:
        return "pass", None, code
    if code & 1:
        return "fail", code >> 1, code
    return "bad-exit", None, code


def _wave_flavour(waves, wave_format):
    if waves is None:
        return "plain"
    fmt = wave_format or ("fst" if str(waves).lower().endswith(".fst") else "vcd")
    if fmt not in ("vcd", "fst"):
        raise ValueError(f"wave_format must be 'vcd' or 'fst', not {fmt!r}")
    return fmt


def _check_cycles(value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"the cycle limit must be a positive integer, not {value!r}")


def check_dumps(dumps, config):
    """Check read-back ranges ``[(addr, length)]``; return them as word ranges for the harness.

    Every range must have a positive length and lie inside one memory region (on-chip RAM,
    main memory or boot ROM: :meth:`SoCConfig.loadable`); otherwise UserError. Returns
    ``[(word-aligned start, words)]`` covering each range."""
    ranges = []
    for item in dumps:
        try:
            addr, length = (int(v) for v in item)
        except (TypeError, ValueError):
            raise UserError(f"a read-back range is (address, length), not {item!r}") from None
        if length < 1:
            raise UserError(f"read-back range at 0x{addr:08x} has length {length}: it must be "
                            "at least 1 byte")
        if addr < 0 or config.loadable(addr, length) is None:
            raise UserError(
                f"read-back range 0x{addr:08x}..0x{addr + length - 1:08x} ({length} bytes) is "
                f"outside the memories of variant {config.name!r}")
        start, end = addr & ~3, (addr + length + 3) & ~3
        ranges.append((start, (end - start) // 4))
    return ranges


def _execute(exe, program, options, *, echo, stdin, dumps=()):
    """Run the harness; return (raw result dict, uart bytes, wall seconds).

    ``dumps`` are word ranges ``(start, words)``; their bytes come back in ``raw["dump"]``."""
    with tempfile.TemporaryDirectory(prefix="dure-run-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "image.bin").write_bytes(program.image())
        command = [str(exe), "--image", str(tmp / "image.bin"),
                   "--result", str(tmp / "result.json"), *options]
        if dumps:
            for start, words in dumps:
                command += ["--dump", f"0x{start:08x}:{words}"]
            command += ["--dump-out", str(tmp / "dump.bin")]
        uart = bytearray()
        start = time.monotonic()
        with open(tmp / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                    stdin=None if stdin else subprocess.DEVNULL)
            try:
                fd = proc.stdout.fileno()
                while chunk := os.read(fd, 65536):
                    uart += chunk
                    if echo:
                        sys.stdout.buffer.write(chunk)
                        sys.stdout.buffer.flush()
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                proc.stdout.close()
        wall = time.monotonic() - start
        if proc.returncode != 0 or not (tmp / "result.json").is_file():
            message = (tmp / "stderr.txt").read_text(errors="replace").strip()
            raise RuntimeError(f"simulator failed (status {proc.returncode}): {message}")
        raw = json.loads((tmp / "result.json").read_text())
        if dumps:
            raw["dump"] = (tmp / "dump.bin").read_bytes()
    return raw, bytes(uart), wall


def run_elf(elf_path, config=None, max_cycles=50_000_000, trace=None, waves=None,
            uart_input=b"", *, wave_format=None, uart_stdin=False, echo=False, top=None,
            data=(), dumps=()):
    """Run the ELF at ``elf_path`` on the simulated SoC until it exits or ``max_cycles`` pass.

    Parameters
    ----------
    elf_path : path
        RV32 ELF executable (checked by :func:`dure.sim.elf.load_elf`).
    config : SoCConfig, optional
        Variant to simulate; default :func:`~dure.config.default_variant`.
    max_cycles : int
        Cycle limit after the core starts; reaching it gives status ``timeout``.
    trace : path, optional
        Write the retirement trace here (one line per ``rvfi__valid``, format in contracts).
    waves : path, optional
        Write a waveform here: FST if the name ends in ``.fst`` (or ``wave_format="fst"``),
        else VCD. Uses a separately cached model with tracing compiled in.
    uart_input : bytes
        Bytes offered to the UART receiver from the first cycle on.
    uart_stdin : bool
        Feed the UART receiver from this process's stdin instead (live, for ``dure run``).
    echo : bool
        Copy UART output to ``sys.stdout`` as it arrives.
    top : callable, optional
        Stand-in for ``SimTop`` (tests only).
    data : sequence of (int, bytes)
        Extra data segments: bytes written to memory before the core starts, like the ELF's
        segments (each inside one loadable region, none overlapping another or the ELF's).
    dumps : sequence of (int, int)
        Ranges ``(address, length)`` to read back after the run ends (exit or timeout), with
        the core held; their bytes are in ``RunResult.dumps[(address, length)]``. Each must lie
        inside one memory region (on-chip RAM, main memory, boot ROM).

    Raises
    ------
    UserError
        Bad ELF, bad cycle limit, unwritable output files, a data segment or read-back range
        outside memory, overlapping data segments.
    RuntimeError
        The model could not be built or the harness failed.
    """
    config = config or preset(default_variant())
    _check_cycles(max_cycles)
    flavour = _wave_flavour(waves, wave_format)
    program = load_elf(elf_path, config)
    if data:
        program = program.with_data(data, config)
    dump_list = [(int(a), int(n)) for a, n in dumps]
    word_ranges = check_dumps(dump_list, config)
    options = ["--max-cycles", str(max_cycles)]
    for label, path in (("trace", trace), ("waveform", waves)):
        if path is not None:
            try:
                open(path, "wb").close()
            except OSError as error:
                raise UserError(f"cannot write the {label} file {path}: {error.strerror}") from None
    if trace is not None:
        options += ["--trace", str(trace)]
    if waves is not None:
        options += ["--waves", str(waves)]
    exe = build_model(config, flavour=flavour, top=top)
    with tempfile.TemporaryDirectory(prefix="dure-uart-") as tmp:
        if uart_stdin:
            options += ["--uart-in", "-"]
        elif uart_input:
            (pathlib.Path(tmp) / "uart.bin").write_bytes(bytes(uart_input))
            options += ["--uart-in", str(pathlib.Path(tmp) / "uart.bin")]
        raw, uart, wall = _execute(exe, program, options, echo=echo, stdin=uart_stdin,
                                   dumps=word_ranges)
    status, failure, exit_code = _classify(raw)
    read = {}
    offset = 0
    for (addr, length), (start, words) in zip(dump_list, word_ranges, strict=True):
        chunk = raw["dump"][offset:offset + 4 * words]
        read[(addr, length)] = chunk[addr - start:addr - start + length]
        offset += 4 * words
    return RunResult(status=status, failure=failure, exit_code=exit_code, cycles=raw["cycles"],
                     instret=raw["instret"], uart=uart, sim_seconds=raw["seconds"],
                     wall_seconds=wall, load_cycles=raw["load_cycles"], dumps=read,
                     stalls=raw.get("stalls", {}))


def run_bare(elf_path, cycles, config=None, *, top=None):
    """Load the ELF, then let the bare model run ``cycles`` clock cycles observing nothing.

    The reference for simulator speed: same model, same loading, a loop that only toggles the
    clock. Returns the seconds the cycle loop took. Raises RuntimeError if the harness does not
    report a bare run of exactly ``cycles`` cycles.
    """
    config = config or preset(default_variant())
    _check_cycles(cycles)
    program = load_elf(elf_path, config)
    exe = build_model(config, top=top)
    raw, _, _ = _execute(exe, program, ["--bare", str(cycles)], echo=False, stdin=False)
    if raw["status"] != "bare" or raw["cycles"] != cycles:
        raise RuntimeError(f"the harness reported {raw['status']!r} after {raw['cycles']} "
                           f"cycles, not a bare run of {cycles} cycles")
    return raw["seconds"]
