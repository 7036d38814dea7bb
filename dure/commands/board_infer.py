"""``dure board infer``: run a model on a board (or a simulated board) through its boot link.

``dure board infer MODEL --input X.npy [--out Y.npy] (--port DEV | --sim [BOARD]) [--board B]
[--check]`` compiles the TFLite / ONNX model for the board's SoC variant (:data:`VARIANTS`:
its memory map, main-memory size and NPU array, or on the iCEBreaker its dot-product unit),
loads the ``npu_model_run`` firmware (``dot_model_run`` on the iCEBreaker), the
memory image (weights, input, command lists) and the layer table through the UART boot loader
(every range CRC-checked), starts the firmware, waits for its exit, reads the image and the
per-layer counters back (:func:`dure.compiler.soc.run_program_soc` with the link as its runner),
and prints the cycles per layer, inferences per second at the board's clock and the link time.
``--check`` compares the output with the model's runtime (LiteRT's reference kernels or
onnxruntime) bit for bit (INT8), and with the NPU command model (on the iCEBreaker, which
has no NPU, the compiler's model of the program: every layer from the program's own buffers).

Exit status: 0 done (and equal with ``--check``), 1 a mismatch, 2 bad input (a model that does
not fit the board's memory among them), 3 the link failed, 124 the run timed out.
"""

import sys
import time

import numpy as np

from ..errors import UserError
from .compile import add_onnx_fused_qdq

__all__ = ["VARIANTS", "add_infer_arguments", "infer", "run_on_board", "BoardTimeout"]

#: The SoC variant a model is compiled for on each board: the board's preset, the one ``make
#: fpga BOARD=...`` builds and ``--sim BOARD`` simulates. The iCEBreaker's has no NPU: its
#: models compile for the core and the INT8 dot-product unit (compiler/dot_target.py, run by
#: the ``dot_model_run`` firmware). ``icebreaker-npu`` (a 2x2 INT8 NPU that does not fit the
#: UP5K) stays a simulation-only variant (``dure infer --variant icebreaker-npu --soc``), no
#: board's.
VARIANTS = {"ulx3s": "ulx3s", "icebreaker": "icebreaker", "icesugar-pro": "icesugar-pro"}

EXIT_MISMATCH = 1
EXIT_LINK = 3
EXIT_TIMEOUT = 124


class BoardTimeout(UserError):
    """The firmware did not report its exit in time."""


def add_infer_arguments(sub):
    help_text = ("compile a model for the board, load it through the boot loader, run it, read "
                 "the output back and check it against the model's runtime")
    cmd = sub.add_parser("infer", help=help_text, description=help_text)
    cmd.add_argument("model", metavar="MODEL", help="a .tflite or .onnx model")
    cmd.add_argument("--input", metavar="X.npy", required=True,
                     help="the model's input, as its runtime takes it (dtype and shape)")
    cmd.add_argument("--out", metavar="Y.npy", help="write the board's output here")
    where = cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial device or pyserial URL (e.g. /dev/ttyUSB0)")
    where.add_argument("--sim", nargs="?", const="", metavar="BOARD",
                       help="use the simulated board (Verilator model of the board's SoC "
                       "behind a pseudo-terminal); BOARD defaults to --board")
    cmd.add_argument("--sim-main", choices=("sdram", "block"), default="sdram",
                     help="main memory of the simulated ULX3S: the SDRAM controller with a "
                     "datasheet model of the chip (default), or the simulation's block model "
                     "of the same latency and bandwidth (faster)")
    cmd.add_argument("--board", choices=sorted(VARIANTS), default="ulx3s",
                     help="which board (default ulx3s): chooses the SoC variant to compile for")
    cmd.add_argument("--precision", choices=("int8", "fp16"),
                     help="int8 for quantized models, fp16 for float models (default: the "
                     "model's)")
    cmd.add_argument("--check", action="store_true",
                     help="compare with the model's runtime and the NPU command model")
    cmd.add_argument("--host-fallback", action="store_true",
                     help="compute core layers without a C kernel on the host between "
                     "firmware runs (else such a model is refused)")
    cmd.add_argument("--baud", type=int, default=None,
                     help="baud rate (default: the board preset's, 115200)")
    cmd.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="seconds to wait for each reply before resending (default 1, --sim 30)")
    add_onnx_fused_qdq(cmd)
    cmd.add_argument("--retries", type=int, default=8, help="resends per command (default 8)")
    cmd.add_argument("--run-timeout", type=float, default=600.0, metavar="S",
                     help="give up waiting for the firmware's exit after S seconds "
                     "(default 600)")
    cmd.add_argument("-v", "--verbose", action="store_true", help="print link progress")


