"""``dure demo``: run hello and every CPU benchmark on the simulated SoC and print a table."""

import pathlib
import sys

from ..config import default_variant, preset
from ..errors import UserError

NAME = "demo"
HELP = "run hello.elf and every bench_*.elf from build/firmware on the simulated SoC"


def add_arguments(parser):
    parser.add_argument("--firmware-dir", type=pathlib.Path, metavar="DIR",
                        help="folder with the built programs (default: build/firmware)")
    parser.add_argument("--max-cycles", type=int, default=50_000_000, metavar="N",
                        help="cycle limit per program (default 50M)")
    parser.add_argument("--variant", default=default_variant(),
                        help="SoC variant (default: $DURE_VARIANT or sim)")


def run(args):
    from ..sim.report import find_programs, firmware_dir, format_table
    from ..sim.runner import run_elf

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    programs = find_programs(firmware_dir(args.firmware_dir), ["hello.elf", "bench_*.elf"])
    rows, ok = [], True
    for path in programs:
        echo = path.name == "hello.elf"
        if echo:
            print(f"--- {path.name} (UART) ---", flush=True)
        else:
            print(f"running {path.name} ...", file=sys.stderr, flush=True)
        result = run_elf(path, config=config, max_cycles=args.max_cycles, echo=echo)
        if echo:
            if result.uart and not result.uart.endswith(b"\n"):
                print()
            print("---", flush=True)
        status = result.status if result.status != "fail" else f"fail {result.failure}"
        ok &= result.status == "pass"
        rows.append([path.name, status, result.cycles, result.instret,
                     f"{result.cpi:.3f}" if result.instret else "-", f"{result.ipc:.3f}",
                     f"{result.cycles_per_second / 1e6:.2f}"])
    print()
    print(format_table(["program", "status", "cycles", "instret", "CPI", "IPC", "Mcycles/s"],
                       rows))
    return 0 if ok else 1
