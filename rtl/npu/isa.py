"""Encodings of the NPU array's per-operation fields.

One place for the values that the RTL, the golden-model tests and (later) the command processor
and the firmware header share. Each is an :class:`amaranth.lib.enum.Enum` with a shape, so it
can be used directly as an Amaranth port or struct-field shape.
"""

from amaranth.lib import enum

__all__ = ["Precision", "Dataflow"]


class Precision(enum.Enum, shape=1):
    """Arithmetic of one operation.

    ``INT8``: int8 x int8 products, int32 accumulation wrapping modulo 2**32.
    ``FP16``: exact fp16 x fp16 products, binary32 RNE accumulation sequentially over k.
    """

    INT8 = 0
    FP16 = 1


class Dataflow(enum.Enum, shape=1):
    """Which operand stays in the processing elements during one operation.

    ``WS`` (weight-stationary): a K x N weight tile is preloaded; activation rows stream through
    and partial sums flow down the columns.
    ``OS`` (output-stationary): the M x N outputs stay in the PEs while both operands stream.
    """

    WS = 0
    OS = 1
