"""Route queue: a FIFO whose oldest entry sits in a register (for response routing)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

__all__ = ["RouteQueue"]


class RouteQueue(wiring.Component):
    """A first-in first-out queue of ``width``-bit entries whose head is a register.

    The ports are those of :class:`amaranth.lib.fifo.SyncFIFO` (``w_en`` / ``w_data`` /
    ``w_rdy``, ``r_en`` / ``r_data`` / ``r_rdy``), with the same timing: an entry written in
    one cycle can be read in the next. Unlike SyncFIFO, ``r_data`` and ``r_rdy`` come straight
    from flip-flops (no memory read in front of them), so a consumer that decodes ``r_data``
    in the cycle a response arrives (an arbiter routing it to its initiator) has no LUT-RAM
    read on that path. The entries behind the head are a SyncFIFO of ``depth - 1``.

    Parameters
    ----------
    width : int
        Bits per entry, >= 1.
    depth : int
        Entries, >= 1.

    Members
    -------
    w_en, w_data : In(1), In(width)
    w_rdy : Out(1)
        Write side (``w_en`` is ignored while ``w_rdy`` is 0).
    r_en : In(1)
    r_data : Out(width)
    r_rdy : Out(1)
        Read side: the oldest entry, valid while ``r_rdy``; ``r_en`` removes it.
    """

    def __init__(self, *, width, depth):
        if not (isinstance(width, int) and width >= 1 and isinstance(depth, int) and
                depth >= 1):
            self._MustUse__silence = True       # refused: never elaborated, no warning
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an integer >= 1, not {width!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be an integer >= 1, not {depth!r}")
        self._width, self._depth = width, depth
        super().__init__({
            "w_en": In(1), "w_data": In(width), "w_rdy": Out(1),
            "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        head = Signal(self._width)
        head_valid = Signal()
        pop = self.r_en & head_valid
        m.d.comb += [self.r_data.eq(head), self.r_rdy.eq(head_valid)]
        if self._depth == 1:
            push = self.w_en & ~head_valid
            m.d.comb += self.w_rdy.eq(~head_valid)
            with m.If(push):
                m.d.sync += [head.eq(self.w_data), head_valid.eq(1)]
            with m.Elif(pop):
                m.d.sync += head_valid.eq(0)
            return m
        m.submodules.rest = rest = SyncFIFO(width=self._width, depth=self._depth - 1)
        push = self.w_en & self.w_rdy
        # The head is free for the new entry if it is empty, or leaves now with nothing behind.
        into_head = push & (~head_valid | (pop & ~rest.r_rdy))
        m.d.comb += [
            self.w_rdy.eq(rest.w_rdy | ~head_valid),
            rest.w_data.eq(self.w_data),
            rest.w_en.eq(push & ~into_head),
            rest.r_en.eq(pop),
        ]
        with m.If(pop & rest.r_rdy):
            m.d.sync += head.eq(rest.r_data)
        with m.Elif(into_head):
            m.d.sync += [head.eq(self.w_data), head_valid.eq(1)]
        with m.Elif(pop):
            m.d.sync += head_valid.eq(0)
        return m
