"""A small decoder-only transformer generating text, its matrix work as GEMVs on the NPU.

The model (character level, the project's own docs as text):

- vocabulary: the characters of the training text (:func:`training_text`), at most
  :data:`MAX_VOCAB`, the rarest mapped to ``?``;
- ``x = E[token] + P[position]`` (d = :data:`D`), then :data:`LAYERS` pre-norm blocks:
  ``h = ln(x)``, ``q, k, v = h Wq, h Wk, h Wv`` (one GEMV of ``[Wq Wk Wv]``, d x 3d), causal
  attention of :data:`HEADS` heads over the KV cache, ``x += att Wo``; ``x += relu(ln(x) W1)
  W2`` (hidden :data:`HIDDEN`); logits ``= ln(x) Wout``; the next token is the argmax.
- Training: the embeddings and the blocks are fixed random weights (seeded); only the output
  head ``Wout`` is fitted, by ridge regression of the next character's one-hot on the float
  model's final features over the text (random features with a trained read-out: seconds in
  numpy, no backpropagation). So the text it generates is learned (common words and spacing of
  the docs) but far from a trained language model: :func:`held_out_perplexity` says how far.

The split (documented in docs/numerics.md, "Decode demo"): every matrix-vector product (per
layer the QKV, the output projection, the two MLP matrices; the LM head) runs on the NPU as a
transposed GEMV (:func:`dure.sim.gemv_plan.gemv_program`, INT8 activations times int8 or int4
weights into int32); the host does the rest in float32: embedding, layer norm, the per-vector
activation quantization (symmetric, ``s_x = max|x| / 127``, RNE), the dequantization ``y = acc
* s_x * s_w[j]`` (per-output-channel weight scales), attention over the KV cache, ReLU,
residuals, argmax. Each NPU GEMV's int32 result is checked bit for bit against
:func:`dure.sim.golden.gemm_int8` of the same quantized operands (W4A8: the int4 values).

Engines: ``model`` runs each GEMV on the NPU command model (:class:`dure.sim.npu_model.
NpuModel`, no cycle count: the report gives the roofline time of the bytes moved); ``soc`` runs
each GEMV on the simulated SoC through the firmware (one ``npu_job`` run per GEMV) and counts
its cycles (from the first descriptor push to the final fence).
"""

import pathlib
from dataclasses import dataclass, field

import numpy as np

from . import golden
from .gemv_plan import gemv_program, transposed_weights

__all__ = ["D", "HEADS", "LAYERS", "HIDDEN", "MAX_VOCAB", "training_text", "Model",
           "train", "QuantModel", "quantize", "Decoder", "held_out_perplexity",
           "unigram_perplexity"]

D, HEADS, LAYERS, HIDDEN, CONTEXT, MAX_VOCAB = 64, 2, 2, 128, 64, 64
_RIDGE = 1e-1
_DOCS = ("docs/numerics.md", "docs/architecture.md", "firmware/README.md")


def training_text(root=None):
    """The training text: the project's docs (a few tens of KB), whitespace collapsed."""
    root = pathlib.Path(root) if root else pathlib.Path(__file__).resolve().parent.parent
    parts = [(root / p).read_text(encoding="utf-8") for p in _DOCS if (root / p).is_file()]
    if not parts:
        raise FileNotFoundError(f"no training text under {root} ({', '.join(_DOCS)})")
    return " ".join(" ".join(parts).split())


@dataclass
class Model:
    """Float32 weights; ``vocab``: the characters, index = token."""

    vocab: str
    emb: np.ndarray
    pos: np.ndarray
    blocks: list                 # per layer dict: qkv (d, 3d), o (d, d), w1 (d, h), w2 (h, d)
    head: np.ndarray             # (d, V)
    temperature: float = 1.0     # logits = features @ head * temperature (for perplexity only)

    def encode(self, text):
        index = {c: i for i, c in enumerate(self.vocab)}
        return [index.get(c, index["?"]) for c in text]

    def decode(self, tokens):
        return "".join(self.vocab[t] for t in tokens)


def _ln(x):
    x = x.astype(np.float32)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + 1e-5)).astype(np.float32)


def _attend(q, keys, values):
    """Causal attention of one position's q (d) over the cache (t, d), HEADS heads."""
    dh = D // HEADS
    out = np.empty(D, np.float32)
    for h in range(HEADS):
        sl = slice(h * dh, (h + 1) * dh)
        s = keys[:, sl] @ q[sl] / np.float32(np.sqrt(dh))
        p = np.exp(s - s.max())
        out[sl] = (p / p.sum()) @ values[:, sl]
    return out


