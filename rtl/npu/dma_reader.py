"""DMA reader: 2-D strided reads from the bus, delivered as byte-aligned rows."""

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .dma_command import dma_cmd_layout, row_words

__all__ = ["DmaReader"]


@dataclass(frozen=True)
class _IssueSide:
    """The issue side's registers and decisions, as :meth:`DmaReader.elaborate` builds them.

    ``cur`` / ``last``: the word being requested and the current row's last word;
    ``next_row``: the next row's byte address; ``rows_left``: rows after the current one;
    ``row_bytes`` / ``stride``: the issue side's own copy with ``overlap``; ``advance``: ``cur``
    moves on this cycle; ``first_last``: the last byte of a command's first row (from
    ``cmd.payload``); ``over``: nothing left to request.
    """
    issuing: Value
    cur: Value
    last: Value
    next_row: Value
    rows_left: Value
    have_req: Value
    row_bytes: Value
    stride: Value
    advance: Value
    first_last: Value
    over: Value


@dataclass(frozen=True)
class _AssemblySide:
    """The assembly side's registers: the command being assembled (A) and its current row."""
    running: Value
    row_bytes: Value
    stride: Value
    skew: Value
    widx: Value
    shared: Value
    dead: Value
    rows_out: Value
    out_valid: Value


@dataclass(frozen=True)
class _Overlap:
    """With ``overlap``: the waiting command B and the per-command word counts (``cnt_*``:
    granted and not popped, ``rsp_*``: granted and not answered, ``err_*``: an err answer)."""
    b_valid: Value
    b_row_bytes: Value
    b_stride: Value
    b_skew: Value
    b_rows: Value
    cnt_a: Value
    cnt_b: Value
    rsp_a: Value
    rsp_b: Value
    err_a: Value
    err_b: Value


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

    With ``overlap`` the reader takes the next command as soon as the current one's last
    request is granted (or it failed), while that command's responses are still arriving: the
    next command's requests follow on the bus without a gap. The responses stay in request
    order; each command's rows are assembled and emitted after every row of the one before it,
    and ``done`` / ``error`` pulse once per command, in command order. An ``err`` response
    belongs to the command that requested the word: it stops that command only (the other
    command's rows and result are as if it ran alone). At most two commands are under way.

    Parameters
    ----------
    max_row_bytes : int
        Largest ``row_bytes`` of a command.
    depth : int
        Most words in flight (requested, not yet assembled).
    addr_width : int
        Word-address width of the bus.
    overlap : bool
        Accept the next command while the current one's responses are outstanding (above).

    Members
    -------
    cmd : In(stream.Signature(dma_cmd_layout(max_row_bytes)))
        Accepted only while idle, or with ``overlap`` once the current command has issued its
        last request and no other command waits. ``rows`` >= 1, ``row_bytes`` >= 1.
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

    def __init__(self, max_row_bytes, *, depth=16, addr_width=30, overlap=False):
        if not isinstance(max_row_bytes, int) or max_row_bytes < 1:
            raise ValueError(f"max_row_bytes must be an integer >= 1, not {max_row_bytes!r}")
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        if not isinstance(overlap, bool):
            raise TypeError(f"overlap must be a bool, not {overlap!r}")
        self._max_row_bytes, self._depth, self._overlap = max_row_bytes, depth, overlap
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
        ov = self._overlap

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
        # The issue side's row length and stride: the assembly side's, or with overlap its own
        # (it may work on the next command while the assembly side finishes this one).
        irow_bytes, istride = row_bytes, stride
        if ov:
            irow_bytes, istride = Signal.like(row_bytes), Signal.like(stride)
            # Command B: accepted while command A (the assembly side's) is still under way.
            b_valid = Signal()
            b_row_bytes, b_stride = Signal.like(row_bytes), Signal.like(stride)
            b_skew, b_rows = Signal(2), Signal(16)
            # Words granted and not yet popped (cnt), granted and not yet answered (rsp), and
            # an err answer (err), per command. Answers come in request order: one is A's
            # while A has any outstanding.
            cnt_a, cnt_b = Signal(range(depth + 1)), Signal(range(depth + 1))
            rsp_a, rsp_b = Signal(range(depth + 1)), Signal(range(depth + 1))
            err_a, err_b = Signal(), Signal()
            # The issue side's command failed: it stops requesting.
            m.d.comb += failed.eq(Mux(b_valid, err_b, err_a))

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
                    first, end = next_row[2:], (next_row + irow_bytes - 1)[2:]
                    m.d.sync += [
                        cur.eq(Mux((first == cur) & (end != first), first + 1, first)),
                        last.eq(end),
                        next_row.eq(next_row + istride),
                        rows_left.eq(rows_left - 1),
                    ]
            with m.Else():
                m.d.sync += cur.eq(cur + 1)

        # Responses go into the buffer; an err stops the issue side at once.
        m.d.comb += [
            resp.w_en.eq(bus.rvalid),
            resp.w_data.eq(Cat(bus.rdata, bus.err)),
        ]
        if not ov:
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
        own = resp.r_rdy if not ov else resp.r_rdy & (cnt_a != 0)    # a word of A's
        m.d.comb += [
            pop.eq(own & (dead | (~carried & (~is_last | out_free)))),
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
        issue_over = ~issuing | (failed & ~req_hold)
        if ov:
            issue = _IssueSide(
                issuing=issuing, cur=cur, last=last, next_row=next_row, rows_left=rows_left,
                have_req=have_req, row_bytes=irow_bytes, stride=istride, advance=advance,
                first_last=first_last, over=issue_over)
            asm = _AssemblySide(
                running=running, row_bytes=row_bytes, stride=stride, skew=skew, widx=widx,
                shared=shared, dead=dead, rows_out=rows_out, out_valid=out_valid)
            ovl = _Overlap(
                b_valid=b_valid, b_row_bytes=b_row_bytes, b_stride=b_stride, b_skew=b_skew,
                b_rows=b_rows, cnt_a=cnt_a, cnt_b=cnt_b, rsp_a=rsp_a, rsp_b=rsp_b,
                err_a=err_a, err_b=err_b)
            return self._elaborate_overlap(m, issue, asm, ovl, grant=grant, pop=pop)
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
        finished = running & issue_over & (reserved == 0) & ~out_valid & \
            ((rows_out == 0) | dead | failed)
        m.d.comb += [self.done.eq(finished), self.error.eq(failed)]
        with m.If(finished):
            m.d.sync += running.eq(0)
        return m

    def _elaborate_overlap(self, m, issue, asm, ovl, *, grant, pop):
        """Command start, completion and the per-command word counts with ``overlap``.

        ``issue``, ``asm`` and ``ovl`` are the issue side's, the assembly side's and the
        overlap's signals (:class:`_IssueSide`, :class:`_AssemblySide`, :class:`_Overlap`);
        ``grant`` / ``pop``: a word is granted on the bus / popped from the response buffer.
        """
        cmd, p, bus = self.cmd, self.cmd.payload, self.bus
        running, b_valid = asm.running, ovl.b_valid
        cnt_a, cnt_b, rsp_a, rsp_b = ovl.cnt_a, ovl.cnt_b, ovl.rsp_a, ovl.rsp_b
        err_a, err_b = ovl.err_a, ovl.err_b

        # Word counts: a grant is B's while B exists, an answer A's while A has one owed.
        g_a, g_b = grant & ~b_valid, grant & b_valid
        rv_a = bus.rvalid & (rsp_a != 0)
        rv_b = bus.rvalid & (rsp_a == 0)
        m.d.sync += [cnt_a.eq(cnt_a + g_a - pop), cnt_b.eq(cnt_b + g_b),
                     rsp_a.eq(rsp_a + g_a - rv_a), rsp_b.eq(rsp_b + g_b - rv_b)]
        with m.If(rv_a & bus.err):
            m.d.sync += err_a.eq(1)
        with m.If(rv_b & bus.err):
            m.d.sync += err_b.eq(1)

        finished = running & (b_valid | issue.over) & (cnt_a == 0) & ~asm.out_valid & \
            ((asm.rows_out == 0) | asm.dead | err_a)
        m.d.comb += [self.done.eq(finished), self.error.eq(err_a)]

        def assembly(row_bytes, stride, skew, rows):
            """Statements that start the assembly side on a command."""
            return [asm.row_bytes.eq(row_bytes), asm.stride.eq(stride), asm.skew.eq(skew),
                    asm.rows_out.eq(rows), asm.widx.eq(0), asm.shared.eq(0),
                    asm.dead.eq(0)]

        # The issue side takes a command once it has nothing left to request (from the cycle
        # its last word is granted on) and no command waits as B; it is A if the assembly
        # side is idle, else B.
        last_word = issue.issuing & issue.advance & (issue.cur == issue.last) & \
            (issue.rows_left == 0)
        m.d.comb += cmd.ready.eq(~b_valid & ~finished & (issue.over | last_word))
        with m.If(cmd.valid & cmd.ready):
            m.d.sync += [
                issue.issuing.eq(1),
                issue.cur.eq(p.addr[2:]),
                issue.last.eq(issue.first_last[2:]),
                issue.next_row.eq(p.addr + p.stride),
                issue.rows_left.eq(p.rows - 1),
                issue.have_req.eq(0),
                issue.row_bytes.eq(p.row_bytes),
                issue.stride.eq(p.stride),
            ]
            with m.If(~running):
                m.d.sync += [running.eq(1), err_a.eq(0),
                             *assembly(p.row_bytes, p.stride, p.addr[:2], p.rows)]
            with m.Else():
                m.d.sync += [b_valid.eq(1), err_b.eq(0), ovl.b_row_bytes.eq(p.row_bytes),
                             ovl.b_stride.eq(p.stride), ovl.b_skew.eq(p.addr[:2]),
                             ovl.b_rows.eq(p.rows)]

        # A finished: B (if any) becomes A, with what it has been granted and answered so far.
        with m.If(finished):
            with m.If(b_valid):
                m.d.sync += [
                    *assembly(ovl.b_row_bytes, ovl.b_stride, ovl.b_skew, ovl.b_rows),
                    b_valid.eq(0),
                    cnt_a.eq(cnt_b + g_b), cnt_b.eq(0),
                    rsp_a.eq(rsp_b + g_b - rv_b), rsp_b.eq(0),
                    err_a.eq(err_b | (rv_b & bus.err)), err_b.eq(0),
                ]
            with m.Else():
                m.d.sync += running.eq(0)
        return m
