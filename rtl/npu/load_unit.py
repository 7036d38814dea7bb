"""LOAD unit: main memory rows (from the DMA reader) into SPAD or ACC rows."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import ElemType, LoadTarget, Opcode
from .descriptor import command_layout
from .dma_command import dma_cmd_layout
from .mem_ports import row_write_layout

__all__ = ["load_row_bytes", "LoadUnit"]


def load_row_bytes(config):
    """Longest source row of a LOAD in bytes: L fp16 lanes or C words."""
    return max(2 * config.npu_lanes, 4 * config.npu_cols)


class LoadUnit(wiring.Component):
    """Executes LOAD commands, one at a time.

    For each command the unit asks the DMA reader for the source rows (one row if
    ``broadcast``), turns each row into lanes (int8 sign-extended to 16 bits, fp16 as is, or
    32-bit words; lanes ``cols..`` zero) and writes it to destination row ``dest(r)`` of the SPAD
    (always ready) or the ACC (whole rows, through the ACC's write arbiter). A broadcast row is
    written to all ``rows`` destination rows. A ``fill`` command makes no DMA request: the unit
    produces its ``rows`` rows itself (``fill_value`` in lanes ``0..cols-1``), one per cycle
    the destination accepts, and pulses ``done`` with the last one.

    ``dest(r)`` is ``local_addr + r``, or with a 2-D placement (``local_cols != 0``)
    ``local_addr + (r // local_cols) * local_row_step + r % local_cols``; the unit keeps it as a
    running address (step 1, or back to the group's start plus ``local_row_step`` after
    ``local_cols`` rows), so there is no multiply.

    Parameters
    ----------
    config : SoCConfig

    Members
    -------
    cmd : In(stream.Signature(command_layout(Opcode.LOAD)))
        A validated LOAD; accepted only while idle.
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

    Latency
    -------
    A row is written in the cycle the DMA reader presents it (SPAD), or when the ACC grants.
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
        })

    def elaborate(self, platform):
        m = Module()
        lanes, cols = self._config.npu_lanes, self._config.npu_cols
        cmd = Signal(command_layout(Opcode.LOAD))
        busy = Signal()
        rd_pending = Signal()
        row = Signal(16)
        dest = Signal(16)               # destination row of source row `row`
        group = Signal(16)              # destination row of the start of its group
        gcol = Signal(16)               # `row % local_cols`

        m.d.comb += self.cmd.ready.eq(~busy)
        with m.If(self.cmd.valid & ~busy):
            p = self.cmd.payload
            m.d.sync += [cmd.eq(p), busy.eq(1), rd_pending.eq(~p.fill), row.eq(0),
                         dest.eq(p.local_addr), group.eq(p.local_addr), gcol.eq(0)]
        fill = cmd.fill

        elem = cmd.elem
        row_bytes = Mux(elem == ElemType.INT8, cmd.cols,
                        Mux(elem == ElemType.FP16, cmd.cols << 1, cmd.cols << 2))
        m.d.comb += [
            self.rd_cmd.valid.eq(rd_pending),
            self.rd_cmd.payload.addr.eq(cmd.dram_addr),
            self.rd_cmd.payload.stride.eq(cmd.dram_stride),
            self.rd_cmd.payload.rows.eq(Mux(cmd.broadcast, 1, cmd.rows)),
            self.rd_cmd.payload.row_bytes.eq(row_bytes),
        ]
        with m.If(self.rd_cmd.valid & self.rd_cmd.ready):
            m.d.sync += rd_pending.eq(0)

        # Lanes of the row the reader presents.
        src = self.rd_rows.payload
        spad_row = Signal(data.ArrayLayout(16, lanes))
        acc_row = Signal(data.ArrayLayout(32, cols))
        fv = cmd.fill_value
        for c in range(lanes):
            lane = Mux(elem == ElemType.INT8,
                       Mux(fill, fv[:8], src[8 * c:8 * c + 8]).as_signed(),
                       Mux(fill, fv[:16], src[16 * c:16 * c + 16]))
            m.d.comb += spad_row[c].eq(Mux(c < cmd.cols, lane, 0))
        for c in range(cols):
            m.d.comb += acc_row[c].eq(Mux(c < cmd.cols, Mux(fill, fv, src[32 * c:32 * c + 32]),
                                          0))

        to_acc = cmd.target == LoadTarget.ACC
        row_valid = busy & (fill | self.rd_rows.valid)
        write = Signal()
        last_row = row == cmd.rows - 1
        m.d.comb += [
            self.spad_w.valid.eq(row_valid & ~to_acc),
            self.spad_w.payload.addr.eq(dest),
            self.spad_w.payload.data.eq(spad_row),
            self.acc_w.valid.eq(row_valid & to_acc),
            self.acc_w.payload.addr.eq(dest),
            self.acc_w.payload.data.eq(acc_row),
            self.acc_w.payload.mask.eq((1 << cols) - 1),
            write.eq((self.spad_w.valid & self.spad_w.ready)
                     | (self.acc_w.valid & self.acc_w.ready)),
            self.rd_rows.ready.eq(write & ~fill & (~cmd.broadcast | last_row)),
        ]
        wrap = (cmd.local_cols != 0) & (gcol == cmd.local_cols - 1)
        with m.If(write):
            m.d.sync += [
                row.eq(row + 1),
                dest.eq(Mux(wrap, group + cmd.local_row_step, dest + 1)),
                group.eq(Mux(wrap, group + cmd.local_row_step, group)),
                gcol.eq(Mux(wrap, 0, gcol + 1)),
            ]

        # The reader finishes only after its last row was taken, so its done is ours; a fill
        # is done with its last row.
        m.d.comb += [
            self.done.eq(busy & Mux(fill, write & last_row, self.rd_done)),
            self.bus_error.eq(~fill & self.rd_error),
        ]
        with m.If(self.done):
            m.d.sync += busy.eq(0)
        return m
