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
  :func:`load_model`); the int8 / int4 / W4A16 / FP16 weights are derived from them by
  :func:`quantize`, deterministically. The 2:4 formats take a second file
  (:data:`SPARSE_WEIGHTS`, :func:`weights_for`): the same model with every NPU matrix pruned
  2:4 by magnitude along K and fine-tuned with the mask held (``dure decode-train
  --sparse``), so nothing trains at run time. :func:`held_out_perplexity` measures each
  against the character-frequency baseline (:func:`unigram_perplexity`).

The split (documented in docs/numerics.md, "Decode demo"): every matrix-vector product (per
layer the QKV, the output projection, the two MLP matrices; the LM head) runs on the NPU as a
transposed GEMV (:func:`dure.sim.gemv_plan.gemv_program`; the weight formats in
:mod:`dure.sim.decode_quant`): INT8 activations times int8, int4 or 2:4-sparse int8 / int4
weights into int32 (2:4 on an NPU with the gather path: the zero MACs skipped, int4 positions
as shared base-6 codes, :mod:`dure.sim.gemv_gather_plan`), or fp16 activations times int4
weights with fp16 group scales (W4A16) or times fp16 weights (FP16) into fp32; the host does
the rest in float32: embedding, layer norm, the per-vector activation quantization
(symmetric, ``s_x = max|x| / 127``, RNE; W4A16 and FP16: RNE to fp16), the dequantization
``y = acc * s_x * s_w[j]`` (per-output-channel weight scales), attention over the KV cache,
ReLU, residuals, argmax or sampling. Each NPU GEMV's result is checked bit for bit against the
golden GEMM of the same operands (:func:`dure.sim.golden.gemm_int8`, W4A8 with the int4
values; :func:`dure.sim.golden_int4.gemm_w4a16`; :func:`dure.sim.golden.gemm_fp16`;
:func:`dure.sim.golden_sparse24.gemm_sparse24_int8` of the compressed 2:4 weights).

Engines: ``model`` runs each GEMV on the NPU command model (:class:`dure.sim.npu_model.
NpuModel`, no cycle count: the report gives the roofline time of the bytes moved); ``soc`` runs
each GEMV on the simulated SoC through the firmware (one ``npu_job`` run per GEMV) and counts
its cycles (from the first descriptor push to the final fence).
"""

import pathlib
from dataclasses import dataclass

import numpy as np

from . import golden
from .decode_quant import (
    FORMATS,
    SPARSE_FORMATS,
    SPARSE_WEIGHTS,
    W4A16_GROUP,
    QuantModel,
    check_variant,
    gemv_args,
    quant_matmul,
    quantize,
    quantize_vector,
)
from .gemv_plan import gemv_program
from .golden_int4 import gemm_w4a16
from .golden_sparse24 import compress_24, gemm_sparse24_int8

__all__ = ["D", "HEADS", "LAYERS", "HIDDEN", "CONTEXT", "MAX_VOCAB", "CORPUS", "WEIGHTS",
           "PERPLEXITY_BOUND", "QUANT_LOSS_BOUND", "corpus", "split_corpus", "make_vocab",
           "encode", "Model", "save_model", "load_model", "weights_for", "sequence_logits",
           "FORMATS",
           "W4A16_GROUP", "SPARSE_FORMATS", "SPARSE_WEIGHTS", "QuantModel", "quantize",
           "check_variant", "Decoder", "held_out_perplexity", "unigram_perplexity"]

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


def weights_for(fmt):
    """The shipped weights file of format ``fmt``: :data:`SPARSE_WEIGHTS` (2:4-pruned and
    fine-tuned) for the 2:4 formats, else :data:`WEIGHTS`."""
    return SPARSE_WEIGHTS if fmt in SPARSE_FORMATS else WEIGHTS


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


class Decoder:
    """Runs a :class:`QuantModel` token by token, every GEMV on ``engine`` (``model`` or
    ``soc``) and checked bit for bit against the golden GEMM of the same operands (int8 /
    int4: :func:`dure.sim.golden.gemm_int8`; W4A16: :func:`dure.sim.golden_int4.gemm_w4a16`;
    FP16: :func:`dure.sim.golden.gemm_fp16`; 2:4: :func:`dure.sim.golden_sparse24.
    gemm_sparse24_int8` of the compressed weights); collects bytes and cycles. ``config``
    None: no NPU (only for a decoder whose ``_gemv`` is replaced, e.g. by ``_golden``);
    otherwise a variant that cannot run the format is refused (:func:`check_variant`)."""

    def __init__(self, qm, config, engine="model"):
        if engine not in ("model", "soc"):
            raise ValueError(f"engine must be model or soc, not {engine!r}")
        if config is not None:
            check_variant(config, qm.fmt)
        self.qm, self.config, self.engine = qm, config, engine
        self.gemvs = self.cycles = self.dma_rd = self.mismatches = 0
        self.per_token = []          # (DMA bytes, cycles) of each generated token's position

    def _golden(self, q, s, a):
        fmt = self.qm.fmt
        if fmt == "w4a16":
            return gemm_w4a16(a, q, s, W4A16_GROUP)
        if fmt == "fp16":
            return golden.gemm_fp16(a, q)
        if fmt in SPARSE_FORMATS:
            return gemm_sparse24_int8(a, *compress_24(q))
        return golden.gemm_int8(a, q)

    def _gemv(self, q, s, a):
        from dure.config import MAIN_BASE

        extra = gemv_args(self.qm.fmt, s)

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
        """``x @ W`` of matrix ``(name, layer)`` as one NPU GEMV: fp16 activations (RNE) and
        fp32 out for ``w4a16`` / ``fp16``; else int8 activations (:func:`dure.sim.
        decode_quant.quantize_vector`) and ``acc * s_x * s_w[j]`` (float32)."""
        q, s = self.qm.mats[(name, layer)]
        if self.qm.fmt in ("w4a16", "fp16"):
            return self._gemv(q, s, x.astype(np.float16).reshape(1, -1))[0].astype(np.float32)
        a, sx = quantize_vector(x)
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
    (:func:`dure.sim.decode_quant.quant_matmul`)."""
    tokens = np.array(model.encode(text[:limit]), np.int64)
    span = CONTEXT + 1
    if len(tokens) < span:
        raise ValueError(f"held-out text needs at least {span} characters")
    win = tokens[:len(tokens) // span * span].reshape(-1, span)
    logits = sequence_logits(model, win[:, :-1], quant_matmul(qm) if qm else None)
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
