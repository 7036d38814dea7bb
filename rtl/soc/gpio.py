"""GPIO: an output register (LEDs) and a synchronised input register (buttons, switches).

Register map (byte offsets from ``DURE_GPIO_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ====  ====  ==========================================================================
offset  name  acc.  meaning
======  ====  ====  ==========================================================================
0x0     out   R/W   drives ``gpio_out`` (bits above ``width`` read 0); honours byte enables
0x4     in    R     ``gpio_in`` after a two-flop synchroniser; writes are ignored
======  ====  ====  ==========================================================================

Any other offset answers with a bus error. Reset value of ``out``: 0. The decoding is the
``gpio`` table of :mod:`.registers` through :class:`~..bus.regbank.RegisterBank`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import with_changes

__all__ = ["Gpio"]


class Gpio(wiring.Component):
    """GPIO block.

    Parameters
    ----------
    width : int
        Number of outputs and of inputs, 1..32.
    addr_width : int
        Word-address width of the bus port.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    gpio_out : Out(width)
        The ``out`` register.
    gpio_in : In(width)
        Pins sampled into ``in`` (asynchronous inputs are fine: they are synchronised).

    Latency
    -------
    Grants every cycle; responds one cycle after the grant.
    """

    def __init__(self, width, *, addr_width=10):
        if not isinstance(width, int) or not 1 <= width <= 32:
            raise ValueError(f"width must be 1..32, not {width!r}")
        self._width = width
        self._addr_width = addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "gpio_out": Out(width),
            "gpio_in": In(width),
        })

    def elaborate(self, platform):
        m = Module()
        width = self._width
        table = with_changes("gpio", out={"width": width}, **{"in": {"width": width}})
        m.submodules.regs = regs = RegisterBank(table, addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        m.submodules.sync_in = FFSynchronizer(self.gpio_in, getattr(regs, "in").r_data)
        m.d.comb += self.gpio_out.eq(regs.out.data)
        return m
