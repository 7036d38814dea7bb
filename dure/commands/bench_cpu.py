"""``dure bench-cpu``: CPI of every CPU benchmark, and simulator speed against bare Verilator.

For each ``bench_*.elf`` the firmware prints ``BENCH name cycles=N instret=M`` per kernel (its
own counters); the harness gives whole-run cycles and instret, and where the bubbles of the
whole run went (the harness's rules, ``sim/stall_counts.h``: bubbles between retirements
charged to load-use, branch mispredictions, taken branches predicted in D, jumps, returns,
division, ...). Simulator speed: the run's cycle
loop (UART, retirement counting, exit detection) against the same model's bare loop (clock
toggling only) over the same number of cycles of the same program. ``--fmax``: the core's
fmax on the ECP5-85F (:mod:`dure.fpga.core_fmax`).
"""

import pathlib
import sys

from ..config import default_variant, preset
from ..errors import UserError

NAME = "bench-cpu"
HELP = "CPI per CPU benchmark and simulator speed against a bare Verilator loop"


def add_arguments(parser):
    parser.add_argument("--firmware-dir", type=pathlib.Path, metavar="DIR",
                        help="folder with the built programs (default: build/firmware)")
    parser.add_argument("--max-cycles", type=int, default=200_000_000, metavar="N",
                        help="cycle limit per benchmark (default 200M)")
    parser.add_argument("--variant", default=default_variant(),
                        help="SoC variant (default: $DURE_VARIANT or sim)")
    parser.add_argument("--fmax", action="store_true",
                        help="also measure the core's fmax on the ECP5-85F, speed grade 6 "
                        "(core + RAM, YoWASP Yosys and nextpnr; several minutes)")
    parser.add_argument("--fmax-only", action="store_true",
                        help="only the fmax measurement (no CPI runs)")
    parser.add_argument("--no-route", action="store_true",
                        help="--fmax: stop after placement and print nextpnr's estimate "
                        "(a few times faster; no critical path)")
    parser.add_argument("--core", default="full",
                        help="five-stage core variant for --fmax (default: full)")
    parser.add_argument("--soc", nargs="?", const="ulx3s", metavar="VARIANT",
                        help="--fmax: measure the board SoC of VARIANT (default ulx3s) without "
                        "its NPU instead of the core alone: core, fabric, memories, SDRAM "
                        "controller, an NPU stand-in on the NPU's bus ports (fpga/soc_fmax.py; "
                        "nextpnr router1; 10-20 min)")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="replace a config field of the variant (--variant, or --soc's) "
                        "(0 / 1 for flags), e.g. --option soc_grant_buffers=0; repeatable")
    parser.add_argument("--seed", type=int, default=1, help="--fmax: nextpnr's seed (default 1)")
    parser.add_argument("--keep", type=pathlib.Path, metavar="DIR",
                        help="--fmax: keep the tools' files (netlist, logs, report) in DIR")


def _ratio(cycles, instret):
    return f"{cycles / instret:.3f}" if instret else "-"


#: Stall causes of the harness (``sim/stall_counts.h``), in table order, with short headers.
STALL_COLUMNS = (("load_use", "load-use"), ("branch_mispredict", "mispredict"),
                 ("branch_taken", "br-taken"), ("branch_not_taken", "br-not"),
                 ("jal", "jal"), ("ret", "ret"), ("jalr", "jalr"), ("divide", "div"),
                 ("split", "split"), ("trap", "trap"), ("other", "other"))


def stall_row(name, cycles, stalls):
    """One row of the bubble table: program, cycles, retired, bubbles per cause (each as
    ``bubbles`` and the share of all cycles), or None when the harness gave no counts."""
    if not stalls:
        return None
    row = [name, cycles, stalls["retired"]]
    for key, _ in STALL_COLUMNS:
        bubbles = stalls.get(key, [0, 0])[1]
        row.append(f"{bubbles} ({100 * bubbles / cycles:.1f}%)" if cycles else str(bubbles))
    return row


def parse_options(items):
    """``NAME=VALUE`` strings as ``(name, value)`` pairs: integers (``0`` / ``1`` become
    bools for the config's flags, as ``true`` / ``false`` do), else the string."""
    pairs = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UserError(f"--option wants NAME=VALUE, not {item!r}")
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            value = lowered == "true"
        else:
            try:
                value = int(text, 0)
            except ValueError:
                value = text
        pairs.append((name.strip(), value))
    return pairs


def _soc_options(config, pairs):
    """``pairs`` with 0 / 1 turned into bools where the config's field is a bool."""
    return [(name, bool(value) if isinstance(getattr(config, name, None), bool) and
             value in (0, 1) else value) for name, value in pairs]


