"""Fp16Mac against the golden lane MAC (dure.sim.golden.lanes_mac_fp16), bit for bit: every
pair of special classes, random operands biased to cancellation, overflow and subnormals, with
and without the second product, under stalls and gaps; the pipeline contract."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Fp16Mac
from dure.sim.golden import lanes_mac_fp16


def reference(init, a, w, a2, w2, pair):
    """The golden lanes MAC, one lane per vector (each vector its own weight)."""
    init32 = init.astype(np.uint32).view(np.float32)
    a16, w16 = a.astype(np.uint16).view(np.float16), w.astype(np.uint16).view(np.float16)
    a216, w216 = a2.astype(np.uint16).view(np.float16), w2.astype(np.uint16).view(np.float16)
    out = np.empty(len(init), np.uint32)
    for p in (0, 1):
        sel = np.flatnonzero(pair == p)
        if not len(sel):
            continue
        # one row per vector; lanes_mac_fp16 takes one weight per lane, so each vector is a
        # 1x1 problem: do them as the diagonal of a row of lanes
        res = lanes_mac_fp16(init32[sel][None, :], a16[sel][None, :], w16[sel],
                             *((a216[sel][None, :], w216[sel]) if p else ()))
        out[sel] = res.view(np.uint32)[0]
    return out


def operands(fpv, rng, n):
    """init (fp32), a, w, a2, w2 (fp16) bit patterns and pair flags: products near the
    running sum's magnitude (cancellation), at overflow and in the subnormal range."""
    a, w = fpv.mul_pairs(rng, n, 5, 10)
    a2, w2 = fpv.mul_pairs(rng, n, 5, 10)
    init = fpv.floats(rng, n, 8, 23)
    with np.errstate(all="ignore"):
        prod = (a.astype(np.uint16).view(np.float16).astype(np.float32)
                * w.astype(np.uint16).view(np.float16).astype(np.float32))
    near = rng.random(n) < 0.4             # init close to -product: massive cancellation
    with np.errstate(all="ignore"):
        flipped = (-prod).view(np.uint32) ^ rng.integers(0, 8, n).astype(np.uint32)
    init[near] = flipped[near]
    return init, a, w, a2, w2, rng.integers(0, 2, n).astype(np.uint64)


def check(model, init, a, w, a2, w2, pair, **kwargs):
    out = model.run(i_init=init, i_a=a, i_w=w, i_a2=a2, i_w2=w2, pair=pair, **kwargs)
    got = out["o_z"].astype(np.uint32)
    want = reference(init, a, w, a2, w2, pair)
    bad = np.flatnonzero(got != want)
    detail = ", ".join(f"({int(init[k]):#010x} + {int(a[k]):#06x} * {int(w[k]):#06x}) + "
                       f"{int(a2[k]):#06x} * {int(w2[k]):#06x} [pair {int(pair[k])}] = "
                       f"{int(got[k]):#010x} (golden {int(want[k]):#010x})" for k in bad[:6])
    assert not len(bad), f"{len(bad)} of {len(a)} wrong: {detail}"
    assert np.all(out["latency"] == Fp16Mac.LATENCY)


def test_special_classes(fpv, vector_model):
    """Every (init, a, w) of the class lists (NaNs with payloads, Inf, -0, subnormals, max),
    with the second product from the classes too, and without it."""
    c16 = np.array(fpv.FP16_CLASSES, np.uint64)
    c32 = np.array(fpv.FP32_CLASSES, np.uint64)
    init, a, w = (g.ravel() for g in np.meshgrid(c32, c16, c16, indexing="ij"))
    rng = np.random.default_rng(5)
    a2 = rng.choice(c16, len(a))
    w2 = rng.choice(c16, len(a))
    n = len(a)
    ones = np.ones(n, np.uint64)
    model = vector_model(Fp16Mac)
    check(model, np.concatenate([init, init]), np.concatenate([a, a2]),
          np.concatenate([w, w2]), np.concatenate([a2, a]), np.concatenate([w2, w]),
          np.concatenate([ones, 0 * ones]))


def test_signed_zeros_and_overflow(fpv, vector_model):
    """-0 + (-0 products) stays -0, +0 start gives +0; products of the largest fp16 (far past
    fp16's range) are exact in fp32, and fp32's largest value absorbs them (no fp32 overflow
    without an Inf operand); Inf - Inf between the two additions is NaN."""
    f16 = {"0": 0x0000, "-0": 0x8000, "1": 0x3C00, "-1": 0xBC00, "max": 0x7BFF, "-max": 0xFBFF,
           "inf": 0x7C00, "-inf": 0xFC00, "sub": 0x0001}
    cases = [  # init, a, w, a2, w2
        (0x80000000, "-0", "1", "0", "-1"),          # -0 + -0 + -0 = -0
        (0x00000000, "-0", "1", "0", "-1"),          # +0 start: +0
        (0x00000000, "max", "max", "max", "max"),    # 2 * 65504**2, exact
        (0x7F7FFFFF, "max", "max", "max", "max"),    # absorbed: stays the fp32 maximum
        (0x00000000, "inf", "1", "-inf", "1"),       # Inf + (-Inf) in the second: NaN
        (0x00000000, "sub", "sub", "-0", "1"),       # 2**-48 exactly
        (0x80000001, "sub", "sub", "-max", "sub"),   # subnormal fp32 results
    ]
    init = np.array([c[0] for c in cases], np.uint64)
    a, w, a2, w2 = (np.array([f16[c[k]] for c in cases], np.uint64) for k in range(1, 5))
    pair = np.ones(len(cases), np.uint64)
    check(vector_model(Fp16Mac), init, a, w, a2, w2, pair)
    want = reference(init, a, w, a2, w2, pair)
    exact = int(np.float32(2 * 65504.0 ** 2).view(np.uint32))
    assert [int(v) for v in want[:5]] == [0x80000000, 0, exact, 0x7F7FFFFF, 0x7FC00000]


def test_random_under_stalls(fpv, vector_model):
    rng = np.random.default_rng(20261205)
    check(vector_model(Fp16Mac), *operands(fpv, rng, 300_000), stall_per_mille=100,
          gap_per_mille=100, seed=4)


def test_pipeline_contract(fpv, check_contract):
    rng = np.random.default_rng(8)
    init, a, w, a2, w2, pair = operands(fpv, rng, 24)
    pair[:] = 1
    want = reference(init, a, w, a2, w2, pair)
    vectors = [{"i_init": int(v[0]), "i_a": int(v[1]), "i_w": int(v[2]), "i_a2": int(v[3]),
                "i_w2": int(v[4]), "pair": 1} for v in zip(init, a, w, a2, w2, strict=True)]
    check_contract(Fp16Mac(), vectors, [{"o_z": int(z)} for z in want], Fp16Mac.LATENCY)


@pytest.mark.slow
def test_three_million_random(fpv, vector_model):
    rng = np.random.default_rng(77)
    for _ in range(3):
        check(vector_model(Fp16Mac), *operands(fpv, rng, 1_000_000))
