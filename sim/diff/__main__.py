"""``python -m dure.sim.diff --seeds 0-99 --length 2000``: differential sweep over seeds.

Each seed's program is generated, run on Unicorn and on the simulated SoC, and the traces are
compared in lock-step. One line per seed; the first mismatch of a failing seed is printed with
context. Files go to ``<build>/diff/seed_<n>/`` (kept for failing seeds, removed for passing
ones unless ``--keep``). An error that is not a mismatch (the model does not build, the
simulator fails) stops the sweep. Exit status: 0 if every seed matched, 1 if any mismatched or
an error stopped the sweep, 2 for bad arguments.
"""

import argparse
import shutil
import sys
import time


def parse_seeds(text):
    """Seeds from ``"0-99"``, ``"5"`` or ``"1,4,10-12"``."""
    seeds = []
    for part in text.split(","):
        try:
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                seeds += range(first, last + 1)
            else:
                seeds.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad seed list {text!r}: use N, A-B or a comma-separated mix") from None
    return seeds


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m dure.sim.diff",
        description="Differential test of the core against Unicorn on random RV32IM programs.")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"),
                        help="seeds: N, A-B or a comma list (default 0-9)")
    parser.add_argument("--length", type=int, default=2000,
                        help="items per program (default 2000)")
    parser.add_argument("--workdir", default=None,
                        help="folder for the programs and traces (default <build>/diff)")
    parser.add_argument("--keep", action="store_true", help="keep files of passing seeds")
    parser.add_argument("--stop", action="store_true", help="stop at the first failing seed")
    args = parser.parse_args(argv)
    if args.length < 1:
        parser.error("--length must be >= 1")

    import pathlib

    from dure.sim.rtlgen import build_root

    from .compare import run_diff

    root = pathlib.Path(args.workdir) if args.workdir else build_root() / "diff"
    failed, total, start = [], 0, time.monotonic()
    for seed in args.seeds:
        workdir = root / f"seed_{seed}"
        try:
            result = run_diff(seed, args.length, workdir)
        except Exception as error:  # a broken tool (model build, assembler): stop the sweep
            print(f"seed {seed}: ERROR {type(error).__name__}: {error}", flush=True)
            failed.append(seed)
            break
        total += result.compared
        print(result.report(), flush=True)
        if result.ok:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        else:
            failed.append(seed)
            if args.stop:
                break
    elapsed = time.monotonic() - start
    print(f"{len(args.seeds) - len(failed)} of {len(args.seeds)} seeds matched, "
          f"{total} instructions compared in {elapsed:.1f} s"
          + (f"; failing seeds: {','.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
