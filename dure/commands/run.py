"""``dure run``: run any RV32 ELF on the simulated SoC.

UART output streams to stdout while the program runs; a summary goes to stderr at the end.
Exit status: 0 pass, n (clamped to 1..125) for failure n, 124 timeout, 126 malformed exit code,
2 bad input.
"""

import argparse
import pathlib
import sys

from ..config import default_variant, preset
from ..errors import UserError

NAME = "run"
HELP = "run an RV32 ELF on the Verilator model of the SoC"

#: Exit status for a timeout (cycle limit), as GNU timeout(1).
EXIT_TIMEOUT = 124
#: Exit status for an exit code that is neither 1 nor (n << 1) | 1.
EXIT_BAD_EXIT = 126


def _positive(text):
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def add_arguments(parser):
    parser.add_argument("program", type=pathlib.Path, help="RV32 ELF executable")
    parser.add_argument("--max-cycles", type=_positive, default=50_000_000, metavar="N",
                        help="cycle limit; reaching it exits with status 124 (default 50M)")
    waves = parser.add_mutually_exclusive_group()
    waves.add_argument("--vcd", type=pathlib.Path, metavar="F", help="write a VCD waveform")
    waves.add_argument("--fst", type=pathlib.Path, metavar="F", help="write an FST waveform")
    parser.add_argument("--trace", type=pathlib.Path, metavar="F",
                        help="write the retirement trace, one line per instruction")
    parser.add_argument("--uart-input", metavar="F",
                        help="bytes for the UART receiver: a file, or - for live stdin")
    parser.add_argument("--variant", default=default_variant(),
                        help="SoC variant (default: $DURE_VARIANT or sim)")


def exit_status(result):
    """The process exit status for a :class:`RunResult`."""
    if result.status == "pass":
        return 0
    if result.status == "fail":
        return min(max(result.failure, 1), 125)
    if result.status == "timeout":
        return EXIT_TIMEOUT
    return EXIT_BAD_EXIT


def summary(result, wall):
    """The one-line summary printed at the end of a run."""
    status = result.status
    if status == "fail":
        status = f"fail {result.failure}"
    elif status == "bad-exit":
        status = f"bad exit code 0x{result.exit_code:08x}"
    elif status == "timeout":
        status = f"timeout after {result.cycles} cycles"
    return (f"dure: {status} | cycles {result.cycles} | instret {result.instret} | "
            f"IPC {result.ipc:.3f} | wall {wall:.2f} s | "
            f"{result.cycles_per_second / 1e6:.2f} M cycles/s")


def run(args):
    from ..sim.runner import run_elf

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    uart_input = b""
    if args.uart_input not in (None, "-"):
        try:
            uart_input = pathlib.Path(args.uart_input).read_bytes()
        except OSError as error:
            raise UserError(f"{args.uart_input}: cannot read ({error.strerror})") from None
    waves = args.vcd or args.fst
    result = run_elf(args.program, config=config, max_cycles=args.max_cycles, trace=args.trace,
                     waves=waves, wave_format="vcd" if args.vcd else "fst" if args.fst else None,
                     uart_input=uart_input, uart_stdin=args.uart_input == "-", echo=True)
    if result.uart and not result.uart.endswith(b"\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    print(summary(result, result.wall_seconds), file=sys.stderr)
    return exit_status(result)
