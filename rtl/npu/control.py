"""NPU command processor: registers, command queue, dispatcher and performance counters.

Everything of the NPU except the datapath; :class:`~.npu.Npu` joins the two. The ports towards
the datapath are those of ``NpuDatapath`` (npu_contract.md), seen from the other side, so the
control block can be tested against a behavioural datapath.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .commands import Opcode
from .descriptor import command_layout
from .dispatch import Dispatcher
from .perf import PerfCounters
from .queue import CommandQueue
from .regs import NpuRegisters

__all__ = ["NpuControl", "DATAPATH_MEMBERS"]

#: The datapath's members the control block connects to, by name (all but the DMA bus).
DATAPATH_MEMBERS = ("load_cmd", "exec_cmd", "store_cmd", "load_done", "exec_done",
                    "store_done", "load_bus_error", "store_bus_error", "ev_compute_row",
                    "ev_macs", "ev_dma_rd_bytes", "ev_dma_wr_bytes", "ev_stall_mem",
                    "ev_stall_out")


class NpuControl(wiring.Component):
    """The NPU's command processor.

    Parameters
    ----------
    config : SoCConfig
        NPU shape, queue depth.
    addr_width : int
        Word-address width of the register port.
    exec_depth : int
        COMPUTEs in flight at once (see :class:`~.dispatch.Dispatcher`).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port (offsets inside the ``npu`` region), see :class:`~.regs.NpuRegisters`.
    irq : Out(1)
        Interrupt request (level).
    load_cmd, exec_cmd, store_cmd : Out(stream.Signature(command_layout(opcode)))
    load_done, exec_done, store_done, load_bus_error, store_bus_error : In(1)
    ev_compute_row, ev_macs, ev_dma_rd_bytes, ev_dma_wr_bytes, ev_stall_mem, ev_stall_out : In
        The datapath's ports (see :class:`~.dispatch.Dispatcher` and npu_contract.md).

    Latency
    -------
    Register accesses: grant at once (a DOORBELL write waits while the queue is full),
    response one cycle later. A command reaches its unit 7 cycles after the DOORBELL write's
    grant at the earliest (queue 2, validator 3, front 1, pending slot 1).
    """

    def __init__(self, config, *, addr_width=14, exec_depth=4):
        if not config.npu_rows:
            raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        self._addr_width = addr_width
        self._exec_depth = exec_depth
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "irq": Out(1),
            "load_cmd": Out(stream.Signature(command_layout(Opcode.LOAD))),
            "exec_cmd": Out(stream.Signature(command_layout(Opcode.COMPUTE))),
            "store_cmd": Out(stream.Signature(command_layout(Opcode.STORE))),
            "load_done": In(1),
            "exec_done": In(1),
            "store_done": In(1),
            "load_bus_error": In(1),
            "store_bus_error": In(1),
            "ev_compute_row": In(1),
            "ev_macs": In(16),
            "ev_dma_rd_bytes": In(4),
            "ev_dma_wr_bytes": In(4),
            "ev_stall_mem": In(1),
            "ev_stall_out": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        m.submodules.regs = regs = NpuRegisters(config, addr_width=self._addr_width)
        m.submodules.queue = queue = CommandQueue(config.npu_queue_depth)
        m.submodules.dispatch = dispatch = Dispatcher(config, exec_depth=self._exec_depth)
        m.submodules.perf = perf = PerfCounters()

        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        wiring.connect(m, regs.push, queue.i)
        wiring.connect(m, queue.o, dispatch.cmd)
        for name in ("load_cmd", "exec_cmd", "store_cmd"):
            wiring.connect(m, getattr(dispatch, name), wiring.flipped(getattr(self, name)))
        busy = (queue.level != 0) | ~dispatch.idle
        m.d.comb += [
            dispatch.dma_base.eq(regs.dma_base),
            dispatch.dma_size.eq(regs.dma_size),
            *[getattr(dispatch, name).eq(getattr(self, name))
              for name in ("load_done", "exec_done", "store_done", "load_bus_error",
                           "store_bus_error")],
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
            perf.macs.eq(self.ev_macs),
            perf.compute_row.eq(self.ev_compute_row),
            perf.dma_rd_bytes.eq(self.ev_dma_rd_bytes),
            perf.dma_wr_bytes.eq(self.ev_dma_wr_bytes),
            perf.stall_mem.eq(self.ev_stall_mem),
            perf.stall_out.eq(self.ev_stall_out),
        ]
        return m
