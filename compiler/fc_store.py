"""The requantization of a TFLite FULLY_CONNECTED on the NPU's STORE and the dot-unit firmware,
chosen to equal LiteRT on every accumulator the layer can produce.

LiteRT's reference FULLY_CONNECTED rescales in double (``round(double(acc) * s_j)``,
:func:`dure.sim.golden_tflite.fully_connected_int8`); the hardware has Q0.31 multipliers with
single or double rounding. :func:`dure.sim.fc_exact_store.exact_fc_store` checks, over the
layer's reachable accumulators (from its weights, bias and input zero point, for any int8
input), every accumulator near a rounding boundary, and picks a mode and per-channel
multipliers (``QuantizeMultiplier``'s, or a few units away from it) that agree everywhere. A
layer for which none does is refused at compile time naming the channel, never computed
inexactly.
"""

import numpy as np
from dure.sim.fc_exact_store import NotExact, exact_fc_store, reachable_acc_range
from dure.sim.golden_tflite_params import fully_connected_scales

from .reference import constant

__all__ = ["fc_store_params"]


def fc_store_params(graph, op):
    """``(mode, multipliers, shifts)`` (a :class:`~dure.rtl.npu.commands.RequantMode`, int32
    arrays per unit) for the INT8 TFLite FULLY_CONNECTED ``op`` with its clamp
    (``op.attrs['lo']``, ``['hi']``); raises :class:`~.errors.UnsupportedModel` (through
    ``op.fail``) when no STORE parameters are exact on the layer."""
    T = graph.tensors
    x, wt, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    w = constant(graph, op.inputs[1])
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    scales = fully_connected_scales(x.quant.s, wt.quant.scale, y.quant.s, channels=w.shape[0])
    acc_lo, acc_hi = reachable_acc_range(w.reshape(w.shape[0], -1), b, x.quant.zp)
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    try:
        mode, mult, shift = exact_fc_store(scales, acc_lo, acc_hi, y.quant.zp, min(lo, hi), hi)
    except NotExact as e:
        raise op.fail(f"FULLY_CONNECTED cannot be requantized exactly as LiteRT does: {e}") \
            from None
    return mode, np.asarray(mult, np.int32), np.asarray(shift, np.int32)
