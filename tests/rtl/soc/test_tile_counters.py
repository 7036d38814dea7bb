# amaranth: UnusedElaboratable=no
"""Tile fabric counters: per-tile DMA grant-wait cycles, clear, absent tiles read 0."""

import pytest
from dure.rtl.soc.registers import offset
from dure.rtl.soc.tile_counters import TileCounters
from dure.sim.verif.bus import simulate, transact

WAIT = [offset("tiles", f"wait{t}") // 4 for t in range(4)]
CONTROL = offset("tiles", "control") // 4


def test_counts_waits_only_and_clears():
    dut = TileCounters(3)
    results = []
    pattern = [(0b011, 0b001), (0b111, 0b000), (0b100, 0b100), (0b010, 0b000), (0b000, 0b000)]

    async def bench(ctx):
        for req, gnt in pattern:        # waits: tile 1 x3, tile 0 x1, tile 2 x1
            ctx.set(dut.req, req)
            ctx.set(dut.gnt, gnt)
            await ctx.tick()
        ctx.set(dut.req, 0)
        results.append([(await transact(ctx, dut.bus, a))[0] for a in WAIT])
        await transact(ctx, dut.bus, CONTROL, we=1, wdata=1)
        results.append([(await transact(ctx, dut.bus, a))[0] for a in WAIT[:3]])

    simulate(dut, [bench])
    assert results == [[1, 3, 1, 0], [0, 0, 0]]


def test_tiles_is_checked():
    with pytest.raises(ValueError, match="tiles must be an integer in 1..8"):
        TileCounters(9)
