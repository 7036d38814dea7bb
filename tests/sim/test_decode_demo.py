"""The decode demo: the shipped trained weights (dense, and 2:4-pruned for the 2:4 formats)
load and beat the character-frequency baseline on held-out text by the documented margin in
every weight format; decoding on the NPU command model is bit-exact with the golden GEMM and
gives the golden arithmetic's tokens; weights stream once per token."""

import re

import numpy as np
import pytest
from dure.sim import decode_demo as dd
from dure.sim.decode_quant import is_pruned_24

from dure.config import preset


@pytest.fixture(scope="module")
def shipped():
    model, info = dd.load_model()
    return model, info


@pytest.fixture(scope="module")
def pruned():
    return dd.load_model(dd.SPARSE_WEIGHTS)


@pytest.fixture(scope="module")
def texts():
    return dd.split_corpus(dd.corpus())


def test_shipped_weights_load(shipped):
    model, info = shipped
    v = len(model.vocab)
    assert v == dd.MAX_VOCAB and "?" in model.vocab and " " in model.vocab
    assert model.emb.shape == (v, dd.D) and model.pos.shape == (dd.CONTEXT, dd.D)
    assert model.head.shape == (dd.D, v) and len(model.blocks) == dd.LAYERS
    for blk in model.blocks:
        assert {n: w.shape for n, w in blk.items()} == {
            "qkv": (dd.D, 3 * dd.D), "o": (dd.D, dd.D), "w1": (dd.D, dd.HIDDEN),
            "w2": (dd.D, dd.HIDDEN)[::-1]}
    assert all(np.isfinite(w).all() for w in model.params().values())
    assert {"ppl_float", "ppl_unigram", "ppl_int8", "ppl_int4", "ppl_w4a16",
            "ppl_fp16"} <= info.keys()


def test_pruned_weights_are_the_dense_model_pruned_24(shipped, pruned):
    """The 2:4 weights: the same vocabulary and shapes, every NPU matrix 2:4 sparse along K
    (exactly half its weights zero: the two largest of each group of 4 kept)."""
    model, _ = shipped
    sparse, info = pruned
    assert sparse.vocab == model.vocab
    mats = [sparse.head] + [w for blk in sparse.blocks for w in blk.values()]
    for w in mats:
        assert is_pruned_24(w)
        assert (w != 0).sum() == w.size // 2
    assert {"ppl_float", "ppl_unigram", "ppl_int4-sparse24", "ppl_int8-sparse24",
            "ppl_oneshot", "ppl_dense_float"} <= info.keys()
    # The fine-tune recovered most of what one-shot pruning lost.
    assert info["ppl_float"] < 1.1 * info["ppl_dense_float"] < info["ppl_oneshot"]


def test_held_out_perplexity_below_the_bound(shipped, pruned, texts):
    model, info = shipped
    train_text, held = texts
    base = dd.unigram_perplexity(model, train_text, held)
    bound = dd.PERPLEXITY_BOUND * base
    float_ppl = dd.held_out_perplexity(model, held)
    assert float_ppl < bound
    # The numbers stored with the weights (and quoted in the README) are today's.
    assert float_ppl == pytest.approx(info["ppl_float"], rel=1e-3)
    assert base == pytest.approx(info["ppl_unigram"], rel=1e-9)
    sparse, sparse_info = pruned
    assert dd.held_out_perplexity(sparse, held) == pytest.approx(sparse_info["ppl_float"],
                                                                 rel=1e-3)
    for fmt in dd.FORMATS:
        net, stored = (sparse, sparse_info) if fmt in dd.SPARSE_FORMATS else (model, info)
        ppl = dd.held_out_perplexity(net, held, dd.quantize(net, fmt))
        assert ppl < bound, fmt
        assert ppl == pytest.approx(stored[f"ppl_{fmt}"], rel=1e-3), fmt
        # Every format, the 2:4 ones included, within the bound of the dense float model.
        assert ppl < dd.QUANT_LOSS_BOUND * float_ppl, fmt


def test_greedy_text_is_made_of_learned_words(shipped, texts):
    """The host's golden arithmetic, 40 greedy characters: most of the words it writes are
    words of the training text."""
    model, _ = shipped
    train_text, _ = texts
    qm = dd.quantize(model, "int8")
    host = dd.Decoder(qm, None)
    host._gemv = lambda q, s, a: host._golden(q, s, a)
    text = host.generate("The NPU ", 40)
    words = re.findall(r"[a-z]{3,}", text)
    known = set(re.findall(r"[a-z]{3,}", train_text))
    assert len(words) >= 3 and sum(w in known for w in words) >= 0.7 * len(words), text


