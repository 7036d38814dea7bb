"""Tile fabric counters: how long each NPU tile's DMA waited for the shared memory fabric.

Register map (byte offsets from ``DURE_TILES_BASE``, see :mod:`.registers`)
---------------------------------------------------------------------------
=========  ==========  ====  =====================================================================
offset     name        acc.  meaning
=========  ==========  ====  =====================================================================
0x00+4t    wait<t>     R     cycles in which tile t's DMA initiator requested the bus and was not
                             granted (round-robin arbitration against the other tiles and the
                             core, and the memory's bandwidth limit), 32 bits, wrapping; tiles
                             the SoC does not have read 0
0x40       control     W     bit 0 ``clear``: every ``wait<t>`` restarts from 0
=========  ==========  ====  =====================================================================

Present (region ``tiles``) only in SoCs with ``npu_tiles > 1``; the decoding is the ``tiles``
table of :mod:`.registers` through :class:`~..bus.regbank.RegisterBank`.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import TILE_COUNTERS, registers

__all__ = ["TileCounters"]


class TileCounters(wiring.Component):
    """Per-tile DMA grant-wait counters.

    Parameters
    ----------
    tiles : int
        Tiles counted, 1..:data:`~.registers.TILE_COUNTERS`.
    addr_width : int
        Word-address width of the bus port.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    req : In(tiles)
        Bit t: tile t's DMA initiator requests this cycle.
    gnt : In(tiles)
        Bit t: the fabric grants tile t's request this cycle.

    Latency
    -------
    Grants every cycle; responds one cycle after the grant. A wait cycle is counted one cycle
    after it happens; a ``clear`` takes effect on the next cycle (a wait in the clearing cycle
    is dropped).
    """

    def __init__(self, tiles, *, addr_width=10):
        if not isinstance(tiles, int) or not 1 <= tiles <= TILE_COUNTERS:
            raise ValueError(f"tiles must be an integer in 1..{TILE_COUNTERS}, not {tiles!r}")
        self._tiles = tiles
        self._addr_width = addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "req": In(tiles),
            "gnt": In(tiles),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(registers("tiles"), addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        clear = regs.control.w_stb & regs.control.w_data[0]
        for t in range(self._tiles):
            count = Signal(32, name=f"wait{t}")
            with m.If(clear):
                m.d.sync += count.eq(0)
            with m.Elif(self.req[t] & ~self.gnt[t]):
                m.d.sync += count.eq(count + 1)
            m.d.comb += getattr(regs, f"wait{t}").r_data.eq(count)
        return m
