"""Training the decode demo's character transformer (:mod:`dure.sim.decode_demo`) in numpy.

The model is exactly the one the demo runs (pre-norm blocks without affine parameters or
biases, causal attention of ``HEADS`` heads, ReLU MLP, untied output head; see the demo's
docstring), trained as a whole: the forward pass over a batch of windows of
:data:`~dure.sim.decode_demo.CONTEXT` characters (positions 0 .. CONTEXT - 1), its backward
pass written out by hand (:func:`loss_and_grads`), Adam with a short linear warm-up, cosine
decay and a global gradient-norm clip, windows drawn at random offsets of the training part of
the corpus with a fixed seed. float32 throughout. numpy only: no autograd library.

The corpus (:func:`snapshot_corpus`) is the project's own documentation, prose only (tables
and code blocks dropped, whitespace collapsed), frozen into ``sim/decode_corpus.txt`` so that
retraining reproduces the shipped weights whatever the docs say later. The held-out text is
every tenth block of the corpus (:func:`dure.sim.decode_demo.split_corpus`).

``dure decode-train`` (``make train-decode``) runs :func:`train` and writes the weights
(:func:`dure.sim.decode_demo.save_model`); on two shared cores the default schedule takes a
few minutes. ``dure decode-train --sparse`` then runs :func:`finetune_24`: every NPU matrix of
the trained model pruned 2:4 by magnitude along K and the whole model fine-tuned with the
masks held (600 steps, about 1.5 minutes), written as the 2:4 formats' weights
(:data:`dure.sim.decode_demo.SPARSE_WEIGHTS`).
"""

import pathlib
import time

import numpy as np

from .. import decode_demo as dd

__all__ = ["CORPUS_SOURCES", "snapshot_corpus", "init_params", "forward", "loss_and_grads",
           "train", "PRUNED", "finetune_24"]

#: The documents the corpus is cut from (relative to the repository root), in this order.
CORPUS_SOURCES = ("README.md", "docs/architecture.md", "docs/numerics.md", "docs/compiler.md",
                  "docs/verification.md", "docs/scaling.md", "firmware/README.md",
                  "fpga/README.md")


def _prose(markdown):
    """The prose of a markdown text: fenced code blocks, tables and headings' ``#`` removed."""
    keep, fenced = [], False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced or stripped.startswith("|"):
            continue
        keep.append(stripped.lstrip("#").strip())
    return " ".join(" ".join(keep).split())


def snapshot_corpus(root=None, out=None):
    """Write the corpus (the prose of :data:`CORPUS_SOURCES`) to ``out`` (default the demo's
    :data:`~dure.sim.decode_demo.CORPUS`); returns its text."""
    root = pathlib.Path(root) if root else pathlib.Path(dd.__file__).resolve().parent.parent
    missing = [p for p in CORPUS_SOURCES if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"corpus sources missing under {root}: {', '.join(missing)}")
    text = " ".join(_prose((root / p).read_text(encoding="utf-8")) for p in CORPUS_SOURCES)
    pathlib.Path(out or dd.CORPUS).write_text(text + "\n", encoding="utf-8")
    return text


def init_params(vocab_size, rng, d=dd.D, hidden=dd.HIDDEN, layers=dd.LAYERS,
                context=dd.CONTEXT):
    """Initial float32 parameters: ``emb`` (V, d), ``pos`` (context, d), per layer ``qkv``,
    ``o``, ``w1``, ``w2`` (named ``<name><layer>``), ``head`` (d, V); matrices N(0, 1 / fan-in),
    the residual branches' outputs scaled down by sqrt(2 layers)."""
    def mat(k, n, scale=1.0):
        return (rng.standard_normal((k, n)) * scale / np.sqrt(k)).astype(np.float32)

    down = 1.0 / np.sqrt(2 * layers)
    p = {"emb": (rng.standard_normal((vocab_size, d)) * 0.5).astype(np.float32),
         "pos": (rng.standard_normal((context, d)) * 0.1).astype(np.float32),
         "head": mat(d, vocab_size, 0.5)}
    for i in range(layers):
        p[f"qkv{i}"] = mat(d, 3 * d)
        p[f"o{i}"] = mat(d, d, down)
        p[f"w1{i}"] = mat(d, hidden)
        p[f"w2{i}"] = mat(hidden, d, down)
    return p


def _ln(x):
    xc = x - x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    return xc * inv, inv


def _ln_back(dy, y, inv):
    return inv * (dy - dy.mean(-1, keepdims=True) - y * (dy * y).mean(-1, keepdims=True))


