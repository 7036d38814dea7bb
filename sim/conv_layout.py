"""The shape side of a convolution layer lowered by :mod:`dure.sim.conv_plan`: the checks every
layer's arguments pass first and the weight matrices each chunk of output channels loads.

Layouts (the row order is the accumulation order the contracts of :mod:`dure.sim.conv_plan`
state):

- :func:`_conv_weights_matrix`: OHWI -> per chunk of ``nc`` output channels a
  ``(KH*KW*Cin, nn)`` matrix, row ``(kh*KW + kw)*Cin + ci``.
- :func:`_diag_weights_matrix`: depthwise ``(1, KH, KW, C)`` -> per chunk ``(KH*KW*nn, nn)``,
  ``diag(w[kh, kw, chunk])`` per tap (the diagonal COMPUTE's weights).
- :func:`_tap_rows_matrix`: depthwise ``(1, KH, KW, C)`` -> per chunk ``(KH*KW, nn)``, one row
  per tap (the element-wise MAC's weight rows).
"""

import numpy as np
from dure.rtl.npu.commands import Precision

from .golden_args import pair_arg


def _check_common(config, x_shape, stride, dilation, precision, depth_multiplier=1):
    if not config.npu_rows:
        raise ValueError(f"config {config.name!r} has no NPU")
    if precision == Precision.FP16 and not config.npu_fp16:
        raise ValueError(f"precision: config {config.name!r} has no FP16 NPU")
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be (N, H, W, C) of positive sizes, not {x_shape}")
    if pair_arg("dilation", dilation) != (1, 1):
        raise ValueError(f"dilation must be 1, not {dilation!r}")
    if depth_multiplier != 1:
        raise ValueError(f"depth_multiplier must be 1, not {depth_multiplier!r}")
    return pair_arg("stride", stride)


def _conv_weights_matrix(w):
    """OHWI -> per chunk ``(KH*KW*Cin, nn)``: row ``(kh*KW + kw)*Cin + ci``."""
    cout = w.shape[0]
    flat = w.reshape(cout, -1)
    return lambda j, nc: np.ascontiguousarray(flat[j * nc:(j + 1) * nc].T)


def _diag_weights_matrix(w):
    """(1, KH, KW, C) -> per chunk ``(KH*KW*nn, nn)`` with ``diag(w[kh, kw, chunk])`` per tap."""
    taps = w.shape[1] * w.shape[2]
    flat = w.reshape(taps, -1)

    def chunk(j, nc):
        part = flat[:, j * nc:(j + 1) * nc]
        nn = part.shape[1]
        mat = np.zeros((taps, nn, nn), w.dtype)
        idx = np.arange(nn)
        mat[:, idx, idx] = part
        return mat.reshape(taps * nn, nn)
    return chunk


def _tap_rows_matrix(w):
    """(1, KH, KW, C) -> per chunk ``(KH*KW, nn)``: row ``kh*KW + kw`` holds ``w[kh, kw, chunk]``
    (the weight rows of the element-wise MAC)."""
    flat = w.reshape(w.shape[1] * w.shape[2], -1)
    return lambda j, nc: np.ascontiguousarray(flat[:, j * nc:(j + 1) * nc])
