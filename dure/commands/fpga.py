"""``dure fpga``: build, check and program the FPGA boards.

``dure fpga build BOARD`` runs synthesis, place and route and packing with the YoWASP tools,
prints resource use and fmax, and fails when the design does not fit or misses the clock.
``dure fpga elaborate BOARD`` only writes the build files. ``dure fpga prog BOARD`` loads the
last bitstream into the board's SRAM with openFPGALoader. ``dure fpga check`` builds every
board and prints one summary table. ``dure fpga list`` shows the boards.
"""

import sys

from ..errors import UserError

NAME = "fpga"
HELP = "build, check and program the FPGA board targets"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, help_text in (("build", "build the bitstream and report resources and fmax"),
                            ("elaborate", "write the build files only (no tools run)"),
                            ("prog", "program the board's SRAM with the last bitstream")):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("board", help="board name (see `dure fpga list`)")
        if name == "build":
            cmd.add_argument("--no-timing-check", action="store_true",
                             help="do not fail when fmax is below the clock")
        if name == "prog":
            cmd.add_argument("--flash", action="store_true",
                             help="write the configuration flash instead of SRAM")
    check = sub.add_parser("check", help="build every board; one summary table",
                           description="build every board; one summary table")
    check.add_argument("boards", nargs="*", help="boards (default: all)")
    sub.add_parser("list", help="list the boards", description="list the boards")


def _board(name):
    from dure.fpga.boards import board
    try:
        return board(name)
    except ValueError as error:
        raise UserError(str(error)) from None


def _check(names):
    from dure.fpga.boards import BOARDS
    from dure.fpga.build import BuildError, build
    names = names or list(BOARDS)
    rows, status = [], 0
    for name in names:
        _board(name)
        try:
            summary = build(name)
            verdict = "ok"
        except BuildError as error:
            print(f"dure: {error}", file=sys.stderr)
            import json

            from dure.fpga.build import build_dir
            path = build_dir(name) / "summary.json"
            summary = json.loads(path.read_text()) if path.is_file() else {"resources": {}}
            verdict, status = "FAILED", 1
        res = summary.get("resources", {})
        cells = ", ".join(f"{k} {u}/{a}" for k, (u, a) in res.items())
        fmax = ", ".join(f"{v:.1f}" for v in summary.get("fmax_mhz", {}).values()) or "-"
        seconds = summary.get("seconds", {}).get("total", 0)
        rows.append(f"{name:<11} {verdict:<7} clk {summary.get('clk_mhz', 0):g} MHz, fmax "
                    f"{fmax} MHz, {seconds:.0f} s: {cells}")
    print("\n".join(rows))
    return status


def run(args):
    from dure.fpga.boards import BOARDS
    if args.action == "list":
        for board in BOARDS.values():
            config = board.config
            print(f"{board.name:<11} {board.description}; SoC {config.clk_freq / 1e6:g} MHz, "
                  f"RAM {config.ram_size // 1024} KiB")
        return 0
    if args.action == "check":
        return _check(args.boards)
    _board(args.board)
    if args.action == "elaborate":
        from dure.fpga.build import elaborate
        print(elaborate(args.board))
        return 0
    if args.action == "build":
        from dure.fpga.build import build
        build(args.board, check_timing=not args.no_timing_check)
        return 0
    from dure.fpga.program import program
    program(args.board, flash=args.flash)
    return 0