def _layers(p):
    return sum(1 for name in p if name.startswith("qkv"))


def forward(p, tokens, heads=dd.HEADS, keep=False):
    """Logits (B, T, V) of every position of ``tokens`` (B, T int, positions 0 .. T - 1), and
    with ``keep`` the intermediate values the backward pass needs."""
    b, t = tokens.shape
    d = p["emb"].shape[1]
    dh = d // heads
    scale = np.float32(1.0 / np.sqrt(dh))
    causal = np.triu(np.ones((t, t), bool), 1)
    x = p["emb"][tokens] + p["pos"][:t]
    saved = []
    for i in range(_layers(p)):
        h, inv1 = _ln(x)
        qkv = h @ p[f"qkv{i}"]
        q, k, v = (qkv[..., j * d:(j + 1) * d].reshape(b, t, heads, dh).transpose(0, 2, 1, 3)
                   for j in range(3))
        s = (q @ k.transpose(0, 1, 3, 2)) * scale
        s[..., causal] = -np.inf
        e = np.exp(s - s.max(-1, keepdims=True))
        att = e / e.sum(-1, keepdims=True)
        a = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
        x = x + a @ p[f"o{i}"]
        h2, inv2 = _ln(x)
        u = h2 @ p[f"w1{i}"]
        r = np.maximum(u, 0)
        x = x + r @ p[f"w2{i}"]
        if keep:
            saved.append((h, inv1, q, k, v, att, a, h2, inv2, u, r))
    f, inv = _ln(x)
    logits = f @ p["head"]
    return (logits, (saved, f, inv)) if keep else logits


def loss_and_grads(p, tokens, targets, heads=dd.HEADS):
    """Mean cross-entropy (nats) of ``targets`` (B, T) after ``tokens`` (B, T) and its
    gradient with respect to every parameter (same keys and shapes as ``p``)."""
    b, t = tokens.shape
    d = p["emb"].shape[1]
    dh = d // heads
    scale = np.float32(1.0 / np.sqrt(dh))
    logits, (saved, f, inv) = forward(p, tokens, heads, keep=True)
    z = logits - logits.max(-1, keepdims=True)
    ez = np.exp(z)
    total = ez.sum(-1, keepdims=True)
    bi, ti = np.indices((b, t))
    loss = float((np.log(total[..., 0]) - z[bi, ti, targets]).mean())
    dz = ez / total
    dz[bi, ti, targets] -= 1
    dz /= np.float32(b * t)

    def wgrad(x, dy):
        return x.reshape(-1, x.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])

    g = {"head": wgrad(f, dz)}
    dx = _ln_back(dz @ p["head"].T, f, inv)
    for i in reversed(range(len(saved))):
        h, inv1, q, k, v, att, a, h2, inv2, u, r = saved[i]
        g[f"w2{i}"] = wgrad(r, dx)
        du = (dx @ p[f"w2{i}"].T) * (u > 0)
        g[f"w1{i}"] = wgrad(h2, du)
        dx = dx + _ln_back(du @ p[f"w1{i}"].T, h2, inv2)
        g[f"o{i}"] = wgrad(a, dx)
        da = (dx @ p[f"o{i}"].T).reshape(b, t, heads, dh).transpose(0, 2, 1, 3)
        datt = da @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ da
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) * scale
        dq = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([m.transpose(0, 2, 1, 3).reshape(b, t, d) for m in (dq, dk, dv)],
                              axis=-1)
        g[f"qkv{i}"] = wgrad(h, dqkv)
        dx = dx + _ln_back(dqkv @ p[f"qkv{i}"].T, h, inv1)
    g["pos"] = np.zeros_like(p["pos"])
    g["pos"][:t] = dx.sum(0)
    g["emb"] = np.zeros_like(p["emb"])
    np.add.at(g["emb"], tokens, dx)
    return loss, g


