"""``dure bench-models``: the MLPerf-Tiny-shaped compiled models (dure.compiler.bench) on the
simulated SoC, whole inferences in one firmware run; table per model and per layer, CSV under
build/bench/ (models.csv, models_layers.csv, models_layers.png: cycles per layer)."""

import pathlib
import sys

from ..config import preset
from ..errors import UserError

NAME = "bench-models"
HELP = ("compiled MLPerf-Tiny-shaped models (ResNet-8, DS-CNN, MobileNetV1-0.25, FC "
        "autoencoder; int8 and fp16) on the simulated SoC: cycles, inferences/s, MACs/cycle, "
        "percent of peak and of the roofline, per-layer NPU / core cycles and NPU layers' "
        "fixed cost (cycles minus the rows of their COMPUTEs / ELTWISEs), exactness; writes "
        "build/bench/models.csv")


def _resnet8(rng, precision):
    from ..sim.verif import compiler_models as cm
    from ..sim.verif import mlperf_models as mm
    if precision == "int8":
        return cm.tflite_int8_resnet8(rng, size=32)
    return mm.float_resnet8(rng, size=32)


def _dscnn(rng, precision):
    from ..sim.verif import compiler_models as cm
    from ..sim.verif import mlperf_models as mm
    if precision == "int8":
        return cm.tflite_int8_dscnn(rng, c=64, blocks=4)
    return mm.float_dscnn(rng, c=64, blocks=4)


def _mobilenet(rng, precision):
    from ..sim.verif import mlperf_models as mm
    return mm.mobilenet_v1(rng, precision="int8" if precision == "int8" else "float")


def _autoencoder(rng, precision):
    from ..sim.verif import mlperf_models as mm
    return mm.autoencoder(rng, precision="int8" if precision == "int8" else "float")


def _autoencoder_pt(rng, precision):
    from ..sim.verif import mlperf_models as mm
    return mm.autoencoder(rng, per_channel=False) if precision == "int8" else None


#: name -> (builder(rng, precision) -> TFLite bytes (int8: full-integer, fp16: float32), or
#: None when the model has no such form, description); seeds fixed, so runs repeat exactly.
MODELS = {
    "resnet8": (_resnet8, "ResNet-8, 32x32x3"),
    "dscnn": (_dscnn, "DS-CNN, 49x10x1, 64 ch, 4 blocks"),
    "mobilenet": (_mobilenet, "MobileNetV1-0.25, 96x96x3, 2 classes"),
    "autoencoder": (_autoencoder, "FC autoencoder, 640-128x4-8-128x4-640, batch 1"),
    "autoencoder-pt": (_autoencoder_pt, "the FC autoencoder with per-tensor FC weights (int8)"),
}
PRECISIONS = ("int8", "fp16")
SEED = 2026


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--models", metavar="NAMES",
                        help="comma-separated subset of the models (default: all)")
    parser.add_argument("--precision", metavar="P",
                        help="comma-separated subset of int8,fp16 (default: both)")
    parser.add_argument("--out-dir", type=pathlib.Path, metavar="DIR",
                        help="where to write models.csv (default: build/bench)")


def run(args):
    import numpy as np

    from ..compiler.bench import exact, run_model, write_chart, write_csv
    from ..compiler.errors import UnsupportedModel
    from ..sim.report import format_table
    from ..sim.rtlgen import build_root
    from ..sim.verif.litert_ref import run_reference

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    names = list(MODELS)
    if args.models:
        names = args.models.split(",")
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            raise UserError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    precisions = list(PRECISIONS)
    if args.precision:
        precisions = args.precision.split(",")
        bad = [p for p in precisions if p not in PRECISIONS]
        if bad:
            raise UserError(f"unknown precision {bad[0]!r}; choose from int8, fp16")
    results = []
    for name in names:
        for precision in precisions:
            rng = np.random.default_rng(SEED)          # the model's weights, then its input
            data = MODELS[name][0](rng, precision)
            if data is None:
                continue
            print(f"running {name} ({MODELS[name][1]}, {precision}) on the simulated SoC "
                  f"({config.name}) ...", file=sys.stderr, flush=True)
            try:
                results.append(run_model(name, data, config, run_reference, rng,
                                         precision=precision))
            except UnsupportedModel as e:
                raise UserError(f"{name} ({precision}): {e}") from None
    peak = config.npu_peak_macs_per_cycle
    print(f"variant {config.name}: NPU {config.npu_rows}x{config.npu_cols}, peak {peak} "
          f"MACs/cycle, {config.main_bytes_per_cycle} B/cycle, {config.clk_freq / 1e6:.0f} MHz; "
          "one inference per model, whole model in one firmware run (core layers in C on the "
          "core; host: no C kernel yet, computed between runs, not timed)")
    for r in results:
        print()
        print(f"{r.row['model']} ({r.row['precision']}): per layer")
        print(format_table(["#", "node", "kind", "where", "MACs", "cycles", "util %",
                            "fixed"],
                           [[la["index"], la["node"][:32], la["kind"], la["where"], la["macs"],
                             la["cycles"], la["util_pct"], la["fixed_cycles"]]
                            for la in r.layers]))
    print()
    print(format_table(
        ["model", "prec", "MACs", "cycles", "NPU cycles", "core cycles",
         f"inf/s @{config.clk_freq / 1e6:.0f}MHz", "inf/s @100MHz", "MACs/cycle", "% peak",
         "roofline cycles", "% roofline", "exact", "fp32 max err / top-1"],
        [[r.row["model"], r.row["precision"], r.row["macs"], r.row["cycles"],
          r.row["npu_cycles"], r.row["core_cycles"], r.row["inferences_per_s"],
          r.row["inferences_per_s_100mhz"], r.row["macs_per_cycle"], r.row["util_pct"],
          f"{r.row['roofline_cycles']}{' (mem)' if r.row['memory_bound'] else ''}",
          r.row["roofline_pct"], "yes" if exact(r.row) else "NO",
          "" if r.row["precision"] == "int8" else
          f"{r.row['runtime_max_abs_err']} / {'same' if r.row['runtime_top1'] else 'differs'}"]
         for r in results]))
    out = args.out_dir or build_root() / "bench"
    write_csv(results, out / "models.csv", out / "models_layers.csv")
    print(f"wrote {out / 'models.csv'} and {out / 'models_layers.csv'}")
    chart = write_chart(results, out / "models_layers.png")
    print(f"wrote {chart}" if chart else "matplotlib is missing: no per-layer chart")
    ok = all(exact(r.row) for r in results)
    if not ok:
        print("MISMATCH: a model's SoC output differs from the reference", file=sys.stderr)
    return 0 if ok else 1
