"""Port contracts of the NPU's row memories: the read-port signature and the row-write payload
that the scratchpad (:mod:`.spad`) and the accumulator memory (:mod:`.acc`) offer and the units
(load, execute, store) use. The memories and the units import them from here.
"""

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ReadPortSignature", "row_write_layout"]


class ReadPortSignature(wiring.Signature):
    """A synchronous row read port, seen from the reader.

    Members
    -------
    addr : Out(range(depth))
        Row to read.
    en : Out(1)
        Read ``addr`` at this clock edge; while 0, ``data`` keeps its value.
    data : In(shape)
        The row read at the last edge with ``en`` high (one cycle of latency).
    """

    def __init__(self, depth, shape):
        super().__init__({
            "addr": Out(range(depth)),
            "en": Out(1),
            "data": In(shape),
        })


def row_write_layout(depth, shape, lanes=None):
    """Payload of a row write stream: ``addr``, ``data`` and, if ``lanes``, a lane ``mask``."""
    fields = {"addr": range(depth), "data": shape}
    if lanes is not None:
        fields["mask"] = lanes
    return data.StructLayout(fields)
