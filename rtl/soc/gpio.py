"""GPIO: an output register (LEDs) and a synchronised input register (buttons, switches).

Register map (byte offsets from ``DURE_GPIO_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ====  ====  ==========================================================================
offset  name  acc.  meaning
======  ====  ====  ==========================================================================
0x0     out   R/W   drives ``gpio_out`` (bits above ``width`` read 0); honours byte enables
0x4     in    R     ``gpio_in`` after a two-flop synchroniser; writes are ignored
======  ====  ====  ==========================================================================

Any other offset answers with a bus error. Reset value of ``out``: 0.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..bus.bytes import merge_bytes
from ..bus.signature import BusSignature
from .registers import offset

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
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "gpio_out": Out(width),
            "gpio_in": In(width),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        synced = Signal.like(self.gpio_in)
        m.submodules.sync_in = FFSynchronizer(self.gpio_in, synced)

        rvalid = Signal()
        rdata = Signal(32)
        err = Signal()
        m.d.comb += bus.gnt.eq(1)
        m.d.sync += rvalid.eq(bus.req)
        with m.If(bus.req):
            m.d.sync += [rdata.eq(0), err.eq(0)]
            with m.Switch(bus.addr):
                with m.Case(offset("gpio", "out") // 4):
                    m.d.sync += rdata.eq(self.gpio_out)
                    with m.If(bus.we):
                        m.d.sync += self.gpio_out.eq(
                            merge_bytes(self.gpio_out, bus.wdata, bus.be))
                with m.Case(offset("gpio", "in") // 4):
                    m.d.sync += rdata.eq(synced)
                with m.Default():
                    m.d.sync += err.eq(1)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.err.eq(err)]
        return m