def train(text=None, steps=1500, batch=32, lr=6e-3, seed=0, log=None):
    """A trained :class:`~dure.sim.decode_demo.Model` on the training part of ``text``
    (default: the shipped corpus, :func:`~dure.sim.decode_demo.split_corpus`): ``steps`` Adam
    steps (betas 0.9 / 0.99, warm-up 100 steps, cosine decay to lr / 10, gradients clipped to
    norm 1) on ``batch`` windows of CONTEXT + 1 characters at random offsets, seed ``seed``.
    ``log(step, loss, seconds)`` is called every 100 steps. BLAS runs on one thread
    (``threadpoolctl``, installed with scikit-learn): the same sums in the same order on every
    machine, and no threads spinning on a busy one (the matrices are small)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _train(text, steps, batch, lr, seed, log)


def _train(text, steps, batch, lr, seed, log):
    text = dd.corpus() if text is None else text
    train_text, _ = dd.split_corpus(text)
    vocab = dd.make_vocab(train_text)
    rng = np.random.default_rng(seed)
    p = init_params(len(vocab), rng)
    data = np.array(dd.encode(vocab, train_text), np.int64)
    _adam(p, data, rng, steps, batch, lr, log)
    return dd.Model.from_params(vocab, p)


def _adam(p, data, rng, steps, batch, lr, log, masks=None, warmup=100):
    """``steps`` Adam steps on ``p`` in place (betas 0.9 / 0.99, linear warm-up over
    ``warmup`` steps, cosine decay to lr / 10, gradients clipped to norm 1), ``batch`` windows
    of CONTEXT + 1 tokens of ``data`` at offsets drawn from ``rng``. ``masks`` (name -> bool
    array): those parameters' gradients are masked and the parameters re-masked after each
    step, so their zeros stay zero (the 2:4 fine-tune)."""
    span = dd.CONTEXT + 1
    if len(data) <= span:
        raise ValueError(f"the training text needs more than {span} characters")
    masks = masks or {}
    m = {k: np.zeros_like(w) for k, w in p.items()}
    v = {k: np.zeros_like(w) for k, w in p.items()}
    b1, b2, eps = 0.9, 0.99, 1e-8
    start = time.time()
    for step in range(1, steps + 1):
        offsets = rng.integers(0, len(data) - span, batch)
        win = data[offsets[:, None] + np.arange(span)]
        loss, g = loss_and_grads(p, win[:, :-1], win[:, 1:])
        for k, mask in masks.items():
            g[k] = np.where(mask, g[k], np.float32(0))
        norm = np.sqrt(sum(float((x * x).sum()) for x in g.values()))
        clip = min(1.0, 1.0 / (norm + 1e-12))
        warm = min(1.0, step / warmup)
        rate = lr * warm * (0.1 + 0.45 * (1 + np.cos(np.pi * step / steps)))
        for k in p:
            gk = g[k] * np.float32(clip)
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            mh, vh = m[k] / (1 - b1 ** step), v[k] / (1 - b2 ** step)
            p[k] = (p[k] - rate * mh / (np.sqrt(vh) + eps)).astype(np.float32)
            if k in masks:
                p[k] = np.where(masks[k], p[k], np.float32(0))
        if log and (step % 100 == 0 or step == steps):
            log(step, loss, time.time() - start)


#: The parameters the 2:4 formats prune: every matrix the NPU multiplies by.
PRUNED = ("qkv", "o", "w1", "w2", "head")


def finetune_24(model, text=None, steps=400, batch=32, lr=2e-3, seed=1, log=None):
    """The 2:4-pruned :class:`~dure.sim.decode_demo.Model` of ``model``: every NPU matrix
    (:data:`PRUNED`) cut to the two largest magnitudes of each group of 4 along K
    (:func:`dure.sim.decode_quant.mask_24`), then ``steps`` Adam steps on the training part of
    ``text`` (default: the shipped corpus) with the masks held (the pruned weights stay zero;
    embeddings and positions train freely), warm-up 20 steps, seed ``seed``; BLAS on one
    thread as :func:`train`. Returns the pruned model before and after the fine-tune."""
    from threadpoolctl import threadpool_limits

    from ..decode_quant import mask_24

    text = dd.corpus() if text is None else text
    train_text, _ = dd.split_corpus(text)
    p = {k: np.asarray(w, np.float32).copy() for k, w in model.params().items()}
    names = {"head"} | {f"{n}{i}" for n in PRUNED[:-1] for i in range(len(model.blocks))}
    masks = {k: mask_24(w) for k, w in p.items() if k in names}
    for k, mask in masks.items():
        p[k] = np.where(mask, p[k], np.float32(0))
    oneshot = dd.Model.from_params(model.vocab, {k: w.copy() for k, w in p.items()})
    data = np.array(dd.encode(model.vocab, train_text), np.int64)
    with threadpool_limits(limits=1, user_api="blas"):
        _adam(p, data, np.random.default_rng(seed), steps, batch, lr, log, masks, warmup=20)
    return oneshot, dd.Model.from_params(model.vocab, p)
