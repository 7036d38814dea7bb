"""Execute unit: COMPUTE commands through the systolic array, SPAD in, ACC out."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .array import op_layout, result_layout, weight_layout
from .commands import Opcode
from .descriptor import command_layout
from .mem_ports import ReadPortSignature, row_write_layout

__all__ = ["ExecUnit"]


class ExecUnit(wiring.Component):
    """Feeds COMPUTE commands (weight-stationary) to a :class:`~.array.SystolicArray`.

    Three stages work on up to three commands at once, in order:

    1. *weights*: reads SPAD rows ``w_addr .. w_addr + rows - 1`` and sends them on
       ``weights`` (lanes ``0..cols-1``; ``active`` for the first ``k`` rows; ``diagonal`` as
       the command's). The array keeps them in a shadow weight bank, so this overlaps the
       previous command's activation rows.
    2. *ops*: reads A's row i (SPAD row ``a_addr + i``, or the walk's ``a_addr + (i // a_cols)
       * a_row_step + (i % a_cols) * a_col_step``, lanes ``0..rows-1``) and, when
       ``accumulate``, the init row ``acc_addr + i`` from ACC (with ``init_row``, ACC row
       ``init_addr`` for every i; else 0: int32 0 / fp32 +0.0),
       and sends them on ``ops``; the first row carries ``swap``, the last ``last``. Row 0 of the
       next command follows the previous command's last row without a gap. The walk address is
       a running one (add ``a_col_step``, or at the end of a grid row go back to the row's start
       plus ``a_row_step``): one row per cycle, no multiply.
    3. *results*: writes each result row's lanes ``0..n-1`` to ACC row ``acc_addr + i`` (lane
       mask), and pulses ``done`` with the command's last row.

    A new command is accepted when the weights stage is free (it is handed to the ops stage
    once all its weight rows are read), i.e. while earlier commands still stream; ``done``
    pulses come in command order.

    Accumulate chains (RAW through ACC) are ordered *per row*: the ops stage does not read the
    init row ``x`` of an accumulating (or ``init_row``) command while an earlier command's
    result row for ``x`` is in flight (issued, not yet written). Every issued A row gets a
    sequence number (``S``, rows issued so far) and written result rows are counted (``W``;
    results come back in issue order); for each unfinished command the unit keeps ``acc_addr``,
    ``acc_addr + m`` and the sequence number of its row 0, so the row writing ``x`` has number
    ``s0 + x - acc_addr`` and is in flight iff that number lies in ``[W, S)``. A chain link
    therefore costs ``max(m, array latency + 2)`` cycles instead of a whole command's drain, and
    the result is the same as running the commands one after another. Other hazards (SPAD rows,
    LOADs and STOREs, and RAW when the unit is used without this ordering) are the dispatcher's.

    The same bookkeeping answers a reader outside the unit (the STORE unit, which then follows
    a COMPUTE's results row by row instead of waiting for its ``done``): ``acc_pending`` says
    whether ACC row ``acc_query`` is still to be written by a command the unit has accepted
    (in the weights stage, waiting for the ops stage, or with a result row for it not yet
    written). Row ``x`` of a command in the scoreboard is written once ``W`` has passed its
    number ``s0 + x - acc_addr``.

    With ``config.npu_load_follow`` the unit also follows LOADs into SPAD row by row: it reads
    a weight row (of the first ``k``) only while ``spad_wait_w`` is low and an activation row
    only while ``spad_wait_a`` is low, the load unit's answers for the rows on ``spad_w.addr``
    and ``spad_a.addr`` (:class:`~.load_unit.LoadUnit`: an accepted LOAD has still to write
    that row), so a COMPUTE issued beside the LOAD of its weights and image rows streams
    them into the array as they land. The addresses do not depend on the answers.

    Parameters
    ----------
    config : SoCConfig
    result_queue : int
        Commands whose rows may be in the array at once (the ops stage waits beyond that).

    Members
    -------
    cmd : In(stream.Signature(command_layout(Opcode.COMPUTE)))
    spad_a, spad_w : Out(ReadPortSignature(spad_rows, ArrayLayout(16, lanes)))
    acc_r : Out(ReadPortSignature(acc_rows, ArrayLayout(32, cols)))
    acc_w : Out(stream.Signature(row_write_layout(acc_rows, ArrayLayout(32, cols), cols)))
    ops, weights : Out(stream.Signature(...))
        To the array.
    results : In(stream.Signature(result_layout(cols)))
        From the array.
    done : Out(1)
        One-cycle pulse when a command's last result row is written.
    ev_row : Out(1)
        The array accepted an activation row.
    ev_macs : Out(16)
        MACs of that row when ``ev_row`` (``k * n``, or ``min(k, n)`` with ``diagonal``, ``k``
        with ``gather``),
        else 0.
    acc_query : In(16)
        An ACC row another unit wants to read.
    acc_pending : Out(1)
        Combinational: an accepted, unfinished command still has to write row ``acc_query``
        (its result for that row is not in ACC yet; a row written at a clock edge reads back
        from the next cycle on).
    spad_wait_a, spad_wait_w : In(1)
        With ``npu_load_follow``: the SPAD row on ``spad_a.addr`` / ``spad_w.addr`` is still
        to be written by a LOAD; the read waits.
    """

    def __init__(self, config, *, result_queue=8):
        self._config = config
        self._queue = result_queue
        rows, cols, lanes = config.npu_rows, config.npu_cols, config.npu_lanes
        spad_row = data.ArrayLayout(16, lanes)
        acc_row = data.ArrayLayout(32, cols)
        super().__init__({
            "cmd": In(stream.Signature(command_layout(Opcode.COMPUTE))),
            "spad_a": Out(ReadPortSignature(config.npu_spad_rows, spad_row)),
            "spad_w": Out(ReadPortSignature(config.npu_spad_rows, spad_row)),
            "acc_r": Out(ReadPortSignature(config.npu_acc_rows, acc_row)),
            "acc_w": Out(stream.Signature(row_write_layout(config.npu_acc_rows, acc_row, cols))),
            "ops": Out(stream.Signature(op_layout(rows, cols))),
            "weights": Out(stream.Signature(weight_layout(cols))),
            "results": In(stream.Signature(result_layout(cols))),
            "done": Out(1),
            "ev_row": Out(1),
            "ev_macs": Out(16),
            "acc_query": In(16),
            "acc_pending": Out(1),
            **({"spad_wait_a": In(1), "spad_wait_w": In(1)}
               if config.npu_load_follow else {}),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        rows, cols = cfg.npu_rows, cfg.npu_cols
        layout = command_layout(Opcode.COMPUTE)

        # Stage 1: weight rows.
        w_cmd = Signal(layout)
        w_busy = Signal()
        w_idx = Signal(range(rows + 1))
        w_valid = Signal()
        w_active = Signal()
        w_diag = Signal()
        handoff = Signal()
        m.d.comb += self.cmd.ready.eq(~w_busy)
        with m.If(self.cmd.valid & ~w_busy):
            m.d.sync += [w_cmd.eq(self.cmd.payload), w_busy.eq(1), w_idx.eq(0)]

        follow = cfg.npu_load_follow
        w_advance = ~w_valid | self.weights.ready
        w_issue = w_busy & (w_idx != rows) & w_advance
        if follow:      # an active weight row not yet LOADed waits
            w_issue = w_issue & ~(self.spad_wait_w & (w_idx < w_cmd.k))
        m.d.comb += [
            self.spad_w.addr.eq(w_cmd.w_addr + w_idx),
            self.spad_w.en.eq(w_issue),
            self.weights.valid.eq(w_valid),
            self.weights.payload.active.eq(w_active),
            self.weights.payload.diagonal.eq(w_diag),
        ]
        for j in range(cols):
            m.d.comb += self.weights.payload.data[j].eq(self.spad_w.data[j])
        with m.If(w_advance):
            m.d.sync += w_valid.eq(w_issue)
        with m.If(w_issue):
            m.d.sync += [w_active.eq(w_idx < w_cmd.k), w_diag.eq(w_cmd.diagonal),
                         w_idx.eq(w_idx + 1)]

        # Hand-off to stage 2 once every weight row is read.
        p_cmd = Signal(layout)
        p_valid = Signal()
        take_pending = Signal()
        m.d.comb += handoff.eq(w_busy & (w_idx == rows) & (~p_valid | take_pending))
        with m.If(take_pending):
            m.d.sync += p_valid.eq(0)
        with m.If(handoff):
            m.d.sync += [p_cmd.eq(w_cmd), p_valid.eq(1), w_busy.eq(0)]

        # RAW scoreboard (see the class docstring): one entry per command from its hand-off
        # to stage 2 until its last result row is written, in lockstep with `info`.
        q = self._queue
        sbits = (cfg.npu_acc_rows + 1024).bit_length() + 1
        seq_s = Signal(sbits)             # A rows issued
        seq_w = Signal(sbits)             # result rows written
        t_valid = Signal(q)
        t_start = [Signal(17, name=f"raw{i}_start") for i in range(q)]
        t_end = [Signal(17, name=f"raw{i}_end") for i in range(q)]
        t_base = [Signal(sbits, name=f"raw{i}_base") for i in range(q)]   # s0 - acc_addr
        t_head = Signal(range(q))
        t_tail = Signal(range(q))

        # Stage 2: activation rows with their init rows. Timing: every test the issue decision
        # needs is formed from registers without an adder in front (`c_new` instead of
        # `c_left == 0`, the next init row `c_init` kept as a register, the scoreboard's
        # offsets from W kept per entry), the RAW test runs for both candidates (the current
        # command's next row, the waiting command's row 0) and `new` picks one at the end, and
        # every register the issue loads has both of its next values computed before the
        # late select. Cycle for cycle the same as comparing the counters directly.
        c_cmd = Signal(layout)
        c_row = Signal(16)
        c_left = Signal(16)               # rows of c_cmd not yet read
        c_new = Signal(init=1)            # c_left == 0: the next row (if any) is p_cmd's row 0
        c_init = Signal(17)               # ACC init row of c_cmd's next row
        c_addr = Signal(16)               # SPAD row of c_cmd's next A row
        c_base = Signal(16)               # SPAD row of the start of its walk's grid row
        c_col = Signal(16)                # column of the next A row in the walk's grid row
        o_valid = Signal()
        o_swap = Signal()
        o_last = Signal()
        o_accum = Signal()
        o_prec = Signal()
        o_gather = Signal()
        o_kn = Signal(16)

        m.submodules.info = info = SyncFIFO(width=16 + 8, depth=self._queue)
        o_advance = ~o_valid | self.ops.ready
        new = c_new
        src = Signal(layout)
        row_idx = Signal(16)
        m.d.comb += [
            src.eq(Mux(new, p_cmd, c_cmd)),
            row_idx.eq(Mux(new, 0, c_row)),
        ]
        # The init row this issue would read, and whether an earlier row writing it is in
        # flight: its number n = t_base + x lies in [W, S), i.e. (n - W) < S - W, with
        # n - W = (t_base - W) + x from the per-entry register `t_off`.
        in_flight = Signal(sbits)         # S - W
        t_off = [Signal(sbits, name=f"raw{i}_off") for i in range(q)]    # t_base - W
        init_new = Signal(17)
        init_at = Signal(17)
        m.d.comb += [
            init_new.eq(Mux(p_cmd.init_row, p_cmd.init_addr, p_cmd.acc_addr)),
            init_at.eq(Mux(new, init_new, c_init)),
        ]

        def raw_hit(x):
            pend = []
            for i in range(q):
                hit = t_valid[i] & (x >= t_start[i]) & (x < t_end[i])
                pend.append(hit & ((t_off[i] + x)[:sbits] < in_flight))
            return Cat(*pend).any()

        raw_new = Signal()
        raw_cur = Signal()
        raw_wait = Signal()
        m.d.comb += [
            raw_new.eq((p_cmd.accumulate | p_cmd.init_row) & raw_hit(init_new)),
            raw_cur.eq((c_cmd.accumulate | c_cmd.init_row) & raw_hit(c_init)),
            raw_wait.eq(Mux(new, raw_new, raw_cur)),
        ]
        wait = raw_wait
        # The A row's address: with load following by `new` (the same where it matters: an
        # issue of row 0 is take_pending), so that the load unit's answer for it can hold it.
        first = new if follow else take_pending
        if follow:
            wait = raw_wait | self.spad_wait_a
        cont = o_advance & ~new & ~wait
        m.d.comb += take_pending.eq(o_advance & new & p_valid & info.w_rdy & ~wait)
        issue = cont | take_pending

        # The walk's next address, for row 0 of p_cmd and for the next row of c_cmd (an issue
        # that is not `first` is c_cmd's), selected by `first` after the adds and compares.
        def walk_next(cmd, addr, base, col):
            walk = cmd.a_cols != 0
            wrap = walk & (col == cmd.a_cols - 1)
            row_start = base + cmd.a_row_step
            return (Mux(wrap, row_start, addr + Mux(walk, cmd.a_col_step, 1)),
                    Mux(wrap, row_start, base), Mux(wrap, 0, col + 1))

        nxt_first = walk_next(p_cmd, p_cmd.a_addr, p_cmd.a_addr, 0)
        nxt_cont = walk_next(c_cmd, c_addr, c_base, c_col)
        m.d.comb += [
            self.spad_a.addr.eq(Mux(first, p_cmd.a_addr, c_addr)),
            self.spad_a.en.eq(issue),
            self.acc_r.addr.eq(init_at),
            self.acc_r.en.eq(issue),
            info.w_en.eq(take_pending),
            info.w_data.eq(Cat(p_cmd.acc_addr, p_cmd.n)),
        ]
        next_row = (row_idx + 1)[:16]
        with m.If(o_advance):
            m.d.sync += o_valid.eq(issue)
        with m.If(issue):
            m.d.sync += [
                o_swap.eq(row_idx == 0),
                o_last.eq(row_idx == src.m - 1),
                o_accum.eq(src.accumulate | src.init_row),
                o_prec.eq(src.precision),
                o_gather.eq(src.gather),
                c_row.eq(next_row),
                c_left.eq(Mux(take_pending, p_cmd.m - 1, c_left - 1)),
                c_new.eq(Mux(take_pending, p_cmd.m == 1, c_left == 1)),
                c_init.eq(Mux(src.init_row, src.init_addr, src.acc_addr + next_row)),
                c_addr.eq(Mux(first, nxt_first[0], nxt_cont[0])),
                c_base.eq(Mux(first, nxt_first[1], nxt_cont[1])),
                c_col.eq(Mux(first, nxt_first[2], nxt_cont[2])),
            ]
        with m.If(take_pending):
            m.d.sync += [c_cmd.eq(p_cmd),
                         o_kn.eq(Mux(p_cmd.gather, p_cmd.k,
                                     Mux(p_cmd.diagonal, Mux(p_cmd.k < p_cmd.n, p_cmd.k, p_cmd.n),
                                         p_cmd.k * p_cmd.n)))]

        ops = self.ops.payload
        for i in range(rows):
            m.d.comb += ops.a[i].eq(self.spad_a.data[i])
        for j in range(cols):
            m.d.comb += ops.init[j].eq(Mux(o_accum, self.acc_r.data[j], 0))
        m.d.comb += [
            self.ops.valid.eq(o_valid),
            ops.precision.eq(o_prec),
            ops.swap.eq(o_swap),
            ops.gather.eq(o_gather),
            ops.last.eq(o_last),
            self.ev_row.eq(self.ops.valid & self.ops.ready),
            self.ev_macs.eq(Mux(self.ev_row, o_kn, 0)),
        ]

        # Stage 3: result rows into ACC.
        r_row = Signal(16)
        r_addr = info.r_data[:16]
        r_n = info.r_data[16:24]
        res = self.results
        m.d.comb += [
            self.acc_w.valid.eq(res.valid),
            self.acc_w.payload.addr.eq(r_addr + r_row),
            self.acc_w.payload.data.eq(res.payload.data),
            self.acc_w.payload.mask.eq(Cat(*[j < r_n for j in range(cols)])),
            res.ready.eq(self.acc_w.ready),
        ]
        written = res.valid & res.ready
        last = written & res.payload.last
        m.d.comb += [info.r_en.eq(last), self.done.eq(last)]
        with m.If(written):
            m.d.sync += r_row.eq(Mux(res.payload.last, 0, r_row + 1))

        # The outside reader's query: the weights stage's and the waiting command's whole
        # ranges, and the scoreboard's rows not yet written (W - n - 1 wraps for those).
        qa = self.acc_query

        def covers(start, m_rows):
            return (qa >= start) & (qa < start + m_rows)

        unwritten = [w_busy & covers(w_cmd.acc_addr, w_cmd.m),
                     p_valid & covers(p_cmd.acc_addr, p_cmd.m)]
        for i in range(q):
            hit = t_valid[i] & (qa >= t_start[i]) & (qa < t_end[i])
            behind = (seq_w - t_base[i] - qa - 1)[:sbits]     # W - n - 1
            unwritten.append(hit & ~(behind < (t_end[i] - t_start[i])))
        m.d.comb += self.acc_pending.eq(Cat(*unwritten).any())

        # Scoreboard bookkeeping.
        with m.If(issue):
            m.d.sync += seq_s.eq(seq_s + 1)
        with m.If(written):
            m.d.sync += seq_w.eq(seq_w + 1)
        set_valid = Signal(q)
        clear_valid = Signal(q)
        for i in range(q):
            m.d.comb += [set_valid[i].eq(take_pending & (t_tail == i)),
                         clear_valid[i].eq(last & (t_head == i))]
            with m.If(set_valid[i]):
                m.d.sync += [t_start[i].eq(p_cmd.acc_addr),
                             t_end[i].eq(p_cmd.acc_addr + p_cmd.m),
                             t_base[i].eq(seq_s - p_cmd.acc_addr)]
            # t_off = t_base - W after this edge (W moves on with `written`).
            m.d.sync += t_off[i].eq(Mux(set_valid[i],
                                        Mux(written, seq_s - p_cmd.acc_addr - seq_w - 1,
                                            seq_s - p_cmd.acc_addr - seq_w),
                                        Mux(written, t_off[i] - 1, t_off[i])))
        # in_flight = S - W after this edge; both of the issue's cases computed before it picks.
        flight_up = Mux(written, in_flight, in_flight + 1)
        flight_same = Mux(written, in_flight - 1, in_flight)
        m.d.sync += in_flight.eq(Mux(issue, flight_up, flight_same))
        m.d.sync += t_valid.eq((t_valid & ~clear_valid) | set_valid)
        with m.If(take_pending):
            m.d.sync += t_tail.eq(Mux(t_tail == q - 1, 0, t_tail + 1))
        with m.If(last):
            m.d.sync += t_head.eq(Mux(t_head == q - 1, 0, t_head + 1))
        return m
