"""Element-wise unit: ELTWISE commands (TFLite INT8 ADD rescaling, MAX, per-lane MAC), SPAD rows
in, ACC out."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import EltwiseOp, Opcode
from .descriptor import command_layout
from .fp import Fp16Mac
from .fp.pipeline import Pipeline
from .isa import Precision
from .mem_ports import ReadPortSignature, row_write_layout

__all__ = ["EltwiseUnit", "ADD_LEFT_SHIFT", "ADD_PIPELINE_STAGES"]

#: Left shift of ``x - zp`` before the input rescaling (TFLite's 20 for 8-bit ADD).
ADD_LEFT_SHIFT = 20
#: Stages an ADD row takes between the read data and the output register with
#: ``config.npu_eltwise_pipeline`` (products, high half, rounding shift).
ADD_PIPELINE_STAGES = 3
_CANONICAL_NAN32 = 0x7FC0_0000


def _rescale(v, mult, rshift):
    """``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(v << 20, mult), rshift)`` for a
    signed ``v`` with ``|v| <= 255`` (so ``v << 20`` is never INT32_MIN: no saturation case),
    combinational: :func:`_rescale_products`, :func:`_high_mul` and :func:`_divide_by_pot`,
    the three steps the pipelined ADD registers one by one."""
    return _divide_by_pot(_high_mul(*_rescale_products(v, mult)), rshift)


def _rescale_products(v, mult):
    """The two partial products of ``v * mult`` (``v`` signed, ``|v| <= 255``; ``mult`` int32):
    ``v`` times the low 16 bits (unsigned) and times the high 16 bits (signed), each one
    18 x 18 multiplier."""
    return v * mult[:16], v * mult[16:].as_signed()


def _high_mul(lo, hi):
    """``SaturatingRoundingDoublingHighMul(v << 20, mult)`` from the partial products of
    ``p = v * mult``: with ``ab = p * 2**20``, TFLite's ``(ab + nudge) / 2**31`` (nudge
    ``2**30`` or ``1 - 2**30`` by the sign of ``ab``, division toward zero) is ``floor((ab +
    2**30) / 2**31)`` for either sign, which is ``floor((p + 2**10) / 2**11)``: one add and
    a fixed shift (``|result| < 2**28``)."""
    return (lo + (hi << 16) + (1 << 10)) >> 11


def _divide_by_pot(x, rshift, biases=None):
    """``RoundingDivideByPOT(x, rshift)`` (halves away from zero) as one add and a shift:
    ``(x + 2**(r - 1) - (x < 0)) >> r`` for ``r >= 1``, ``x`` for ``r = 0``. ``biases``: the
    two added terms ``(for x >= 0, for x < 0)`` of :func:`_pot_biases`, if already at hand
    (registers of the command's)."""
    pos, neg = _pot_biases(rshift) if biases is None else biases
    return (x + Mux(x[-1], neg, pos)) >> rshift


def _pot_biases(rshift):
    """The terms :func:`_divide_by_pot` adds for ``x >= 0`` and ``x < 0``: ``2**(r - 1)`` and
    ``2**(r - 1) - 1`` (both 0 for ``r = 0``)."""
    half = ((Const(1, 32) << rshift) >> 1)[:31]
    return half, Mux(rshift == 0, 0, half - 1)[:31]


def _widen_fp16(h):
    """``(fp32 bits, is_nan)`` of fp16 bits ``h``: the exact widening (subnormals normalised)."""
    sign, exp, frac = h[15], h[10:15], h[:10]
    man = Cat(Const(0, 13), frac)                          # (``<<`` by an int widens by 15)
    normal = Cat(man, (exp + 112)[:8], sign)
    special = Cat(man, Const(0xFF, 8), sign)
    sub = Cat(Const(0, 31), sign)                          # +-0
    for p in range(10):                                    # the highest set bit wins
        sub = Mux(frac[p], Cat((frac << (23 - p))[:23], Const(p + 103, 8), sign), sub)
    bits = Mux(exp == 31, special, Mux(exp == 0, sub, normal))
    return bits[:32], (exp == 31) & frac.any()


def _order_key(x):
    """An unsigned key whose order is the fp32 order of non-NaN ``x`` (-0.0 below +0.0)."""
    return Mux(x[31], ~x, x | 0x8000_0000)[:32]


class EltwiseUnit(wiring.Component):
    """Runs ELTWISE commands (``ELTWISE`` in :mod:`.eltwise_cmd`), one row per cycle.

    For row i = 0 .. m-1 it reads SPAD row ``a_addr + off(i)`` (``off`` the walk's offset, kept
    as a running value like the execute unit's), for ADD also ``b_addr + off(i)``, for a
    ``pair`` MAC also ``a_addr + off(i) + tap_step``, and for a MAX or MAC with ``accumulate``
    ACC row ``acc_addr + i`` (a MAC with ``init_row``: ACC row ``init_addr``, the row every
    output row starts from, read again for each row); one cycle later it computes the lanes
    (ADD: both TFLite rescalings and their int32 sum; MAX: the int32 or fp32 maximum; MAC:
    ``init + a * w0``, plus ``a2 * w1`` with ``pair``; an FP16 MAC through one
    :class:`~.fp.Fp16Mac` per lane, built with ``config.npu_eltwise_fp16_mac``) into an output
    register, which writes lanes ``0..n-1`` of ACC row ``acc_addr + i``. A MAC first spends one
    cycle reading its weight rows ``b_addr`` and ``b_addr + 1`` (both SPAD ports) into
    registers, so during the rows both ports read activations. Row i only reads and writes its
    own ACC row, so rows stream back to back; the pipeline stalls as a whole while the ACC write
    waits. A ``reduce`` MAC writes every row to ACC row ``acc_addr``: row 0 starts from that
    row's value (``accumulate``) or 0, every later row from the output register, which holds the
    row before it (so the sum runs at one row per cycle with no ACC read-back).

    Command hand-over: the unit holds up to two commands. The next one is accepted in the
    cycle after the held one has read its last row (its rows still in the compute and write
    stages) when its rows take the same stages (the plain one-cycle compute, the pipelined
    ADD's or the FP16 MAC's lanes), else once the held one is ``done``; the compute and write
    stages take each row's fields from the command that read it, so two commands' rows follow
    each other with one cycle between them (in which a MAC handed over reads its weight rows;
    a MAC's weight read waits while a row stalled in the compute stage still takes its
    operands from the SPAD ports' data, which the read would replace).
    A row of the younger command that reads an ACC row (its own with ``accumulate``, a
    ``reduce`` MAC's first, the ``init_row``) waits while the older one has still to write
    that row, and not longer: a depthwise walk's taps accumulating onto the same rows stay
    exact. Writes stay in command order, and the ``done`` pulses too.

    The unit orders nothing else and has no memory ports of its own: the datapath lends it
    the execute unit's SPAD and ACC ports while ``busy`` (the dispatcher never has a COMPUTE
    and an ELTWISE in flight together; with ``eltwise_handover`` it hands over the second
    ELTWISE at once). With ``config.npu_load_follow`` it follows LOADs into SPAD
    row by row like the execute unit: the weight read waits while ``spad_wait_b`` (or, with
    ``pair``, ``spad_wait_a``) is high, a row's read while ``spad_wait_a`` (or, for ADD and
    MAC, which read port B, ``spad_wait_b``) is high (the load unit's answers for the rows on
    the two ports' addresses, which do not depend on them); rows then come with bubbles, through
    which the output register keeps the last row's result (a ``reduce`` MAC adds onto it).

    Members
    -------
    cmd : In(stream.Signature(command_layout(Opcode.ELTWISE)))
    spad_a, spad_b : Out(ReadPortSignature(spad_rows, ArrayLayout(16, lanes)))
    acc_r : Out(ReadPortSignature(acc_rows, ArrayLayout(32, cols)))
    acc_w : Out(stream.Signature(row_write_layout(acc_rows, ArrayLayout(32, cols), cols)))
    busy : Out(1)
        A command is held (from the cycle after the first is accepted to the cycle after the
        last held one's ``done``).
    done : Out(1)
        One-cycle pulse when a command's last row is written (in acceptance order).
    ev_macs : Out(16)
        Products of a MAC row computed this cycle (``n``, ``2 n`` with ``pair``; 0 for ADD
        and MAX): the datapath adds it to PERF_MACS.
    ev_row : Out(1)
        A row (any ELTWISE) was computed this cycle: a row for PERF_FILL / GAPS / DRAIN.
    spad_wait_a, spad_wait_b : In(1)
        With ``npu_load_follow``: the SPAD row on ``spad_a.addr`` / ``spad_b.addr`` is still
        to be written by a LOAD; the read waits.
    acc_query : In(16)
        An ACC row another unit wants to read (the STORE unit, which then follows an
        ELTWISE's results row by row instead of waiting for its ``done``).
    acc_pending : Out(1)
        Combinational: a command held still has to write row ``acc_query`` (rows are
        written in order, so row ``acc_addr + i`` is pending until ``i + 1`` rows are
        written; with ``reduce`` row ``acc_addr`` until ``done``; every row of the younger
        of two). A row written at a clock edge reads back from the next cycle on.

    Latency
    -------
    Row i is written 2 cycles after it is read (read, compute register), without stalls:
    ``m + 3`` cycles from acceptance to ``done`` (``m + 4`` for a MAC: the weight read; ``m +
    20`` for an FP16 MAC: the lanes' 16-stage pipeline, which stalls with the rest). With
    ``config.npu_eltwise_pipeline`` an ADD row takes :data:`ADD_PIPELINE_STAGES` more
    (each input's two partial products, its rounding high half, its rounding shift; the sum
    into the output register): ``m + 6`` for an ADD. With ``config.npu_eltwise_operand_regs``
    every row passes one more register stage between the read and the lanes (the ports' data,
    the ACC row, the MAC's weights and the row's fields, so no block RAM output reaches the
    lanes' multipliers and adders): one cycle more on every path. A command handed over
    (accepted while the previous one drains) is ``done`` ``m + 1`` cycles after the previous
    one, when no row waits (for the ACC write port, a LOAD, or a row the previous one still writes).
    """

    def __init__(self, config):
        self._config = config
        lanes, cols = config.npu_lanes, config.npu_cols
        spad_row = data.ArrayLayout(16, lanes)
        acc_row = data.ArrayLayout(32, cols)
        super().__init__({
            "cmd": In(stream.Signature(command_layout(Opcode.ELTWISE))),
            "spad_a": Out(ReadPortSignature(config.npu_spad_rows, spad_row)),
            "spad_b": Out(ReadPortSignature(config.npu_spad_rows, spad_row)),
            "acc_r": Out(ReadPortSignature(config.npu_acc_rows, acc_row)),
            "acc_w": Out(stream.Signature(row_write_layout(config.npu_acc_rows, acc_row, cols))),
            "busy": Out(1),
            "done": Out(1),
            "ev_macs": Out(16),
            "ev_row": Out(1),
            **({"spad_wait_a": In(1), "spad_wait_b": In(1)}
               if config.npu_load_follow else {}),
            "acc_query": In(16),
            "acc_pending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        cols = cfg.npu_cols
        follow = cfg.npu_load_follow
        fp_mac = cfg.npu_eltwise_fp16_mac
        pipe_add = cfg.npu_eltwise_pipeline
        opregs = cfg.npu_eltwise_operand_regs
        new = self.cmd.payload
        cmd = Signal(command_layout(Opcode.ELTWISE))     # the command whose rows are read
        ex = Signal(command_layout(Opcode.ELTWISE))      # ... of the row in the compute stage
        held = Signal(range(3))          # commands accepted and not done: 0, 1 or 2
        busy = self.busy
        left = Signal(16)
        row = Signal(16)
        off = Signal(16)
        base = Signal(16)
        col = Signal(16)
        wread = Signal()                 # a MAC's weight rows are read this cycle
        wlatch = Signal()                # ... and arrive this cycle
        wbits = 16 if fp_mac else 8      # the FP16 MAC keeps whole binary16 weights
        w0 = Signal(data.ArrayLayout(wbits, cols))
        w1 = Signal(data.ArrayLayout(wbits, cols))
        m.d.comb += busy.eq(held != 0)

        def path(c):
            """The stages a command's rows take after the read (plain, the pipelined ADD's
            or the FP16 MAC's): a hand-over keeps the path."""
            return Cat(c.op == EltwiseOp.ADD.value if pipe_add else 0,
                       c.mac & (c.precision == Precision.FP16.value) if fp_mac else 0)

        # Acceptance: when idle, or (hand-over) when the held command has read its last row
        # and the next one's rows take the same stages.
        handover = (held == 1) & (left == 0) & (path(new) == path(cmd))
        accept = Signal()
        m.d.comb += [self.cmd.ready.eq((held == 0) | handover),
                     accept.eq(self.cmd.valid & self.cmd.ready)]
        # The SPAD ports' data may change (a weight read) only once the row in the compute
        # stage has taken it: that row leaves the stage at this edge, or there is none (a
        # stalled row still computes from the ports' data, which hold while they are not
        # enabled).
        ports_free = Signal()
        # A MAC handed over reads its weight rows in its acceptance cycle (the ports are the
        # unit's, idle then, and free); else in a later cycle, as an idle unit does.
        pre_sel = self.cmd.valid & handover & new.mac & ports_free
        pre = accept & pre_sel
        if follow:
            pre = pre & ~(self.spad_wait_b | (new.pair & self.spad_wait_a))
        with m.If(accept):
            m.d.sync += [cmd.eq(new), left.eq(new.m), row.eq(0), off.eq(0), base.eq(0),
                         col.eq(0), wread.eq(new.mac & ~pre)]
        # the weight rows are read once no LOAD has still to write them (load following)
        w_read = wread & ports_free
        if follow:
            w_read = w_read & ~(self.spad_wait_b | (cmd.pair & self.spad_wait_a))
        m.d.sync += wlatch.eq(w_read | pre)
        with m.If(w_read):
            m.d.sync += wread.eq(0)
        with m.If(wlatch):
            m.d.sync += [w0[j].eq(self.spad_b.data[j][:wbits]) for j in range(cols)]
            m.d.sync += [w1[j].eq(self.spad_a.data[j][:wbits]) for j in range(cols)]

        # The oldest held command's ACC rows still to be written: [h_next, h_end) (rows are
        # written in order; a reduce MAC's one row until its done).
        h_next = Signal(17)
        h_end = Signal(17)
        h_reduce = Signal()
        older = held == 2                # the command being read has an older one draining
        cmd_end = cmd.acc_addr + Mux(cmd.reduce, 1, cmd.m)

        # Read stage.
        s1_valid = Signal()
        s1_first = Signal()
        s1_last = Signal()
        s1_addr = Signal(16)
        o_valid = Signal()
        o_last = Signal()
        o_addr = Signal(16)
        o_mask = Signal(cols)
        o_data = Signal(data.ArrayLayout(32, cols))
        advance = ~o_valid | self.acc_w.ready
        m.d.comb += ports_free.eq(~s1_valid | advance)
        acc_read = Mux(cmd.init_row, cmd.init_addr, cmd.acc_addr + Mux(cmd.reduce, 0, row))
        # Read after write between two held commands: a row reading an ACC row (its own with
        # accumulate, a reduce MAC's first, the init row) waits while the older command has
        # still to write it.
        reads_acc = (cmd.accumulate | cmd.init_row) & ~(cmd.reduce & (row != 0))
        raw = older & reads_acc & (h_next <= acc_read) & (acc_read < h_end)
        issue = busy & ~wread & (left != 0) & advance & ~raw
        if follow:      # a row not yet LOADed waits (port B only where it is read)
            uses_b = (cmd.op == EltwiseOp.ADD.value) | cmd.mac
            issue = issue & ~(self.spad_wait_a | (uses_b & self.spad_wait_b))
        walk = cmd.a_cols != 0
        wrap = walk & (col == cmd.a_cols - 1)
        m.d.comb += [
            # MAC: the weight rows w1 (port A) and w0 (port B) first, then the two taps
            self.spad_a.addr.eq(Mux(pre_sel, new.b_addr + 1,
                                    Mux(wread, cmd.b_addr + 1, cmd.a_addr + off))),
            self.spad_b.addr.eq(Mux(pre_sel, new.b_addr,
                                    Mux(wread, cmd.b_addr,
                                        Mux(cmd.mac, cmd.a_addr + cmd.tap_step, cmd.b_addr)
                                        + off))),
            # an init_row MAC reads its starting row for every row (read-only, never written)
            self.acc_r.addr.eq(acc_read),
            self.spad_a.en.eq(issue | w_read | pre_sel),
            self.spad_b.en.eq(issue | w_read | pre_sel),
            self.acc_r.en.eq(issue),
        ]
        with m.If(issue):
            m.d.sync += [
                left.eq(left - 1),
                row.eq(row + 1),
                off.eq(Mux(wrap, base + cmd.a_row_step, off + Mux(walk, cmd.a_col_step, 1))),
                base.eq(Mux(wrap, base + cmd.a_row_step, base)),
                col.eq(Mux(wrap, 0, col + 1)),
            ]
        # The row read this cycle (if any) is the command register's: its fields follow it
        # into the compute stage (with the stage's enable, not the read's: fewer gates ahead
        # of the wide register's enable).
        with m.If(advance):
            m.d.sync += ex.eq(cmd)

        # With ``npu_eltwise_operand_regs`` the row read (the ports' data, ``s1_*``, ``ex``)
        # passes an operand register stage first; the compute stage takes its row from there
        # (``c_*``, ``cx``, the lanes' operands). The weights go along with the row: a MAC
        # handed over latches its own while the older one's last row is still in the stage.
        spad_a_rows, spad_b_rows, acc_rows = self.spad_a.data, self.spad_b.data, self.acc_r.data
        c_valid, c_first, c_last, c_addr, cx, w0c, w1c = (s1_valid, s1_first, s1_last,
                                                          s1_addr, ex, w0, w1)
        bias_src = cmd                   # the command whose rshifts the ADD biases take
        if opregs:
            op = Pipeline(m, advance)

            def reg_view(v, name):
                return data.View(v.shape(), op.reg(v, name=name))
            spad_a_rows = reg_view(spad_a_rows, "op_a")
            spad_b_rows = reg_view(spad_b_rows, "op_b")
            acc_rows = reg_view(acc_rows, "op_acc")
            w0c, w1c = reg_view(w0, "op_w0"), reg_view(w1, "op_w1")
            c_valid = op.reg(s1_valid, name="op_valid", reset=True)
            c_first, c_last = op.reg(s1_first, name="op_first"), op.reg(s1_last, name="op_last")
            c_addr = op.reg(s1_addr, name="op_addr")
            cx, bias_src = Signal(command_layout(Opcode.ELTWISE), name="op_ex"), ex
            with m.If(advance):
                m.d.sync += cx.eq(ex)

        # Compute stage: lanes from the read data into the output register, with the fields
        # of the row's command (``cx``: the next command's rows may be read meanwhile).
        ex = cx
        add = ex.op == EltwiseOp.ADD.value
        fp16 = ex.precision == Precision.FP16.value
        acc_in = ex.accumulate
        start_in = acc_in | ex.init_row      # a MAC starts from the ACC row read
        mask = Cat(*[j < ex.n for j in range(cols)])
        if pipe_add:
            pa = Pipeline(m, advance)
            # The rounding shifts and their added terms travel with the row to the shift
            # stage, two after this one (the terms registered beside ``ex``, off the row's
            # path).
            shifts = {}
            for k, r in (("a", bias_src.rshift_a), ("b", bias_src.rshift_b)):
                pos, neg = _pot_biases(r)
                regs = (Signal(31, name=f"add_bias_pos_{k}"), Signal(31, name=f"add_bias_neg_{k}"))
                with m.If(advance):
                    m.d.sync += [regs[0].eq(pos), regs[1].eq(neg)]
                vals = (getattr(ex, f"rshift_{k}"), *regs)
                for n in range(2):
                    vals = tuple(pa.reg(v, name=f"add_{key}_{k}_d{n}")
                                 for key, v in zip(("r", "pos", "neg"), vals, strict=True))
                shifts[k] = vals
        results = []
        for j in range(cols):
            a16, b16, cur = spad_a_rows[j], spad_b_rows[j], acc_rows[j]
            a8, b8 = a16[:8].as_signed(), b16[:8].as_signed()
            if pipe_add:
                # One step of each input's rescaling per stage: the products, the high half,
                # the rounding shift; then the sum into the output register.
                ys = []
                for x8, zp, mult, k in ((a8, ex.zp_a, ex.mult_a, "a"),
                                        (b8, ex.zp_b, ex.mult_b, "b")):
                    lo, hi = _rescale_products(x8 - zp, mult)
                    lo = pa.reg(lo, name=f"add_lo_{k}{j}")
                    hi = pa.reg(hi, name=f"add_hi_{k}{j}")
                    x = pa.reg(_high_mul(lo, hi), name=f"add_x_{k}{j}")
                    r, pos, neg = shifts[k]
                    ys.append(pa.reg(_divide_by_pot(x, r, (pos, neg)), name=f"add_y_{k}{j}"))
                total = ys[0] + ys[1]
            else:
                total = (_rescale(a8 - ex.zp_a, ex.mult_a.as_signed(), ex.rshift_a)
                         + _rescale(b8 - ex.zp_b, ex.mult_b.as_signed(), ex.rshift_b))
            int_max = Mux(acc_in & (cur.as_signed() > a8), cur.as_signed(), a8)
            v32, v_nan = _widen_fp16(a16)
            cur_nan = (cur[23:31] == 0xFF) & cur[:23].any()
            fp_max = Mux(v_nan | (acc_in & cur_nan), _CANONICAL_NAN32,
                         Mux(acc_in & (_order_key(cur) > _order_key(v32)), cur, v32))
            # MAC: init + a * w (int32, wrapping); with reduce the rows after the first add
            # onto the previous row's result, which is in the output register right now.
            init = Mux(ex.reduce & ~c_first, o_data[j], Mux(start_in, cur, 0))
            second = Mux(ex.pair, b8 * w1c[j][:8].as_signed(), 0)
            mac = (init.as_signed() + a8 * w0c[j][:8].as_signed() + second)[:32]
            results.append(Mux(ex.mac, mac,
                               Mux(add, total[:32], Mux(fp16, fp_max, int_max[:32]))))
        # FP16 MAC: the rows take the lanes' 16-stage pipeline instead of the one-cycle compute
        # stage (the lanes take every field at their input; a hand-over keeps the path).
        o_next = (c_valid, c_last, c_addr, mask)
        keys = ("valid", "last", "addr", "mask")
        if fp_mac:
            fp = ex.mac & fp16
            p = Pipeline(m, advance)
            tail = (c_valid & fp, *o_next[1:])
            for n in range(Fp16Mac.LATENCY):
                tail = tuple(p.reg(v, name=f"fp_{key}_d{n}", reset=key == "valid")
                             for key, v in zip(keys, tail, strict=True))
            o_next = tuple(Mux(fp, t, s) for t, s in zip(tail, o_next, strict=True))
            for j in range(cols):
                m.submodules[f"fp_mac{j}"] = lane = Fp16Mac()
                m.d.comb += [
                    lane.en.eq(advance), lane.i_valid.eq(c_valid & fp),
                    lane.i_init.eq(Mux(start_in, acc_rows[j], 0)),
                    lane.i_a.eq(spad_a_rows[j]), lane.i_w.eq(w0c[j]),
                    lane.i_a2.eq(spad_b_rows[j]), lane.i_w2.eq(w1c[j]),
                    lane.pair.eq(ex.pair),
                ]
                results[j] = Mux(fp, lane.o_z, results[j])
        if pipe_add:
            # ADD rows take the three rescaling stages (``npu_eltwise_pipeline``).
            tail = (c_valid & add, *o_next[1:])
            for n in range(ADD_PIPELINE_STAGES):
                tail = tuple(pa.reg(v, name=f"add_{key}_d{n}", reset=key == "valid")
                             for key, v in zip(keys, tail, strict=True))
            o_next = tuple(Mux(add, t, s) for t, s in zip(tail, o_next, strict=True))
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(issue),
                s1_first.eq(issue & (row == 0)),
                s1_last.eq(issue & (left == 1)),
                s1_addr.eq(cmd.acc_addr + Mux(cmd.reduce, 0, row)),
                o_valid.eq(o_next[0]),
                o_last.eq(o_next[1]),
                o_addr.eq(o_next[2]),
                o_mask.eq(o_next[3]),
            ]
        # Rows may come with bubbles (a row not yet LOADed, a read after write): the output
        # register keeps the last row's result through them, which a reduce MAC's next row
        # adds to.
        with m.If(advance & o_next[0]):
            m.d.sync += [o_data[j].eq(results[j]) for j in range(cols)]

        m.d.comb += [self.ev_macs.eq(Mux(c_valid & advance & ex.mac, ex.n << ex.pair, 0)),
                     self.ev_row.eq(c_valid & advance)]

        # Write stage.
        m.d.comb += [
            self.acc_w.valid.eq(o_valid),
            self.acc_w.payload.addr.eq(o_addr),
            self.acc_w.payload.data.eq(o_data),
            self.acc_w.payload.mask.eq(o_mask),
        ]
        written = o_valid & self.acc_w.ready
        done = written & o_last
        m.d.comb += self.done.eq(done)
        m.d.sync += held.eq(held + accept - done)

        # The oldest held command's rows still to be written.
        with m.If(accept & ((held == 0) | done)):        # the accepted one is the oldest
            m.d.sync += [h_next.eq(new.acc_addr), h_reduce.eq(new.reduce),
                         h_end.eq(new.acc_addr + Mux(new.reduce, 1, new.m))]
        with m.Elif(done):                               # the one being read becomes it
            m.d.sync += [h_next.eq(cmd.acc_addr), h_reduce.eq(cmd.reduce), h_end.eq(cmd_end)]
        with m.Elif(written & ~h_reduce):
            m.d.sync += h_next.eq(h_next + 1)

        # The outside reader's query: rows of the held commands not yet written.
        q = self.acc_query
        m.d.comb += self.acc_pending.eq(
            (busy & (h_next <= q) & (q < h_end))
            | (older & (cmd.acc_addr <= q) & (q < cmd_end)))
        return m
