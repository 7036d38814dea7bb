"""The decode demo's weight formats: 2:4 pruning by magnitude, quantization that keeps the
zeros, the GEMV arguments of each format, and the refusal of variants that cannot run one."""

import numpy as np
import pytest
from dure.sim import decode_quant as dq

from dure.config import preset


def test_mask_keeps_the_two_largest_of_every_group_of_four():
    w = np.array([[1.0, -4.0], [-3.0, 0.5], [2.0, 0.5], [0.5, 0.5],
                  [0.0, 0.0], [0.0, -1.0], [0.0, 0.0], [0.0, 0.0]], np.float32)
    mask = dq.mask_24(w)
    assert mask.sum(axis=0).tolist() == [4, 4]          # two per group, two groups
    # Column 0: |-3| and |2| of group 0; column 1: -4, then the tie of 0.5s goes to lower k.
    assert mask[:4, 0].tolist() == [False, True, True, False]
    assert mask[:4, 1].tolist() == [True, True, False, False]
    # A group of zeros keeps its lowest two positions (zeros either way).
    assert mask[4:, 0].tolist() == [True, True, False, False]
    assert mask[4:, 1].tolist() == [True, True, False, False]
    pruned = dq.prune_24(w)
    assert pruned.dtype == w.dtype and dq.is_pruned_24(pruned) and not dq.is_pruned_24(w)
    assert np.array_equal(pruned, np.where(mask, w, 0))
    rng = np.random.default_rng(0)
    big = rng.standard_normal((64, 30)).astype(np.float32)
    kept = np.abs(dq.prune_24(big)).reshape(16, 4, 30)
    dropped = np.where(dq.mask_24(big), 0, np.abs(big)).reshape(16, 4, 30)
    assert (np.sort(kept, axis=1)[:, 2, :] >= dropped.max(axis=1)).all()
    with pytest.raises(ValueError, match="K % 4"):
        dq.mask_24(np.ones((6, 2), np.float32))


class _Net:
    """A stand-in model: one layer, every matrix random and 2:4-pruned."""

    def __init__(self, rng, prune=True):
        def mat(k, n):
            w = rng.standard_normal((k, n)).astype(np.float16).astype(np.float32)
            return dq.prune_24(w) if prune else w
        self.head = mat(32, 12)
        self.blocks = [{"qkv": mat(32, 96), "o": mat(32, 32), "w1": mat(32, 64),
                        "w2": mat(64, 32)}]


def test_sparse_formats_keep_the_zeros_and_the_gemv_arguments():
    rng = np.random.default_rng(1)
    net = _Net(rng)
    for fmt, top in (("int4-sparse24", 7), ("int8-sparse24", 127)):
        qm = dq.quantize(net, fmt)
        for (name, layer), (q, s) in qm.mats.items():
            w = net.head if name == "head" else net.blocks[layer][name]
            assert q.dtype == np.int8 and np.abs(q).max() <= top + 1
            assert ((q != 0) <= (w != 0)).all() and dq.is_pruned_24(q)
            assert s.dtype == np.float32 and s.shape == (w.shape[1],)
    assert dq.gemv_args("int4-sparse24", None) == dict(precision="int8", fmt="int4-sparse24")
    assert dq.gemv_args("int8", None) == dict(precision="int8", fmt="dense")
    assert dq.gemv_args("fp16", None) == dict(precision="fp16", fmt="dense")
    assert dq.gemv_args("w4a16", 1)["group_size"] == dq.W4A16_GROUP
    # Bytes per token: the 2:4 int4 plan's records are smaller on the gather path (base-6
    # codes) than the expanding LOAD's on the 4x4; int8 2:4 below dense int8.
    s4 = dq.quantize(net, "int4-sparse24")
    assert s4.weight_bytes(preset("sim")) < s4.weight_bytes(preset("npu-small"))
    dense = dq.quantize(_Net(np.random.default_rng(1), prune=False), "int8")
    assert dq.quantize(net, "int8-sparse24").weight_bytes(preset("sim")) \
        < dense.weight_bytes(preset("sim"))


def test_host_matmul_of_fp16_is_the_fp16_product():
    rng = np.random.default_rng(2)
    net = _Net(rng, prune=False)
    qm = dq.quantize(net, "fp16")
    x = rng.standard_normal((3, 32)).astype(np.float32)
    got = dq.quant_matmul(qm)("o", 0, x)
    want = x.astype(np.float16).astype(np.float32) @ net.blocks[0]["o"]
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("variant, fmt, message", [
    ("cpu", "int8", "has no NPU"),
    ("icebreaker-npu", "fp16", "no FP16 datapath"),
    ("icebreaker-npu", "w4a16", "no FP16 datapath"),
])
def test_variants_that_cannot_run_a_format_are_refused(variant, fmt, message):
    with pytest.raises(ValueError, match=message):
        dq.check_variant(preset(variant), fmt)


def test_variant_checks_on_array_shapes():
    from dataclasses import replace

    sim = preset("sim")
    for fmt in dq.FORMATS:
        dq.check_variant(sim, fmt)
        dq.check_variant(preset("npu-small"), fmt)
    # int4-sparse24 on the 2x2 icebreaker-npu: rows not a multiple of 4, no gather path.
    with pytest.raises(ValueError, match="gather path"):
        dq.check_variant(preset("icebreaker-npu"), "int4-sparse24")
    dq.check_variant(preset("icebreaker-npu"), "int4")
    with pytest.raises(ValueError, match="divide the group"):
        dq.check_variant(replace(sim, npu_rows=16, npu_cols=16), "w4a16")
    with pytest.raises(ValueError, match="not 'int3'"):
        dq.check_variant(sim, "int3")


def test_sparse_gemvs_take_the_plan_dure_gemm_takes():
    """On the `sim` NPU the 2:4 int4 GEMVs skip the zero MACs with base-6 codes (the gather
    path), on the 4x4 without it they use the expanding SPARSE24_INT4_LANES LOAD."""
    from dure.rtl.npu.commands import KEEP_BASE6_FORMAT, Opcode, WeightFormat
    from dure.rtl.npu.descriptor import decode
    from dure.sim.gemv_plan import gemv_program

    qm = dq.quantize(_Net(np.random.default_rng(3)), "int4-sparse24")
    q, s = qm.mats[("qkv", 0)]
    for variant, gather in (("sim", True), ("npu-small", False)):
        program = gemv_program(preset(variant), q, a_addr=0, out_addr=0, param_addr=0,
                               **dq.gemv_args("int4-sparse24", s))
        fields = list(map(decode, program.descriptors))
        assert any(op == Opcode.COMPUTE and f["gather"] for op, f in fields) == gather
        loads = {f["weight_format"] for op, f in fields if op == Opcode.LOAD and f["rows"] > 1
                 and f["weight_format"]}
        want = KEEP_BASE6_FORMAT if gather else WeightFormat.SPARSE24_INT4_LANES
        assert loads == {want.value}, variant
