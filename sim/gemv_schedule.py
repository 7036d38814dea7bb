"""Timing choices of the transposed GEMV plan: SPAD and ACC room per block, k tiles per LOAD,
one or two COMPUTEs per k tile.

None of these changes a result bit (the plan's outputs are the same whatever they choose);
they set the block size and the order and size of the LOADs that :mod:`dure.sim.gemv_plan`
(and the 2:4 gather plan, :mod:`dure.sim.gemv_gather_plan`) emit. The measurements behind the
constants are in the plan's module docstring and on each name.
"""

__all__ = ["BUFFERS", "CHAIN_CYCLES", "DESCRIPTOR_BYTES", "MAX_CHUNK", "CHAINED_CHUNK",
           "split_tiles", "spad_room", "auto_chunk", "chunk_schedule"]

#: Weight-tile buffers in SPAD (the LOADs run this many steps minus one ahead).
BUFFERS = 3


#: Cycles from a COMPUTE's start to the start of the next COMPUTE accumulating onto the same
#: ACC rows, beyond its ``m`` rows (measured on the 8x8 NPU: 136 cycles for m = 64).
CHAIN_CYCLES = 72

#: Bytes of one descriptor (8 words), fetched over the NPU's bus port like the weights.
DESCRIPTOR_BYTES = 32


def split_tiles(config, rows, tile_bytes):
    """Whether a block of ``rows`` channels is better computed as two COMPUTEs per k tile
    (the halves overlap their accumulate chains) than one: True while one COMPUTE per k tile,
    chained onto the previous tile's (``rows + CHAIN_CYCLES``), would take longer than the LOAD
    of the tile's weights (``rows * tile_bytes`` bytes at the main-memory bandwidth), and the
    split saves more per k tile (a chain link ``rows / 2`` cycles shorter) than the extra
    descriptor costs on the bus (:data:`DESCRIPTOR_BYTES`): a block of 8 channels (the FC
    autoencoder's 128 -> 8 layer) is one COMPUTE per tile (82,153 -> 82,021 cycles, INT8
    per-channel, 8x8 `sim` SoC, 3-tile chunks), and so are the 12 / 10 channel heads of DS-CNN
    and ResNet-8 (no slower). Timing only."""
    load = rows * tile_bytes / config.main_bytes_per_cycle
    return rows // 2 > DESCRIPTOR_BYTES / config.main_bytes_per_cycle \
        and rows + CHAIN_CYCLES > load


def spad_room(config, n, kpad, sub, r, scaled):
    """``(resident, limit)``: whether the activation vector (``kpad`` rows) stays in SPAD
    beside the ``BUFFERS`` weight buffers of ``sub`` k tiles (at least min(N, 256) channels
    each), and the most channels a block may have (SPAD buffers and ACC halves)."""
    resident = kpad + BUFFERS * sub * min(n, 256) <= config.npu_spad_rows
    room = config.npu_spad_rows - (kpad if resident else BUFFERS * sub * r)
    # ACC: two halves (blocks alternate); with a scale each half's second quarter holds its
    # block's scales, one per row.
    quarter = config.npu_acc_rows // 4
    return resident, min(quarter if scaled else 2 * quarter, room // (BUFFERS * sub),
                         0xFFFF // sub)


#: Most k tiles one LOAD of dense weights brings (:func:`auto_chunk`).
MAX_CHUNK = 3


#: Most k tiles per LOAD when the block's accumulate chain outlasts a tile's LOAD.
CHAINED_CHUNK = 2


def auto_chunk(config, n, tiles, r, scaled):
    """The most k tiles per LOAD (up to :data:`MAX_CHUNK`, or :data:`CHAINED_CHUNK` when
    the blocks are so short that their accumulate chain, not the bus, paces the k tiles) that
    keep the activation vector resident when one tile per LOAD does and need no more blocks
    than one tile per LOAD: fewer, longer LOADs (each LOAD costs a descriptor and the DMA's
    turnaround) without shorter blocks. Short blocks only wait longer for a longer first
    chunk: DS-CNN's 64 -> 12 head 1,583 cycles with 2 tiles per LOAD, 1,631 with 3."""
    base_res, base_limit = spad_room(config, n, tiles * r, 1, r, scaled)
    blocks = -(-n // base_limit)
    rows = -(-n // blocks)
    chained = rows + CHAIN_CYCLES > rows * r / config.main_bytes_per_cycle
    top = CHAINED_CHUNK if chained else MAX_CHUNK
    for sub in range(min(top, max(1, tiles - 2)), 1, -1):
        resident, limit = spad_room(config, n, tiles * r, sub, r, scaled)
        if resident == base_res and -(-n // limit) <= blocks:
            return sub
    return 1


def chunk_schedule(tiles, sub):
    """k tiles per step of a dense GEMV with chunks of up to ``sub`` tiles: the remainder
    first, then full chunks, then the last two tiles one per step, so the block's last
    COMPUTEs wait for a short LOAD (the bus idles while they drain)."""
    if sub == 1:
        return [1] * tiles
    tail = min(tiles, 2)
    body, rem = divmod(tiles - tail, sub)
    return ([rem] if rem else []) + [sub] * body + [1] * tail
