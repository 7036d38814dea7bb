"""The NPU's DMA reader and writer on the SDRAM controller and chip model: what a LOAD or STORE
of 2-D strided rows costs in cycles, for the board's roofline.

:func:`dma_bench` runs one read and one write command per access pattern through
:class:`dure.rtl.npu.dma_reader.DmaReader` / :class:`~dure.rtl.npu.dma_writer.DmaWriter` (the
blocks the NPU's DMA is made of, with the ``ulx3s`` variant's row size and depth) and reports
bytes per cycle from the command to ``done``.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from dure.rtl.npu.datapath import dma_depth
from dure.rtl.npu.dma_reader import DmaReader
from dure.rtl.npu.dma_writer import DmaWriter
from dure.rtl.npu.load_unit import load_row_bytes
from dure.rtl.soc.sdram import SdramController

from .sdram_chip import SdramChip

__all__ = ["dma_bench", "PATTERNS"]

#: name -> (rows, stride in bytes) of DMA rows (the LOAD unit's longest row, at most 16 bytes:
#: 16 on a 4x4 NPU, 10 on the 4x2 ``ulx3s``): contiguous (stride None: back to back), one SDRAM
#: row (1 KiB) apart (the next bank each time), and 4 KiB apart (another row of the same bank
#: each time).
PATTERNS = {"contiguous": (64, None), "stride 1 KiB": (64, 1024), "stride 4 KiB": (64, 4096)}


def _run(config, timing, datasheet, clk_freq, we, rows, stride, row_bytes, clock_inverted):
    depth = dma_depth(config)
    controller = SdramController(timing, clk_freq=clk_freq, chip_clock_inverted=clock_inverted)
    block = (DmaWriter if we else DmaReader)(row_bytes, depth=depth,
                                             addr_width=controller.word_bits)
    m = Module()
    m.submodules.sdram = controller
    m.submodules.dma = block
    wiring.connect(m, block.bus, controller.bus)
    chip = SdramChip(controller.pins, clk_period=1 / clk_freq, datasheet=datasheet,
                     clock_inverted=clock_inverted)
    start = timing.cycles(clk_freq).init + 100
    result = {}

    async def drive(ctx):
        if not we:
            ctx.set(block.rows.ready, 1)
        await ctx.tick().repeat(start)
        ctx.set(block.cmd.payload, {"addr": 0x1000, "stride": stride, "rows": rows,
                                    "row_bytes": row_bytes})
        ctx.set(block.cmd.valid, 1)
        await ctx.tick().until(block.cmd.ready)
        ctx.set(block.cmd.valid, 0)
        if we:
            ctx.set(block.rows.valid, 1)
            ctx.set(block.rows.payload, 0x0123_4567_89AB_CDEF)
        cycles = 0
        while True:
            *_, done = await ctx.tick().sample(block.done)
            cycles += 1
            if done:
                break
        result["cycles"] = cycles

    sim = Simulator(m)
    sim.add_clock(1 / clk_freq)
    sim.add_testbench(drive)
    sim.add_testbench(chip.run, background=True)
    sim.run()
    return rows * row_bytes / result["cycles"]


def dma_bench(config, timing, *, datasheet, clk_freq=None, clock_inverted=True):
    """Bytes per cycle of DMA reads and writes for each of :data:`PATTERNS`, for the NPU of
    ``config`` on the SDRAM ``timing`` (at ``config.clk_freq`` unless ``clk_freq``)."""
    clk_freq = clk_freq or config.clk_freq
    row_bytes = min(load_row_bytes(config), 16)
    results = {}
    for name, (rows, stride) in PATTERNS.items():
        for direction, we in (("read", False), ("write", True)):
            results[f"DMA {direction}, {name} (B/cycle)"] = _run(
                config, timing, datasheet, clk_freq, we, rows, stride or row_bytes, row_bytes,
                clock_inverted)
    return results
