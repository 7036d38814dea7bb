"""``dure infer``: run a model.

``dure infer MODEL --input X.npy [--out Y.npy] [--precision P] [--variant V] [--check]``
compiles a TFLite or ONNX model (dure.compiler) and runs the program on the golden NPU command
model: the NPU layers through their command lists, the core layers with the compiler's
reference operators (see :mod:`dure.compiler.execute`); ``--soc`` also runs the whole model on
the simulated SoC in one firmware run (:mod:`dure.compiler.soc`; ``--host-fallback`` lets the
host compute core layers without a C kernel); ``--check`` compares with the compiler's
reference executor (bit for bit) and with the model's runtime (LiteRT's reference kernels or
onnxruntime: bit for bit in INT8; in FP16 the max error and top-1 agreement are printed).

Without MODEL, the NPU inference demo of ``make sim``: two small models trained at run time on
scikit-learn's digits (fixed seed), an MLP (:mod:`dure.sim.mlp_digits`) and a CNN whose
3x3 convolution is walked on the NPU, no im2col (:mod:`dure.sim.cnn_digits`), each
quantized to INT8 and converted to FP16 and run batched on the simulated SoC's NPU; accuracy,
bit-exact agreement with dure.sim.golden, cycles, utilization per layer."""

import sys
import time

import numpy as np

from ..config import preset
from ..errors import UserError
from .compile import add_onnx_fused_qdq

NAME = "infer"
HELP = ("run a .tflite / .onnx model on the NPU model (MODEL --input X.npy [--check]); "
        "without MODEL the NPU demo: a digits MLP and CNN in INT8 and FP16 on the simulated SoC")


def add_arguments(parser):
    parser.add_argument("path", metavar="MODEL", nargs="?",
                        help="a .tflite or .onnx model (omit for the built-in digits demo)")
    parser.add_argument("--input", metavar="X.npy",
                        help="the model's input, as its runtime takes it (dtype and shape)")
    parser.add_argument("--out", metavar="Y.npy", help="write the model's output here")
    parser.add_argument("--precision", choices=("int8", "fp16"),
                        help="int8 for quantized models, fp16 for float models (default: the "
                        "model's)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the compiler's reference and the model's runtime")
    parser.add_argument("--no-im2col", action="store_true",
                        help="run convolutions other than 1x1 on the core")
    add_onnx_fused_qdq(parser)
    parser.add_argument("--soc", action="store_true",
                        help="run the whole model on the simulated SoC in one firmware run "
                        "(npu_model_run walks the layer table: NPU layers and the core layers' "
                        "C kernels) and print the measured cycles per layer")
    parser.add_argument("--host-fallback", action="store_true",
                        help="with --soc: compute core layers that have no C kernel yet on "
                        "the host between firmware runs (else such a model is refused)")
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--model", choices=("both", "mlp", "cnn"), default="both",
                        help="which models to run (default: both, the MLP then the CNN)")
    parser.add_argument("--hidden", type=int, default=32, help="MLP hidden units (default 32)")
    parser.add_argument("--channels", type=int, default=16,
                        help="CNN convolution channels (default 16)")
    parser.add_argument("--images", type=int, default=360,
                        help="held-out images to classify (default 360, all of them)")
    parser.add_argument("--epochs", type=int, default=300, help="training epochs (default 300)")
    parser.add_argument("--cpu-check", action="store_true",
                        help="also run every layer on the firmware's CPU reference path (slow)")


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def _models(args):
    """``[(module, title, size argument name, size)]`` of the requested models."""
    from ..sim import cnn_digits, mlp_digits

    models = []
    if args.model in ("both", "mlp"):
        models.append((mlp_digits, f"MLP 64-{args.hidden}-10", "hidden", args.hidden))
    if args.model in ("both", "cnn"):
        models.append((cnn_digits, f"CNN conv 3x3/2 pad 1 (8x8x1 image) -> 4x4x{args.channels}, "
                       f"ReLU, FC {16 * args.channels}-10",
                       "channels", args.channels))
    return models


