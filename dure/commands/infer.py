"""``dure infer``: the NPU inference demo of ``make sim``: an MLP trained at run time on
scikit-learn's digits (fixed seed), quantized to INT8 and converted to FP16, run batched on the
simulated SoC's NPU; accuracy, bit-exact agreement with dure.sim.golden, cycles, utilization."""

import sys
import time

import numpy as np

from ..config import preset
from ..errors import UserError

NAME = "infer"
HELP = ("NPU demo: a digits MLP in INT8 and FP16 on the simulated SoC (accuracy, golden "
        "agreement, cycles, MAC utilization)")


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--images", type=int, default=360,
                        help="held-out images to classify (default 360, all of them)")
    parser.add_argument("--epochs", type=int, default=300, help="training epochs (default 300)")
    parser.add_argument("--cpu-check", action="store_true",
                        help="also run every layer on the firmware's CPU reference path (slow)")


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def run(args):
    from ..sim import mlp_digits as mlp
    from ..sim.report import format_table

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    if not 1 <= args.hidden <= 256:
        raise UserError(f"--hidden must be in 1..256, not {args.hidden}")
    if not 1 <= args.images <= 360:
        raise UserError(f"--images must be in 1..360 (the held-out set), not {args.images}")
    if args.epochs < 1:
        raise UserError(f"--epochs must be positive, not {args.epochs}")
    start = time.monotonic()
    x_train, y_train, x_test, y_test = mlp.load_split()
    x_test, y_test = x_test[:args.images], y_test[:args.images]
    model = mlp.train(x_train, y_train, hidden=args.hidden, epochs=args.epochs)
    float_pred = mlp.float_predict(model, x_test)
    params = {"int8": mlp.quantize_int8(model, x_train), "fp16": mlp.convert_fp16(model)}
    print(f"MLP 64-{args.hidden}-10 on scikit-learn digits: {len(x_train)} training images, "
          f"{len(x_test)} held out (seed {mlp.SEED}); trained in "
          f"{time.monotonic() - start:.1f} s")
    peak = config.npu_peak_macs_per_cycle
    rows, summary, exact_all = [], [], True
    for precision in ("int8", "fp16"):
        if precision == "fp16" and not config.npu_fp16:
            continue
        print(f"running the {precision} model on the simulated SoC ...", file=sys.stderr,
              flush=True)
        outputs, result = mlp.npu_run(precision, params[precision], x_test, config,
                                      cpu_check=args.cpu_check)
        golden = mlp.golden_run(precision, params[precision], x_test)
        total_cycles = total_macs = 0
        same = count = 0
        for i, (got, want, stats) in enumerate(zip(outputs, golden, result.layers,
                                                   strict=True)):
            m, n = got.shape
            k = params[precision][f"w{i + 1}"].shape[0]
            macs = m * k * n
            equal = int(np.sum(_bits(got) == _bits(want)))
            same, count = same + equal, count + got.size
            total_cycles += stats["cycles"]
            total_macs += macs
            rate = macs / stats["cycles"]
            check = ("-" if not args.cpu_check else
                     "agrees" if stats["check"] == 1 else "DIFFERS")
            exact_all &= equal == got.size and check != "DIFFERS"
            rows.append([precision, f"fc{i + 1}", f"{m}x{k}x{n}", stats["cycles"], macs,
                         f"{rate:.2f}", f"{100 * rate / peak:.1f}", stats["dma_rd"],
                         stats["dma_wr"], f"{equal}/{got.size}", check])
        logits = outputs[-1].astype(np.float32)
        pred = np.argmax(logits, axis=1)
        summary.append((precision, np.mean(pred == y_test), np.mean(pred == float_pred),
                        same, count, total_cycles, total_macs))
    print()
    print(format_table(["precision", "layer", "MxKxN", "cycles", "MACs", "MACs/cycle",
                        "util %", "DMA rd B", "DMA wr B", "bit-exact vs golden", "CPU path"],
                       rows))
    print()
    print(f"float reference accuracy: {100 * np.mean(float_pred == y_test):.2f} %")
    for precision, acc, agree, same, count, cycles, macs in summary:
        print(f"{precision} on the NPU: accuracy {100 * acc:.2f} % (same class as float for "
              f"{100 * agree:.2f} %); golden agreement {100 * same / count:.2f} % bit-exact "
              f"({same}/{count} outputs); {cycles} cycles for {len(x_test)} images "
              f"({cycles / len(x_test):.0f} per image), {macs / cycles:.2f} MACs/cycle = "
              f"{100 * macs / cycles / peak:.1f} % of peak {peak}")
    if not exact_all:
        print("MISMATCH: the NPU differs from the golden model", file=sys.stderr)
    return 0 if exact_all else 1
