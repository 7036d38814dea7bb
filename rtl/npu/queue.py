"""Command queue: descriptors waiting between the DOORBELL register and the dispatcher."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .descriptor import DESCRIPTOR_LAYOUT

__all__ = ["CommandQueue"]


class CommandQueue(wiring.Component):
    """A first-in first-out queue of descriptors (8 words each).

    Parameters
    ----------
    depth : int
        Entries, >= 1 (``config.npu_queue_depth``; 1: only the registered output).

    Members
    -------
    i : In(stream.Signature(DESCRIPTOR_LAYOUT))
        Descriptors pushed by the register block (``ready`` is 0 while the queue is full).
    o : Out(stream.Signature(DESCRIPTOR_LAYOUT))
        Descriptors in push order, to the dispatcher; ``valid`` does not depend on ``ready``.
    level : Out(range(depth + 1))
        Entries held.
    full : Out(1)
        ``level == depth``.

    Latency
    -------
    A descriptor pushed in cycle t can be taken from ``o`` in cycle t + 1 at the earliest
    (the output is registered); one push and one pop per cycle.
    """

    def __init__(self, depth):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be an integer >= 1, not {depth!r}")
        self._depth = depth
        super().__init__({
            "i": In(stream.Signature(DESCRIPTOR_LAYOUT)),
            "o": Out(stream.Signature(DESCRIPTOR_LAYOUT)),
            "level": Out(range(depth + 1)),
            "full": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=DESCRIPTOR_LAYOUT.size,
                                                    depth=self._depth)
        m.d.comb += [
            fifo.w_en.eq(self.i.valid),
            fifo.w_data.eq(self.i.payload.as_value()),
            self.i.ready.eq(fifo.w_rdy),
            self.o.valid.eq(fifo.r_rdy),
            self.o.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.o.ready),
            self.level.eq(fifo.level),
            self.full.eq(~fifo.w_rdy),
        ]
        return m
