"""``dure decode``: a small character-level transformer generating text, every matrix-vector
product a GEMV on the NPU (:mod:`dure.sim.decode_demo`)."""

import sys
import time

from ..config import preset
from ..errors import UserError

NAME = "decode"
HELP = ("generate text with a small decoder-only transformer whose GEMVs run on the NPU "
        "(command model or simulated SoC), each checked bit for bit against the golden GEMM")


def add_arguments(parser):
    parser.add_argument("--prompt", default="The NPU ", help="prompt text (default: 'The NPU ')")
    parser.add_argument("--tokens", type=int, default=16, help="tokens to generate (default 16)")
    parser.add_argument("--weights", choices=["int8", "int4"], default="int8",
                        help="weight format: int8 (W8A8) or int4 (W4A8) (default int8)")
    parser.add_argument("--engine", choices=["model", "soc"], default="model",
                        help="model: NPU command model (fast, no cycles); soc: each GEMV on "
                             "the simulated SoC (cycles counted)")
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--train-chars", type=int, default=6000,
                        help="characters of the docs the output head is fitted on (default 6000)")


def run(args):
    from ..sim import decode_demo as dd

    if args.tokens < 1:
        raise UserError(f"--tokens must be positive, not {args.tokens}")
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    text = dd.training_text()
    cut = len(text) * 9 // 10
    start = time.time()
    model = dd.train(text[:cut], limit=args.train_chars)
    bits = 4 if args.weights == "int4" else 8
    qm = dd.quantize(model, bits)
    print(f"model: {dd.LAYERS} layers, d={dd.D}, {dd.HEADS} heads, MLP {dd.HIDDEN}, vocab "
          f"{len(model.vocab)}; fixed random blocks, output head ridge-fitted on "
          f"{args.train_chars} characters of the docs ({time.time() - start:.1f} s)",
          file=sys.stderr)
    decoder = dd.Decoder(qm, config, engine=args.engine)
    start = time.time()
    out = decoder.generate(args.prompt, args.tokens)
    print(f"{args.prompt}{out}")
    per_token = qm.weight_bytes(config.npu_rows)
    moved = sum(d for d, _ in decoder.per_token) / len(decoder.per_token)
    bw = config.main_bytes_per_cycle
    print(f"weights {args.weights}: {per_token} bytes per token (the model's weights in this "
          f"format, read once per token); DMA read {moved:.0f} bytes per generated token "
          f"({100 * moved / per_token:.1f} % of the weights; activations included)")
    print(f"{decoder.gemvs} GEMVs on the NPU ({args.engine}), "
          f"{'all' if decoder.mismatches == 0 else 'NOT all'} bit-exact with the golden GEMM "
          f"({decoder.mismatches} mismatches); {time.time() - start:.1f} s wall clock")
    bound = moved / bw
    if args.engine == "soc":
        cycles = sum(c for _, c in decoder.per_token) / len(decoder.per_token)
        print(f"NPU cycles per token {cycles:.0f} (every GEMV from its first descriptor to its "
              f"fence; host work not counted): {config.clk_freq / cycles:.0f} tokens/s at "
              f"{config.clk_freq / 1e6:.0f} MHz; roofline {bound:.0f} cycles per token = "
              f"{100 * bound / cycles:.1f} % of the memory roofline")
    else:
        print(f"roofline at {bw} B/cycle: {bound:.0f} cycles per token, "
              f"{config.clk_freq / bound:.0f} tokens/s at {config.clk_freq / 1e6:.0f} MHz "
              "(the command model counts no cycles: --engine soc measures them)")
    return 0 if decoder.mismatches == 0 else 1
