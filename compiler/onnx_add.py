"""ONNX's INT8 ADD (QLinearAdd, and the QDQ Add onnxruntime fuses into it) on the NPU's
element-wise unit, where it is proven exact.

onnxruntime computes QLinearAdd in float32 (:func:`.reference.onnx_add_table`: ``y = sat(rne(
fma(a, r_a, fma(b, r_b, f))))``); the NPU's ELTWISE ADD with its STORE computes TFLite's
fixed-point ADD (:func:`dure.sim.golden_tflite.add_int8`: each input rescaled by a 31-bit
multiplier after a left shift of 20, the sum rescaled by a third, rounding half away from
zero). Both approximate the same real value ``r_a (a - z_a) + r_b (b - z_b) + z_c``, the fixed
point one more closely than float32 does, so the two differ only on the (a, b) pairs whose
value lies within float32's error of a half-integer: on random scales about one layer in
seven has one or a few such pairs with TFLite's own parameters (:func:`dure.sim.
golden_tflite_params.add_params`).

:func:`eltwise_add_params` therefore decides per layer, by exhaustion: the operands are int8
(uint8 tensors are stored shifted by 128 with their zero points, which leaves ``a - z_a``
unchanged), so the whole function is 65,536 pairs. It tries TFLite's parameters, then a
bounded, deterministic search of nearby multipliers (the input multipliers and the output
multiplier moved by up to 1,024 units of 2**-31, which moves every fixed-point value by far
less than one output step and so only decides the near-half pairs), and returns the
first parameter set whose fixed-point ADD equals onnxruntime's table on every pair (the
fused clamp included), checked with the golden :func:`~dure.sim.golden_tflite.add_int8`
itself. None when none is found: the layer then stays on the core (its 64 KB table kernel).
Measured on 200 random draws (scales in [0.005, 0.1], random zero points): 173 exact with
TFLite's parameters, 25 after the search, 2 without; at most ~0.1 s per layer. Scales with
exact decimal ratios (0.05, 0.021, 0.07) put hundreds of pairs on real half-integers, which
float32 rounds either way: such layers stay on the core.
"""

import numpy as np
from dure.sim.golden_fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp
from dure.sim.golden_tflite import add_int8
from dure.sim.golden_tflite_params import AddParams, add_params

from .reference import onnx_add_table

__all__ = ["eltwise_add_params", "SEARCH_ROUNDS", "SEARCH_BATCH"]

SEARCH_ROUNDS = 24          # batches of candidates tried before giving up (deterministic)
SEARCH_BATCH = 256          # candidates per batch
_NEAR_HALF = 2e-4           # a pair this close to a half-integer (in output steps) is critical

_A = np.repeat(np.arange(-128, 128), 256).astype(np.int8)   # the pair order of the table
_B = np.tile(np.arange(-128, 128), 256).astype(np.int8)


def _fixed(a, b, m1, s1, m2, s2, mo, so, za, zb, zc, lo, hi):
    """TFLite's ADD (as :func:`~dure.sim.golden_tflite.add_int8`) over pairs ``a``, ``b``
    (int64 arrays) with multipliers broadcast against them (candidates x pairs)."""
    mul = multiply_by_quantized_multiplier_smaller_than_one_exp
    t1 = mul((a - za) << 20, m1, s1).astype(np.int64)
    t2 = mul((b - zb) << 20, m2, s2).astype(np.int64)
    y = mul(t1 + t2, mo, so).astype(np.int64) + zc
    return np.minimum(np.maximum(y, lo), hi)


def eltwise_add_params(graph, op, lo, hi):
    """An :class:`~dure.sim.golden_tflite_params.AddParams` whose TFLite ADD (input zero points
    those of ``op``'s operands, output zero point its output's, clamp ``[lo, hi]``) equals
    onnxruntime's QLinearAdd of ``op`` (:func:`.reference.onnx_add_table`, ``op``'s own clamp)
    on every pair of int8 operands, or None when none is found (module docstring). ``op`` is
    an ONNX-arithmetic ADD of two tensors."""
    T = graph.tensors
    qa, qb, qc = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    za, zb, zc = int(qa.zp), int(qb.zp), int(qc.zp)
    truth = onnx_add_table(graph, op)
    try:
        p0 = add_params(qa.s, qb.s, qc.s)
    except (ValueError, FloatingPointError):
        return None                     # a scale ratio the fixed-point form cannot hold
    a, b = _A.astype(np.int64), _B.astype(np.int64)

    def exact(p):
        got = add_int8(_A, _B, p, input1_zero_point=za, input2_zero_point=zb,
                       output_zero_point=zc, lo=lo, hi=hi)
        return np.array_equal(got, truth)

    if exact(p0):
        return p0
    # The pairs that can decide: within _NEAR_HALF of a half-integer (float64 from the exact
    # scale ratios) or wrong with p0; a candidate must get these right before the full check.
    real = (np.float64(qa.s) / np.float64(qc.s) * (a - za) +
            np.float64(qb.s) / np.float64(qc.s) * (b - zb) + zc)
    frac = np.abs(real - np.floor(real) - 0.5)
    base = _fixed(a, b, p0.input1_multiplier, p0.input1_shift, p0.input2_multiplier,
                  p0.input2_shift, p0.output_multiplier, p0.output_shift, za, zb, zc, lo, hi)
    crit = np.flatnonzero((frac < _NEAR_HALF) | (base != truth))
    ca, cb, ct = a[crit], b[crit], truth[crit].astype(np.int64)
    rng = np.random.default_rng(11)
    top = (1 << 31) - 1
    for r in range(SEARCH_ROUNDS):
        span = 1 << (3 + r // 3)        # 8 .. 2**10 units, widening every 3 batches
        d = rng.integers(-span, span + 1, size=(3, SEARCH_BATCH, 1))
        m1 = np.clip(p0.input1_multiplier + d[0], 1, top)
        m2 = np.clip(p0.input2_multiplier + d[1], 1, top)
        mo = np.clip(p0.output_multiplier + d[2], 1, top)
        got = _fixed(ca, cb, m1, p0.input1_shift, m2, p0.input2_shift, mo, p0.output_shift,
                     za, zb, zc, lo, hi)
        for i in np.flatnonzero((got == ct).all(axis=1)):
            p = AddParams(p0.left_shift, int(m1[i, 0]), p0.input1_shift, int(m2[i, 0]),
                          p0.input2_shift, int(mo[i, 0]), p0.output_shift)
            if exact(p):
                return p
    return None
