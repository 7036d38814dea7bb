"""DMA reader: 2-D strided reads from the bus, delivered as byte-aligned rows."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .dma_command import dma_cmd_layout, row_words

__all__ = ["DmaReader"]


class DmaReader(wiring.Component):
    """Reads ``rows`` rows of ``row_bytes`` bytes each at any byte alignment.

    Every row is fetched as the whole words that cover it, one request per cycle while fewer
    than ``depth`` words are outstanding or waiting in the response buffer (responses cannot
    be refused on the bus, so each request reserves a buffer slot). Responses are assembled into
    rows; a row is emitted on ``rows`` with its first byte in bits 7:0. Rows never wait for each
    other: the next row's requests follow the previous row's without a gap.

    Consecutive rows share words (coalescing): a row whose first word is the previous row's
    last word (rows shorter than a word, or ending and starting inside one word) takes that
    word from the previous row instead of requesting it again (a 1-byte row at stride 1 costs a
    quarter of a word, a 2-byte int4 row at stride 2 half a word). A row lying wholly inside
    the previous row's last word costs a cycle of the issue side and no bus request; a row
    that starts there and goes on costs no issue cycle for the shared word (its requests
    start at its second word), so rows that straddle words (6-byte 2:4 records at stride 6)
    are issued at one word per cycle, not one cycle per word each row covers. When rows
    do not overlap (``stride >= row_bytes``, as the LOAD validation guarantees for ``rows >
    1``) the words read are exactly the words covering the rows, each once (rows that overlap
    further read their other words again).

    A response with ``err`` stops the command: no further requests are issued, the failing row
    and every later one are not emitted, and once all outstanding responses have arrived
    ``done`` pulses with ``error`` set.

    Parameters
    ----------
    max_row_bytes : int
        Largest ``row_bytes`` of a command.
    depth : int
        Most words in flight (requested, not yet assembled).
    addr_width : int
        Word-address width of the bus.

    Members
    -------
    cmd : In(stream.Signature(dma_cmd_layout(max_row_bytes)))
        Accepted only while idle. ``rows`` >= 1, ``row_bytes`` >= 1.
    rows : Out(stream.Signature(unsigned(8 * max_row_bytes)))
        One row per beat, byte ``i`` in bits ``8i+7:8i``; bytes from ``row_bytes`` on are
        unspecified.
    done : Out(1)
        One-cycle pulse: the command has finished (every row emitted and accepted, or failed)
        and no response is outstanding.
    error : Out(1)
        Valid with ``done``: the bus answered ``err``.
    bus : Out(BusSignature(addr_width))
        Reads only.

    Latency
    -------
    From the response of a row's last word to its ``rows`` beat: 2 cycles.
    """

    def __init__(self, max_row_bytes, *, depth=16, addr_width=30):
        if not isinstance(max_row_bytes, int) or max_row_bytes < 1:
            raise ValueError(f"max_row_bytes must be an integer >= 1, not {max_row_bytes!r}")
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        self._max_row_bytes, self._depth = max_row_bytes, depth
        super().__init__({
            "cmd": In(stream.Signature(dma_cmd_layout(max_row_bytes))),
            "rows": Out(stream.Signature(8 * max_row_bytes)),
            "done": Out(1),
            "error": Out(1),
            "bus": Out(BusSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        maxb, depth = self._max_row_bytes, self._depth
        maxw = row_words(maxb)
        bus, cmd = self.bus, self.cmd

        running = Signal()
        failed = Signal()
        row_bytes = Signal(range(maxb + 1))
        stride = Signal(32)

        # Issue side: the word being requested, the last word of this row, the next row.
        issuing = Signal()
        cur = Signal(30)
        last = Signal(30)
        next_row = Signal(32)
        rows_left = Signal(16)    # rows after the current one still to request
        reserved = Signal(range(depth + 1))
        req_hold = Signal()       # req was presented and not granted: keep it up
        have_req = Signal()       # a word of this command was requested: last_req
        last_req = Signal(30)

        m.submodules.resp = resp = SyncFIFO(width=33, depth=depth)

        grant = Signal()
        pop = Signal()
        # The row's first word was requested for the previous row: no request, move on.
        skip = Signal()
        m.d.comb += skip.eq(issuing & ~failed & ~req_hold & have_req & (cur == last_req))
        can_issue = issuing & ~failed & (reserved < depth) & ~skip
        advance = grant | skip
        m.d.comb += [
            bus.req.eq(req_hold | can_issue),
            bus.addr.eq(cur),
            bus.we.eq(0),
            bus.be.eq(0b1111),
            bus.wdata.eq(0),
            grant.eq(bus.req & bus.gnt),
        ]
        m.d.sync += req_hold.eq(bus.req & ~bus.gnt)
        m.d.sync += reserved.eq(reserved + grant - pop)

        with m.If(grant):
            m.d.sync += [have_req.eq(1), last_req.eq(cur)]
        with m.If(advance):
            with m.If(cur == last):
                with m.If(rows_left == 0):
                    m.d.sync += issuing.eq(0)
                with m.Else():
                    # The next row starts in this (requested) word and goes on past it: its
                    # requests start at its second word, no cycle spent on the shared one.
                    first, end = next_row[2:], (next_row + row_bytes - 1)[2:]
                    m.d.sync += [
                        cur.eq(Mux((first == cur) & (end != first), first + 1, first)),
                        last.eq(end),
                        next_row.eq(next_row + stride),
                        rows_left.eq(rows_left - 1),
                    ]
            with m.Else():
                m.d.sync += cur.eq(cur + 1)

        # Responses go into the buffer; an err stops the issue side at once.
        m.d.comb += [
            resp.w_en.eq(bus.rvalid),
            resp.w_data.eq(Cat(bus.rdata, bus.err)),
        ]
        with m.If(bus.rvalid & bus.err):
            m.d.sync += failed.eq(1)

        # Assembly side: the row's byte offset in its first word, its word count, word index.
        skew = Signal(2)
        widx = Signal(range(maxw + 1))
        nwords = Signal(range(maxw + 1))
        m.d.comb += nwords.eq((skew + row_bytes + 3) >> 2)
        dead = Signal()           # popped an err word: drop the rest
        shared = Signal()         # this row's first word is buf[0], the previous row's last
        rows_out = Signal(16)     # rows still to emit
        # Whether the next row starts in this row's last word.
        next_shared = Signal()
        m.d.comb += next_shared.eq(((skew + stride) >> 2) == ((skew + row_bytes - 1) >> 2))
        # A shared row that lies inside that one word: emitted without a pop.
        carried = Signal()
        m.d.comb += carried.eq(running & shared & (nwords == 1) & (rows_out != 0))
        buf = [Signal(32, name=f"buf{j}") for j in range(maxw)]
        out_valid = Signal()
        out_data = Signal(8 * maxb)

        word = resp.r_data[:32]
        word_err = resp.r_data[32]
        is_last = widx == nwords - 1
        out_free = ~out_valid | self.rows.ready
        emit_carried = carried & ~dead & out_free
        m.d.comb += [
            pop.eq(resp.r_rdy & (dead | (~carried & (~is_last | out_free)))),
            resp.r_en.eq(pop),
            self.rows.valid.eq(out_valid),
            self.rows.payload.eq(out_data),
        ]
        with m.If(self.rows.ready):
            m.d.sync += out_valid.eq(0)

        merged_words = [Signal(32, name=f"merged{j}") for j in range(maxw)]
        merged = Cat(*merged_words)
        for j in range(maxw):
            m.d.comb += merged_words[j].eq(Mux((widx == j) & ~carried, word, buf[j]))

        def emit(last_word):
            """The current row is complete (``merged``): out, and set up the next row, which
            takes ``last_word`` as its first word when it starts in it."""
            stmts = [out_valid.eq(1), rows_out.eq(rows_out - 1),
                     skew.eq(skew + stride[:2]), shared.eq(next_shared),
                     widx.eq(next_shared), buf[0].eq(last_word)]
            with m.Switch(skew):
                for s in range(4):
                    with m.Case(s):
                        m.d.sync += out_data.eq(merged[8 * s:8 * s + 8 * maxb])
            return stmts

        with m.If(emit_carried):
            m.d.sync += emit(buf[0])

        with m.If(pop & ~dead):
            with m.If(word_err):
                m.d.sync += dead.eq(1)
            with m.Else():
                with m.Switch(widx):
                    for j in range(maxw):
                        with m.Case(j):
                            m.d.sync += buf[j].eq(word)
                with m.If(is_last):
                    m.d.sync += emit(word)
                with m.Else():
                    m.d.sync += widx.eq(widx + 1)

        # Command start and completion.
        first_last = Signal(32)
        m.d.comb += first_last.eq(cmd.payload.addr + cmd.payload.row_bytes - 1)
        m.d.comb += cmd.ready.eq(~running)
        with m.If(cmd.valid & ~running):
            m.d.sync += [
                running.eq(1),
                failed.eq(0),
                dead.eq(0),
                row_bytes.eq(cmd.payload.row_bytes),
                stride.eq(cmd.payload.stride),
                issuing.eq(1),
                cur.eq(cmd.payload.addr[2:]),
                last.eq(first_last[2:]),
                next_row.eq(cmd.payload.addr + cmd.payload.stride),
                rows_left.eq(cmd.payload.rows - 1),
                skew.eq(cmd.payload.addr[:2]),
                widx.eq(0),
                have_req.eq(0),
                shared.eq(0),
                rows_out.eq(cmd.payload.rows),
            ]
        issue_over = ~issuing | (failed & ~req_hold)
        finished = running & issue_over & (reserved == 0) & ~out_valid & \
            ((rows_out == 0) | dead | failed)
        m.d.comb += [self.done.eq(finished), self.error.eq(failed)]
        with m.If(finished):
            m.d.sync += running.eq(0)
        return m
