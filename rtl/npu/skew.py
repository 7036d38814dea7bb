"""Per-lane delay lines: the input skew and output de-skew of the systolic array."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Skew"]


class Skew(wiring.Component):
    """Delay lane ``n`` of a vector by ``delays[n]`` clock cycles.

    Parameters
    ----------
    shape : shape-castable
        Shape of one lane.
    delays : sequence of int
        Delay of each lane in cycles, each >= 0 (0 is a wire).

    Members
    -------
    i : In(ArrayLayout(shape, len(delays)))
        The lanes, all belonging to the same cycle.
    o : Out(ArrayLayout(shape, len(delays)))
        Lane ``n`` of ``i`` as it was ``delays[n]`` cycles earlier. Registers reset to zero.
    """

    def __init__(self, shape, delays):
        delays = list(delays)
        if not delays or any(not isinstance(d, int) or d < 0 for d in delays):
            raise ValueError(f"delays must be a non-empty list of integers >= 0, not {delays!r}")
        self._delays = delays
        layout = data.ArrayLayout(shape, len(delays))
        super().__init__({"i": In(layout), "o": Out(layout)})

    @property
    def delays(self):
        return list(self._delays)

    def elaborate(self, platform):
        m = Module()
        for lane, cycles in enumerate(self._delays):
            value = self.i[lane]
            for n in range(cycles):
                reg = Signal.like(value, name=f"lane{lane}_d{n}")
                m.d.sync += reg.eq(value)
                value = reg
            m.d.comb += self.o[lane].eq(value)
        return m
