"""The NPU: command processor (:class:`~.control.NpuControl`) plus datapath (``NpuDatapath``)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.arbiter import Arbiter
from ..bus.signature import BusSignature
from .control import NpuControl

__all__ = ["Npu", "npu_ports"]


def npu_ports(addr_width, *, list_port=False):
    """The NPU's ports as the SoC sees them (what a stand-in for it must offer too): ``bus``
    (its registers, a target of ``addr_width`` word-address bits), ``dma`` (its main-memory
    initiator), with ``list_port`` (``config.npu_list_port``) ``list`` (the LIST entry
    fetcher's read initiator), and ``irq``."""
    ports = {
        "bus": In(BusSignature(addr_width)),
        "dma": Out(BusSignature()),
    }
    if list_port:
        ports["list"] = Out(BusSignature())
    ports["irq"] = Out(1)
    return ports


class Npu(wiring.Component):
    """The whole NPU for one :class:`~dure.config.SoCConfig`.

    Parameters
    ----------
    config : SoCConfig
        NPU shape (``npu_rows`` must be non-zero), memories, queue depth.
    addr_width : int
        Word-address width of the register port (14 for the 64 KiB ``npu`` region).
    datapath : wiring.Component or None
        The datapath to use (default: ``NpuDatapath(config)``); tests may pass another
        component with the same members (an ``In(DatapathLink())`` member ``control`` and an
        initiator ``bus``); its attribute ``store_orders_acc`` (default ``False``) says whether
        its store unit waits for each ACC row the execute unit still has to write, and its
        attribute ``load_follows`` (default ``False``) whether its execute unit waits for each
        SPAD row the load unit still has to write, and its attribute ``eltwise_handover``
        (default ``False``) whether its element-wise unit holds two ELTWISEs.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port: offsets inside the ``npu`` region (the decoder strips the base), see
        :class:`~.regs.NpuRegisters` and :class:`~.commands.Register`.
    dma : Out(BusSignature())
        The DMA initiator (word addresses over the whole 32-bit space): the datapath's DMA
        and, without ``config.npu_list_port``, the LIST entry fetcher behind a round-robin
        arbiter; the fetcher prefetches only when the datapath did not request the cycle
        before (unless the dispatcher has no descriptor of the list waiting), so the list's
        bytes take the port's idle cycles.
    list : Out(BusSignature())
        Only with ``config.npu_list_port``: the LIST entry fetcher's read initiator (word
        addresses over the whole 32-bit space, ``we`` 0), and ``dma`` is the datapath's
        alone. The SoC routes it to on-chip RAM and to main memory
        (:class:`~dure.rtl.soc.soc.Soc`); while the list being fetched lies in main memory
        (``config.region("main")``, where it shares the DMA's memory port) the fetcher still
        prefetches only into the cycles the datapath leaves idle, as above; elsewhere (on-chip
        RAM) it reads whenever its entry buffer has room.
    irq : Out(1)
        Level interrupt: ``(STATUS.error & CONTROL.irq_error) |
        (STATUS.fence_irq & CONTROL.irq_fence)``.

    Latency
    -------
    Register port: as :class:`~.regs.NpuRegisters` (one cycle; DOORBELL held while the queue
    is full). DMA: as the datapath.
    """

    def __init__(self, config, *, addr_width=14, datapath=None):
        if not config.npu_rows:
            raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        self._addr_width = addr_width
        self._datapath = datapath
        super().__init__(npu_ports(addr_width, list_port=config.npu_list_port))

    def elaborate(self, platform):
        m = Module()
        if self._datapath is None:
            from .datapath import NpuDatapath
            datapath = NpuDatapath(self._config)
        else:
            datapath = self._datapath
        m.submodules.control = control = NpuControl(
            self._config, addr_width=self._addr_width, exec_orders_acc=True,
            store_orders_acc=getattr(datapath, "store_orders_acc", False),
            load_follows=getattr(datapath, "load_follows", False),
            eltwise_handover=getattr(datapath, "eltwise_handover", False))
        m.submodules.datapath = datapath

        wiring.connect(m, wiring.flipped(self.bus), control.bus)
        if self._config.npu_list_port:
            wiring.connect(m, datapath.bus, wiring.flipped(self.dma))
            wiring.connect(m, control.fetch, wiring.flipped(self.list))
            main = self._config.region("main")
            shift = (main.size // 4).bit_length() - 1
            in_main = control.fetch.addr[shift:] == (main.base // 4) >> shift
            # registered, as below; a list elsewhere (on-chip RAM) is never deferred
            m.d.sync += control.fetch_defer.eq(datapath.bus.req & in_main)
        else:
            from .datapath import dma_depth
            m.submodules.dma_arbiter = arbiter = Arbiter(
                2, max_outstanding=2 * dma_depth(self._config) + 32)
            wiring.connect(m, datapath.bus, arbiter.port(0))
            wiring.connect(m, control.fetch, arbiter.port(1))
            # registered: no combinational path from the datapath's request to the fetcher's
            m.d.sync += control.fetch_defer.eq(datapath.bus.req)
            wiring.connect(m, arbiter.bus, wiring.flipped(self.dma))
        wiring.connect(m, control.datapath, datapath.control)
        m.d.comb += self.irq.eq(control.irq)
        return m
