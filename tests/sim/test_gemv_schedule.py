"""Timing choices of the transposed GEMV plan (sim/gemv_schedule.py): the k tiles per LOAD,
one or two COMPUTEs per k tile, the cap on chunks for short blocks."""

from dure.sim.gemv_schedule import (
    CHAINED_CHUNK,
    MAX_CHUNK,
    auto_chunk,
    chunk_schedule,
    split_tiles,
)

from dure.config import preset


def test_chunk_schedule():
    """k tiles per LOAD: the remainder first, full chunks, the last two tiles alone; every
    tile exactly once."""
    assert chunk_schedule(16, 2) == [2] * 7 + [1, 1]
    assert chunk_schedule(17, 4) == [3] + [4] * 3 + [1, 1]
    assert chunk_schedule(2, 4) == [1, 1] and chunk_schedule(1, 2) == [1]
    assert chunk_schedule(5, 1) == [1] * 5
    for tiles in range(1, 40):
        for sub in (1, 2, 3, 4):
            plan = chunk_schedule(tiles, sub)
            assert sum(plan) == tiles and max(plan) <= sub and plan[-min(tiles, 2):] == \
                [1] * min(tiles, 2)


def test_split_tiles_keeps_tiny_blocks_whole():
    """Two COMPUTEs per k tile only when halving the block saves more per chained tile than
    the extra descriptor costs on the bus: a block of 8 channels is one COMPUTE per tile, one
    of 64 (chain longer than its LOAD) two, and one whose LOAD outlasts the chain one."""
    sim = preset("sim")
    assert not split_tiles(sim, 8, 8)
    assert split_tiles(sim, 64, 8)
    assert not split_tiles(sim, 256, 8)
    assert not split_tiles(sim, 1, 8)


def test_auto_chunk_caps_chained_blocks():
    """Up to MAX_CHUNK k tiles per LOAD for blocks the bus paces, CHAINED_CHUNK for blocks so
    short that their accumulate chain paces the k tiles (a longer first chunk only delays
    them); never more than leaves the last two tiles alone."""
    sim = preset("sim")
    assert MAX_CHUNK > CHAINED_CHUNK
    assert auto_chunk(sim, 128, 16, 8, False) == MAX_CHUNK
    assert auto_chunk(sim, 8, 16, 8, False) == CHAINED_CHUNK
    assert auto_chunk(sim, 128, 3, 8, False) == 1
