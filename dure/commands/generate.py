"""``dure generate`` (alias ``dure decode``): a small character-level transformer generating
text, every matrix-vector product a GEMV on the NPU (:mod:`dure.sim.decode_demo`), in one of
the weight formats of :mod:`dure.sim.decode_quant`; prints the text, the weight bytes per
token, and tokens per second at the variant's clock with the fraction of the memory roofline
(``--engine soc``) or the roofline's figures (``--engine model``, no cycles)."""

import sys
import time

from ..config import preset
from ..errors import UserError

#: The weight formats (those of :data:`dure.sim.decode_quant.FORMATS`; spelled out so that the
#: command line does not import the simulator to list them).
FORMATS = ("int8", "int4", "w4a16", "fp16", "int4-sparse24", "int8-sparse24")

NAME = "generate"
HELP = ("generate text with a small trained decoder-only transformer whose GEMVs run on the "
        "NPU (command model or simulated SoC), each checked bit for bit against the golden GEMM")


def add_arguments(parser):
    parser.add_argument("--prompt", default="The NPU ", help="prompt text (default: 'The NPU ')")
    parser.add_argument("--tokens", type=int, default=16, help="tokens to generate (default 16)")
    parser.add_argument("--weights", choices=list(FORMATS), default="int8",
                        help="weight format: int8 (W8A8), int4 (W4A8), w4a16 (int4 with fp16 "
                             "group scales, fp16 activations), fp16 (fp16 weights and "
                             "activations), int4-sparse24 / int8-sparse24 (2:4-pruned, W4A8 / "
                             "W8A8) (default int8)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="0: greedy (default); > 0: sample from softmax(logits / T)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--engine", choices=["model", "soc"], default="model",
                        help="model: NPU command model (fast, no cycles); soc: each GEMV on "
                             "the simulated SoC (cycles counted)")
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--check-host", action="store_true",
                        help="also generate with the golden GEMMs on the host and require the "
                             "same tokens")
    parser.add_argument("--weights-file", default=None,
                        help="trained weights (default: the shipped sim/decode_weights.npz; "
                             "for the 2:4 formats sim/decode_weights_24.npz)")


def run(args):
    from ..sim import decode_demo as dd

    if args.tokens < 1:
        raise UserError(f"--tokens must be positive, not {args.tokens}")
    if args.temperature < 0:
        raise UserError(f"--temperature must be >= 0, not {args.temperature}")
    try:
        config = preset(args.variant)
        dd.check_variant(config, args.weights)
        model, info = dd.load_model(args.weights_file or dd.weights_for(args.weights))
        qm = dd.quantize(model, args.weights)
        per_token = qm.weight_bytes(config)
    except (ValueError, FileNotFoundError) as error:
        raise UserError(str(error)) from None
    ppl = info.get(f"ppl_{args.weights}")
    dense = info.get("ppl_dense_float")
    quality = (f"; held-out perplexity {ppl:.2f} ({args.weights}) vs {info['ppl_float']:.2f} "
               f"{'2:4-pruned ' if dense else ''}float"
               f"{f' ({dense:.2f} dense float)' if dense else ''}, "
               f"{info['ppl_unigram']:.2f} character frequencies"
               if ppl is not None and "ppl_float" in info else "")
    print(f"model: {dd.LAYERS} layers, d={dd.D}, {dd.HEADS} heads, MLP {dd.HIDDEN}, vocab "
          f"{len(model.vocab)}, trained on the project's docs (make train-decode){quality}",
          file=sys.stderr)
    decoder = dd.Decoder(qm, config, engine=args.engine)
    start = time.time()
    out = decoder.generate(args.prompt, args.tokens, args.temperature, args.seed)
    wall = time.time() - start
    print(f"{args.prompt}{out}")
    host_ok = True
    if args.check_host:
        host = dd.Decoder(qm, config)
        host._gemv = lambda q, s, a: host._golden(q, s, a)
        host_ok = host.generate(args.prompt, args.tokens, args.temperature, args.seed) == out
        print(f"golden GEMMs on the host: {'the same' if host_ok else 'DIFFERENT'} tokens")
    moved = sum(d for d, _ in decoder.per_token) / len(decoder.per_token)
    bw = config.main_bytes_per_cycle
    print(f"weights {args.weights}: {per_token} bytes per token (the model's weights in this "
          f"format, read once per token); DMA read {moved:.0f} bytes per generated token "
          f"({100 * moved / per_token:.1f} % of the weights; activations included)")
    print(f"{decoder.gemvs} GEMVs on the NPU ({args.engine}), "
          f"{'all' if decoder.mismatches == 0 else 'NOT all'} bit-exact with the golden GEMM "
          f"({decoder.mismatches} mismatches); {wall:.1f} s wall clock")
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
    return 0 if decoder.mismatches == 0 and host_ok else 1
