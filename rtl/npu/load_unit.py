"""LOAD unit: main memory rows (from the DMA reader) into SPAD or ACC rows."""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .base6_decode import Base6Decoder
from .commands import KEEP_BASE6_FORMAT, ElemType, LoadTarget, Opcode, WeightFormat
from .descriptor import command_layout
from .dma_command import dma_cmd_layout
from .int4_dequant import Int4Dequant
from .mem_ports import row_write_layout

__all__ = ["load_row_bytes", "LoadUnit"]


def _source(cmd, gather):
    """The DMA read of a LOAD's data rows (after an ``INT4_FP16`` scale row): the decoded
    weight-format flags, ``row_bytes`` and ``src_rows`` (without ``broadcast``), as
    expressions of the command view ``cmd``."""
    elem = cmd.elem
    wf = cmd.weight_format
    packed = wf != WeightFormat.DENSE
    sparse8 = wf == WeightFormat.SPARSE24
    rows4 = wf == WeightFormat.INT4_FP16_ROWS
    # One source row per 4 destination rows: 2:4 along K, and int4 rows with their scale.
    sparse24 = sparse8 | (wf == WeightFormat.SPARSE24_INT4)
    sparse = sparse24 | rows4
    lane8 = wf == WeightFormat.SPARSE24_LANES
    # keep + SPARSE24_INT4: 3 tagged records per source row sharing base-6 code bytes.
    base6 = cmd.keep & (wf == KEEP_BASE6_FORMAT) if gather else None
    lanes24 = lane8 | (wf == WeightFormat.SPARSE24_INT4_LANES)
    half = (cmd.cols + 1) >> 1
    keep = cmd.keep                 # tagged lanes: cols kept lanes of 2 cols dense lanes
    groups = Mux(keep, cmd.cols >> 1, cmd.cols >> 2)
    # Lane-grouped 2:4: the values (2 g bytes or g bytes), then ceil(g / 2) code bytes.
    lane_vals = Mux(lane8, groups << 1, groups)
    row_bytes = Mux(packed, Mux(sparse8, (cmd.cols << 1) + half,
                                Mux(sparse24, half * 3,
                                    Mux(lanes24, lane_vals + ((groups + 1) >> 1),
                                        Mux(rows4, 2 + (half << 2), half)))),
                    Mux(elem == ElemType.INT8, cmd.cols,
                        Mux(elem == ElemType.FP16, cmd.cols << 1, cmd.cols << 2)))
    src_rows = Mux(sparse, cmd.rows >> 2, cmd.rows)
    if gather:
        # rows / 3 for rows < 2^16: (rows * 43691) >> 17 (43691 * 3 = 2^17 + 1).
        src_rows = Mux(base6, (cmd.rows * 43691) >> 17, src_rows)
        row_bytes = Mux(base6, cmd.cols << 1, row_bytes)
    return SimpleNamespace(elem=elem, wf=wf, sparse8=sparse8, rows4=rows4, sparse24=sparse24,
                           sparse=sparse, lane8=lane8, base6=base6, lanes24=lanes24, half=half,
                           keep=keep, lane_vals=lane_vals, row_bytes=row_bytes,
                           src_rows=src_rows)


def _end_row(p):
    """One past the largest destination row of LOAD ``p`` (as in :mod:`.hazard`)."""
    placed = (p.local_groups - 1) * p.local_row_step + p.local_cols
    return p.local_addr + Mux(p.local_cols == 0, p.rows, placed)


def _ordered(p):
    """LOAD ``p`` writes its destination rows in increasing order."""
    return (p.local_cols == 0) | (p.local_row_step >= p.local_cols)


def _in_columns(p, ordered, q, group):
    """Row ``q`` (at or after ``group``, the start of one of LOAD ``p``'s groups) lies in a
    group's columns ``[0, local_cols)``, or ``p`` is no ordered 2-D placement (every row of
    its range counts)."""
    grid = (p.local_cols != 0) & ordered
    return ~grid | (((q - group)[:16] % p.local_row_step) < p.local_cols)


