"""SDR SDRAM controller behind a Dure bus port: the main memory of the ULX3S."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...bus.signature import BusSignature
from .control import SdramControl
from .datapath import SdramDatapath
from .pins import SdramPinSignature
from .refresh import RefreshTimer
from .timing import SdramTiming

__all__ = ["SdramController"]


class SdramController(wiring.Component):
    """32-bit word memory in a x16 SDR SDRAM.

    Each word is a burst of two 16-bit beats (low half first). Rows stay open after an
    access (one open row per bank) until another row of the bank is needed or a refresh
    closes them all; word addresses map to ``{row, bank, column}``, so sequential streams
    cross into the next bank rather than into a closed row. AUTO REFRESH goes before any
    waiting access, every :attr:`SdramCycles.refresh_period` cycles.

    Parameters
    ----------
    timing : SdramTiming
        The part (timing in seconds and geometry).
    clk_freq : int
        Clock frequency in Hz; the timing is rounded up to whole cycles of it.
    read_delay : int
        Extra cycles of read data capture on the board (I/O registers), >= 0.

    Members
    -------
    bus : In(BusSignature(row_bits + bank_bits + col_bits - 1))
        Target port; ``err`` is always 0. Byte enables act through the DQM pins.
    pins : Out(SdramPinSignature(max(row_bits, 11), bank_bits))
        To the chip (:class:`.pins.SdramIO` on a board, a chip model in simulation).

    Latency
    -------
    Requests are granted while the one-entry request register is empty or being issued, and
    no request is granted before initialisation ends (it waits in the register). From a
    grant, the response comes ``cas_latency + 4 + read_delay`` cycles later when its row is
    open and the data bus free (6 at CL 2), plus PRECHARGE and ACTIVE times on a row miss.
    Reads and writes answer at the same delay after their command, so responses keep the
    request order. Sustained: one word per two cycles (the 16-bit bus's peak) for accesses in
    open rows of one direction; a change from read to write costs ``cas_latency + 1`` cycles.
    """

    def __init__(self, timing, *, clk_freq, read_delay=0):
        if not isinstance(timing, SdramTiming):
            raise TypeError(f"timing must be an SdramTiming, not {timing!r}")
        self._timing = timing
        self.cycles = timing.cycles(clk_freq)
        self._read_delay = read_delay
        self.word_bits = timing.row_bits + timing.bank_bits + timing.col_bits - 1
        super().__init__({
            "bus": In(BusSignature(self.word_bits)),
            "pins": Out(SdramPinSignature(addr_pins=timing.addr_pins,
                                          bank_bits=timing.bank_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        t, bus, pins = self._timing, self.bus, self.pins
        m.submodules.control = control = SdramControl(
            self.cycles, row_bits=t.row_bits, col_bits=t.col_bits, bank_bits=t.bank_bits,
            init_refreshes=t.init_refreshes)
        m.submodules.datapath = datapath = SdramDatapath(
            cas_latency=t.cas_latency, read_delay=self._read_delay)
        m.submodules.refresh = refresh = RefreshTimer(self.cycles.refresh_period)

        # The request register: one request waits here for its commands.
        valid = Signal()
        addr = Signal(self.word_bits)
        we = Signal()
        be = Signal(4)
        wdata = Signal(32)
        m.d.comb += bus.gnt.eq(~valid | control.rq_issue)
        with m.If(control.rq_issue):
            m.d.sync += valid.eq(0)
        with m.If(bus.req & bus.gnt):
            m.d.sync += [valid.eq(1), addr.eq(bus.addr), we.eq(bus.we), be.eq(bus.be),
                         wdata.eq(bus.wdata)]

        m.d.comb += [
            control.rq_valid.eq(valid),
            control.rq_addr.eq(addr),
            control.rq_we.eq(we),
            refresh.enable.eq(control.ready),
            control.refresh_request.eq(refresh.request),
            refresh.ack.eq(control.refresh_ack),

            datapath.issue.eq(control.rq_issue),
            datapath.issue_we.eq(we),
            datapath.wdata.eq(wdata),
            datapath.be.eq(be),

            pins.clk_en.eq(control.clk_en),
            pins.cs.eq(control.cs),
            pins.ras.eq(control.ras),
            pins.cas.eq(control.cas),
            pins.we.eq(control.we),
            pins.ba.eq(control.ba),
            pins.a.eq(control.a),
            pins.dq_o.eq(datapath.dq_o),
            pins.dq_oe.eq(datapath.dq_oe),
            pins.dqm.eq(datapath.dqm),
            datapath.dq_i.eq(pins.dq_i),

            bus.rvalid.eq(datapath.rvalid),
            bus.rdata.eq(datapath.rdata),
            bus.err.eq(0),
        ]
        return m
