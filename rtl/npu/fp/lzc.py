"""Leading-zero count."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LeadingZeroCount"]


def _tree(bits):
    """Return ``(all_zero, count)`` for a list of 1-bit values whose length is a power of two.

    ``bits[-1]`` is the most significant bit; ``count`` is valid when ``all_zero`` is low.
    """
    if len(bits) == 1:
        return ~bits[0], Const(0, 0)
    half = len(bits) // 2
    lo_zero, lo_count = _tree(bits[:half])
    hi_zero, hi_count = _tree(bits[half:])
    return hi_zero & lo_zero, Mux(hi_zero, Cat(lo_count, 1), Cat(hi_count, 0))


class LeadingZeroCount(wiring.Component):
    """Number of zero bits above the most significant one (combinational, a log-depth tree).

    Parameters
    ----------
    width : int
        Width of the input.

    Members
    -------
    i : In(width)
        Value to count.
    count : Out(range(width + 1))
        Leading zeros of ``i``; ``width`` when ``i`` is zero.
    """

    def __init__(self, width):
        if not isinstance(width, int) or width < 1:
            raise TypeError(f"LeadingZeroCount width must be a positive integer, not {width!r}")
        self._width = width
        super().__init__({"i": In(width), "count": Out(range(width + 1))})

    def elaborate(self, platform):
        m = Module()
        size = 1 << (self._width - 1).bit_length()
        pad = size - self._width
        # Ones padded below the input make an all-zero input count exactly `width`.
        bits = [Const(1, 1)] * pad + [self.i[k] for k in range(self._width)]
        zero, count = _tree(bits)
        if pad:
            m.d.comb += self.count.eq(count)
        else:
            m.d.comb += self.count.eq(Mux(zero, self._width, count))
        return m
