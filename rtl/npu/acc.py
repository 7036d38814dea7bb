"""The NPU accumulator memory (ACC): rows of 32-bit lanes, two writers arbitrated, two readers."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from .mem_ports import ReadPortSignature, row_write_layout

__all__ = ["Accumulator"]


class Accumulator(wiring.Component):
    """``depth`` rows of ``lanes`` 32-bit lanes (int32 or fp32 bits).

    Two units write the accumulator: LOAD (whole rows, e.g. a bias) and COMPUTE (result rows,
    lanes ``0..n-1`` only). They share the memory's one write port through a fair arbiter: when
    both present a row in the same cycle, the one that did not win the previous contested cycle
    goes first and the other waits (its ``ready`` stays low, nothing is lost). Two read ports
    serve COMPUTE (init rows) and STORE (output and scale rows); on an FPGA they replicate the
    block RAM.

    Parameters
    ----------
    depth : int
        Rows.
    lanes : int
        32-bit lanes per row (the array's columns).

    Members
    -------
    w_load : In(stream.Signature(row_write_layout(depth, ArrayLayout(32, lanes), lanes)))
        Row writes from LOAD; ``mask`` bit ``j`` enables lane ``j``.
    w_exec : In(stream.Signature(row_write_layout(depth, ArrayLayout(32, lanes), lanes)))
        Row writes from COMPUTE.
    r_exec, r_store : In(ReadPortSignature(depth, ArrayLayout(32, lanes)))
        Read ports.

    Latency
    -------
    ``ready`` is combinational from both ``valid`` s (never 0 for a lone writer); a granted
    row is written at the edge. Reads return one cycle after ``en``.
    """

    def __init__(self, depth, lanes):
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be an integer >= 1, not {lanes!r}")
        self._depth, self._lanes = depth, lanes
        row = data.ArrayLayout(32, lanes)
        wlayout = row_write_layout(depth, row, lanes)
        super().__init__({
            "w_load": In(stream.Signature(wlayout)),
            "w_exec": In(stream.Signature(wlayout)),
            "r_exec": In(ReadPortSignature(depth, row)),
            "r_store": In(ReadPortSignature(depth, row)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32 * self._lanes, depth=self._depth, init=[])
        wp = mem.write_port(granularity=32)

        load_last = Signal()   # LOAD won the last contested cycle
        both = self.w_load.valid & self.w_exec.valid
        take_load = Signal()
        m.d.comb += take_load.eq(self.w_load.valid & (~self.w_exec.valid | ~load_last))
        with m.If(both):
            m.d.sync += load_last.eq(take_load)
        m.d.comb += [
            self.w_load.ready.eq(take_load),
            self.w_exec.ready.eq(self.w_exec.valid & ~take_load),
        ]
        with m.If(take_load):
            m.d.comb += [
                wp.addr.eq(self.w_load.payload.addr),
                wp.data.eq(self.w_load.payload.data),
                wp.en.eq(self.w_load.payload.mask),
            ]
        with m.Elif(self.w_exec.valid):
            m.d.comb += [
                wp.addr.eq(self.w_exec.payload.addr),
                wp.data.eq(self.w_exec.payload.data),
                wp.en.eq(self.w_exec.payload.mask),
            ]
        for port in (self.r_exec, self.r_store):
            rp = mem.read_port()
            m.d.comb += [rp.addr.eq(port.addr), rp.en.eq(port.en), port.data.eq(rp.data)]
        return m
