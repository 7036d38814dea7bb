"""STORE unit: ACC rows through post-processing, packed, to the DMA writer."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import Opcode, OutType, RequantMode
from .descriptor import command_layout
from .dma_command import dma_cmd_layout
from .mem_ports import ReadPortSignature

__all__ = ["store_row_bytes", "StoreUnit"]


def store_row_bytes(config):
    """Longest output row of a STORE in bytes: C 32-bit elements."""
    return 4 * config.npu_cols


class StoreUnit(wiring.Component):
    """Executes STORE commands, one at a time.

    Reads the scale row (when ``scale`` is set) once, and in a TFLite ``requant`` mode the
    shift row ``scale_addr + 1`` after it (with ``lane_scales``: again before every C-th row,
    the next group's; output row r gets lane ``r % C`` of them in lane 0), then ACC rows
    ``acc_addr .. acc_addr + rows - 1`` one per cycle into the post-processing pipeline,
    (with ``lane_sum``, on a build with ``npu_gather``, the row's lane 0 is the int32 sum of
    its lanes 0..3), packs each output row's first ``cols`` elements into bytes of the output type
    (little-endian, element ``c`` at byte ``c * out_bytes``) and hands the rows to the DMA
    writer. ``done`` pulses when the
    writer reports every write response in. An ACC row is not read while ``acc_wait`` is
    high for it (the execute or element-wise unit still has to write it,
    :class:`~.exec_unit.ExecUnit` / :class:`~.eltwise_unit.EltwiseUnit` ``acc_pending``): the
    unit then follows a COMPUTE's (ELTWISE's) result rows as they arrive.

    With ``config.npu_store_wait_reg`` the answer is taken from a register (for the FPGA
    clock: no row-range compare between the read address and the ACC read enable). The unit
    keeps the row to read next (``ra``) and the one after it (``ra1``) in registers, and a bit
    ``ok``: row ``ra`` is known written. Every cycle of a command it puts ``ok ? ra1 : ra``
    on ``acc_query`` (registers only) and registers the answer: after a read of ``ra``,
    ``ok`` becomes the answer for ``ra1`` (the new ``ra``); without a read and with ``ok``
    clear, the answer for ``ra``; with ``ok`` set and no read, ``ok`` stays. A row is read
    only with ``ok``. Why no row is read before it is written: the answer for a row is
    taken in a cycle of the command (from its first cycle after acceptance on, the earliest
    cycle the combinational form could read in), when every command older than the STORE
    that writes its rows has been accepted by its unit and answers for them (the
    dispatcher issues in order); and a row once answered written stays written while the
    STORE runs (a younger command writing rows the STORE reads is a WAR conflict the
    dispatcher holds back, :mod:`.hazard`). So ``ok`` set at any cycle before the read stays
    true at the read. Cost: a row that waited is read one cycle after the combinational form
    would (its answer is registered first), and a STORE without a scale row reads its first
    row one cycle later; rows that did not wait stream one per cycle as before.

    Parameters
    ----------
    config : SoCConfig
    postproc : PostProcess or None
        The post-processing pipeline (a :class:`~.postproc.PostProcess` of ``npu_cols``
        columns, or anything with its ``i`` / ``o`` streams); ``None`` builds one.

    Members
    -------
    cmd : In(stream.Signature(command_layout(Opcode.STORE)))
        A validated STORE; accepted only while idle.
    acc_r : Out(ReadPortSignature(acc_rows, ArrayLayout(32, cols)))
    wr_cmd : Out(stream.Signature(dma_cmd_layout(store_row_bytes(config))))
    wr_rows : Out(stream.Signature(8 * store_row_bytes(config)))
    wr_done, wr_error : In(1)
        The DMA writer's side.
    acc_wait : In(1)
        Combinational answer for the row on ``acc_r.addr`` (with ``npu_store_wait_reg``: on
        ``acc_query``): not written yet, do not read it (0 when nothing else writes ACC rows
        a STORE reads).
    acc_query : Out(range(acc_rows))
        Only with ``config.npu_store_wait_reg``: the row ``acc_wait`` answers for (from
        registers).
    done : Out(1)
        One-cycle pulse: the command finished (every write response received).
    bus_error : Out(1)
        With ``done``: a write was answered with err; the command stopped there.
    """

    def __init__(self, config, *, postproc=None):
        self._config = config
        if postproc is None:
            from .postproc import PostProcess
            postproc = PostProcess(config.npu_cols, float_post=config.npu_float_post)
        self._pp = postproc
        self._maxb = store_row_bytes(config)
        super().__init__({
            "cmd": In(stream.Signature(command_layout(Opcode.STORE))),
            "acc_r": Out(ReadPortSignature(config.npu_acc_rows,
                                           data.ArrayLayout(32, config.npu_cols))),
            "wr_cmd": Out(stream.Signature(dma_cmd_layout(self._maxb))),
            "wr_rows": Out(stream.Signature(8 * self._maxb)),
            "wr_done": In(1),
            "acc_wait": In(1),
            **({"acc_query": Out(range(config.npu_acc_rows))}
               if config.npu_store_wait_reg else {}),
            "wr_error": In(1),
            "done": Out(1),
            "bus_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self._config.npu_cols
        m.submodules.postproc = pp = self._pp
        cmd = Signal(command_layout(Opcode.STORE))
        busy = Signal()
        wr_pending = Signal()
        scale = Signal(data.ArrayLayout(32, cols))
        shifts = Signal(data.ArrayLayout(32, cols))
        issued = Signal(16)
        s1_valid = Signal()
        s1_last = Signal()
        # lane_scales: the ACC row of the current parameter group, the lane of the next row
        # to issue and of the row in s1.
        srow = Signal(16)
        lane = Signal(range(cols))
        s1_lane = Signal(range(cols))
        fresh = Signal()            # the parameters were just fetched, no row issued since
        tflite = cmd.requant != RequantMode.FLOAT_SCALE.value
        wait_reg = self._config.npu_store_wait_reg
        if wait_reg:
            # the row to read next, the one after it, and "ra is known written"
            ra = Signal(range(self._config.npu_acc_rows))
            ra1 = Signal.like(ra)
            ok = Signal()
            read = Signal()         # row ra is read this cycle
            m.d.comb += self.acc_query.eq(Mux(ok, ra1, ra))
            with m.If(read):
                m.d.sync += [ra.eq(ra1), ra1.eq(ra1 + 1), ok.eq(~self.acc_wait)]
            with m.Elif(~ok):
                m.d.sync += ok.eq(~self.acc_wait)

        out = cmd.out
        shift = Mux(out == OutType.INT8, 0, Mux(out == OutType.FP16, 1, 2))
        m.d.comb += [
            self.wr_cmd.valid.eq(wr_pending),
            self.wr_cmd.payload.addr.eq(cmd.dram_addr),
            self.wr_cmd.payload.stride.eq(cmd.dram_stride),
            self.wr_cmd.payload.rows.eq(cmd.rows),
            self.wr_cmd.payload.row_bytes.eq(cmd.cols << shift),
        ]
        with m.If(self.wr_cmd.valid & self.wr_cmd.ready):
            m.d.sync += wr_pending.eq(0)

        advance = ~s1_valid | pp.i.ready
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [cmd.eq(self.cmd.payload), busy.eq(1), wr_pending.eq(1),
                                 issued.eq(0), srow.eq(self.cmd.payload.scale_addr),
                                 lane.eq(0)]
                    if wait_reg:
                        m.d.sync += [ra.eq(self.cmd.payload.acc_addr),
                                     ra1.eq(self.cmd.payload.acc_addr + 1), ok.eq(0)]
                    with m.If(self.cmd.payload.scale):
                        m.next = "SCALE"
                    with m.Else():
                        m.next = "ROWS"
            with m.State("SCALE"):
                m.d.comb += [self.acc_r.addr.eq(srow), self.acc_r.en.eq(1)]
                m.d.sync += fresh.eq(1)
                m.next = "SCALE_LATCH"
            with m.State("SCALE_LATCH"):
                m.d.sync += scale.eq(self.acc_r.data)
                with m.If(tflite):
                    m.d.comb += [self.acc_r.addr.eq(srow + 1), self.acc_r.en.eq(1)]
                    m.next = "SHIFT_LATCH"
                with m.Else():
                    m.next = "ROWS"
            with m.State("SHIFT_LATCH"):
                m.d.sync += shifts.eq(self.acc_r.data)
                m.next = "ROWS"
            with m.State("ROWS"):
                more = issued != cmd.rows
                if wait_reg:
                    go = more & ok                  # the row is in ACC (registered): read it
                else:
                    go = more & ~self.acc_wait      # the row is in ACC: read it
                # lane_scales: the next row starts a new parameter group; fetch it once the
                # row in s1 has gone (the read port is shared).
                regroup = cmd.lane_scales & more & ~fresh & (lane == 0)
                m.d.comb += [
                    self.acc_r.addr.eq(ra if wait_reg else cmd.acc_addr + issued),
                    self.acc_r.en.eq(advance & go & ~regroup),
                ]
                if wait_reg:
                    m.d.comb += read.eq(advance & go & ~regroup)
                with m.If(advance & regroup):
                    m.d.sync += [s1_valid.eq(0), srow.eq(srow + Mux(tflite, 2, 1))]
                    m.next = "SCALE"
                with m.Elif(advance):
                    m.d.sync += [s1_valid.eq(go), s1_last.eq(issued == cmd.rows - 1),
                                 s1_lane.eq(lane)]
                    with m.If(go):
                        m.d.sync += [issued.eq(issued + 1), fresh.eq(0),
                                     lane.eq(Mux(lane == cols - 1, 0, lane + 1))]
                with m.If(self.done):
                    m.next = "IDLE"

        row = pp.i.payload
        m.d.comb += [
            pp.i.valid.eq(s1_valid),
            row.acc.eq(self.acc_r.data),
            row.scale.eq(scale),
            row.shift.eq(shifts),
        ]
        with m.If(cmd.lane_scales):
            m.d.comb += [row.scale[0].eq(scale[s1_lane]), row.shift[0].eq(shifts[s1_lane])]
        if self._config.npu_gather:      # lane_sum: lanes 0..3 into lane 0 (int32, wrapping)
            acc = self.acc_r.data
            with m.If(cmd.lane_sum):
                m.d.comb += row.acc[0].eq((acc[0] + acc[1]) + (acc[2] + acc[3]))
        m.d.comb += [
            row.requant.eq(cmd.requant),
            row.acc_type.eq(cmd.acc_type),
            row.out.eq(cmd.out),
            row.scale_en.eq(cmd.scale),
            row.clamp_en.eq(cmd.clamp),
            row.zero_point.eq(cmd.zero_point),
            row.lo.eq(cmd.lo),
            row.hi.eq(cmd.hi),
            row.last.eq(s1_last),
        ]

        # Pack the processed row into bytes of the output type.
        res = pp.o.payload.data
        packed = Mux(out == OutType.INT8, Cat(*[res[c][:8] for c in range(cols)]),
                     Mux(out == OutType.FP16, Cat(*[res[c][:16] for c in range(cols)]),
                         Cat(*[res[c] for c in range(cols)])))
        m.d.comb += [
            self.wr_rows.valid.eq(pp.o.valid),
            self.wr_rows.payload.eq(packed),
            pp.o.ready.eq(self.wr_rows.ready),
            self.done.eq(busy & self.wr_done),
            self.bus_error.eq(self.wr_error),
        ]
        with m.If(self.done):
            m.d.sync += busy.eq(0)
        return m
