"""``dure board``: talk to the UART boot loader on a board (or on the simulated board).

``dure board load PROGRAM.elf --port /dev/ttyUSB0`` loads the ELF's segments and any
``--data ADDR:FILE`` blobs, checks every range with a CRC, starts the program, streams its UART
output to stdout and exits with the program's result: 0 pass, n (clamped to 1..125) for failure
n, 124 when ``--run-timeout`` passes, 126 for a malformed exit code, 3 when the link fails, 2 for
bad input. ``--read ADDR:LEN:FILE`` saves memory after the program exits. ``--sim`` runs the same
protocol against the Verilator model of a board (no hardware needed).
``dure board ping --port P`` checks the link and prints what the boot loader reports.
``dure board infer MODEL --input X.npy --port P`` (or ``--sim BOARD``) runs a model on the board
(:mod:`.board_infer`).
"""

import pathlib
import sys

from ..errors import UserError

NAME = "board"
HELP = "load and run programs on a board through its UART boot loader"

EXIT_LINK = 3
EXIT_TIMEOUT = 124
EXIT_BAD_EXIT = 126


def _int(text):
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise UserError(f"not a number: {text!r}") from None


def _data_arg(text):
    addr, sep, path = text.partition(":")
    if not sep or not path:
        raise UserError(f"--data needs ADDR:FILE, not {text!r}")
    try:
        return _int(addr), pathlib.Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"--data {text}: cannot read {path} ({error.strerror})") from None


def _read_arg(text):
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[2]:
        raise UserError(f"--read needs ADDR:LEN:FILE, not {text!r}")
    return _int(parts[0]), _int(parts[1]), pathlib.Path(parts[2])


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, help_text in (("load", "load an ELF, run it, print its output, exit with its "
                                     "result"),
                            ("ping", "check the link and show the boot loader's information")):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == "load":
            cmd.add_argument("program", type=pathlib.Path, help="RV32 ELF executable")
            cmd.add_argument("--data", action="append", default=[], metavar="ADDR:FILE",
                             help="also load FILE's bytes at ADDR (repeatable)")
            cmd.add_argument("--read", action="append", default=[], metavar="ADDR:LEN:FILE",
                             help="after the exit, save LEN bytes at ADDR to FILE (repeatable)")
            cmd.add_argument("--run-timeout", type=float, default=None, metavar="S",
                             help="give up waiting for the exit after S seconds")
        where = cmd.add_mutually_exclusive_group(required=True)
        where.add_argument("--port", help="serial device or pyserial URL (e.g. /dev/ttyUSB0)")
        where.add_argument("--sim", action="store_true",
                           help="use the simulated board (Verilator) instead of a real one")
        cmd.add_argument("--baud", type=int, default=None,
                         help="baud rate (default: the board preset's, 115200)")
        cmd.add_argument("--timeout", type=float, default=None, metavar="S",
                         help="seconds to wait for each reply before resending (default 1, "
                              "--sim 5)")
        cmd.add_argument("--retries", type=int, default=8, help="resends per command (default 8)")
        cmd.add_argument("-v", "--verbose", action="store_true", help="print progress")
    from .board_infer import add_infer_arguments
    add_infer_arguments(sub)


def _log(args):
    if args.verbose:
        return lambda message: print(f"dure board: {message}", file=sys.stderr, flush=True)
    return None


def _session(args, action):
    from dure.fpga.link import BoardLink, LinkError
    log = _log(args)
    board = None
    if args.sim:
        from dure.fpga.simboard import SimBoard
        board = SimBoard(log=sys.stderr)
        board.start()
        port, timeout = board.port, args.timeout or 5.0
    else:
        port, timeout = args.port, args.timeout or 1.0
    try:
        link = BoardLink.open(port, baud=args.baud or 115200, timeout=timeout,
                              retries=args.retries, log=log)
        try:
            return action(link)
        except LinkError as error:
            print(f"dure: {error}", file=sys.stderr)
            return EXIT_LINK
        finally:
            link.close()
    finally:
        if board is not None:
            board.stop()


def _ping(link):
    info = link.ping()
    print(f"boot loader protocol {info.version}, clock {info.clk_freq / 1e6:g} MHz")
    print(f"RAM  0x{info.ram_base:08x} {info.ram_size // 1024} KiB "
          f"(loadable up to 0x{info.reserved_base:08x})")
    print(f"main 0x{info.main_base:08x} {info.main_size // 1024} KiB")
    return 0


def _load(args):
    data = [_data_arg(text) for text in args.data]
    reads = [_read_arg(text) for text in args.read]

    def action(link):
        def out(chunk):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

        result = link.run_elf(args.program, data=data, timeout=args.run_timeout,
                              on_output=out)
        if not result.go_confirmed:
            print("dure: warning: the start acknowledgement was lost; the output may begin "
                  "with its remains", file=sys.stderr)
        for addr, length, path in reads:
            path.write_bytes(link.read(addr, length))
        stats = link.stats
        print(f"dure: {result.status} (exit code {result.exit_code}), {result.seconds:.2f} s; "
              f"{stats.commands} commands, {stats.resent} resent", file=sys.stderr)
        if result.status == "pass":
            return 0
        if result.status == "fail":
            return min(max(result.exit_code >> 1, 1), 125)
        return EXIT_TIMEOUT if result.status == "timeout" else EXIT_BAD_EXIT

    return action


def run(args):
    if args.action == "infer":
        from .board_infer import infer
        return infer(args)
    if args.action == "ping":
        return _session(args, _ping)
    return _session(args, _load(args))
