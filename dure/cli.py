"""The ``dure`` command line: one subcommand per module in :mod:`dure.commands`."""

import argparse
import importlib
import sys

from .errors import UserError

__all__ = ["main", "COMMANDS"]

#: Modules under ``dure.commands`` that provide subcommands, in help order.
COMMANDS = [
    "gen_header",
    "memory_map",
    "run",
    "demo",
    "bench_cpu",
    "bench_fpga_block",
    "fpga",
    "board",
    "bench_npu",
    "gemm",
    "generate",
    "decode",
    "decode_train",
    "infer",
    "compile",
    "bench",
    "bench_models",
    "sweep",
]


def _parser():
    parser = argparse.ArgumentParser(
        prog="dure", description="Dure: an open RISC-V SoC with an INT8/FP16 NPU.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"dure.commands.{name}")
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    """Entry point of the ``dure`` console script; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        return args._run(args)
    except UserError as error:
        print(f"dure: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dure: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
