"""The NPU seen through one memory port, for NPU-level testbenches that serve one port.

With ``config.npu_list_port`` the :class:`~dure.rtl.npu.npu.Npu` has two initiators, ``dma``
(the datapath's) and ``list`` (the LIST entry fetcher's). :class:`NpuOnePort` joins them behind
a round-robin arbiter (the DMA first) into one ``dma`` port, as the SoC joins them in front of
main memory when a list lies there (:class:`~dure.rtl.soc.soc.Soc`, ``_list_path``), so the
testbenches that serve one main memory (:mod:`.npu_sim`, :mod:`.npu_verilator`) run every
configuration unchanged; a list they place in their memory is a list in main memory. Without
the option it is the NPU itself (:func:`one_port_npu`)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from dure.rtl.bus.arbiter import Arbiter
from dure.rtl.npu.npu import Npu, npu_ports

__all__ = ["NpuOnePort", "one_port_npu"]


class NpuOnePort(wiring.Component):
    """``Npu(config, ...)`` with its ``list`` port joined to its ``dma`` port.

    Parameters
    ----------
    config : SoCConfig
        With ``npu_list_port`` set.
    addr_width, datapath :
        As :class:`~dure.rtl.npu.npu.Npu`.

    Members
    -------
    bus, dma, irq :
        As :class:`~dure.rtl.npu.npu.Npu` without the option: ``dma`` carries both the
        datapath's and the fetcher's requests.

    Latency
    -------
    As the NPU's: the arbiter adds no cycle.
    """

    def __init__(self, config, *, addr_width=14, datapath=None):
        if not config.npu_list_port:
            raise ValueError("NpuOnePort is for a variant with npu_list_port")
        self.npu = Npu(config, addr_width=addr_width, datapath=datapath)
        super().__init__(npu_ports(addr_width))

    def elaborate(self, platform):
        m = Module()
        m.submodules.npu = npu = self.npu
        # as deep as the SoC's join (rtl/soc/soc.py)
        m.submodules.join = join = Arbiter(2, max_outstanding=32)
        wiring.connect(m, npu.dma, join.port(0))
        wiring.connect(m, npu.list, join.port(1))
        wiring.connect(m, join.bus, wiring.flipped(self.dma))
        wiring.connect(m, wiring.flipped(self.bus), npu.bus)
        m.d.comb += self.irq.eq(npu.irq)
        return m


def one_port_npu(config, *, addr_width=14, datapath=None):
    """The NPU of ``config`` with one memory port ``dma``: :class:`NpuOnePort` with
    ``npu_list_port``, else :class:`~dure.rtl.npu.npu.Npu` itself."""
    if config.npu_list_port:
        return NpuOnePort(config, addr_width=addr_width, datapath=datapath)
    return Npu(config, addr_width=addr_width, datapath=datapath)
