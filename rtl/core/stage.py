"""Pipeline stage register: a valid bit and a payload, with stall (hold) and flush."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["edge_signature", "Stage"]


def edge_signature(layout):
    """Signature of a pipeline edge (e.g. D -> X), from the older stage's side.

    Members
    -------
    valid : Out(1)
        The older stage hands an instruction on this cycle (the younger stage register takes it
        unless it stalls).
    payload : Out(layout)
        The instruction and what the older stage found out about it (``DXLayout``, ...).
    """
    return wiring.Signature({"valid": Out(1), "payload": Out(layout)})


class Stage(wiring.Component):
    """The register in front of one pipeline stage.

    Each cycle: if ``flush``, the stage becomes empty; else if ``stall``, it keeps its content;
    else it takes ``i_valid`` / ``i_payload`` from the stage before.

    Parameters
    ----------
    layout : data.Layout
        Payload layout (named after the edge it crosses, e.g. ``DXLayout``).

    Members
    -------
    i_valid : In(1)
    i_payload : In(layout)
    stall : In(1)
        Hold the current content (the stage cannot hand it on).
    flush : In(1)
        Discard the content (a younger instruction squashed by an older redirect).
    valid : Out(1)
    payload : Out(layout)
    """

    def __init__(self, layout):
        self._layout = layout
        super().__init__({
            "i_valid": In(1),
            "i_payload": In(layout),
            "stall": In(1),
            "flush": In(1),
            "valid": Out(1),
            "payload": Out(layout),
        })

    def elaborate(self, platform):
        m = Module()
        with m.If(self.flush):
            m.d.sync += self.valid.eq(0)
        with m.Elif(~self.stall):
            m.d.sync += self.valid.eq(self.i_valid)
        with m.If(~self.stall):
            m.d.sync += self.payload.eq(self.i_payload)
        return m
