"""NPU performance counters: 64-bit event counters read through the PERF_* registers."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .commands import PERF_COUNTERS

__all__ = ["PerfCounters"]


class PerfCounters(wiring.Component):
    """64-bit counters (wrapping), in :data:`~.commands.PERF_COUNTERS` order.

    Eight event counters, then three that split the cycles which are not rows of work around
    the rows (a layer's fixed cost, issue 10), all since the last ``clear``. A *row* is a
    cycle with ``compute_row`` (the array took an activation row) or ``lane_row`` (the
    element-wise unit computed a row of an ELTWISE):

    - FILL: cycles from the first cycle with ``busy`` up to (not including) the first row
      cycle; with no row yet, every cycle from the first busy one on.
    - GAPS: cycles without a row strictly between the first and the last row.
    - DRAIN: cycles after the last row up to and including the last ``busy`` cycle after it.

    So for a run that starts and ends idle, the cycles from its first busy cycle to its last
    are exactly FILL + (row cycles) + GAPS + DRAIN; without ELTWISEs the row cycles are
    COMPUTE.

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
    lane_row : In(1)
        The element-wise unit computed an ELTWISE row this cycle (a row for FILL / GAPS /
        DRAIN, not counted by COMPUTE; never together with ``compute_row`` in the NPU).
    dma_rd_bytes, dma_wr_bytes : In(4)
        DMA_RD / DMA_WR add the bytes whose DMA response arrived this cycle.
    stall_dep : In(1)
        STALL_DEP counts cycles a command whose unit is idle waits for a hazard.
    stall_mem, stall_out : In(1)
        STALL_MEM / STALL_OUT count the datapath's ``ev_stall_mem`` / ``ev_stall_out`` cycles.
    clear : In(1)
        Sets every counter to 0 (this cycle's events are dropped).
    counters : Out(ArrayLayout(64, 11))
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
            "lane_row": In(1),
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
        for name, event in events.items():
            counter = self.counters[PERF_COUNTERS.index(name)][:self._width]
            with m.If(self.clear):
                m.d.sync += counter.eq(0)
            with m.Else():
                m.d.sync += counter.eq(counter + event)

        fill, gaps, drain = (self.counters[PERF_COUNTERS.index(name)][:self._width]
                             for name in ("FILL", "GAPS", "DRAIN"))
        started = Signal()      # a busy cycle since the clear
        seen_row = Signal()     # a COMPUTE row since the clear
        tail = Signal(self._width)   # cycles since the last row (none counted before it)
        row = self.compute_row | self.lane_row
        with m.If(self.clear):
            m.d.sync += [fill.eq(0), gaps.eq(0), drain.eq(0), started.eq(0), seen_row.eq(0),
                         tail.eq(0)]
        with m.Elif(row):
            m.d.sync += [started.eq(1), seen_row.eq(1), tail.eq(0), drain.eq(0),
                         gaps.eq(gaps + tail)]
        with m.Elif(seen_row):
            m.d.sync += tail.eq(tail + 1)
            with m.If(self.busy):
                m.d.sync += drain.eq(tail + 1)
        with m.Elif(self.busy | started):
            m.d.sync += [started.eq(1), fill.eq(fill + 1)]
        return m
