"""The decode demo on the NPU command model: a few tokens, every GEMV bit-exact with the golden
GEMM, the same tokens as the host's own integer arithmetic, weights streamed once per token."""

import numpy as np
import pytest
from dure.sim import decode_demo as dd
from dure.sim import golden

from dure.config import preset


@pytest.fixture(scope="module")
def model():
    return dd.train(dd.training_text()[:3000], limit=800)


@pytest.mark.parametrize("bits", [8, 4])
def test_generate_on_the_command_model(model, bits):
    qm = dd.quantize(model, bits)
    config = preset("npu-small")
    decoder = dd.Decoder(qm, config)
    text = decoder.generate("The ", 2)
    assert len(text) == 2 and set(text) <= set(model.vocab)
    assert decoder.mismatches == 0
    assert decoder.gemvs == 5 * (4 * dd.LAYERS) + 2          # 5 positions, 2 LM heads
    # The tokens are those of the same quantized arithmetic on the host.
    host = dd.Decoder(qm, config)
    host._gemv = lambda q, a: golden.gemm_int8(a, q)
    assert host.generate("The ", 2) == text
    # A generated token streams every weight once (plus its activation vectors).
    weights = qm.weight_bytes(config.npu_rows)
    for moved, _ in decoder.per_token:
        assert weights <= moved <= 1.1 * weights


def test_quantization_and_refusals(model):
    q4 = dd.quantize(model, 4)
    assert all(q.min() >= -8 and q.max() <= 7 for q, _ in q4.mats.values())
    assert q4.weight_bytes(8) * 2 == dd.quantize(model, 8).weight_bytes(8)
    with pytest.raises(ValueError, match="int8 or int4"):
        dd.quantize(model, 2)
    with pytest.raises(ValueError, match="engine"):
        dd.Decoder(q4, preset("npu-small"), engine="gpu")
    assert np.isfinite(dd.held_out_perplexity(model, dd.training_text()[-400:], limit=100))