def _features(model, tokens, matvec):
    """Final layer-normed features of every position (one at a time, KV cache), with
    ``matvec(name, layer, x)`` doing each matrix product."""
    caches = [([], []) for _ in range(LAYERS)]
    feats = []
    for t, tok in enumerate(tokens):
        x = model.emb[tok] + model.pos[t % CONTEXT]
        for i in range(LAYERS):
            qkv = matvec("qkv", i, _ln(x))
            q, k, v = qkv[:D], qkv[D:2 * D], qkv[2 * D:]
            keys, values = caches[i]
            keys.append(k)
            values.append(v)
            if len(keys) > CONTEXT:
                del keys[0], values[0]
            x = x + matvec("o", i, _attend(q, np.array(keys), np.array(values)))
            x = x + matvec("w2", i, np.maximum(matvec("w1", i, _ln(x)), 0))
        feats.append(_ln(x))
    return np.array(feats, np.float32)


def _float_matvec(model):
    def matvec(name, layer, x):
        w = model.head if name == "head" else model.blocks[layer][name]
        return (x @ w).astype(np.float32)
    return matvec


def train(text=None, seed=0, limit=6000):
    """The :class:`Model`: random fixed weights, ridge-fitted head on the first ``limit``
    characters of ``text`` (default :func:`training_text`)."""
    text = training_text() if text is None else text
    counts = {}
    for c in text:
        counts[c] = counts.get(c, 0) + 1
    chars = sorted(counts, key=lambda c: -counts[c])[:MAX_VOCAB - 1]
    vocab = "".join(sorted(set(chars) | {"?"}))
    rng = np.random.default_rng(seed)

    def rand(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[0])).astype(np.float32)

    blocks = [dict(qkv=rand(D, 3 * D), o=rand(D, D, scale=0.5), w1=rand(D, HIDDEN),
                   w2=rand(HIDDEN, D, scale=0.5)) for _ in range(LAYERS)]
    model = Model(vocab, (rng.standard_normal((len(vocab), D))).astype(np.float32),
                  (rng.standard_normal((CONTEXT, D)) * 0.3).astype(np.float32), blocks,
                  np.zeros((D, len(vocab)), np.float32))
    tokens = model.encode(text[:limit + 1])
    feats = _features(model, tokens[:-1], _float_matvec(model))
    target = np.zeros((len(feats), len(vocab)), np.float32)
    target[np.arange(len(feats)), tokens[1:]] = 1.0
    gram = feats.T @ feats + _RIDGE * len(feats) / D * np.eye(D, dtype=np.float32)
    model.head = np.linalg.solve(gram, feats.T @ target).astype(np.float32)
    # The regression's outputs are not log-probabilities: one scale, fitted on the training
    # text, turns them into a calibrated softmax (argmax, and so the text, do not change).
    logits = feats @ model.head
    model.temperature = min((_nll(logits * t, tokens[1:]), t) for t in 2.0 ** np.arange(8))[1]
    return model


def _nll(logits, targets):
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(targets)), targets].mean())


@dataclass
class QuantModel:
    """Per matrix: the int8 values (int4 in [-8, 7] for ``bits = 4``) and per-column scales."""

    model: Model
    bits: int
    mats: dict = field(default_factory=dict)     # (name, layer) -> (q int8 (K, N), s (N,))

    def weight_bytes(self, r):
        """Bytes of weights the GEMV plan streams per token (each matrix once)."""
        fmt = "int4" if self.bits == 4 else "dense"
        return sum(len(transposed_weights(q, fmt, r)[0]) for q, _ in self.mats.values())


def quantize(model, bits=8):
    """Symmetric per-output-channel quantization of every matrix (RNE), ``bits`` 8 or 4."""
    if bits not in (8, 4):
        raise ValueError(f"weights are int8 or int4, not {bits} bits")
    top = 127 if bits == 8 else 7
    qm = QuantModel(model, bits)
    named = [(("head", 0), model.head)] + [((name, i), w) for i, blk in enumerate(model.blocks)
                                           for name, w in blk.items()]
    for key, w in named:
        s = np.maximum(np.abs(w).max(axis=0), 1e-8).astype(np.float32) / np.float32(top)
        q = np.clip(np.rint(w / s), -top - (bits == 4), top).astype(np.int8)
        qm.mats[key] = (q, s)
    return qm


def _quantize_vector(x):
    s = np.float32(max(float(np.abs(x).max()), 1e-8) / 127.0)
    return np.clip(np.rint(x / s), -127, 127).astype(np.int8).reshape(1, -1), s


