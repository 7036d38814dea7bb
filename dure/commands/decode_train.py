"""``dure decode-train``: train the decode demo's character transformer in numpy and write its
weights (:mod:`dure.sim.verif.decode_train`, ``make train-decode``); with ``--sparse``, prune
the trained weights 2:4 and fine-tune them with the mask into the 2:4 formats' weights file."""

import sys
import time

from ..errors import UserError

NAME = "decode-train"
HELP = ("train the decode demo's character transformer (numpy, Adam, fixed seed) on the "
        "shipped corpus and write its float16 weights (--sparse: prune them 2:4 and fine-tune "
        "with the mask); prints held-out perplexities")


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=None,
                        help="Adam steps (default 1500; with --sparse 600)")
    parser.add_argument("--batch", type=int, default=32,
                        help="windows of 65 characters per step (default 32)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default 6e-3; with --sparse 2e-3)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default 0; with --sparse 1)")
    parser.add_argument("--out", default=None,
                        help="weights file (default: the shipped sim/decode_weights.npz; with "
                             "--sparse sim/decode_weights_24.npz)")
    parser.add_argument("--sparse", action="store_true",
                        help="train no dense model: prune the dense weights (--dense, default "
                             "the shipped ones) 2:4 by magnitude along K and fine-tune them with "
                             "the mask held, for --weights int4-sparse24 / int8-sparse24")
    parser.add_argument("--dense", default=None,
                        help="with --sparse: the dense weights to prune (default: the shipped "
                             "sim/decode_weights.npz)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: recompute the perplexities of the weights file "
                             "and store them beside its weights")
    parser.add_argument("--refresh-corpus", action="store_true",
                        help="first rewrite sim/decode_corpus.txt from the current docs "
                             "(changes what the shipped weights were trained on)")


def report(model, sparse=False):
    """Lines of held-out perplexities of ``model`` beside the character-frequency baseline:
    float and every dense format (int8, int4, W4A16, FP16), or with ``sparse`` (a 2:4-pruned
    model) float and the 2:4 formats; returns ``(lines, numbers)``."""
    from ..sim import decode_demo as dd

    train_text, held = dd.split_corpus(dd.corpus())
    nums = {"ppl_unigram": dd.unigram_perplexity(model, train_text, held),
            "ppl_float": dd.held_out_perplexity(model, held)}
    formats = [f for f in dd.FORMATS if (f in dd.SPARSE_FORMATS) == sparse]
    for fmt in formats:
        nums[f"ppl_{fmt}"] = dd.held_out_perplexity(model, held, dd.quantize(model, fmt))
    names = {"int8": "int8 (W8A8)", "int4": "int4 (W4A8)", "w4a16": f"W4A16 (G = "
             f"{dd.W4A16_GROUP})", "fp16": "FP16", "int4-sparse24": "2:4 int4 (W4A8)",
             "int8-sparse24": "2:4 int8 (W8A8)"}
    what = "2:4-pruned float" if sparse else "float"
    lines = [f"held-out perplexity ({len(held)} characters, every tenth 2 KiB block of the "
             f"corpus): character frequencies {nums['ppl_unigram']:.2f}, {what} "
             f"{nums['ppl_float']:.2f}, "
             + ", ".join(f"{names[f]} {nums[f'ppl_{f}']:.2f}" for f in formats)]
    return lines, nums


def _sparse(args, out):
    """``--sparse``: prune and fine-tune the dense weights, write them with their numbers."""
    from ..sim import decode_demo as dd
    from ..sim.verif import decode_train as dt

    try:
        dense, info = dd.load_model(args.dense)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    steps, lr = args.steps or 600, args.lr or 2e-3
    seed = 1 if args.seed is None else args.seed
    start = time.time()
    losses = []

    def log(step, loss, seconds):
        losses.append(loss)
        print(f"step {step:5d}  loss {loss:.3f} nats  {seconds:6.1f} s", file=sys.stderr)
    oneshot, model = dt.finetune_24(dense, steps=steps, batch=args.batch, lr=lr, seed=seed,
                                    log=log)
    seconds = time.time() - start
    dd.save_model(model, out)
    shipped, _ = dd.load_model(out)
    lines, nums = report(shipped, sparse=True)
    _, held = dd.split_corpus(dd.corpus())
    nums["ppl_oneshot"] = dd.held_out_perplexity(oneshot, held)
    nums["ppl_dense_float"] = info.get("ppl_float", dd.held_out_perplexity(dense, held))
    dd.save_model(model, out, steps=steps, batch=args.batch, lr=lr, seed=seed,
                  train_seconds=seconds, final_loss=losses[-1], **nums)
    print(f"pruned 2:4 and fine-tuned {steps} steps x {args.batch} windows in {seconds:.0f} s; "
          f"wrote {out}")
    print(f"2:4 pruning without fine-tune: held-out perplexity {nums['ppl_oneshot']:.2f} (dense "
          f"float {nums['ppl_dense_float']:.2f}); after the fine-tune {nums['ppl_float']:.2f}")
    for line in lines:
        print(line)
    return 0


def run(args):
    from ..sim import decode_demo as dd
    from ..sim.verif import decode_train as dt

    if (args.steps is not None and args.steps < 1) or args.batch < 1 \
            or (args.lr is not None and args.lr <= 0):
        raise UserError("--steps, --batch and --lr must be positive")
    if args.dense is not None and not args.sparse:
        raise UserError("--dense is the dense weights --sparse prunes: give --sparse too")
    if args.sparse and args.refresh_corpus:
        raise UserError("--refresh-corpus changes what the dense weights were trained on: "
                        "retrain them first (without --sparse)")
    out = args.out or (dd.SPARSE_WEIGHTS if args.sparse else dd.WEIGHTS)
    if args.report_only:
        try:
            model, info = dd.load_model(out)
        except (FileNotFoundError, ValueError) as error:
            raise UserError(str(error)) from None
        try:
            lines, nums = report(model, sparse=args.sparse)
        except ValueError as error:
            raise UserError(f"{out}: {error}") from None
        info.update(nums)
        dd.save_model(model, out, **info)
        print("\n".join(lines))
        return 0
    if args.sparse:
        return _sparse(args, out)
    steps, lr = args.steps or 1500, args.lr or 6e-3
    seed = 0 if args.seed is None else args.seed
    if args.refresh_corpus:
        text = dt.snapshot_corpus()
        print(f"corpus: {len(text)} characters from {', '.join(dt.CORPUS_SOURCES)}")
    start = time.time()
    losses = []

    def log(step, loss, seconds):
        losses.append(loss)
        print(f"step {step:5d}  loss {loss:.3f} nats  {seconds:6.1f} s", file=sys.stderr)
    model = dt.train(steps=steps, batch=args.batch, lr=lr, seed=seed, log=log)
    seconds = time.time() - start
    # The saved model is the float16 one: measure what ships.
    dd.save_model(model, out)
    shipped, _ = dd.load_model(out)
    lines, nums = report(shipped)
    dd.save_model(model, out, steps=steps, batch=args.batch, lr=lr, seed=seed,
                  train_seconds=seconds, final_loss=losses[-1], **nums)
    print(f"trained {steps} steps x {args.batch} windows in {seconds:.0f} s; "
          f"wrote {out}")
    for line in lines:
        print(line)
    return 0
