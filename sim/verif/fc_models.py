"""TFLite FULLY_CONNECTED models (flatbuffer bytes) that exercise the rescale of the compiler's
FULLY_CONNECTED layers (compiler/fc_store.py): session 19's knife edge, random layers, and a
layer whose products leave int32 (no STORE parameters are exact on it: the core fallback).
Each builder has its matching inputs."""

import numpy as np

from . import tflite_builder as tb

__all__ = ["knife_edge_model", "knife_edge_inputs", "random_fc_model", "overflow_model",
           "overflow_inputs", "OVERFLOW_Y_SCALE", "KNIFE_SCALES", "KNIFE_ACCS"]

#: Input, weight and output scales of session 19's knife edge.
KNIFE_SCALES = (0.1671888679265976, np.float32(0.0038431561551988125), 661.9321899414062)
_XS, _WS, _YS = KNIFE_SCALES
#: Accumulators (bias plus x = 0) whose exact scaled values lie just above the ties +-56.5 and
#: +-49.5, where QuantizeMultiplier's Q0.31 multiplier puts them just below.
KNIFE_ACCS = [-58205840, -50994497, 50994497, 58205840]
_KNIFE = KNIFE_ACCS


def knife_edge_model(batch):
    """A per-tensor FULLY_CONNECTED (K = 2, 8 units, weights 1 and 0) whose input 0 gives the
    accumulators of session 19's knife edges (units 0-3; LiteRT: -57, -50, 50, 57) and their
    neighbours (units 4-7); other inputs move them by a few."""
    bias = np.array(_KNIFE + [k + 1 for k in _KNIFE], np.int32)
    w = np.zeros((8, 2), np.int8)
    w[:, 0] = 1
    return tb.fully_connected_model((batch, 2), w, bias, tb.Quant(_XS, 0), tb.Quant(_WS, 0, 0),
                                    tb.Quant(_YS, 0))


def knife_edge_inputs(batch):
    """Row 0 (x = 0) hits the knife edges; the others move them by -2 .. 2."""
    x = np.zeros((batch, 2), np.int8)
    x[:, 0] = [0, -2, -1, 1, 2][:batch]
    x[:, 1] = 77
    return x


def random_fc_model(rng):
    """A random per-tensor or per-channel FULLY_CONNECTED (batch 1 or 3, K < 40, 8-19 units,
    scales down to 2**-22, biases up to 2**24, input zero point at an extreme or 0)."""
    batch, k, units = int(rng.choice([1, 3])), int(rng.integers(1, 40)), int(rng.integers(8, 20))
    per_channel = bool(rng.integers(0, 2))
    xs = float(np.float32(2.0 ** rng.uniform(-8, 0)))
    ws = np.float32(2.0 ** rng.uniform(-10, -7, units if per_channel else 1)).astype(np.float32)
    ys = float(np.float32(xs * float(np.median(ws)) * 2.0 ** rng.uniform(8, 22)))
    xz, yz = int(rng.choice([-128, 0, 127])), int(rng.integers(-128, 128))
    w = rng.integers(-127, 128, (units, k)).astype(np.int8)
    bias = rng.integers(-2 ** 24, 2 ** 24, units).astype(np.int32)
    return tb.fully_connected_model((batch, k), w, bias, tb.Quant(xs, xz), tb.Quant(ws, 0, 0),
                                    tb.Quant(ys, yz))


#: The output scale of :func:`overflow_model`: the effective scale is 1 / 0.3 (as float32).
OVERFLOW_Y_SCALE = 0.3


def overflow_model(batch, zp):
    """A per-tensor FULLY_CONNECTED (K = 2, weights 1 and 0, so ``acc = bias + x[:, 0]``) with
    effective scale ``s = 1 / float32(0.3)`` and output zero point ``zp``, whose units reach
    ``|acc * s| >= 2^31``: unit 0 always above ``2^31`` (LiteRT: ``INT32_MIN``, then the zero
    point), unit 1 always below ``-2^31``, units 2 / 3 across ``+-2^31`` as ``x`` moves, units
    4-7 small (ordinary rounding of non-integer products)."""
    s = 1.0 / float(np.float32(OVERFLOW_Y_SCALE))
    edge = int(2 ** 31 / s)
    bias = np.array([edge + 300, -edge - 300, edge - 40, -edge + 40, 10, -10, 0, 3], np.int32)
    w = np.zeros((8, 2), np.int8)
    w[:, 0] = 1
    w[4:, 1] = [3, -5, 7, 1]
    return tb.fully_connected_model((batch, 2), w, bias, tb.Quant(1.0, 0), tb.Quant(1.0, 0, 0),
                                    tb.Quant(OVERFLOW_Y_SCALE, zp))


def overflow_inputs(batch):
    """Inputs of :func:`overflow_model`: every ``x[:, 0]`` from -128 to 127 over the rows of
    the arrays (so units 2 and 3 cross ``+-2^31``), with varied ``x[:, 1]``."""
    rng = np.random.default_rng(batch)
    xs = []
    for start in range(-128, 128, batch):
        x = np.zeros((batch, 2), np.int8)
        x[:, 0] = [min(start + i, 127) for i in range(batch)]
        x[:, 1] = rng.integers(-128, 128, batch)
        xs.append(x)
    return xs
