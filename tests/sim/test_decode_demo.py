"""The decode demo: the shipped trained weights load and beat the character-frequency baseline
on held-out text by the documented margin in every weight format; decoding on the NPU command
model is bit-exact with the golden GEMM and gives the golden arithmetic's tokens; weights
stream once per token."""

import re

import numpy as np
import pytest
from dure.sim import decode_demo as dd

from dure.config import preset


@pytest.fixture(scope="module")
def shipped():
    model, info = dd.load_model()
    return model, info


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
    assert {"ppl_float", "ppl_unigram", "ppl_int8", "ppl_int4", "ppl_w4a16"} <= info.keys()


def test_held_out_perplexity_below_the_bound(shipped, texts):
    model, info = shipped
    train_text, held = texts
    base = dd.unigram_perplexity(model, train_text, held)
    bound = dd.PERPLEXITY_BOUND * base
    float_ppl = dd.held_out_perplexity(model, held)
    assert float_ppl < bound
    # The numbers stored with the weights (and quoted in the README) are today's.
    assert float_ppl == pytest.approx(info["ppl_float"], rel=1e-3)
    assert base == pytest.approx(info["ppl_unigram"], rel=1e-9)
    for fmt in dd.FORMATS:
        ppl = dd.held_out_perplexity(model, held, dd.quantize(model, fmt))
        assert ppl < bound, fmt
        assert ppl == pytest.approx(info[f"ppl_{fmt}"], rel=1e-3), fmt
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


@pytest.mark.parametrize("fmt", dd.FORMATS)
def test_generate_on_the_command_model(shipped, fmt):
    model, _ = shipped
    qm = dd.quantize(model, fmt)
    config = preset("npu-small")
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
    weights = qm.weight_bytes(config.npu_rows)
    for moved, _ in decoder.per_token:
        assert weights <= moved <= 1.1 * weights


def test_quantization_and_refusals(shipped, tmp_path):
    model, _ = shipped
    q4 = dd.quantize(model, "int4")
    assert all(q.min() >= -8 and q.max() <= 7 for q, _ in q4.mats.values())
    assert q4.weight_bytes(8) * 2 == dd.quantize(model, "int8").weight_bytes(8)
    w4 = dd.quantize(model, "w4a16")
    q, s = w4.mats[("qkv", 0)]
    assert s.dtype == np.float16 and s.shape == (dd.D // dd.W4A16_GROUP, 3 * dd.D)
    with pytest.raises(ValueError, match="int8, int4, w4a16"):
        dd.quantize(model, "int2")
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
