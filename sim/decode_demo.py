"""A small decoder-only transformer generating text, its matrix work as GEMVs on the NPU.

The model (character level, trained on the project's own docs):

- vocabulary: the :data:`MAX_VOCAB` - 1 most frequent characters of the training text and
  ``?`` for every other one (:func:`make_vocab`);
- ``x = E[token] + P[position]`` (d = :data:`D`), then :data:`LAYERS` pre-norm blocks:
  ``h = ln(x)`` (no gain, no bias), ``q, k, v = h Wq, h Wk, h Wv`` (one GEMV of ``[Wq Wk
  Wv]``, d x 3d), causal attention of :data:`HEADS` heads (scores scaled by 1 / sqrt(d /
  heads)) over the KV cache, ``x += att Wo``; ``x += relu(ln(x) W1) W2`` (hidden
  :data:`HIDDEN`); logits ``= ln(x) Wout``; no biases anywhere.
- Training (:mod:`dure.sim.verif.decode_train`, ``make train-decode``): the whole model by
  backpropagation in numpy with Adam, on windows of :data:`CONTEXT` characters of the corpus
  (:data:`CORPUS`, the prose of the docs frozen into the repository) with every tenth 2 KiB
  block held out (:func:`split_corpus`). The weights ship as float16 (:data:`WEIGHTS`,
  :func:`load_model`); the int8 / int4 / W4A16 weights are derived from them by
  :func:`quantize`, deterministically. :func:`held_out_perplexity` measures each against the
  character-frequency baseline (:func:`unigram_perplexity`).

The split (documented in docs/numerics.md, "Decode demo"): every matrix-vector product (per
layer the QKV, the output projection, the two MLP matrices; the LM head) runs on the NPU as a
transposed GEMV (:func:`dure.sim.gemv_plan.gemv_program`): INT8 activations times int8 or int4
weights into int32, or (W4A16) fp16 activations times int4 weights with fp16 group scales into
fp32; the host does the rest in float32: embedding, layer norm, the per-vector activation
quantization (symmetric, ``s_x = max|x| / 127``, RNE; W4A16: RNE to fp16), the dequantization
``y = acc * s_x * s_w[j]`` (per-output-channel weight scales), attention over the KV cache,
ReLU, residuals, argmax or sampling. Each NPU GEMV's result is checked bit for bit against the
golden GEMM of the same operands (:func:`dure.sim.golden.gemm_int8`, W4A8 with the int4
values; :func:`dure.sim.golden_int4.gemm_w4a16`).

Engines: ``model`` runs each GEMV on the NPU command model (:class:`dure.sim.npu_model.
NpuModel`, no cycle count: the report gives the roofline time of the bytes moved); ``soc`` runs
each GEMV on the simulated SoC through the firmware (one ``npu_job`` run per GEMV) and counts
its cycles (from the first descriptor push to the final fence).
"""

import pathlib
from dataclasses import dataclass, field

import numpy as np

from . import golden
from .gemv_plan import gemv_program, transposed_weights, w4a16_rows
from .golden_int4 import dequantize_w4a16, gemm_w4a16

__all__ = ["D", "HEADS", "LAYERS", "HIDDEN", "CONTEXT", "MAX_VOCAB", "CORPUS", "WEIGHTS",
           "PERPLEXITY_BOUND", "QUANT_LOSS_BOUND", "corpus", "split_corpus", "make_vocab",
           "encode", "Model", "save_model", "load_model", "sequence_logits", "FORMATS",
           "W4A16_GROUP", "QuantModel", "quantize", "Decoder", "held_out_perplexity",
           "unigram_perplexity"]

