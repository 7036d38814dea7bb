"""``dure decode-train``: train the decode demo's character transformer in numpy and write its
weights (:mod:`dure.sim.verif.decode_train`, ``make train-decode``)."""

import sys
import time

from ..errors import UserError

NAME = "decode-train"
HELP = ("train the decode demo's character transformer (numpy, Adam, fixed seed) on the "
        "shipped corpus and write its float16 weights; prints held-out perplexities")


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps (default 1500)")
    parser.add_argument("--batch", type=int, default=32,
                        help="windows of 65 characters per step (default 32)")
    parser.add_argument("--lr", type=float, default=6e-3, help="peak learning rate (6e-3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", default=None,
                        help="weights file (default: the shipped sim/decode_weights.npz)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: recompute the perplexities of the weights file "
                             "and store them beside its weights")
    parser.add_argument("--refresh-corpus", action="store_true",
                        help="first rewrite sim/decode_corpus.txt from the current docs "
                             "(changes what the shipped weights were trained on)")


def report(model):
    """Lines of held-out perplexities of ``model`` (float, int8, int4, W4A16) beside the
    character-frequency baseline; returns ``(lines, numbers)``."""
    from ..sim import decode_demo as dd

    train_text, held = dd.split_corpus(dd.corpus())
    nums = {"ppl_unigram": dd.unigram_perplexity(model, train_text, held),
            "ppl_float": dd.held_out_perplexity(model, held)}
    for fmt in dd.FORMATS:
        nums[f"ppl_{fmt}"] = dd.held_out_perplexity(model, held, dd.quantize(model, fmt))
    lines = [f"held-out perplexity ({len(held)} characters, every tenth 2 KiB block of the "
             f"corpus): character frequencies {nums['ppl_unigram']:.2f}, float "
             f"{nums['ppl_float']:.2f}, int8 (W8A8) {nums['ppl_int8']:.2f}, int4 (W4A8) "
             f"{nums['ppl_int4']:.2f}, W4A16 (G = {dd.W4A16_GROUP}) {nums['ppl_w4a16']:.2f}"]
    return lines, nums


def run(args):
    from ..sim import decode_demo as dd
    from ..sim.verif import decode_train as dt

    if args.steps < 1 or args.batch < 1 or args.lr <= 0:
        raise UserError("--steps, --batch and --lr must be positive")
    out = args.out or dd.WEIGHTS
    if args.report_only:
        try:
            model, info = dd.load_model(out)
        except (FileNotFoundError, ValueError) as error:
            raise UserError(str(error)) from None
        lines, nums = report(model)
        info.update(nums)
        dd.save_model(model, out, **info)
        print("\n".join(lines))
        return 0
    if args.refresh_corpus:
        text = dt.snapshot_corpus()
        print(f"corpus: {len(text)} characters from {', '.join(dt.CORPUS_SOURCES)}")
    start = time.time()
    losses = []

    def log(step, loss, seconds):
        losses.append(loss)
        print(f"step {step:5d}  loss {loss:.3f} nats  {seconds:6.1f} s", file=sys.stderr)
    model = dt.train(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, log=log)
    seconds = time.time() - start
    # The saved model is the float16 one: measure what ships.
    dd.save_model(model, out)
    shipped, _ = dd.load_model(out)
    lines, nums = report(shipped)
    dd.save_model(model, out, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                  train_seconds=seconds, final_loss=losses[-1], **nums)
    print(f"trained {args.steps} steps x {args.batch} windows in {seconds:.0f} s; "
          f"wrote {out}")
    for line in lines:
        print(line)
    return 0