class Decoder:
    """Runs a :class:`QuantModel` token by token, every GEMV on ``engine`` (``model`` or
    ``soc``) and checked against the golden GEMM; collects bytes and cycles."""

    def __init__(self, qm, config, engine="model"):
        if engine not in ("model", "soc"):
            raise ValueError(f"engine must be model or soc, not {engine!r}")
        self.qm, self.config, self.engine = qm, config, engine
        self.gemvs = self.cycles = self.dma_rd = self.mismatches = 0
        self.per_token = []          # (DMA bytes, cycles) of each generated token's position

    def _gemv(self, q, a):
        from dure.config import MAIN_BASE

        fmt = "int4" if self.qm.bits == 4 else "dense"

        def build(a_addr, out_addr, param_addr):
            return gemv_program(self.config, q, precision="int8", fmt=fmt, a_addr=a_addr,
                                out_addr=out_addr, param_addr=param_addr)
        if self.engine == "model":
            from .layer_program import run_on_model
            from .npu_model import NpuModel

            size = 1 << 20
            npu = NpuModel(self.config, memory={MAIN_BASE: bytes(size)})
            npu.set_window(MAIN_BASE, size)
            program = build(MAIN_BASE, MAIN_BASE + 0x1000, MAIN_BASE + 0x2000)
            got = run_on_model(npu, program, [(MAIN_BASE, a)]).reshape(1, -1)
            self.dma_rd += npu.dma_rd
        else:
            from .npu_job import Job

            job = Job(self.config, max_layers=1)
            out, _ = job.layer_program(lambda addrs, o, p: build(addrs[0], o, p), [a])
            result = job.run()
            got = result.read(out).reshape(1, -1)
            stats = result.layers[0]
            self.cycles += stats["cycles"]
            self.dma_rd += stats["dma_rd"]
        self.gemvs += 1
        if not np.array_equal(got, golden.gemm_int8(a, q)):
            self.mismatches += 1
        return got

    def matvec(self, name, layer, x):
        q, s = self.qm.mats[(name, layer)]
        a, sx = _quantize_vector(x)
        acc = self._gemv(q, a)[0]
        return (acc.astype(np.float32) * (sx * s)).astype(np.float32)

    def generate(self, prompt, tokens):
        """The prompt's tokens then ``tokens`` argmax tokens; returns the generated text."""
        model = self.qm.model
        seq = model.encode(prompt) or model.encode(" ")
        caches = [([], []) for _ in range(LAYERS)]
        out = []
        for t in range(len(seq) + tokens - 1):
            before = (self.dma_rd, self.cycles)
            tok = seq[t] if t < len(seq) else out[-1]
            x = model.emb[tok] + model.pos[t % CONTEXT]
            for i in range(LAYERS):
                qkv = self.matvec("qkv", i, _ln(x))
                keys, values = caches[i]
                keys.append(qkv[D:2 * D])
                values.append(qkv[2 * D:])
                if len(keys) > CONTEXT:
                    del keys[0], values[0]
                x = x + self.matvec("o", i, _attend(qkv[:D], np.array(keys), np.array(values)))
                x = x + self.matvec("w2", i, np.maximum(self.matvec("w1", i, _ln(x)), 0))
            if t >= len(seq) - 1:
                out.append(int(np.argmax(self.matvec("head", 0, _ln(x)))))
                self.per_token.append((self.dma_rd - before[0], self.cycles - before[1]))
        return model.decode(out)


def held_out_perplexity(model, text, qm=None, limit=1500):
    """Per-character perplexity of ``text`` (softmax of the logits): the float model, or the
    quantized one's arithmetic (on the host, the same integer GEMVs as the NPU computes)."""
    tokens = model.encode(text[:limit + 1])
    if qm is None:
        feats = _features(model, tokens[:-1], _float_matvec(model))
        logits = feats @ model.head
    else:
        def matvec(name, layer, x):
            q, s = qm.mats[(name, layer)]
            a, sx = _quantize_vector(x)
            return (golden.gemm_int8(a, q)[0].astype(np.float32) * (sx * s)).astype(np.float32)
        feats = _features(model, tokens[:-1], matvec)
        logits = np.array([matvec("head", 0, f) for f in feats])
    return float(np.exp(_nll(logits * model.temperature, tokens[1:])))


def unigram_perplexity(model, train_text, text, limit=1500):
    """Perplexity of ``text`` under the training text's character frequencies (add-one): what
    a model that learned nothing about context reaches."""
    counts = np.ones(len(model.vocab))
    np.add.at(counts, model.encode(train_text), 1)
    p = counts / counts.sum()
    tokens = model.encode(text[1:limit + 1])
    return float(np.exp(-np.log(p[tokens]).mean()))