D, HEADS, LAYERS, HIDDEN, CONTEXT, MAX_VOCAB = 64, 2, 2, 128, 64, 64
_HERE = pathlib.Path(__file__).resolve().parent
#: The training corpus: the prose of the project's docs, frozen (``dure decode-train
#: --refresh-corpus`` rewrites it from the docs).
CORPUS = _HERE / "decode_corpus.txt"
#: The trained weights (float16), written by ``dure decode-train`` (``make train-decode``).
WEIGHTS = _HERE / "decode_weights.npz"
_BLOCK, _HOLD_EVERY = 2048, 10
#: The shipped model's held-out perplexity, float and every weight format, stays below this
#: fraction of the character-frequency baseline (:func:`unigram_perplexity`; a model that
#: learned nothing about context sits at 1.0) ...
PERPLEXITY_BOUND = 0.25
#: ... and each quantized format's below this multiple of the float model's.
QUANT_LOSS_BOUND = 1.2


def corpus(path=None):
    """The corpus text (default :data:`CORPUS`)."""
    path = pathlib.Path(path or CORPUS)
    if not path.is_file():
        raise FileNotFoundError(f"no corpus at {path} (dure decode-train --refresh-corpus)")
    return path.read_text(encoding="utf-8").strip()


def split_corpus(text):
    """``(training, held-out)``: the corpus cut into blocks of 2048 characters, every tenth
    block (blocks 9, 19, ...) held out, each part the concatenation of its blocks."""
    blocks = [text[i:i + _BLOCK] for i in range(0, len(text), _BLOCK)]
    held = [b for i, b in enumerate(blocks) if i % _HOLD_EVERY == _HOLD_EVERY - 1]
    train = [b for i, b in enumerate(blocks) if i % _HOLD_EVERY != _HOLD_EVERY - 1]
    return "".join(train), "".join(held)


def make_vocab(text):
    """The vocabulary: the :data:`MAX_VOCAB` - 1 most frequent characters of ``text`` (ties by
    code point) and ``?`` (which stands for every other character), sorted."""
    counts = {}
    for c in text:
        counts[c] = counts.get(c, 0) + 1
    chars = sorted(counts, key=lambda c: (-counts[c], c))[:MAX_VOCAB - 1]
    return "".join(sorted(set(chars) | {"?"}))


def encode(vocab, text):
    """Token indices of ``text`` (characters outside ``vocab`` as ``?``)."""
    index = {c: i for i, c in enumerate(vocab)}
    return [index.get(c, index["?"]) for c in text]


@dataclass
class Model:
    """Float32 weights; ``vocab``: the characters, index = token."""

    vocab: str
    emb: np.ndarray              # (V, d)
    pos: np.ndarray              # (CONTEXT, d)
    blocks: list                 # per layer dict: qkv (d, 3d), o (d, d), w1 (d, h), w2 (h, d)
    head: np.ndarray             # (d, V)

    @classmethod
    def from_params(cls, vocab, p):
        """From flat parameters ``emb``, ``pos``, ``head``, ``qkv0``, ``o0``, ``w10``, ..."""
        layers = sum(1 for k in p if k.startswith("qkv"))
        blocks = [{n: np.asarray(p[f"{n}{i}"], np.float32) for n in ("qkv", "o", "w1", "w2")}
                  for i in range(layers)]
        return cls(vocab, np.asarray(p["emb"], np.float32), np.asarray(p["pos"], np.float32),
                   blocks, np.asarray(p["head"], np.float32))

    def params(self):
        """The flat parameters (the inverse of :meth:`from_params`)."""
        p = {"emb": self.emb, "pos": self.pos, "head": self.head}
        for i, blk in enumerate(self.blocks):
            p.update({f"{n}{i}": w for n, w in blk.items()})
        return p

    def encode(self, text):
        return encode(self.vocab, text)

    def decode(self, tokens):
        return "".join(self.vocab[t] for t in tokens)


def save_model(model, path=None, **info):
    """Write ``model`` as float16 arrays (``.npz``, default :data:`WEIGHTS`); ``info``: numbers
    stored beside them (training loss, perplexities, ...)."""
    arrays = {k: w.astype(np.float16) for k, w in model.params().items()}
    meta = {f"info_{k}": np.float64(v) for k, v in info.items()}
    np.savez_compressed(path or WEIGHTS, vocab=np.array(model.vocab), **arrays, **meta)


