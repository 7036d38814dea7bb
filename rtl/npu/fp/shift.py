"""Right shift that keeps the OR of the bits shifted out (the sticky bit)."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ShiftRightSticky"]


class ShiftRightSticky(wiring.Component):
    """Logical right shift with a sticky bit (combinational).

    Parameters
    ----------
    width : int
        Width of the shifted value.
    amount_width : int
        Width of the shift amount; amounts of ``width`` or more shift everything out.

    Members
    -------
    i : In(width)
        Value to shift.
    amount : In(amount_width)
        Shift distance.
    o : Out(width)
        ``i >> amount``.
    sticky : Out(1)
        High when any one bit was shifted out.
    """

    def __init__(self, width, amount_width):
        if not isinstance(width, int) or width < 1:
            raise TypeError(f"ShiftRightSticky width must be a positive integer, not {width!r}")
        if not isinstance(amount_width, int) or amount_width < 1:
            raise TypeError(f"ShiftRightSticky amount_width must be a positive integer, "
                            f"not {amount_width!r}")
        self._width = width
        super().__init__({
            "i":      In(width),
            "amount": In(amount_width),
            "o":      Out(width),
            "sticky": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._width
        max_amount = (1 << len(self.amount)) - 1
        if max_amount <= 2 * w:
            # The value above `max_amount` zero bits: nothing falls off the bottom, and no
            # compare sits in front of the shifter.
            low, amount = max_amount, self.amount
        else:
            low, amount = w, Mux(self.amount >= w, w, self.amount)
        shifted = Cat(Const(0, low), self.i) >> amount
        m.d.comb += [
            self.o.eq(shifted[low:]),
            self.sticky.eq(shifted[:low] != 0),
        ]
        return m
