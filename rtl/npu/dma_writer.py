"""DMA writer: byte-aligned rows written to the bus 2-D strided, with byte enables."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .dma_command import dma_cmd_layout, row_words

__all__ = ["DmaWriter"]


class DmaWriter(wiring.Component):
    """Writes ``rows`` rows of ``row_bytes`` bytes each at any byte alignment.

    Each row becomes the words that cover it, partial words with byte enables, one request per
    cycle while fewer than ``depth`` writes are outstanding; the next row (taken from ``rows``
    in the cycle the current row's last word is granted) follows without a gap.

    A write response with ``err`` stops the command: no request is issued after it arrives
    (writes already granted complete), the remaining rows are taken from ``rows`` and dropped,
    and once every outstanding response has arrived ``done`` pulses with ``error``.

    Parameters
    ----------
    max_row_bytes : int
        Largest ``row_bytes`` of a command.
    depth : int
        Most writes in flight.
    addr_width : int
        Word-address width of the bus.

    Members
    -------
    cmd : In(stream.Signature(dma_cmd_layout(max_row_bytes)))
        Accepted only while idle. ``rows`` >= 1, ``row_bytes`` >= 1.
    rows : In(stream.Signature(unsigned(8 * max_row_bytes)))
        The command's rows in order, byte ``i`` in bits ``8i+7:8i``.
    done : Out(1)
        One-cycle pulse: every row taken and every write response arrived.
    error : Out(1)
        Valid with ``done``: the bus answered ``err``.
    wr_bytes : Out(3)
        Bytes (enabled byte lanes) of the write whose response arrives this cycle.
    bus : Out(BusSignature(addr_width))
        Writes only.

    Latency
    -------
    The first word of a row is requested the cycle after the row is taken (back to back
    with the previous row's last word in steady state).
    """

    def __init__(self, max_row_bytes, *, depth=16, addr_width=30):
        if not isinstance(max_row_bytes, int) or max_row_bytes < 1:
            raise ValueError(f"max_row_bytes must be an integer >= 1, not {max_row_bytes!r}")
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        self._max_row_bytes, self._depth = max_row_bytes, depth
        super().__init__({
            "cmd": In(stream.Signature(dma_cmd_layout(max_row_bytes))),
            "rows": In(stream.Signature(8 * max_row_bytes)),
            "done": Out(1),
            "error": Out(1),
            "wr_bytes": Out(3),
            "bus": Out(BusSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        maxb, depth = self._max_row_bytes, self._depth
        maxw = row_words(maxb)
        bus, cmd, rows = self.bus, self.cmd, self.rows

        running = Signal()
        failed = Signal()
        row_bytes = Signal(range(maxb + 1))
        stride = Signal(32)
        next_row = Signal(32)
        rows_left = Signal(16)       # rows not yet taken from `rows`

        have = Signal()              # buf holds a row with words left to request
        buf = Signal(32 * maxw)
        cur = Signal(30)
        words_left = Signal(range(maxw + 1))
        pos = Signal(signed(16))   # byte of the row in lane 0 of the current word
        outstanding = Signal(range(depth + 1))
        req_hold = Signal()

        be = Signal(4)
        for p in range(4):
            idx = pos + p
            m.d.comb += be[p].eq((idx >= 0) & (idx < row_bytes))

        grant = Signal()
        m.d.comb += [
            bus.req.eq(req_hold | (have & ~failed & (outstanding < depth))),
            bus.addr.eq(cur),
            bus.we.eq(1),
            bus.be.eq(be),
            bus.wdata.eq(buf[:32]),
            grant.eq(bus.req & bus.gnt),
        ]
        m.d.sync += req_hold.eq(bus.req & ~bus.gnt)
        m.d.sync += outstanding.eq(outstanding + grant - bus.rvalid)
        with m.If(bus.rvalid & bus.err):
            m.d.sync += failed.eq(1)

        # Bytes per write, for the performance event when its response arrives.
        m.submodules.counts = counts = SyncFIFO(width=3, depth=depth)
        m.d.comb += [
            counts.w_en.eq(grant),
            counts.w_data.eq(be[0] + be[1] + be[2] + be[3]),
            counts.r_en.eq(bus.rvalid),
            self.wr_bytes.eq(Mux(bus.rvalid, counts.r_data, 0)),
        ]

        with m.If(grant):
            m.d.sync += [
                buf.eq(buf >> 32),
                cur.eq(cur + 1),
                pos.eq(pos + 4),
                words_left.eq(words_left - 1),
            ]
            with m.If(words_left == 1):
                m.d.sync += have.eq(0)
        with m.If(failed & ~req_hold):
            m.d.sync += have.eq(0)

        # Take the next row when the buffer is free or being freed this cycle.
        skew = next_row[:2]
        free = ~have | (grant & (words_left == 1))
        take = Signal()
        m.d.comb += [
            take.eq(running & rows.valid & (rows_left != 0) & (free | failed)),
            rows.ready.eq(take),
        ]
        with m.If(take):
            m.d.sync += [
                next_row.eq(next_row + stride),
                rows_left.eq(rows_left - 1),
            ]
            with m.If(~failed):
                with m.Switch(skew):
                    for s in range(4):
                        with m.Case(s):
                            m.d.sync += buf.eq(rows.payload << (8 * s))
                m.d.sync += [
                    have.eq(1),
                    cur.eq(next_row[2:]),
                    words_left.eq((skew + row_bytes + 3) >> 2),
                    pos.eq(0 - skew),
                ]

        m.d.comb += cmd.ready.eq(~running)
        with m.If(cmd.valid & ~running):
            m.d.sync += [
                running.eq(1),
                failed.eq(0),
                row_bytes.eq(cmd.payload.row_bytes),
                stride.eq(cmd.payload.stride),
                next_row.eq(cmd.payload.addr),
                rows_left.eq(cmd.payload.rows),
            ]
        finished = running & (rows_left == 0) & ~have & (outstanding == 0)
        m.d.comb += [self.done.eq(finished), self.error.eq(failed)]
        with m.If(finished):
            m.d.sync += running.eq(0)
        return m