def load_model(path=None):
    """``(model, info)`` from :func:`save_model`'s file (default: the shipped weights)."""
    path = pathlib.Path(path or WEIGHTS)
    if not path.is_file():
        raise FileNotFoundError(f"no decode weights at {path} (make train-decode)")
    with np.load(path) as z:
        vocab = str(z["vocab"])
        p = {k: z[k] for k in z.files if k != "vocab" and not k.startswith("info_")}
        info = {k[5:]: float(z[k]) for k in z.files if k.startswith("info_")}
    if len(vocab) != p["emb"].shape[0] or "?" not in vocab:
        raise ValueError(f"{path}: vocabulary of {len(vocab)} characters for an embedding of "
                         f"{p['emb'].shape[0]} rows")
    return Model.from_params(vocab, p), info


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


def sequence_logits(model, tokens, matmul=None):
    """Logits (B, T, V) of windows ``tokens`` (B, T <= CONTEXT, positions from 0), all
    positions at once (causal mask); ``matmul(name, layer, x)`` does each matrix product of
    ``x`` (B, T, K) row by row (default: float32 ``x @ w``)."""
    matmul = matmul or _float_matmul(model)
    b, t = tokens.shape
    dh = D // HEADS
    x = model.emb[tokens] + model.pos[:t]
    causal = np.triu(np.ones((t, t), bool), 1)
    for i in range(LAYERS):
        qkv = matmul("qkv", i, _ln(x))
        q, k, v = (qkv[..., j * D:(j + 1) * D].reshape(b, t, HEADS, dh).transpose(0, 2, 1, 3)
                   for j in range(3))
        s = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(dh))
        s[..., causal] = -np.inf
        e = np.exp(s - s.max(-1, keepdims=True))
        a = ((e / e.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(b, t, D)
        x = x + matmul("o", i, a)
        x = x + matmul("w2", i, np.maximum(matmul("w1", i, _ln(x)), 0))
    return matmul("head", 0, _ln(x))


def _weight(model, name, layer):
    return model.head if name == "head" else model.blocks[layer][name]


def _float_matmul(model):
    def matmul(name, layer, x):
        return (x @ _weight(model, name, layer)).astype(np.float32)
    return matmul


def _nll(logits, targets):
    logits = logits - logits.max(axis=-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return float(-np.take_along_axis(logp, targets[..., None], -1).mean())


#: Weight formats of the demo: int8 (W8A8), int4 per channel (W4A8), int4 with fp16 scales
#: per group of :data:`W4A16_GROUP` k (W4A16, FP16 activations).
FORMATS = ("int8", "int4", "w4a16")
W4A16_GROUP = 32
_CLIP_RATIOS = np.float32(np.arange(20, 0, -1) / 20)


@dataclass
class QuantModel:
    """Per matrix ``(name, layer)``: the int8 values (int4 in [-8, 7] for ``int4`` and
    ``w4a16``) and the scales: per column float32 (``int8``, ``int4``), or per group of
    :data:`W4A16_GROUP` k and column float16 (``w4a16``, shape (K / G, N))."""

    model: Model
    fmt: str
    mats: dict = field(default_factory=dict)

    def weight_bytes(self, r):
        """Bytes of weights the GEMV plan streams per token (each matrix once) on an array
        of ``r`` rows."""
        if self.fmt == "w4a16":
            return sum(len(w4a16_rows(q, s, W4A16_GROUP, r)[0]) for q, s in self.mats.values())
        fmt = "int4" if self.fmt == "int4" else "dense"
        return sum(len(transposed_weights(q, fmt, r)[0]) for q, _ in self.mats.values())


def _int4_clipped(w, scale_dtype=np.float32):
    """Per column of ``w``: the scale ``s = max|w| * ratio / 7`` (ratio 1, 0.95, ..., 0.05;
    rounded to ``scale_dtype``, RNE) whose ``q = clip(rne(w / s), -8, 7)`` has the smallest
    squared error ``sum (q s - w)^2`` (the largest such ratio on ties); returns (q int8, s)."""
    top = np.maximum(np.abs(w).max(axis=0), np.float32(1e-4))
    best_q = best_s = best_err = None
    for ratio in _CLIP_RATIOS:
        s = (top * ratio / np.float32(7)).astype(scale_dtype).astype(np.float32)
        q = np.clip(np.rint(w / s), -8, 7)
        err = ((q * s - w) ** 2).sum(axis=0)
        if best_err is None:
            best_q, best_s, best_err = q, s, err
            continue
        better = err < best_err
        best_q = np.where(better, q, best_q)
        best_s = np.where(better, s, best_s)
        best_err = np.where(better, err, best_err)
    return best_q.astype(np.int8), best_s.astype(scale_dtype)


def quantize(model, fmt="int8"):
    """Symmetric quantization of every matrix (RNE): ``int8`` per output channel, ``s =
    max|w| / 127``, ``q = clip(rne(w / s), -127, 127)``; ``int4`` per output channel and
    ``w4a16`` per group of :data:`W4A16_GROUP` k of a column (fp16 scales), both with the
    clipping of least squared error (:func:`_int4_clipped`)."""
    if fmt not in FORMATS:
        raise ValueError(f"weights are {', '.join(FORMATS)}, not {fmt!r}")
    qm = QuantModel(model, fmt)
    named = [(("head", 0), model.head)] + [((name, i), w) for i, blk in enumerate(model.blocks)
                                           for name, w in blk.items()]
    for key, w in named:
        if fmt == "int8":
            s = np.maximum(np.abs(w).max(axis=0), 1e-8).astype(np.float32) / np.float32(127)
            qm.mats[key] = (np.clip(np.rint(w / s), -127, 127).astype(np.int8), s)
        elif fmt == "int4":
            qm.mats[key] = _int4_clipped(w)
        else:
            k, n = w.shape
            g = k // W4A16_GROUP
            # Each group of a column as one column of (G, groups * N).
            cols = w.reshape(g, W4A16_GROUP, n).transpose(1, 0, 2).reshape(W4A16_GROUP, g * n)
            q, s = _int4_clipped(cols, np.float16)
            q = q.reshape(W4A16_GROUP, g, n).transpose(1, 0, 2).reshape(k, n)
            qm.mats[key] = (np.ascontiguousarray(q), s.reshape(g, n))
    return qm


def _quantize_vector(x):
    s = np.float32(max(float(np.abs(x).max()), 1e-8) / 127.0)
    return np.clip(np.rint(x / s), -127, 127).astype(np.int8).reshape(1, -1), s


def _quantize_rows(x):
    """:func:`_quantize_vector` of every row of ``x`` (..., K): (int8 values, scales (...))."""
    s = (np.maximum(np.abs(x).max(-1).astype(np.float64), 1e-8) / 127.0).astype(np.float32)
    return np.clip(np.rint(x / s[..., None]), -127, 127).astype(np.int8), s


def _quant_matmul(qm):
    """The quantized model's matrix products on the host, row by row: int8 / int4 exactly the
    integer GEMV the NPU computes (float64 sums of int8 products are exact) and the demo's
    dequantization; W4A16 the fp16 activations times the dequantized fp16 weights summed in
    float32 (numpy's order, not the NPU's sequential one: last-bit differences)."""
    def matmul(name, layer, x):
        q, s = qm.mats[(name, layer)]
        if qm.fmt == "w4a16":
            w = dequantize_w4a16(q, s, W4A16_GROUP).astype(np.float32)
            return x.astype(np.float16).astype(np.float32) @ w
        a, sx = _quantize_rows(x)
        acc = (a.astype(np.float64) @ q.astype(np.float64)).astype(np.int32)
        return (acc.astype(np.float32) * (sx[..., None] * s)).astype(np.float32)
    return matmul


class Decoder:
    """Runs a :class:`QuantModel` token by token, every GEMV on ``engine`` (``model`` or
    ``soc``) and checked bit for bit against the golden GEMM (int8 / int4:
    :func:`dure.sim.golden.gemm_int8` of the same integers; W4A16:
    :func:`dure.sim.golden_int4.gemm_w4a16`); collects bytes and cycles."""

    def __init__(self, qm, config, engine="model"):
        if engine not in ("model", "soc"):
            raise ValueError(f"engine must be model or soc, not {engine!r}")
        self.qm, self.config, self.engine = qm, config, engine
        self.gemvs = self.cycles = self.dma_rd = self.mismatches = 0
        self.per_token = []          # (DMA bytes, cycles) of each generated token's position

    def _golden(self, q, s, a):
        if self.qm.fmt == "w4a16":
            return gemm_w4a16(a, q, s, W4A16_GROUP)
        return golden.gemm_int8(a, q)

    def _gemv(self, q, s, a):
        from dure.config import MAIN_BASE

        w4a16 = self.qm.fmt == "w4a16"
        extra = dict(precision="fp16", fmt="int4", scales=s, group_size=W4A16_GROUP) \
            if w4a16 else dict(precision="int8", fmt="int4" if self.qm.fmt == "int4" else "dense")

        def build(a_addr, out_addr, param_addr):
            return gemv_program(self.config, q, a_addr=a_addr, out_addr=out_addr,
                                param_addr=param_addr, **extra)
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
        if got.tobytes() != np.ascontiguousarray(self._golden(q, s, a)).tobytes():
            self.mismatches += 1
        return got

    def matvec(self, name, layer, x):
        q, s = self.qm.mats[(name, layer)]
        if self.qm.fmt == "w4a16":
            return self._gemv(q, s, x.astype(np.float16).reshape(1, -1))[0].astype(np.float32)
        a, sx = _quantize_vector(x)
        acc = self._gemv(q, s, a)[0]
        return (acc.astype(np.float32) * (sx * s)).astype(np.float32)

    def generate(self, prompt, tokens, temperature=0.0, seed=0):
        """The prompt's tokens then ``tokens`` generated ones; returns the generated text.
        ``temperature`` 0: argmax (first on ties); else sampled from ``softmax(logits /
        temperature)`` (float64) with ``numpy.random.default_rng(seed)``. Positions past
        :data:`CONTEXT` reuse the position embeddings modulo CONTEXT and attend to the last
        CONTEXT keys (the model was trained on windows of CONTEXT from position 0: the text
        degrades past that)."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, not {temperature}")
        model = self.qm.model
        rng = np.random.default_rng(seed)
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
                logits = self.matvec("head", 0, _ln(x))
                if temperature == 0:
                    out.append(int(np.argmax(logits)))
                else:
                    z = logits.astype(np.float64) / temperature
                    pr = np.exp(z - z.max())
                    out.append(int(rng.choice(len(pr), p=pr / pr.sum())))
                self.per_token.append((self.dma_rd - before[0], self.cycles - before[1]))
        return model.decode(out)


def held_out_perplexity(model, text, qm=None, limit=None):
    """Per-character perplexity (exp of the mean cross-entropy, natural log) of ``text``:
    non-overlapping windows of CONTEXT + 1 characters (the first ``limit`` characters, default
    all), every position of a window predicted from its predecessors in the window, by the
    float model or, with ``qm``, the quantized model's arithmetic on the host
    (:func:`_quant_matmul`)."""
    tokens = np.array(model.encode(text[:limit]), np.int64)
    span = CONTEXT + 1
    if len(tokens) < span:
        raise ValueError(f"held-out text needs at least {span} characters")
    win = tokens[:len(tokens) // span * span].reshape(-1, span)
    logits = sequence_logits(model, win[:, :-1], _quant_matmul(qm) if qm else None)
    return float(np.exp(_nll(logits, win[:, 1:])))


def unigram_perplexity(model, train_text, text, limit=None):
    """Perplexity of ``text`` under the training text's character frequencies (add-one), over
    the same predicted characters as :func:`held_out_perplexity`: what a model that learned
    nothing about context reaches."""
    counts = np.ones(len(model.vocab))
    np.add.at(counts, model.encode(train_text), 1)
    p = counts / counts.sum()
    span = CONTEXT + 1
    tokens = np.array(model.encode(text[:limit]), np.int64)
    win = tokens[:len(tokens) // span * span].reshape(-1, span)
    return float(np.exp(-np.log(p[win[:, 1:]]).mean()))