def _fmax(args):
    log = lambda text: print(text, file=sys.stderr, flush=True)   # noqa: E731
    if args.soc:
        from ..config import preset as _preset
        from ..fpga.soc_fmax import measure_soc, soc_config
        try:
            base = _preset(args.soc)
        except ValueError as error:
            raise UserError(str(error)) from None
        config = soc_config(args.soc, _soc_options(base, parse_options(args.option)))
        print(f"# fmax of the {args.soc} SoC without its NPU (stand-in on its bus ports), "
              f"options {args.option or 'as the preset'}, ECP5-85F speed grade 6, out of "
              f"context (nextpnr-ecp5 router1, seed {args.seed})", flush=True)
        result = measure_soc(config, seed=args.seed, route=not args.no_route,
                             keep=args.keep, log=log)
    else:
        if args.option:
            raise UserError("--fmax measures the core alone: --option needs --soc")
        from ..fpga.core_fmax import measure
        print(f"# fmax of the core ({args.core}) + 16 KiB RAM, ECP5-85F speed grade 6, out of "
              f"context (nextpnr-ecp5, seed {args.seed})", flush=True)
        result = measure(core=args.core, route=not args.no_route, seed=args.seed,
                         keep=args.keep, log=log)
    kind = "estimated after placement" if args.no_route else "routed"
    print(f"fmax: {result.fmax_mhz:.1f} MHz {kind} (synthesis "
          f"{result.seconds['synth']:.0f} s, place and route {result.seconds['pnr']:.0f} s)")
    for cell in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D"):
        if cell in result.resources:
            used, avail = result.resources[cell]
            print(f"{cell}: {used} / {avail}")
    from ..fpga.block_fmax import path_summary
    print("critical path (nextpnr):")
    print("\n".join(result.critical_path))
    summary = path_summary(result.critical_path)
    if summary:
        print(f"path: {summary}")
    return 0


def run(args):
    if args.fmax_only:
        return _fmax(args)
    status = _cpi(args)
    if args.fmax:
        status |= _fmax(args)
    return status


def _cpi(args):
    from ..sim.report import find_programs, firmware_dir, format_table, parse_bench_lines
    from ..sim.runner import run_bare, run_elf

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.option:
        from ..fpga.soc_fmax import soc_config
        config = soc_config(args.variant, _soc_options(config, parse_options(args.option)))
    programs = find_programs(firmware_dir(args.firmware_dir), ["bench_*.elf"])
    kernels, whole, stalls, ok = [], [], [], True
    total = {"cycles": 0, "run": 0.0, "bare": 0.0}
    for path in programs:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        result = run_elf(path, config=config, max_cycles=args.max_cycles)
        ok &= result.status == "pass"
        lines = parse_bench_lines(result.uart)
        if not lines:
            print(f"dure: {path.name} printed no BENCH lines", file=sys.stderr)
        for name, cycles, instret in lines:
            kernels.append([path.name, name, cycles, instret, _ratio(cycles, instret)])
        row = stall_row(path.name, result.cycles, result.stalls)
        if row:
            stalls.append(row)
        bare = run_bare(path, result.cycles, config=config)
        run_speed = result.cycles_per_second
        bare_speed = result.cycles / bare if bare > 0 else 0.0
        total["cycles"] += result.cycles
        total["run"] += result.sim_seconds
        total["bare"] += bare
        status = result.status if result.status != "fail" else f"fail {result.failure}"
        whole.append([path.name, status, result.cycles, result.instret,
                      _ratio(result.cycles, result.instret), f"{run_speed / 1e6:.2f}",
                      f"{bare_speed / 1e6:.2f}",
                      f"{run_speed / bare_speed:.2f}" if bare_speed else "-"])
    if total["run"] > 0 and total["bare"] > 0:
        run_speed, bare_speed = total["cycles"] / total["run"], total["cycles"] / total["bare"]
        whole.append(["all", "", total["cycles"], "", "", f"{run_speed / 1e6:.2f}",
                      f"{bare_speed / 1e6:.2f}", f"{run_speed / bare_speed:.2f}"])
    print("CPI per kernel (firmware counters):")
    print(format_table(["program", "kernel", "cycles", "instret", "CPI"], kernels))
    print()
    print("Whole runs (harness counters) and simulator speed, Mcycles/s:")
    print(format_table(["program", "status", "cycles", "instret", "CPI", "dure run", "bare",
                        "run/bare"], whole))
    if stalls:
        print()
        print("Bubbles of the whole runs by cause (harness, sim/stall_counts.h; share of cycles):")
        print(format_table(["program", "cycles", "retired",
                            *(head for _, head in STALL_COLUMNS)], stalls))
    return 0 if ok else 1
