"""``dure compile``: compile a TFLite or ONNX model into an NPU program (command lists, weights,
a layer table; see dure.compiler.program) and print the per-layer report."""

from ..config import preset
from ..errors import UserError

NAME = "compile"
HELP = ("compile a .tflite or .onnx model into an NPU program (layer table, command lists, "
        "weights) and print the per-layer report")


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL", help="the .tflite or .onnx model file")
    parser.add_argument("-o", "--out", metavar="DIR",
                        help="write the program (program.json, weights.bin, commands.bin) here")
    parser.add_argument("--precision", choices=("int8", "fp16"),
                        help="int8 for quantized models, fp16 for float models (default: the "
                        "model's)")
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--report", action="store_true",
                        help="print the per-layer report (the default without -o)")
    parser.add_argument("--no-im2col", action="store_true",
                        help="run convolutions other than 1x1 on the core instead of the core "
                        "building im2col for an NPU GEMM")
    add_onnx_fused_qdq(parser)


def add_onnx_fused_qdq(parser):
    """The ``--onnx-fused-qdq`` option of the commands that compile a model."""
    parser.add_argument("--onnx-fused-qdq", action="store_true",
                        help="ONNX QDQ models: compute every quantized group as "
                        "onnxruntime's fused QLinear kernel (as on ARM64; convolutions on the "
                        "NPU) instead of the float32 arithmetic onnxruntime on x86-64 uses for "
                        "the groups it leaves unfused (the default: bit-exact with onnxruntime "
                        "on x86-64, those convolutions on the core, much slower)")


def compile_model(path, args):
    """``(graph, model bytes, program)`` of the model file ``path`` for the arguments
    ``precision``, ``variant`` (and ``no_im2col``, ``onnx_fused_qdq`` when present)."""
    from ..compiler.load import load_model
    from ..compiler.lower import compile_graph

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    graph, data = load_model(path, onnx_fused_qdq=getattr(args, "onnx_fused_qdq", False))
    program = compile_graph(graph, config, args.precision,
                            im2col=not getattr(args, "no_im2col", False))
    return graph, data, program


def run(args):
    from ..compiler.report import format_report

    _, _, program = compile_model(args.model, args)
    if args.out:
        folder = program.save(args.out)
        print(f"wrote {folder}/program.json, weights.bin ({len(program.weights)} B), "
              f"commands.bin ({sum(len(la.commands) for la in program.layers)} descriptors)")
    if args.report or not args.out:
        print(format_report(program))
    return 0
