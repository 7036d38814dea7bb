"""LinkSimTop: the board's SoC as the simulator sees it, for testing the boot link without a board.

The same :class:`~dure.rtl.soc.soc.Soc` and :class:`~.mailbox.ExitMailbox` as
:class:`~.top.BoardTop`, with the simulator's top-level ports (the contract of
:class:`dure.rtl.soc.sim_top.SimTop`), so :func:`dure.sim.verilator.build_model` builds it with
the standard harness. Differences from SimTop: a test-exit write goes to the mailbox (the core
restarts in the boot loader, which reports the code over the UART) and is *not* shown on
``exit_valid``, which stays 0, so the harness runs until it is stopped; the harness loads the
boot loader into the ROM through the loader port, as a board's bitstream would hold it. RAM and
main memory are the simulation-only memory primitives (``sim_memories``, as in SimTop): an
Amaranth ``Memory`` of the ULX3S's 32 MiB main memory would not even elaborate. A variant with
main memory in SDRAM (``main_kind="sdram"``, the ULX3S's) keeps the SDRAM controller and brings
its pins out as ``sdram__*`` ports; the harness drives them with its chip model
(``sim/sdram_chip.h``, run with ``--sdram-clock``).
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import Out
from dure.rtl.soc.sdram import IS42S16160G_7, SdramPinSignature
from dure.rtl.soc.sim_top import connect_harness_io, harness_members
from dure.rtl.soc.soc import Soc

from dure.config import preset

from .mailbox import ExitMailbox

__all__ = ["LinkSimTop"]


class LinkSimTop(wiring.Component):
    """Board-like SoC with SimTop's ports.

    Parameters
    ----------
    config : SoCConfig
        A variant with a boot ROM.
    sim_memories : bool
        Build RAM and main memory from the Verilog simulation primitive
        (:mod:`dure.rtl.soc.sim_memory`; default) rather than Amaranth memories.
    sdram_clk_freq : int, optional
        With ``config.main_kind == "sdram"``: the clock the SDRAM controller's timing is
        rounded to. Default: the ULX3S preset's (its board clock), whatever the nominal
        ``config.clk_freq``, so refresh and the chip's timing cost the board's cycles.

    Members
    -------
    The members of :class:`~dure.rtl.soc.sim_top.SimTop`; ``exit_valid`` and ``exit_code``
    are constant 0. With ``config.main_kind == "sdram"`` also
    ``sdram : Out(SdramPinSignature(...))``, the pins of the chip.
    """

    def __init__(self, config, *, sim_memories=True, sdram_clk_freq=None):
        self._config = config
        self._sim_memories = sim_memories
        members = harness_members(config)
        self._sdram_clk_freq = None
        if config.main_kind == "sdram":
            self._sdram_clk_freq = sdram_clk_freq or preset("ulx3s").clk_freq
            members["sdram"] = Out(SdramPinSignature(addr_pins=IS42S16160G_7.addr_pins,
                                                     bank_bits=IS42S16160G_7.bank_bits))
        elif sdram_clk_freq is not None:
            raise ValueError("sdram_clk_freq is only for a variant with main_kind 'sdram'")
        super().__init__(members)

    @property
    def sdram_clk_freq(self):
        """The SDRAM controller's clock in Hz (the harness's ``--sdram-clock``), or None."""
        return self._sdram_clk_freq

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = Soc(self._config, uart_phy="byte", sim_memories=self._sim_memories,
                                     sdram_clk_freq=self._sdram_clk_freq)
        if self._sdram_clk_freq is not None:
            wiring.connect(m, soc.sdram, wiring.flipped(self.sdram))
        m.submodules.mailbox = mailbox = ExitMailbox(self._config)

        # Loader queue (as in SimTop) and the mailbox share the SoC's ext port; the mailbox
        # starts only when no loader write is in flight, and the queue waits while it is busy.
        m.submodules.load_queue = queue = SyncFIFO(width=62, depth=2)
        outstanding = Signal(range(64))
        loader_req = Signal()
        m.d.comb += [
            self.load_ready.eq(queue.w_rdy),
            queue.w_en.eq(self.load_valid),
            queue.w_data.eq(Cat(self.load_addr[2:], self.load_data)),
            loader_req.eq(queue.r_rdy & ~mailbox.busy),
            mailbox.bus_free.eq((outstanding == 0) & ~queue.r_rdy),
            mailbox.exit_valid.eq(soc.exit_valid),
            mailbox.exit_code.eq(soc.exit_code),
        ]
        with m.If(mailbox.busy):
            m.d.comb += [
                soc.ext.req.eq(mailbox.bus.req),
                soc.ext.addr.eq(mailbox.bus.addr),
                soc.ext.wdata.eq(mailbox.bus.wdata),
                soc.ext.we.eq(mailbox.bus.we),
                soc.ext.be.eq(mailbox.bus.be),
                mailbox.bus.gnt.eq(soc.ext.gnt),
            ]
        with m.Else():
            m.d.comb += [
                soc.ext.req.eq(loader_req),
                soc.ext.addr.eq(queue.r_data[:30]),
                soc.ext.wdata.eq(queue.r_data[30:]),
                soc.ext.we.eq(1),
                soc.ext.be.eq(0b1111),
                queue.r_en.eq(soc.ext.gnt & loader_req),
            ]
        m.d.comb += [mailbox.bus.rvalid.eq(soc.ext.rvalid & mailbox.busy),
                     mailbox.bus.rdata.eq(soc.ext.rdata), mailbox.bus.err.eq(soc.ext.err)]
        m.d.sync += outstanding.eq(outstanding + (loader_req & soc.ext.gnt)
                                   - (soc.ext.rvalid & ~mailbox.busy))
        m.d.comb += soc.hold.eq(self.hold | queue.r_rdy | (outstanding != 0) | mailbox.hold)

        connect_harness_io(m, self, soc)
        return m
