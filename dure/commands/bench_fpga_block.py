"""``dure bench-fpga-block``: fmax of blocks of a board's SoC alone on the ECP5-85F (the NPU,
its parts, the SDRAM controller), each in a scan wrapper (:mod:`dure.fpga.block_fmax`)."""

import sys

from ..errors import UserError

NAME = "bench-fpga-block"
HELP = "place and route blocks of a board SoC alone on the ECP5-85F and print fmax + paths"


def add_arguments(parser):
    parser.add_argument("blocks", nargs="*", default=None,
                        help="blocks to measure (default: npu-control npu-datapath sdram; "
                        "'list' lists them)")
    parser.add_argument("--variant", default="ulx3s", help="SoC variant (default: ulx3s)")
    parser.add_argument("--no-route", action="store_true",
                        help="stop after placement: nextpnr's estimate, no critical path")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed (default: 1)")
    parser.add_argument("--keep", default=None,
                        help="folder to keep each block's files in (BLOCK/ under it)")
    parser.add_argument("--full-path", action="store_true",
                        help="print nextpnr's whole critical path report")


def run(args):
    from ..config import preset
    from ..fpga.block_fmax import BLOCKS, measure_block, path_summary
    if args.blocks == ["list"]:
        for name, (what, _) in BLOCKS.items():
            print(f"{name:14} {what}")
        return 0
    names = args.blocks or ["npu-control", "npu-datapath", "sdram"]
    for name in names:
        if name not in BLOCKS:
            raise UserError(f"unknown block {name!r}; choose from {', '.join(BLOCKS)}")
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    kind = "estimated after placement" if args.no_route else "routed"
    print(f"# fmax of blocks of {config.name} alone, ECP5-85F speed grade 6, out of context, "
          f"scan-wrapped (nextpnr-ecp5, seed {args.seed}, {kind})", flush=True)
    print("\n| block | fmax (MHz) | TRELLIS_COMB | TRELLIS_FF | DP16KD | MULT18X18D | "
          "synth / P&R (s) | critical path |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for name in names:
        keep = f"{args.keep}/{name}" if args.keep else None
        result = measure_block(name, config, seed=args.seed, keep=keep, route=not args.no_route,
                               log=lambda text: print(text, file=sys.stderr, flush=True))
        res = [str(result.resources.get(c, (0, 0))[0])
               for c in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D")]
        print(f"| {name} | {result.fmax_mhz:.1f} | {' | '.join(res)} | "
              f"{result.seconds['synth']:.0f} / {result.seconds['pnr']:.0f} | "
              f"{path_summary(result.critical_path) or '-'} |", flush=True)
        if args.full_path and result.critical_path:
            print("\n".join(result.critical_path), file=sys.stderr)
    return 0
