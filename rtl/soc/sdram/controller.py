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
    chip_clock_inverted : bool
        The chip's clock is the inverted system clock (as :class:`.pins.SdramIO` makes it):
        it samples commands half a cycle after they leave the controller, and its read data
        is caught one cycle earlier than with a common clock edge.
    lookahead : bool
        Queue two requests and open the second one's row (in another bank) while the first
        waits for its own; without it, one request at a time.

    Members
    -------
    bus : In(BusSignature(row_bits + bank_bits + col_bits - 1))
        Target port; ``err`` is always 0. Byte enables act through the DQM pins.
    pins : Out(SdramPinSignature(max(row_bits, 11), bank_bits))
        To the chip (:class:`.pins.SdramIO` on a board, a chip model in simulation).

    Latency
    -------
    Requests are granted while the request queue (two entries with ``lookahead``, else one)
    has room or its head is being issued; requests granted during initialisation wait in it.
    From a grant, the response comes ``cas_latency + 4 + read_delay`` cycles later (one less
    with ``chip_clock_inverted``) when the row is open and the data bus free: 6 cycles at
    CL 2; 2 more for a closed bank at 100 MHz (ACTIVE, tRCD), 4 more for another row of an
    open bank (PRECHARGE, tRP, ACTIVE, tRCD). Reads and writes answer at the same delay after
    their command, so responses keep the request order. Sustained: one word per two cycles
    (the 16-bit bus's peak, 2 bytes per cycle) for accesses in open rows in one direction; a
    change from read to write costs ``cas_latency + 1`` cycles; random accesses over the
    part reach about 1.07 (reads) and 0.89 (writes) bytes per cycle at 100 MHz with
    look-ahead (0.77 and 0.71 without).
    """

    def __init__(self, timing, *, clk_freq, read_delay=0, chip_clock_inverted=False,
                 lookahead=True):
        if not isinstance(timing, SdramTiming):
            raise TypeError(f"timing must be an SdramTiming, not {timing!r}")
        self._timing = timing
        self.cycles = timing.cycles(clk_freq)
        if not isinstance(read_delay, int) or read_delay < 0:
            raise ValueError(f"read_delay must be an integer >= 0, not {read_delay!r}")
        self._read_delay = read_delay - bool(chip_clock_inverted)
        self._lookahead = bool(lookahead)
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

        # The request queue: the current request (waiting for its commands) and, with
        # look-ahead, the next one (whose row may be opened meanwhile).
        fields = [("valid", 1), ("addr", self.word_bits), ("we", 1), ("be", 4), ("wdata", 32)]
        cur = {name: Signal(width, name=f"cur_{name}") for name, width in fields}
        nxt = {name: Signal(width, name=f"nxt_{name}") for name, width in fields}
        incoming = {"valid": 1, "addr": bus.addr, "we": bus.we, "be": bus.be,
                    "wdata": bus.wdata}
        accept = Signal()
        issue = control.rq_issue
        if self._lookahead:
            m.d.comb += [bus.gnt.eq(~nxt["valid"] | issue), accept.eq(bus.req & bus.gnt)]
            with m.If(issue):
                m.d.sync += [cur[name].eq(nxt[name]) for name, _ in fields]
                m.d.sync += nxt["valid"].eq(0)
                with m.If(accept):
                    with m.If(nxt["valid"]):
                        m.d.sync += [nxt[name].eq(incoming[name]) for name, _ in fields]
                    with m.Else():
                        m.d.sync += [cur[name].eq(incoming[name]) for name, _ in fields]
            with m.Elif(accept):
                with m.If(cur["valid"]):
                    m.d.sync += [nxt[name].eq(incoming[name]) for name, _ in fields]
                with m.Else():
                    m.d.sync += [cur[name].eq(incoming[name]) for name, _ in fields]
        else:
            m.d.comb += [bus.gnt.eq(~cur["valid"] | issue), accept.eq(bus.req & bus.gnt)]
            with m.If(issue):
                m.d.sync += cur["valid"].eq(0)
            with m.If(accept):
                m.d.sync += [cur[name].eq(incoming[name]) for name, _ in fields]
        valid, addr, we, be, wdata = (cur[name] for name, _ in fields)

        m.d.comb += [
            control.rq_valid.eq(valid),
            control.rq_addr.eq(addr),
            control.rq_we.eq(we),
            control.nx_valid.eq(nxt["valid"]),
            control.nx_addr.eq(nxt["addr"]),
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
