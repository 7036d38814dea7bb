"""The decode demo's trainer: the hand-written backward pass against finite differences, the
training forward equal to the demo's inference forward, a short training run that learns."""

import numpy as np
import pytest
from dure.sim import decode_demo as dd
from dure.sim.verif import decode_train as dt


def _tiny(rng, vocab=7, d=8, hidden=12, layers=2, context=6):
    p = dt.init_params(vocab, rng, d=d, hidden=hidden, layers=layers, context=context)
    return {k: w.astype(np.float64) for k, w in p.items()}


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    p = _tiny(rng)
    tokens, targets = rng.integers(0, 7, (2, 6)), rng.integers(0, 7, (2, 6))
    _, grads = dt.loss_and_grads(p, tokens, targets, heads=2)
    assert grads.keys() == p.keys()
    eps = 1e-6
    for name, w in p.items():
        assert grads[name].shape == w.shape
        for _ in range(6):
            idx = tuple(int(rng.integers(0, s)) for s in w.shape)
            old = w[idx]
            w[idx] = old + eps
            up = dt.loss_and_grads(p, tokens, targets, heads=2)[0]
            w[idx] = old - eps
            down = dt.loss_and_grads(p, tokens, targets, heads=2)[0]
            w[idx] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grads[name][idx]) <= 1e-6 + 1e-4 * abs(numeric), (name, idx)


def test_loss_is_the_cross_entropy_of_the_forward():
    rng = np.random.default_rng(2)
    p = _tiny(rng)
    tokens, targets = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 5))
    logits = dt.forward(p, tokens, heads=2)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expect = -np.take_along_axis(logp, targets[..., None], -1).mean()
    assert dt.loss_and_grads(p, tokens, targets, heads=2)[0] == pytest.approx(expect, rel=1e-12)


def test_training_forward_is_the_demo_model():
    """The model the trainer optimises is the one the demo runs: the batched forward of the
    trainer, the demo's batched forward and its token-by-token KV-cache path agree."""
    rng = np.random.default_rng(3)
    vocab = dd.make_vocab(dd.corpus()[:5000])
    p = dt.init_params(len(vocab), rng)
    model = dd.Model.from_params(vocab, p)
    tokens = rng.integers(0, len(vocab), (2, 12))
    ours = dt.forward(p, tokens)
    demo = dd.sequence_logits(model, tokens)
    np.testing.assert_allclose(ours, demo, rtol=1e-4, atol=1e-4)
    # Token by token with the KV cache (float weights: a matvec that is the float product).
    dec = dd.Decoder(dd.quantize(model, "int8"), None)
    logits = []
    dec.matvec = lambda name, layer, x: (x @ dd._weight(model, name, layer)).astype(np.float32)
    step = dec.matvec

    def record(name, layer, x):
        y = step(name, layer, x)
        if name == "head":
            logits.append(y)
        return y
    dec.matvec = record
    dec.generate(model.decode(tokens[0]), 1)
    assert len(logits) == 1           # the head runs at the prompt's last position only
    np.testing.assert_allclose(logits[0], demo[0, -1], rtol=1e-4, atol=1e-4)


def test_a_short_run_learns():
    text = dd.corpus()[:40000]
    model = dt.train(text, steps=60, batch=8, lr=1e-2, seed=5)
    _, held = dd.split_corpus(text)
    train_text, _ = dd.split_corpus(text)
    # 60 steps are enough to beat the character frequencies a little (they reach ~28).
    assert dd.held_out_perplexity(model, held) < dd.unigram_perplexity(model, train_text, held)
    again = dt.train(text, steps=2, batch=4, seed=5)
    assert np.array_equal(again.head, dt.train(text, steps=2, batch=4, seed=5).head)


def test_corpus_snapshot_and_refusals(tmp_path):
    (tmp_path / "docs").mkdir()
    for source in dt.CORPUS_SOURCES:
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / source).write_text("# Title\n\nSome *prose* here.\n\n| a | b |\n|---|---|\n"
                                       "```sh\nmake it\n```\nmore  prose\n")
    out = tmp_path / "corpus.txt"
    text = dt.snapshot_corpus(tmp_path, out)
    assert text.startswith("Title Some *prose* here. more prose Title")
    assert "make it" not in text and "|" not in text
    assert out.read_text().strip() == text
    (tmp_path / dt.CORPUS_SOURCES[0]).unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        dt.snapshot_corpus(tmp_path, out)
    with pytest.raises(ValueError, match="more than"):
        dt.train("short text " * 3, steps=1)


def test_finetune_24_keeps_the_pruned_zeros():
    """The 2:4 fine-tune: every NPU matrix pruned by magnitude (the one-shot model is the
    dense model pruned), the pruned zeros still zero after the masked Adam steps, the kept
    weights and the embeddings trained; deterministic."""
    from dure.sim.decode_quant import is_pruned_24, prune_24

    text = dd.corpus()[:20000]
    vocab = dd.make_vocab(dd.split_corpus(text)[0])
    model = dd.Model.from_params(vocab, dt.init_params(len(vocab), np.random.default_rng(4)))
    oneshot, tuned = dt.finetune_24(model, text, steps=3, batch=4, seed=2)
    for name, w in model.params().items():
        before, after = oneshot.params()[name], tuned.params()[name]
        if name in ("emb", "pos"):
            assert np.array_equal(before, w) and not np.array_equal(after, w)
            continue
        assert np.array_equal(before, prune_24(w)), name
        assert is_pruned_24(after) and np.array_equal(after == 0, before == 0), name
        assert not np.array_equal(after, before), name
    again = dt.finetune_24(model, text, steps=3, batch=4, seed=2)[1]
    assert all(np.array_equal(again.params()[k], w) for k, w in tuned.params().items())
