"""NPU performance counters: 64-bit event counters read through the PERF_* registers."""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .commands import PERF_COUNTERS

__all__ = ["PerfCounters"]


class PerfCounters(wiring.Component):
    """Eight 64-bit counters (wrapping), in :data:`~.commands.PERF_COUNTERS` order.

    Parameters
    ----------
    width : int
        Bits each counter keeps, 32 or 64 (``config.npu_perf_bits``); with 32 the counters
        wrap modulo 2**32 and the upper halves of ``counters`` are 0.

    Members
    -------
    busy : In(1)
        BUSY counts cycles with this set (STATUS.busy: a command queued or in flight).
    macs : In(16)
        MACS adds this every cycle (the datapath's ``ev_macs``).
    compute_row : In(1)
        COMPUTE counts cycles the array accepted an activation row.
    dma_rd_bytes, dma_wr_bytes : In(4)
        DMA_RD / DMA_WR add the bytes whose DMA response arrived this cycle.
    stall_dep : In(1)
        STALL_DEP counts cycles a command whose unit is idle waits for a hazard.
    stall_mem, stall_out : In(1)
        STALL_MEM / STALL_OUT count the datapath's ``ev_stall_mem`` / ``ev_stall_out`` cycles.
    clear : In(1)
        Sets every counter to 0 (this cycle's events are dropped).
    counters : Out(ArrayLayout(64, 8))
        The values.

    Latency
    -------
    An event in cycle t is counted in ``counters`` from cycle t + 1.
    """

    def __init__(self, width=64):
        if width not in (32, 64):
            raise ValueError(f"width must be 32 or 64, not {width!r}")
        self._width = width
        super().__init__({
            "busy": In(1),
            "macs": In(16),
            "compute_row": In(1),
            "dma_rd_bytes": In(4),
            "dma_wr_bytes": In(4),
            "stall_dep": In(1),
            "stall_mem": In(1),
            "stall_out": In(1),
            "clear": In(1),
            "counters": Out(data.ArrayLayout(64, len(PERF_COUNTERS))),
        })

    def elaborate(self, platform):
        m = Module()
        events = {"BUSY": self.busy, "MACS": self.macs, "COMPUTE": self.compute_row,
                  "DMA_RD": self.dma_rd_bytes, "DMA_WR": self.dma_wr_bytes,
                  "STALL_DEP": self.stall_dep, "STALL_MEM": self.stall_mem,
                  "STALL_OUT": self.stall_out}
        for index, name in enumerate(PERF_COUNTERS):
            counter = self.counters[index][:self._width]
            with m.If(self.clear):
                m.d.sync += counter.eq(0)
            with m.Else():
                m.d.sync += counter.eq(counter + events[name])
        return m