@pytest.mark.parametrize("fmt, variant", [(f, "npu-small") for f in dd.FORMATS]
                         + [(f, "sim") for f in dd.SPARSE_FORMATS + ("fp16",)])
def test_generate_on_the_command_model(shipped, pruned, fmt, variant):
    """npu-small: the expanding 2:4 LOADs; sim: the gather path (zero MACs skipped, int4
    positions as base-6 codes)."""
    model, _ = pruned if fmt in dd.SPARSE_FORMATS else shipped
    qm = dd.quantize(model, fmt)
    config = preset(variant)
    decoder = dd.Decoder(qm, config)
    temperature = 0.8 if fmt == "int4" else 0.0
    text = decoder.generate("The ", 2, temperature, seed=3)
    assert len(text) == 2 and set(text) <= set(model.vocab)
    assert decoder.mismatches == 0
    assert decoder.gemvs == 5 * (4 * dd.LAYERS) + 2          # 5 positions, 2 LM heads
    # The tokens are those of the golden GEMMs on the host.
    host = dd.Decoder(qm, config)
    host._gemv = lambda q, s, a: host._golden(q, s, a)
    assert host.generate("The ", 2, temperature, seed=3) == text
    # A generated token streams every weight once (plus its activation vectors).
    weights = qm.weight_bytes(config)
    for moved, _ in decoder.per_token:
        assert weights <= moved <= 1.1 * weights


def test_quantization_and_refusals(shipped, pruned, tmp_path):
    model, _ = shipped
    sim = preset("sim")
    q4 = dd.quantize(model, "int4")
    assert all(q.min() >= -8 and q.max() <= 7 for q, _ in q4.mats.values())
    q8 = dd.quantize(model, "int8")
    assert q4.weight_bytes(sim) * 2 == q8.weight_bytes(sim) == 69632
    q16 = dd.quantize(model, "fp16")
    assert q16.weight_bytes(sim) == 2 * q8.weight_bytes(sim)
    assert all(q.dtype == np.float16 and s is None for q, s in q16.mats.values())
    # The fp16 weights are the shipped float16 weights themselves.
    assert np.array_equal(q16.mats[("w1", 1)][0], model.blocks[1]["w1"].astype(np.float16))
    s4 = dd.quantize(pruned[0], "int4-sparse24")
    # Base-6 codes on the gather path: 1/2 byte of values + 1/3 byte of codes per kept pair
    # of a group of 4 (N padded to a multiple of 3).
    assert s4.weight_bytes(sim) == 23552 < 0.7 * q4.weight_bytes(sim)
    with pytest.raises(ValueError, match="not 2:4 sparse"):
        dd.quantize(model, "int4-sparse24")
    w4 = dd.quantize(model, "w4a16")
    q, s = w4.mats[("qkv", 0)]
    assert s.dtype == np.float16 and s.shape == (dd.D // dd.W4A16_GROUP, 3 * dd.D)
    with pytest.raises(ValueError, match="int8, int4, w4a16, fp16, int4-sparse24"):
        dd.quantize(model, "int2")
    with pytest.raises(ValueError, match="no FP16 datapath"):
        dd.Decoder(q16, preset("icebreaker-npu"))
    with pytest.raises(ValueError, match="engine"):
        dd.Decoder(q4, preset("npu-small"), engine="gpu")
    with pytest.raises(ValueError, match="temperature"):
        dd.Decoder(q4, preset("npu-small")).generate("a", 1, temperature=-1)
    with pytest.raises(FileNotFoundError, match="make train-decode"):
        dd.load_model(tmp_path / "none.npz")
    with pytest.raises(ValueError, match="at least"):
        dd.held_out_perplexity(model, "too short")
    # Saving and loading keeps the float16 weights exactly.
    dd.save_model(model, tmp_path / "w.npz", note=1.5)
    again, info = dd.load_model(tmp_path / "w.npz")
    assert info == {"note": 1.5} and again.vocab == model.vocab
    assert all(np.array_equal(again.params()[k], w) for k, w in model.params().items())
