"""NPU command processor: registers, command queue, dispatcher and performance counters.

Everything of the NPU except the datapath; :class:`~.npu.Npu` joins the two. The port towards
the datapath is the :class:`~.link.DatapathLink`, so the control block can be tested against a
behavioural datapath that plays the other side of the link.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .cmd_source import CommandSource
from .dispatch import Dispatcher
from .link import UNITS, DatapathLink
from .perf import PerfCounters
from .queue import CommandQueue
from .regs import NpuRegisters

__all__ = ["NpuControl"]


class NpuControl(wiring.Component):
    """The NPU's command processor.

    Parameters
    ----------
    config : SoCConfig
        NPU shape, queue depth.
    addr_width : int
        Word-address width of the register port.
    exec_depth : int or None
        COMPUTEs in flight at once (see :class:`~.dispatch.Dispatcher`); ``None`` (default):
        ``config.npu_exec_depth`` (8 unless a board trims it: 8 keep short COMPUTEs (a few
        rows each) streaming through the array's latency now that its weight banks switch
        tiles every ~15 cycles).
    exec_orders_acc : bool
        The datapath's execute unit orders accumulate chains per ACC row (see
        :class:`~.dispatch.Dispatcher`); :class:`~.npu.Npu` sets it.
    store_orders_acc : bool
        The datapath's store unit waits for each ACC row the execute unit has still to write
        (see :class:`~.dispatch.Dispatcher`); :class:`~.npu.Npu` sets it for a datapath that
        says so (``NpuDatapath.store_orders_acc``).
    load_follows : bool
        The datapath's execute unit waits for each SPAD row the load unit has still to write
        (see :class:`~.dispatch.Dispatcher`); :class:`~.npu.Npu` sets it for a datapath that
        says so (``NpuDatapath.load_follows``, from ``config.npu_load_follow``).
    eltwise_handover : bool
        The datapath's element-wise unit holds two ELTWISEs and orders the ACC rows between
        them (see :class:`~.dispatch.Dispatcher`); :class:`~.npu.Npu` sets it for a datapath
        that says so (``NpuDatapath.eltwise_handover``).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port (offsets inside the ``npu`` region), see :class:`~.regs.NpuRegisters`.
    irq : Out(1)
        Interrupt request (level).
    datapath : Out(DatapathLink())
        Commands to the datapath's units, their done pulses and the performance events.
    fetch : Out(BusSignature())
        Read initiator of the LIST entry fetcher (:class:`~.cmd_source.CommandSource`); the
        :class:`~.npu.Npu` shares the DMA port between it and the datapath.
    fetch_defer : In(1)
        The datapath's DMA wants the port: the fetcher prefetches only into idle cycles
        (:class:`~.list_fetch.ListFetcher` ``defer``).

    Latency
    -------
    Register accesses: grant at once (a DOORBELL write waits while the queue is full),
    response one cycle later. A command reaches its unit 8 cycles after the DOORBELL write's
    grant at the earliest (queue 2, validator 4, front 1, pending slot 1); a LIST inside the
    DMA window has its entry 0 fetched while it is validated
    (:class:`~.cmd_source.CommandSource`): entry 0 reaches the validator about
    ``latency + 11`` cycles after the LIST left the queue (``latency + 9`` with
    ``config.npu_list_port``), otherwise about ``latency + 16`` after the LIST reached the
    front.
    """

    def __init__(self, config, *, addr_width=14, exec_depth=None, exec_orders_acc=False,
                 store_orders_acc=False, load_follows=False, eltwise_handover=False):
        if not config.npu_rows:
            raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        self._addr_width = addr_width
        self._exec_depth = config.npu_exec_depth if exec_depth is None else exec_depth
        self._orders_acc = exec_orders_acc
        self._store_orders = store_orders_acc
        self._load_follows = load_follows
        self._eltwise_handover = eltwise_handover
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "irq": Out(1),
            "datapath": Out(DatapathLink()),
            "fetch": Out(BusSignature()),
            "fetch_defer": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        m.submodules.regs = regs = NpuRegisters(config, addr_width=self._addr_width)
        m.submodules.queue = queue = CommandQueue(config.npu_queue_depth)
        m.submodules.dispatch = dispatch = Dispatcher(config, exec_depth=self._exec_depth,
                                                         exec_orders_acc=self._orders_acc,
                                                         store_orders_acc=self._store_orders,
                                                         load_follows=self._load_follows,
                                                         eltwise_handover=self._eltwise_handover,
                                                         hazard_regs=config.npu_hazard_regs)
        m.submodules.perf = perf = PerfCounters(config.npu_perf_bits)
        # with the list port the fetcher offers an entry in the cycle its last word arrives
        m.submodules.source = source = CommandSource(entries=config.npu_list_entries,
                                                     bypass=config.npu_list_port)

        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        wiring.connect(m, regs.push, queue.i)
        wiring.connect(m, queue.o, source.queue)
        wiring.connect(m, source.o, dispatch.cmd)
        wiring.connect(m, source.bus, wiring.flipped(self.fetch))
        link = self.datapath
        for _, _, cmd, done, bus_error in UNITS:
            wiring.connect(m, getattr(dispatch, cmd), wiring.flipped(getattr(link, cmd)))
            m.d.comb += getattr(dispatch, done).eq(getattr(link, done))
            if bus_error is not None:
                m.d.comb += getattr(dispatch, bus_error).eq(getattr(link, bus_error))
        busy = (queue.level != 0) | ~dispatch.idle | source.busy
        m.d.comb += [
            dispatch.dma_base.eq(regs.dma_base),
            dispatch.dma_size.eq(regs.dma_size),
            source.dma_base.eq(regs.dma_base),
            source.dma_size.eq(regs.dma_size),
            dispatch.cmd_tag.eq(source.o_tag),
            source.defer.eq(self.fetch_defer),
            source.list_accept.eq(dispatch.list_accept),
            source.list_refuse.eq(dispatch.list_refuse),
            regs.err_index.eq(dispatch.err_index),
            regs.queue_full.eq(queue.full),
            regs.busy.eq(busy),
            regs.err_valid.eq(dispatch.err_valid),
            regs.err_code.eq(dispatch.err_code),
            regs.err_seq.eq(dispatch.err_seq),
            regs.fence_irq.eq(dispatch.fence_irq),
            regs.retired.eq(dispatch.retired),
            regs.perf.eq(perf.counters),
            self.irq.eq(regs.irq),
            perf.clear.eq(regs.perf_clear),
            perf.busy.eq(busy),
            perf.stall_dep.eq(dispatch.stall_dep),
            perf.macs.eq(link.ev_macs),
            perf.compute_row.eq(link.ev_compute_row),
            perf.lane_row.eq(link.ev_lane_row),
            perf.dma_rd_bytes.eq(link.ev_dma_rd_bytes),
            perf.dma_wr_bytes.eq(link.ev_dma_wr_bytes),
            perf.stall_mem.eq(link.ev_stall_mem),
            perf.stall_out.eq(link.ev_stall_out),
        ]
        return m
