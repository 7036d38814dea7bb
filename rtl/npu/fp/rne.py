"""Round-to-nearest-even incrementer."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundNearestEven"]


class RoundNearestEven(wiring.Component):
    """Adds one unit in the last place when round-to-nearest-even asks for it (combinational).

    Used on the packed ``{exponent, fraction}`` field of a result: a carry out of the fraction
    moves into the exponent, which is exactly the IEEE behaviour (subnormal to normal, largest
    finite to infinity).

    Parameters
    ----------
    width : int
        Width of the truncated value.

    Members
    -------
    i : In(width)
        Truncated value.
    guard : In(1)
        First bit below the last kept place.
    sticky : In(1)
        OR of all bits below ``guard``.
    o : Out(width + 1)
        ``i + (guard & (sticky | i[0]))``.
    """

    def __init__(self, width):
        if not isinstance(width, int) or width < 1:
            raise TypeError(f"RoundNearestEven width must be a positive integer, not {width!r}")
        super().__init__({
            "i":      In(width),
            "guard":  In(1),
            "sticky": In(1),
            "o":      Out(width + 1),
        })

    def elaborate(self, platform):
        m = Module()
        up = self.guard & (self.sticky | self.i[0])
        m.d.comb += self.o.eq(self.i + up)
        return m
