"""The requantization of a TFLite FULLY_CONNECTED on the NPU's STORE and the dot-unit firmware,
chosen to equal LiteRT on every accumulator the layer can produce, and the exact core fallback
where no STORE parameters do.

LiteRT's reference FULLY_CONNECTED rescales in double (``round(double(acc) * s_j)``,
:func:`dure.sim.golden_tflite.fully_connected_int8`); the hardware has Q0.31 multipliers with
single or double rounding. :func:`dure.sim.fc_exact_store.exact_fc_store` checks, over the
layer's reachable accumulators (from its weights, bias and input zero point, for any int8
input), every accumulator near a rounding boundary, and picks a mode and per-channel
multipliers (``QuantizeMultiplier``'s, or a few units away from it) that agree everywhere
(:func:`fc_store_exact`).

Where none does (a knife edge no multiplier avoids, or a reachable ``|acc * s| >= 2^29``,
which the check does not cover), the layer is not refused: the compiler (:mod:`.lower`,
:mod:`.dot_target`) splits it into its int32 sums (the NPU GEMM with a raw INT32 STORE, or the
dot unit with no rescale) into a scratch tensor ``<out>/acc`` and a core layer
``fc_rescale`` that applies LiteRT's double rescale exactly with integer instructions
(``CoreOp.FC_RESCALE_TFLITE``, ``firmware/npu/cpu_rescale_double.c``; the scales
:func:`fc_rescale_scales` as 64-bit IEEE patterns in the weights). :func:`fc_store_params`
(the STORE parameters or :class:`~.errors.UnsupportedModel`) remains for callers that need
the STORE path.
"""

import numpy as np
from dure.sim.fc_exact_store import NotExact, exact_fc_store, reachable_acc_range
from dure.sim.golden_double_rescale import add_int32_wrapping, scale_round_int32
from dure.sim.golden_tflite_params import fully_connected_scales

from .reference import constant

__all__ = ["fc_store_params", "fc_store_exact", "fc_rescale_scales", "fc_acc_name",
           "fc_rescale_output"]


def fc_rescale_scales(graph, op):
    """LiteRT's effective output scale of each unit of FULLY_CONNECTED ``op`` (float64,
    :func:`~dure.sim.golden_tflite_params.fully_connected_scales`)."""
    T = graph.tensors
    x, wt, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    return fully_connected_scales(x.quant.s, wt.quant.scale, y.quant.s,
                                  channels=wt.shape[0])


def fc_rescale_output(graph, op, acc):
    """What the ``fc_rescale`` core layer computes from the int32 sums ``acc`` (``(B, units)``,
    bias and input zero point included): LiteRT's ``clamp(int32(round(double(acc) * s_j)) +
    zp, lo, hi)`` (:mod:`dure.sim.golden_double_rescale`), int8 in the output's shape."""
    y = graph.tensors[op.outputs[0]]
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    r = add_int32_wrapping(scale_round_int32(acc, fc_rescale_scales(graph, op)), y.quant.zp)
    return np.clip(r, min(lo, hi), hi).astype(np.int8).reshape(y.shape)


def fc_acc_name(op):
    """The scratch buffer of a fallback layer's int32 sums."""
    return f"{op.outputs[0]}/acc"


def _exact(graph, op):
    T = graph.tensors
    x, y = T[op.inputs[0]], T[op.outputs[0]]
    w = constant(graph, op.inputs[1])
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    acc_lo, acc_hi = reachable_acc_range(w.reshape(w.shape[0], -1), b, x.quant.zp)
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    mode, mult, shift = exact_fc_store(fc_rescale_scales(graph, op), acc_lo, acc_hi,
                                       y.quant.zp, min(lo, hi), hi)
    return mode, np.asarray(mult, np.int32), np.asarray(shift, np.int32)


def fc_store_exact(graph, op, *, force_fallback=False):
    """``(mode, multipliers, shifts)`` (a :class:`~dure.rtl.npu.commands.RequantMode`, int32
    arrays per unit) for the INT8 TFLite FULLY_CONNECTED ``op`` with its clamp
    (``op.attrs['lo']``, ``['hi']``), or None when no STORE parameters are exact on the layer
    (it then takes the core fallback). ``force_fallback`` (tests: the fallback on layers the
    STORE could compute) gives None without checking."""
    if force_fallback:
        return None
    try:
        return _exact(graph, op)
    except NotExact:
        return None


def fc_store_params(graph, op):
    """As :func:`fc_store_exact`, but raises :class:`~.errors.UnsupportedModel` (through
    ``op.fail``) when no STORE parameters are exact on the layer."""
    try:
        return _exact(graph, op)
    except NotExact as e:
        raise op.fail(f"FULLY_CONNECTED cannot be requantized exactly as LiteRT does: {e}") \
            from None