def _config(args):
    """``(board name, SoC variant to compile for, the board's real clock in Hz)``."""
    from ..config import preset
    board = args.sim if args.sim else args.board
    if board not in VARIANTS:
        raise UserError(f"unknown board {board!r}; choose one of: {', '.join(sorted(VARIANTS))}")
    real = preset(VARIANTS[board])
    if args.sim is not None:
        from ..fpga.simboard import sim_config
        return board, sim_config(board=board, main=args.sim_main), real.clk_freq
    return board, real, real.clk_freq


def _compile(args, config, board):
    from ..compiler.errors import UnsupportedModel
    from ..compiler.load import load_model
    from ..compiler.lower import compile_graph

    graph, data = load_model(args.model, onnx_fused_qdq=args.onnx_fused_qdq)
    if len(graph.inputs) != 1:
        raise UserError(f"the model has {len(graph.inputs)} inputs; dure board infer takes one")
    try:
        program = compile_graph(graph, config, args.precision)
    except UnsupportedModel as error:
        raise UserError(f"cannot run the model on the {board} (variant {config.name}): "
                        f"{error}") from None
    return graph, data, program


def _check_board(info, config, board):
    """The board's boot loader must report the memories the program was compiled for."""
    ram, main = config.region("ram"), config.region("main")
    got = (info.ram_base, info.ram_size, info.main_base, info.main_size)
    want = (ram.base, ram.size, main.base, main.size)
    if got != want:
        raise UserError(
            f"the board reports RAM {info.ram_size} B at 0x{info.ram_base:08x} and main memory "
            f"{info.main_size} B at 0x{info.main_base:08x}; the {board} variant "
            f"{config.name!r} has RAM {ram.size} B at 0x{ram.base:08x} and main memory "
            f"{main.size} B at 0x{main.base:08x}: is the board flashed with `make fpga "
            f"BOARD={board}`?")


def run_on_board(program, inputs, link, *, run_timeout=600.0, host_fallback=False):
    """Run a compiled program on the board behind ``link`` (a :class:`~dure.fpga.link.
    BoardLink`): :func:`dure.compiler.soc.run_program_soc` with the link as its runner.
    Returns ``(outputs, SocRun, [JobResult per firmware run])``. Raises
    :class:`~dure.fpga.link.LinkError` when the link fails (a range whose CRC stays wrong, a
    command never answered), :class:`BoardTimeout` when the firmware does not exit within
    ``run_timeout`` seconds, RuntimeError when the firmware reports an error."""
    from ..compiler.soc import run_program_soc

    jobs = []

    def run(elf, config, *, max_cycles=None, data=(), dumps=()):
        result = link.run_job(elf, data=data, dumps=dumps, timeout=run_timeout)
        jobs.append(result)
        if result.status == "timeout":
            raise BoardTimeout(f"the firmware did not exit within {run_timeout:g} s "
                               "(--run-timeout); the board still runs it (reset it)")
        return result

    outputs, soc_run = run_program_soc(program, inputs, host_fallback=host_fallback, runner=run)
    return outputs, soc_run, jobs


def _report(program, run, clk_freq, board, jobs, link, batch):
    from ..compiler.dot_target import DOT_PEAK_MACS_PER_CYCLE
    from ..compiler.report import soc_layer_rows
    from ..sim.report import format_table

    peak = program.config.npu_peak_macs_per_cycle or (
        DOT_PEAK_MACS_PER_CYCLE if program.config.dot_unit else 0)
    print(format_table(*soc_layer_rows(program, run)))
    cycles = run.cycles
    if cycles:
        print(f"{board}: {cycles} cycles, {program.macs} MACs "
              f"({program.macs / cycles:.2f} MACs/cycle, peak {peak}); "
              f"{clk_freq / cycles:.1f} inferences/s at the board's {clk_freq / 1e6:g} MHz"
              + (f" (of the whole batch of {batch}: {batch * clk_freq / cycles:.1f} samples/s)"
                 if batch > 1 else ""))
    loaded = sum(j.bytes_loaded for j in jobs)
    read = sum(j.bytes_read for j in jobs)
    t_load = sum(j.load_seconds for j in jobs)
    t_read = sum(j.read_seconds for j in jobs)
    t_run = sum(j.run_seconds for j in jobs)
    s = link.stats
    print(f"link: loaded {loaded} B in {t_load:.2f} s, read back {read} B in {t_read:.2f} s, "
          f"run {t_run:.2f} s (wall clock); {s.commands} commands, {s.resent} resent, "
          f"{s.naks} NAKs, {s.bad_frames} bad frames received")


