"""``dure bench``: NPU GEMM benchmark with a roofline (square GEMMs and MLPerf Tiny layer
shapes, INT8 and FP16) on the simulated SoC; tables and plot under build/bench/."""

import pathlib
import sys

from ..config import preset
from ..errors import UserError

NAME = "bench"
HELP = ("NPU GEMMs (64^3, 256^3, MLPerf Tiny GEMM shapes) and MLPerf Tiny layers (NHWC in, "
        "NHWC out) in INT8 and FP16 on the simulated SoC: MACs/cycle, DMA bytes, roofline; "
        "writes build/bench/")


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--out-dir", type=pathlib.Path, metavar="DIR",
                        help="where to write npu_bench.md/.csv and roofline.png "
                             "(default: build/bench)")
    parser.add_argument("--shapes", metavar="NAMES",
                        help="comma-separated subset of the shapes (default: all)")
    parser.add_argument("--precision", choices=["int8", "fp16"],
                        help="only this precision (default: both)")
    parser.add_argument("--list", action="store_true",
                        help="layers: one LIST doorbell, the NPU fetching the descriptor list "
                             "from main memory by DMA (default: the core pushes each one)")
    parser.add_argument("--scaling", action="store_true",
                        help="instead: the NPU tile scaling runs (dure.sim.tile_scaling): K = "
                             "1, 2, 4 tiles, shared and scaled bandwidth; writes "
                             "scaling.csv and prints the table (also as Markdown)")
    parser.add_argument("--families", default="4x4,8x8", metavar="NAMES",
                        help="with --scaling: tile families of dure.sim.tile_scaling.FAMILIES "
                             "(default: 4x4,8x8; also 4x4-small)")
    parser.add_argument("--workloads", default="gemm256,gemv512", metavar="NAMES",
                        help="with --scaling: workloads (default: gemm256,gemv512)")
    parser.add_argument("--host-lists", action="store_true",
                        help="with --scaling: the GEMM tile lists made on the host and run "
                             "through npu_model_run (dure.compiler.tile_bench.gemm_point): no "
                             "recording on the core, several times faster to simulate")
    parser.add_argument("--models", metavar="NAMES", nargs="?", const="resnet8,dscnn",
                        help="with --scaling: also whole compiled models split across the "
                             "tiles (dure.compiler.tile_bench; default resnet8,dscnn) on "
                             "each multi-tile family; writes scaling_models.csv; also "
                             "autoencoder, gemv1024: one 1x1024x1024 FULLY_CONNECTED, batch 1)")
    parser.add_argument("--tiles", default="1,2,4", metavar="K",
                        help="with --scaling: tile counts (default: 1,2,4; a count above a "
                             "family's tiles is skipped; 8 needs the 4x4-8t family)")


def _gemv1024(rng):
    from ..sim.verif import mlperf_models as mm
    return mm.autoencoder(rng, inputs=1024, units=(1024,), per_channel=False)


def scaling_models():
    """The models of ``--scaling --models``: name -> builder(rng) -> TFLite bytes (INT8)."""
    from .bench_models import MODELS

    models = {name: (lambda rng, f=build: f(rng, "int8")) for name, (build, _) in MODELS.items()}
    models["gemv1024"] = _gemv1024
    return models


