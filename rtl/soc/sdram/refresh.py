"""Refresh timer of the SDRAM controller."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RefreshTimer"]


class RefreshTimer(wiring.Component):
    """Asks for one AUTO REFRESH every ``period`` cycles once enabled.

    Parameters
    ----------
    period : int
        Cycles between requests, >= 2.

    Members
    -------
    enable : In(1)
        Counting starts in the first cycle ``enable`` is 1 (after initialisation) and never
        stops afterwards.
    request : Out(1)
        A refresh is owed; stays 1 until ``ack``.
    ack : In(1)
        The refresh is issued in this cycle; clears ``request`` unless another one falls due
        in the same cycle (the controller's margin keeps that from happening).
    """

    enable: In(1)
    request: Out(1)
    ack: In(1)

    def __init__(self, period):
        if not isinstance(period, int) or period < 2:
            raise ValueError(f"period must be an integer >= 2, not {period!r}")
        self._period = period
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self._period), init=self._period - 1)
        running = Signal()
        due = Signal()
        m.d.comb += due.eq(running & (count == 0))
        with m.If(self.enable):
            m.d.sync += running.eq(1)
        with m.If(running):
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += count.eq(self._period - 1)
        with m.If(due):
            m.d.sync += self.request.eq(1)
        with m.Elif(self.ack):
            m.d.sync += self.request.eq(0)
        return m