def _compare(graph, data, program, x, y, run):
    """``--check``: the model's runtime (bit for bit in INT8) and the NPU command model."""
    from ..compiler.execute import run_program
    from ..compiler.soc import check_intermediates
    from .infer import _bits_equal, _runtime

    ok = True
    model_y = run_program(program, [x])[0][0]
    same = _bits_equal(y, model_y)
    ok &= same
    model = "the NPU command model" if program.config.npu_rows else \
        "the compiler's program model (no NPU)"
    print(f"check: {model}: {'bit-exact' if same else 'DIFFERS'}")
    checked, bad = check_intermediates(program, run.image, [x])
    ok &= not bad
    print(f"check: {len(checked)} intermediate tensors still in memory: "
          f"{'equal the reference' if not bad else f'DIFFER: {bad}'}")
    want = _runtime(graph, data, x)[0]
    where = "LiteRT reference kernels" if graph.source == "tflite" else "onnxruntime"
    if program.precision == "int8":
        same = _bits_equal(y, want)
        ok &= same
        if same:
            detail = ""
        elif y.shape != want.shape:
            detail = f" (shape {tuple(y.shape)}, the runtime's {tuple(want.shape)})"
        else:
            detail = f" ({int(np.sum(y != want))} elements differ)"
        print(f"check: {where}: {'bit-exact' if same else 'DIFFERS'}{detail}")
    else:
        err = np.abs(y.astype(np.float64) - want.astype(np.float64))
        print(f"check: {where} in float32 (reported, FP16 is not bit-exact with it): max abs "
              f"error {float(np.max(err)) if err.size else 0.0:.3g}")
    return ok


def _stop_simulator(sim, board):
    """Stop the simulated board; True (and the simulator's message printed) when it had
    stopped by itself, e.g. on an SDRAM datasheet violation found by the chip model."""
    from ..fpga.simboard import SimulatorError
    try:
        sim.stop()
    except SimulatorError as error:
        print(f"dure: the simulated {board} stopped: {error}", file=sys.stderr)
        return True
    return False


def infer(args):
    from ..fpga.link import BoardLink, LinkError

    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {args.input}: {e}") from None
    board, config, clk_freq = _config(args)
    graph, data, program = _compile(args, config, board)
    log = ((lambda message: print(f"dure board: {message}", file=sys.stderr, flush=True))
           if args.verbose else None)
    sim = None
    if args.sim is not None:
        from ..fpga.simboard import SimBoard
        sim = SimBoard(board=board, log=sys.stderr, main=args.sim_main)
        print(f"starting the simulated {board} (variant {sim.config.name}, main memory "
              f"{sim.config.main_kind}) ...", file=sys.stderr, flush=True)
        sim.start()
        port, timeout = sim.port, args.timeout or 30.0
    else:
        port, timeout = args.port, args.timeout or 1.0
    status = None
    try:
        link = BoardLink.open(port, baud=args.baud or config.uart_baud, timeout=timeout,
                              retries=args.retries, log=log)
        try:
            _check_board(link.ping(), config, board)
            start = time.monotonic()
            outputs, run, jobs = run_on_board(program, [x], link, run_timeout=args.run_timeout,
                                              host_fallback=args.host_fallback)
            seconds = time.monotonic() - start
        except LinkError as error:
            print(f"dure: link failure: {error}", file=sys.stderr)
            status = EXIT_LINK
        except BoardTimeout as error:
            print(f"dure: {error}", file=sys.stderr)
            status = EXIT_TIMEOUT
        except RuntimeError as error:
            raise UserError(str(error)) from None
        finally:
            link.close()
    finally:
        if sim is not None and _stop_simulator(sim, board):
            status = EXIT_LINK
    if status is not None:
        return status
    y = outputs[0]
    _report(program, run, clk_freq, board, jobs, link, x.shape[0] if x.ndim > 1 else 1)
    print(f"output {y.dtype} {tuple(y.shape)}; {seconds:.1f} s on the {board} from the first "
          "load to the last read")
    if args.out:
        np.save(args.out, y)
    if not args.check:
        return 0
    ok = _compare(graph, data, program, x, y, run)
    if not ok:
        print("MISMATCH", file=sys.stderr)
    return 0 if ok else EXIT_MISMATCH