def _demo(module, title, size, args, config, data):
    """Train, run both precisions, print the report; return True when all was bit-exact."""
    from ..sim.report import format_table

    x_train, y_train, x_test, y_test = data
    start = time.monotonic()
    model = module.train(x_train, y_train, epochs=args.epochs, **size)
    float_pred = module.float_predict(model, x_test)
    params = {"int8": module.quantize_int8(model, x_train), "fp16": module.convert_fp16(model)}
    print(f"{title} on scikit-learn digits: {len(x_train)} training images, "
          f"{len(x_test)} held out (seed {module.SEED}); trained in "
          f"{time.monotonic() - start:.1f} s")
    peak = config.npu_peak_macs_per_cycle
    rows, summary, exact_all = [], [], True
    for precision in ("int8", "fp16"):
        if precision == "fp16" and not config.npu_fp16:
            continue
        print(f"running the {precision} model on the simulated SoC ...", file=sys.stderr,
              flush=True)
        outputs, result = module.npu_run(precision, params[precision], x_test, config,
                                         cpu_check=args.cpu_check)
        golden = module.golden_run(precision, params[precision], x_test)
        total_cycles = total_macs = 0
        same = count = 0
        shapes = module.gemm_shapes(params[precision], len(x_test))
        for got, want, stats, (name, m, k, n) in zip(outputs, golden, result.layers, shapes,
                                                     strict=True):
            macs = m * k * n
            equal = int(np.sum(_bits(got) == _bits(want)))
            same, count = same + equal, count + got.size
            total_cycles += stats["cycles"]
            total_macs += macs
            rate = macs / stats["cycles"]
            # check: 0 not checked (no --cpu-check, or a walked layer: no CPU path), 1, 2
            check = {0: "-", 1: "agrees"}.get(stats["check"], "DIFFERS")
            exact_all &= equal == got.size and check != "DIFFERS"
            rows.append([precision, name, f"{m}x{k}x{n}", stats["cycles"], stats["busy"], macs,
                         f"{rate:.2f}", f"{100 * rate / peak:.1f}", stats["dma_rd"],
                         stats["dma_wr"], f"{equal}/{got.size}", check])
        logits = outputs[-1].astype(np.float32)
        pred = np.argmax(logits, axis=1)
        summary.append((precision, np.mean(pred == y_test), np.mean(pred == float_pred),
                        same, count, total_cycles, total_macs))
    print()
    print(format_table(["precision", "layer", "MxKxN", "cycles", "NPU busy", "MACs",
                        "MACs/cycle", "util %", "DMA rd B", "DMA wr B", "bit-exact vs golden",
                        "CPU path"], rows))
    print()
    print(f"float reference accuracy: {100 * np.mean(float_pred == y_test):.2f} %")
    for precision, acc, agree, same, count, cycles, macs in summary:
        print(f"{precision} on the NPU: accuracy {100 * acc:.2f} % (same class as float for "
              f"{100 * agree:.2f} %); golden agreement {100 * same / count:.2f} % bit-exact "
              f"({same}/{count} outputs); {cycles} cycles for {len(x_test)} images "
              f"({cycles / len(x_test):.0f} per image), {macs / cycles:.2f} MACs/cycle = "
              f"{100 * macs / cycles / peak:.1f} % of peak {peak}")
    return exact_all


def _bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(_bits(a), _bits(b))


def _runtime(graph, data, x):
    """The model's own runtime on ``x``: LiteRT's reference kernels or onnxruntime."""
    if graph.source == "tflite":
        from ..sim.verif.litert_ref import run_reference

        return run_reference(data, x)
    from ..sim.verif.onnx_ref import run_onnx

    try:
        return run_onnx(data, x)
    except ImportError as e:
        raise UserError(str(e)) from None


def _run_soc(program, x, y_model, host_fallback=False):
    """The whole program on the simulated SoC in one run of the npu_model_run firmware
    (dot_model_run on the NPU-less dot-unit variants; it walks the layer table: NPU layers as
    LIST doorbells, core layers with the C kernels); prints the measured cycles per layer;
    checks the intermediate tensors still in memory against the reference; returns the SoC's
    output (after checking it equals the command model's)."""
    from ..compiler.dot_target import DOT_PEAK_MACS_PER_CYCLE
    from ..compiler.errors import UnsupportedModel
    from ..compiler.report import soc_layer_rows
    from ..compiler.soc import check_intermediates, run_program_soc, runner_program
    from ..sim.report import format_table

    config = program.config
    print(f"running the model on the simulated SoC ({config.name}, firmware "
          f"{runner_program(config)[0]}) ...", file=sys.stderr, flush=True)
    try:
        outputs, run = run_program_soc(program, [x], host_fallback=host_fallback)
    except UnsupportedModel as e:
        raise UserError(str(e)) from None
    # without an NPU: the dot-product unit's peak (the iCEBreaker, compiler/dot_target.py)
    peak = config.npu_peak_macs_per_cycle or DOT_PEAK_MACS_PER_CYCLE
    header, rows = soc_layer_rows(program, run, cycles_header="SoC cycles")
    print(format_table(header, rows))
    cycles = run.cycles
    npu_cycles = sum(c for la, c in zip(program.layers, run.layer_cycles, strict=True)
                     if la.where == "npu" and c)
    macs = program.macs
    if cycles:
        note = (f"; layers {run.host_layers} ran on the host (not timed)" if run.host_layers
                else "")
        print(f"SoC: {cycles} cycles in {len(run.segments)} firmware run(s) ({npu_cycles} in NPU "
              f"layers, {cycles - npu_cycles} in core layers), {macs} model MACs (the NPU's "
              f"counter: {run.macs}), "
              f"{macs / cycles:.2f} MACs/cycle = {100 * macs / cycles / peak:.1f} % of peak; "
              f"{config.clk_freq / cycles:.0f} inferences/s at {config.clk_freq / 1e6:.0f} MHz"
              + note)
    checked, bad = check_intermediates(program, run.image, [x])
    if bad:
        raise UserError(f"intermediate tensors differ from the reference on the SoC: {bad}")
    print(f"SoC intermediates: {len(checked)} tensors still in memory equal the reference")
    y = outputs[0]
    model = "NPU command" if config.npu_rows else "compiler program"
    if not _bits_equal(y, y_model):
        raise UserError(f"the SoC's output differs from the {model} model's")
    print(f"SoC output equals the {model} model's bit for bit")
    return y