def run_scaling(args):
    from ..sim import tile_scaling
    from ..sim.report import format_table
    from ..sim.rtlgen import build_root

    families, workloads = args.families.split(","), args.workloads.split(",")
    for name, known in ((families, tile_scaling.FAMILIES), (workloads, tile_scaling.WORKLOADS)):
        unknown = [n for n in name if n not in known]
        if unknown:
            raise UserError(f"unknown {unknown[0]!r}; choose from {', '.join(known)}")
    try:
        tiles = tuple(int(k) for k in args.tiles.split(","))
    except ValueError:
        raise UserError(f"--tiles must be comma-separated integers, not {args.tiles!r}") from None
    if not tiles or any(not 1 <= k <= 8 for k in tiles):
        raise UserError(f"--tiles must be tile counts in 1..8, not {args.tiles!r}")
    models = args.models.split(",") if args.models else []
    if models:
        known = scaling_models()
        unknown = [n for n in models if n not in known]
        if unknown:
            raise UserError(f"unknown model {unknown[0]!r}; choose from {', '.join(known)}")
    point = None
    if args.host_lists:
        from ..compiler.tile_bench import gemm_point as point
    points = tile_scaling.run_scaling(
        families, workloads, tile_counts=tiles, point=point,
        progress=lambda text: print(f"running {text} ...", file=sys.stderr, flush=True))
    cols = tile_scaling.SHORT
    print(format_table(cols, [["-" if p[c] is None else p[c] for c in cols] for p in points]))
    out = args.out_dir or build_root() / "bench"
    print()
    print(tile_scaling.markdown(points))
    print()
    print(f"wrote {tile_scaling.write_csv(points, out / 'scaling.csv')}")
    exact = all(p["exact"] for p in points)
    if models:
        exact &= _scaling_models(models, families, out, tiles)
    return 0 if exact else 1


def _scaling_models(names, families, out, tiles=(1, 2, 4)):
    """The models at K = ``tiles`` on every multi-tile family, shared and scaled bandwidth."""
    import numpy as np

    from ..compiler import tile_bench
    from ..sim import tile_scaling

    known = scaling_models()
    points = []
    for family in families:
        for bandwidth in ("shared", "scaled"):
            config = tile_scaling.family_config(family, bandwidth)
            if config.npu_tiles < 2:
                continue
            for name in names:
                data = known[name](np.random.default_rng(0))
                for k in tiles:
                    if k > config.npu_tiles:
                        continue
                    print(f"running {name} on {family} {bandwidth} K={k} ...",
                          file=sys.stderr, flush=True)
                    points.append(tile_bench.model_point(name, data, config, k,
                                                         family=family, bandwidth=bandwidth))
    points = tile_bench.with_speedup(points)
    print(tile_scaling.markdown(points, tile_bench.COLUMNS))
    print(f"wrote {tile_bench.write_csv(points, out / 'scaling_models.csv')}")
    return all(p["exact"] for p in points)


def run(args):
    if args.scaling:
        return run_scaling(args)
    from ..sim.npu_bench import GEMVS, LAYERS, SHAPES, run_all, write_reports
    from ..sim.report import format_table
    from ..sim.rtlgen import build_root

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    shapes, layers, gemvs = SHAPES, LAYERS, GEMVS
    if args.shapes:
        wanted = args.shapes.split(",")
        known = {s[0]: s for s in SHAPES}
        known_layers = {s[0]: s for s in LAYERS}
        known_gemv = {f"{g[0]}-gemv": g for g in GEMVS}
        unknown = [w for w in wanted if w not in known and w not in known_layers
                   and w not in known_gemv]
        if unknown:
            raise UserError(f"unknown shape {unknown[0]!r}; choose from "
                            f"{', '.join([*known, *known_layers, *known_gemv])}")
        shapes = [known[w] for w in wanted if w in known]
        layers = [known_layers[w] for w in wanted if w in known_layers]
        gemvs = [known_gemv[w] for w in wanted if w in known_gemv]
    precisions = (args.precision,) if args.precision else ("int8", "fp16")
    rows = run_all(config, shapes, precisions, layers=layers, gemvs=gemvs,
                   feed="list" if args.list else "push",
                   progress=lambda text: print(f"running {text} ...", file=sys.stderr,
                                               flush=True))
    peak, bw = config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle
    print(f"NPU {config.npu_rows}x{config.npu_cols}: peak {peak} MACs/cycle; main memory "
          f"{bw} B/cycle; roofline bound = min(peak, {bw} x MACs per DMA byte)")
    print()
    from ..sim.npu_bench import COLUMNS
    print(format_table(COLUMNS, [row.cells() for row in rows]))
    print()
    for path in write_reports(rows, args.out_dir or build_root() / "bench", config):
        print(f"wrote {path}")
    for name, *_ in shapes:
        print(f"  {name}: " + next(s[4] for s in SHAPES if s[0] == name))
    for name, *rest in layers:
        print(f"  {name}: {rest[-1]}")
    return 0 if all(row.exact for row in rows) else 1