def load_row_bytes(config):
    """Longest source row of a LOAD in bytes: L fp16 lanes, C words, or a 2:4 sparse int8 row
    of L lanes (2 L values + ceil(L / 2) code bytes), or an ``INT4_FP16_ROWS`` row (a scale and
    4 int4 rows of L lanes)."""
    lanes = config.npu_lanes
    return max(2 * lanes, 4 * config.npu_cols, 2 * lanes + (lanes + 1) // 2,
               2 + 4 * ((lanes + 1) // 2))


class LoadUnit(wiring.Component):
    """Executes LOAD commands in order (with ``config.npu_load_overlap`` two at once: the
    next one's DMA read overlaps this one's rows).

    For each command the unit asks the DMA reader for the source rows (one row if
    ``broadcast``), turns each row into lanes (int8 sign-extended to 16 bits, fp16 as is, or
    32-bit words; lanes ``cols..`` zero) and writes it to destination row ``dest(r)`` of the SPAD
    (always ready) or the ACC (whole rows, through the ACC's write arbiter). A broadcast row is
    written to all ``rows`` destination rows. A ``fill`` command makes no DMA request: the unit
    produces its ``rows`` rows itself (``fill_value`` in lanes ``0..cols-1``), one per cycle
    the destination accepts, and pulses ``done`` with the last one.

    Weight formats (``weight_format``, see ``LOAD`` in :mod:`.load_cmd`): ``INT4`` rows give
    sign-extended nibbles; ``INT4_FP16`` first reads the scale row (one DMA command of
    ``2 * cols`` bytes at ``scale_addr``, kept in a register), then the int4 rows, each lane
    through an :class:`~.int4_dequant.Int4Dequant`; the 2:4 formats take one source row per 4
    destination rows and write them on 4 consecutive accepted cycles (lane = first value at
    position p0, second at p1, else 0), releasing the source row with the fourth; the
    lane-grouped 2:4 formats expand each source row into one destination row (lane 4 j + p from
    group j's values and code), or with ``keep`` into ``cols`` tagged lanes (lane ``2 j + s``:
    group j's value s in bits 7:0, its position in bits 9:8); with ``npu_gather`` a ``keep``
    LOAD of ``SPARSE24_INT4`` (shared base-6 codes) takes one source row per 3 destination rows
    and writes them on 3 consecutive accepted cycles, record t's values with the positions of
    digit t of each group's code byte (a :class:`~.base6_decode.Base6Decoder` per group,
    illegal bytes giving zero lanes), releasing the source row with the third;
    ``INT4_FP16_ROWS`` takes one
    source row (its scale, then 4 int4 rows) per 4 destination rows like the 2:4 formats, each
    lane through the same dequantizers with the row's scale.

    ``dest(r)`` is ``local_addr + r``, or with a 2-D placement (``local_cols != 0``)
    ``local_addr + (r // local_cols) * local_row_step + r % local_cols``; the unit keeps it as a
    running address (step 1, or back to the group's start plus ``local_row_step`` after
    ``local_cols`` rows), so there is no multiply. The shift amounts into the source row
    (second values, codes, each int4 row of an ``INT4_FP16_ROWS`` row, base-6 records) and
    ``rows - 1``, ``local_cols - 1`` are computed once, registered when the command starts.

    With ``config.npu_load_pipeline`` a taken row passes two registers before its write: the
    formatted lanes (and the dequantizers' operands), then the int4 dequantizers' products
    (:class:`~.int4_dequant.Int4Dequant` ``pipelined``); both stall while the destination
    refuses. ``done`` comes with the last row's write (when every row is taken, it waits for
    the stages to empty) and the next command starts then.

    With ``config.npu_load_overlap`` the unit takes a second command while busy and, once the
    current one has made its last DMA request, asks the reader (built with ``overlap``) for the
    second one's rows, which the reader then fetches while the current one's responses still
    arrive; the second command's rows are written after the current one is done, and each
    command pulses ``done`` (with its own ``bus_error``) in order. A fill, an ``INT4_FP16``
    LOAD (its weights wait for its scale row) and any LOAD behind a fill make their request
    only when they start, as without the option.

    With ``config.npu_load_follow`` the unit answers which SPAD rows an accepted LOAD has still
    to write, so a COMPUTE can read rows as soon as they land (:class:`~.exec_unit.ExecUnit`):
    ``spad_wait_a`` / ``spad_wait_w`` say whether row ``spad_query_a`` / ``spad_query_w`` lies
    in ``[dest, end)`` of the command being written (``end``: one past its largest destination
    row; a LOAD writes its rows in increasing order, except a 2-D placement with
    ``local_row_step < local_cols``, for which the whole range waits until it is done) or in
    the whole range of the waiting second command. A row written at a clock edge is free from
    the next cycle on, when a read of it returns the new value. Rows of a placement's gaps
    inside the range also wait (a superset is safe: the LOAD finishes by itself), except with
    ``config.npu_row_hazard``: then of an ordered 2-D placement (current or waiting) only
    the rows of its groups' columns wait, ``(q - start of a group) mod local_row_step <
    local_cols`` (exact), so a walk reading image columns beside a queued FILL of side
    padding columns does not wait for it.

    Parameters
    ----------
    config : SoCConfig

    Members
    -------
    cmd : In(stream.Signature(command_layout(Opcode.LOAD)))
        A validated LOAD; accepted while idle (with ``npu_load_overlap``: while no second
        command waits).
    rd_cmd : Out(stream.Signature(dma_cmd_layout(load_row_bytes(config))))
    rd_rows : In(stream.Signature(8 * load_row_bytes(config)))
    rd_done, rd_error : In(1)
        The DMA reader's side.
    spad_w : Out(stream.Signature(row_write_layout(spad_rows, ArrayLayout(16, lanes))))
    acc_w : Out(stream.Signature(row_write_layout(acc_rows, ArrayLayout(32, cols), cols)))
    done : Out(1)
        One-cycle pulse when the command has finished (every row written, or stopped).
    bus_error : Out(1)
        With ``done``: the DMA read failed; rows from the failing one on were not written.
    spad_query_a, spad_query_w : In(16)
        With ``npu_load_follow``: SPAD rows a reader wants to read.
    spad_wait_a, spad_wait_w : Out(1)
        With ``npu_load_follow``, combinational: an accepted LOAD into SPAD has still to write
        row ``spad_query_a`` / ``spad_query_w`` (see above).

    Latency
    -------
    A row is written in the cycle the DMA reader presents it (SPAD), or when the ACC grants;
    with ``npu_load_pipeline`` 2 cycles later (without stalls), and ``done`` 2 cycles later.
    """

    def __init__(self, config):
        self._config = config
        self._maxb = load_row_bytes(config)
        lanes, cols = config.npu_lanes, config.npu_cols
        super().__init__({
            "cmd": In(stream.Signature(command_layout(Opcode.LOAD))),
            "rd_cmd": Out(stream.Signature(dma_cmd_layout(self._maxb))),
            "rd_rows": In(stream.Signature(8 * self._maxb)),
            "rd_done": In(1),
            "rd_error": In(1),
            "spad_w": Out(stream.Signature(row_write_layout(
                config.npu_spad_rows, data.ArrayLayout(16, lanes)))),
            "acc_w": Out(stream.Signature(row_write_layout(
                config.npu_acc_rows, data.ArrayLayout(32, cols), cols))),
            "done": Out(1),
            "bus_error": Out(1),
            **({"spad_query_a": In(16), "spad_query_w": In(16),
                "spad_wait_a": Out(1), "spad_wait_w": Out(1)}
               if config.npu_load_follow else {}),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, cols = self._config.npu_lanes, self._config.npu_cols
        pipe = self._config.npu_load_pipeline
        gather = self._config.npu_gather
        cmd = Signal(command_layout(Opcode.LOAD))
        busy = Signal()
        rd_pending = Signal()
        row = Signal(16)
        dest = Signal(16)               # destination row of source row `row`
        group = Signal(16)              # destination row of the start of its group
        gcol = Signal(16)               # `row % local_cols`

        in_scale = Signal()             # INT4_FP16: reading the scale row
        sub = Signal(2)                 # 2:4 formats: destination row within the group
        scales = Signal(16 * lanes)
        # Per-command shift amounts and limits, registered with the command (`_plan`).
        plan = {k: Signal(v.shape(), name=f"plan_{k}")
                for k, v in _plan(cmd, gather, self._maxb).items()}

        ov = self._config.npu_load_overlap
        if ov:
            nxt = Signal(command_layout(Opcode.LOAD))   # accepted while busy
            nxt_valid = Signal()
            nxt_sent = Signal()                         # its DMA read was already requested

        follow = self._config.npu_load_follow
        if follow:
            end = Signal(17)            # one past the largest destination row of `cmd`
            ordered = Signal()          # `cmd` writes its rows in increasing order

        def start(p, sent=None):
            """Statements that make ``p`` the command being written (``sent``: its DMA read
            was already requested)."""
            pending = ~p.fill if sent is None else ~p.fill & ~sent
            extra = [end.eq(_end_row(p)), ordered.eq(_ordered(p))] if follow else []
            return [cmd.eq(p), busy.eq(1), rd_pending.eq(pending), row.eq(0),
                    in_scale.eq(p.weight_format == WeightFormat.INT4_FP16),
                    dest.eq(p.local_addr), group.eq(p.local_addr), gcol.eq(0), sub.eq(0),
                    *[plan[k].eq(v) for k, v in _plan(p, gather, self._maxb).items()],
                    *extra]

        m.d.comb += self.cmd.ready.eq(~busy if not ov else ~nxt_valid)
        with m.If(self.cmd.valid & ~busy):
            m.d.sync += start(self.cmd.payload)
        fill = cmd.fill

        src = _source(cmd, gather)
        elem, wf, sparse8, rows4 = src.elem, src.wf, src.sparse8, src.rows4
        sparse24, sparse, lane8, base6 = src.sparse24, src.sparse, src.lane8, src.base6
        lanes24, keep = src.lanes24, src.keep
        m.d.comb += [
            self.rd_cmd.valid.eq(rd_pending),
            self.rd_cmd.payload.addr.eq(Mux(in_scale, cmd.scale_addr, cmd.dram_addr)),
            self.rd_cmd.payload.stride.eq(Mux(in_scale, 0, cmd.dram_stride)),
            self.rd_cmd.payload.rows.eq(Mux(cmd.broadcast | in_scale, 1, src.src_rows)),
            self.rd_cmd.payload.row_bytes.eq(Mux(in_scale, cmd.cols << 1, src.row_bytes)),
        ]
        if ov:
            # The next command's read, requested while this one's rows arrive: once this one
            # has requested all of its own (not for a fill, which takes no rows, nor for an
            # INT4_FP16 LOAD, whose weights wait for its scale row).
            nsrc = _source(nxt, gather)
            early = Signal()
            sent_now = Signal()         # ... and the reader takes it this cycle
            m.d.comb += early.eq(busy & ~fill & ~rd_pending & ~in_scale & nxt_valid & ~nxt_sent
                                 & ~nxt.fill & (nxt.weight_format != WeightFormat.INT4_FP16))
            with m.If(early):
                m.d.comb += [
                    self.rd_cmd.valid.eq(1),
                    self.rd_cmd.payload.addr.eq(nxt.dram_addr),
                    self.rd_cmd.payload.stride.eq(nxt.dram_stride),
                    self.rd_cmd.payload.rows.eq(Mux(nxt.broadcast, 1, nsrc.src_rows)),
                    self.rd_cmd.payload.row_bytes.eq(nsrc.row_bytes),
                ]
                m.d.comb += sent_now.eq(self.rd_cmd.ready)
                m.d.sync += nxt_sent.eq(nxt_sent | self.rd_cmd.ready)
        with m.If(self.rd_cmd.valid & self.rd_cmd.ready):
            m.d.sync += rd_pending.eq(0)
        # The scale row: kept, then the weights are requested (unless the read failed).
        with m.If(busy & in_scale & self.rd_rows.valid):
            m.d.sync += scales.eq(self.rd_rows.payload[:16 * lanes])
        with m.If(busy & in_scale & self.rd_done):
            m.d.sync += [in_scale.eq(0), rd_pending.eq(~self.rd_error)]

        # Lanes of the row the reader presents.
        src = self.rd_rows.payload
        fv = cmd.fill_value
        # 2:4 rows: second values and codes start after cols (int8) or ceil(cols / 2) bytes.
        second = Signal(8 * self._maxb)
        codes = Signal(8 * self._maxb)
        m.d.comb += [second.eq(src >> plan["second"]), codes.eq(src >> plan["codes"])]
        lcodes = Signal(8 * self._maxb)
        m.d.comb += lcodes.eq(src >> plan["lcodes"])
        # INT4_FP16_ROWS: the int4 values of destination row `sub` of the source row's 4.
        sub_q = Signal(8 * self._maxb)
        m.d.comb += sub_q.eq(src >> Array(plan[f"sub_q{k}"] for k in range(4))[sub])
        if gather:
            # Shared base-6 codes: record `sub` at byte sub * g, the code bytes at 3 g.
            rec = Signal(8 * self._maxb)
            b6 = Signal(8 * self._maxb)
            m.d.comb += [rec.eq(src >> Array(plan[f"rec{k}"] for k in range(3))[sub]),
                         b6.eq(src >> plan["b6"])]
            decs = []
            for j in range(lanes // 2):
                m.submodules[f"b6dec{j}"] = dec = Base6Decoder()
                m.d.comb += dec.code.eq(b6[8 * j:8 * j + 8])
                decs.append(dec)
        # Each lane: `pre` (every format but the int4 x fp16 ones), or the dequantizer's
        # output from `dq_q` and `dq_s` where `use_dq`.
        pre = Signal(data.ArrayLayout(16, lanes))
        use_dq = Signal(lanes)
        dq_q = Signal(data.ArrayLayout(4, lanes))
        dq_s = Signal(data.ArrayLayout(16, lanes))
        acc_row = Signal(data.ArrayLayout(32, cols))
        for c in range(lanes):
            nib = src[4 * c:4 * c + 4]
            v0 = Mux(sparse8, src[8 * c:8 * c + 8].as_signed(), nib.as_signed())
            v1 = Mux(sparse8, second[8 * c:8 * c + 8].as_signed(),
                     second[4 * c:4 * c + 4].as_signed())
            code = codes[4 * c:4 * c + 4]
            spread = Mux(code[:2] == sub, v0, Mux(code[2:] == sub, v1, 0))
            # Lane-grouped 2:4: lane c is position c % 4 of group c // 4 of this row.
            j, p = c // 4, c % 4
            lcode = lcodes[4 * j:4 * j + 4]
            l0 = Mux(lane8, src[16 * j:16 * j + 8].as_signed(), src[8 * j:8 * j + 4].as_signed())
            l1 = Mux(lane8, src[16 * j + 8:16 * j + 16].as_signed(),
                     src[8 * j + 4:8 * j + 8].as_signed())
            lspread = Mux(lcode[:2] == p, l0, Mux(lcode[2:] == p, l1, 0))
            # keep: lane c is value c % 2 of group c // 2 with its position in bits 9:8.
            kj, ks = c // 2, c % 2
            kcode = lcodes[4 * kj + 2 * ks:4 * kj + 2 * ks + 2]
            kval = Mux(lane8, src[8 * c:8 * c + 8], src[4 * c:4 * c + 4].as_signed())
            tagged = Signal(16, name=f"tagged{c}")
            m.d.comb += tagged.eq(Cat(kval.as_unsigned()[:8], kcode))
            dense = Mux(elem == ElemType.INT8,
                        Mux(fill, fv[:8], src[8 * c:8 * c + 8]).as_signed(),
                        Mux(fill, fv[:16], src[16 * c:16 * c + 16]))
            lane = Mux(sparse24, spread.as_signed(), Mux(lanes24, Mux(keep, tagged,
                                                                   lspread.as_signed()),
                       Mux(wf == WeightFormat.INT4, nib.as_signed(), dense)))
            dequant = ~sparse24 & ~lanes24 & (wf != WeightFormat.INT4) & (
                (wf == WeightFormat.INT4_FP16) | rows4)
            if gather:
                dec = decs[kj]
                pair = dec.pairs[sub[:2]]       # sub < 3 in this mode
                bval = Signal(signed(8), name=f"bval{c}")
                tagged6 = Signal(16, name=f"tagged6_{c}")
                m.d.comb += [bval.eq(rec[4 * c:4 * c + 4].as_signed()),
                             tagged6.eq(Mux(dec.legal, Cat(bval.as_unsigned(),
                                                           pair[2 * ks:2 * ks + 2]), 0))]
                lane = Mux(base6, tagged6, lane)
                dequant = dequant & ~base6
            m.d.comb += [pre[c].eq(Mux(c < cmd.cols, lane, 0)),
                         use_dq[c].eq(dequant & (c < cmd.cols)),
                         dq_q[c].eq(Mux(rows4, sub_q[4 * c:4 * c + 4], nib)),
                         dq_s[c].eq(Mux(rows4, src[:16], scales[16 * c:16 * c + 16]))]
        for c in range(cols):
            m.d.comb += acc_row[c].eq(Mux(c < cmd.cols, Mux(fill, fv, src[32 * c:32 * c + 32]),
                                          0))

        to_acc = cmd.target == LoadTarget.ACC
        last_sub = ~sparse | (sub == 3)
        next_sub = sub + 1
        if gather:
            last_sub = Mux(base6, sub == 2, last_sub)
            next_sub = Mux(base6 & (sub == 2), 0, next_sub)
        row_valid = busy & ~in_scale & (fill | self.rd_rows.valid)
        write = Signal()                # the row is taken (written, or into the pipeline)
        last_row = row == plan["rows_m1"]
        # Where the row goes: straight to the SPAD / ACC port, or through the two stages.
        out = SimpleNamespace(valid=row_valid, to_acc=to_acc, dest=dest, pre=pre,
                              use_dq=use_dq, dq_q=dq_q, dq_s=dq_s, acc_row=acc_row)
        if pipe:
            finish = Signal()           # every row taken: `done` once the stages are empty
            fin_error = Signal()
            row_valid = row_valid & ~finish
            out.valid = row_valid
            s2_valid = Signal()
            s2_to_acc = Signal()
            en = ~s2_valid | Mux(s2_to_acc, self.acc_w.ready, self.spad_w.ready)
            s1 = _stage(m, en, vars(out), "s1")
            s2 = _stage(m, en, {k: v for k, v in s1.items() if not k.startswith("dq_")}, "s2")
            m.d.comb += [s2_valid.eq(s2["valid"]), s2_to_acc.eq(s2["to_acc"])]
            out = SimpleNamespace(**s2, dq_q=s1["dq_q"], dq_s=s1["dq_s"])
            m.d.comb += write.eq(row_valid & en)
        spad_row = Signal(data.ArrayLayout(16, lanes))
        for c in range(lanes):
            lane_out = 0
            if self._config.npu_fp16:      # INT4_FP16 is refused without FP16
                m.submodules[f"dq{c}"] = dq = Int4Dequant(pipelined=pipe)
                m.d.comb += [dq.q.eq(out.dq_q[c]), dq.s.eq(out.dq_s[c])]
                if pipe:
                    m.d.comb += dq.en.eq(en)
                lane_out = dq.out
            m.d.comb += spad_row[c].eq(Mux(out.use_dq[c], lane_out, out.pre[c]))
        m.d.comb += [
            self.spad_w.valid.eq(out.valid & ~out.to_acc),
            self.spad_w.payload.addr.eq(out.dest),
            self.spad_w.payload.data.eq(spad_row),
            self.acc_w.valid.eq(out.valid & out.to_acc),
            self.acc_w.payload.addr.eq(out.dest),
            self.acc_w.payload.data.eq(out.acc_row),
            self.acc_w.payload.mask.eq((1 << cols) - 1),
            self.rd_rows.ready.eq(in_scale | (write & ~fill & (~cmd.broadcast | last_row)
                                              & last_sub)),
        ]
        if not pipe:
            m.d.comb += write.eq((self.spad_w.valid & self.spad_w.ready)
                                 | (self.acc_w.valid & self.acc_w.ready))
        wrap = (cmd.local_cols != 0) & (gcol == plan["lc_m1"])
        with m.If(write):
            m.d.sync += [
                row.eq(row + 1),
                dest.eq(Mux(wrap, group + cmd.local_row_step, dest + 1)),
                group.eq(Mux(wrap, group + cmd.local_row_step, group)),
                gcol.eq(Mux(wrap, 0, gcol + 1)),
                sub.eq(next_sub),
            ]

        # The reader finishes only after its last row was taken, so its done is ours; a fill
        # is done with its last row.
        rd_done, rd_error = self.rd_done, self.rd_error
        if pipe and ov:
            # A done of the next command's early read arriving while this one finishes (it
            # failed before any row was taken) is kept for when that command starts.
            held, held_error = Signal(), Signal()
            with m.If(finish & self.rd_done):
                m.d.sync += [held.eq(1), held_error.eq(self.rd_error)]
            rd_done, rd_error = self.rd_done | held, Mux(held, held_error, self.rd_error)
        taken = busy & Mux(fill, write & last_row, rd_done & (~in_scale | rd_error))
        error = ~fill & rd_error
        if pipe:
            taken = taken & ~finish
            with m.If(taken):
                m.d.sync += [finish.eq(1), fin_error.eq(error)]
                if ov:
                    m.d.sync += held.eq(0)
            # Done with the last row's write (or once the stages are empty).
            m.d.comb += [self.done.eq(finish & ~s1["valid"] & en), self.bus_error.eq(fin_error)]
            with m.If(self.done):
                m.d.sync += finish.eq(0)
        else:
            m.d.comb += [self.done.eq(taken), self.bus_error.eq(error)]
        with m.If(self.done):
            m.d.sync += busy.eq(0)
        if ov:
            # A command arriving while busy waits in `nxt`, or starts at once with the done.
            with m.If(self.cmd.valid & busy & ~nxt_valid):
                with m.If(self.done):
                    m.d.sync += start(self.cmd.payload)
                with m.Else():
                    m.d.sync += [nxt.eq(self.cmd.payload), nxt_valid.eq(1), nxt_sent.eq(0)]
            with m.If(self.done & nxt_valid):
                # (with the pipeline the done can come in the cycle the early read is taken)
                m.d.sync += [*start(nxt, nxt_sent | sent_now), nxt_valid.eq(0)]
        if follow:
            # Rows still to be written (class docstring): the current command's from `dest`
            # on (all of them for an unordered placement), the waiting one's all.
            nxt_end = Signal(17)
            if ov:
                with m.If(self.cmd.valid & self.cmd.ready & busy):
                    m.d.sync += nxt_end.eq(_end_row(self.cmd.payload))
            low = Mux(ordered, dest, cmd.local_addr)
            exact = self._config.npu_row_hazard
            for q, w in ((self.spad_query_a, self.spad_wait_a),
                         (self.spad_query_w, self.spad_wait_w)):
                cur = busy & ~to_acc & (q >= low) & (q < end)
                if exact:       # an ordered placement: only its groups' columns wait
                    cur = cur & _in_columns(cmd, ordered, q, group)
                if ov:
                    queued = (nxt_valid & (nxt.target == LoadTarget.SPAD)
                              & (q >= nxt.local_addr) & (q < nxt_end))
                    if exact:
                        queued = queued & _in_columns(nxt, _ordered(nxt), q, nxt.local_addr)
                    cur = cur | queued
                m.d.comb += w.eq(cur)
        return m


def _plan(p, gather, maxb):
    """Shift amounts and limits of command ``p`` that the row path would otherwise compute
    from the command every row (registered when the command starts): the source row's shifts
    to the 2:4 second values and codes, to the lane-grouped codes, to each of the 4 int4 rows
    of an ``INT4_FP16_ROWS`` row (``16 + 8 k ceil(cols / 2)``), with ``gather`` to each of the
    3 base-6 records and their code bytes; ``rows - 1`` and ``local_cols - 1``. Products by
    constants are shifts and adds."""
    src = _source(p, gather)
    width = bits_for(8 * maxb)                      # the 2:4 shift's width on the row path
    second = (Mux(src.sparse8, p.cols, src.half) << 3)[:width]
    h8 = src.half << 3
    plan = {"second": second, "codes": second << 1, "lcodes": src.lane_vals << 3,
            "sub_q0": Const(16, 5), "sub_q1": 16 + h8, "sub_q2": 16 + (h8 << 1),
            "sub_q3": 16 + h8 + (h8 << 1), "rows_m1": p.rows - 1, "lc_m1": p.local_cols - 1}
    if gather:
        g8 = (p.cols >> 1) << 3
        plan.update({"rec0": Const(0, 1), "rec1": g8, "rec2": g8 << 1, "b6": g8 + (g8 << 1)})
    return plan


def _stage(m, en, values, prefix):
    """Registers of ``values`` (a dict; views keep their layout) loaded while ``en``; the
    ``valid`` entry is reset, the rest are reset-less."""
    regs = {}
    for k, v in values.items():
        shape = v.shape() if isinstance(v, data.View) else Value.cast(v).shape()
        regs[k] = Signal(shape, name=f"{prefix}_{k}", reset_less=k != "valid")
        with m.If(en):
            m.d.sync += regs[k].eq(v)
    return regs