def run_model(args):
    """``dure infer MODEL``: compile, run on the NPU command model, report, check."""
    from ..compiler.errors import UnsupportedModel
    from ..compiler.execute import run_program
    from ..compiler.reference import run as run_reference_ir
    from ..sim.report import format_table
    from .compile import compile_model

    if not args.input:
        raise UserError("--input X.npy is required with a MODEL")
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {args.input}: {e}") from None
    graph, data, program = compile_model(args.path, args)
    if len(graph.inputs) != 1:
        raise UserError(f"the model has {len(graph.inputs)} inputs; dure infer takes one")
    try:
        outputs, stats = run_program(program, [x])
    except UnsupportedModel as e:
        raise UserError(str(e)) from None
    y = outputs[0]
    if args.soc:
        y = _run_soc(program, x, y, args.host_fallback)
    if args.out:
        np.save(args.out, y)
    config = program.config
    peak = config.npu_peak_macs_per_cycle
    rows, cycles = [], 0
    for i, (layer, macs) in enumerate(zip(program.layers, stats.layer_macs, strict=True)):
        est = layer.est_cycles
        cycles += est or 0
        rows.append([i, layer.op.source,
                     {"npu": "NPU", "alias": "alias"}.get(layer.where, "core"),
                     "x".join(map(str, layer.gemm)) if layer.gemm else layer.kind.lower(),
                     layer.macs, macs if layer.where == "npu" else "-",
                     est if est is not None else "-",
                     f"{100 * layer.macs / est / peak:.1f}" if est else "-"])
    print(format_table(["#", "node", "where", "computes", "MACs", "NPU MACs run",
                        "est. cycles", "est. util %"], rows))
    npu_macs = sum(la.macs for la in program.layers if la.where == "npu")
    print(f"output {y.dtype} {tuple(y.shape)}; {program.macs} MACs, {npu_macs} on the NPU "
          f"({stats.commands} commands run on the NPU command model)")
    if cycles:
        rate = config.clk_freq / cycles
        print(f"NPU layers: {cycles} cycles estimated by the GEMM planner's cost model, "
              f"{100 * npu_macs / cycles / peak:.1f} % of peak {peak} MACs/cycle; "
              f"<= {rate:.0f} inferences/s at {config.clk_freq / 1e6:.0f} MHz counting the "
              "NPU layers only (estimates; --soc measures every layer, core layers included)")
    if not args.check:
        return 0
    ok = True
    ref = run_reference_ir(graph, [x])[0]
    same = _bits_equal(y, ref)
    ok &= same
    print(f"check: the compiler's reference executor: {'bit-exact' if same else 'DIFFERS'}")
    want = _runtime(graph, data, x)[0]
    if program.precision == "int8":
        same = _bits_equal(y, want)
        ok &= same
        where = "LiteRT reference kernels" if graph.source == "tflite" else "onnxruntime"
        print(f"check: {where}: {'bit-exact' if same else 'DIFFERS'} "
              f"({int(np.sum(y != want)) if y.shape == want.shape else 'shape'} elements "
              "differ)" if not same else f"check: {where}: bit-exact")
    else:
        err = np.abs(y.astype(np.float64) - want.astype(np.float64))
        top = (np.mean(np.argmax(y.reshape(y.shape[0], -1), axis=1) ==
                       np.argmax(want.reshape(want.shape[0], -1), axis=1))
               if y.ndim >= 1 and y.size else 1.0)
        print(f"check: float32 runtime (reported, FP16 is not bit-exact with it): max abs error "
              f"{float(np.max(err)) if err.size else 0.0:.3g}, top-1 agreement "
              f"{100 * top:.1f} %")
    if not ok:
        print("MISMATCH", file=sys.stderr)
    return 0 if ok else 1


def run(args):
    from ..sim import mlp_digits

    if args.path:
        return run_model(args)

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    if not 1 <= args.hidden <= 256:
        raise UserError(f"--hidden must be in 1..256, not {args.hidden}")
    if not 1 <= args.channels <= 256:
        raise UserError(f"--channels must be in 1..256, not {args.channels}")
    if not 1 <= args.images <= 360:
        raise UserError(f"--images must be in 1..360 (the held-out set), not {args.images}")
    if args.epochs < 1:
        raise UserError(f"--epochs must be positive, not {args.epochs}")
    x_train, y_train, x_test, y_test = mlp_digits.load_split()
    data = (x_train, y_train, x_test[:args.images], y_test[:args.images])
    exact_all = True
    for i, (module, title, size_name, size) in enumerate(_models(args)):
        if i:
            print()
        exact_all &= _demo(module, title, {size_name: size}, args, config, data)
    if not exact_all:
        print("MISMATCH: the NPU differs from the golden model", file=sys.stderr)
    return 0 if exact_all else 1
