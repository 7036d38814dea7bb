"""The NPU scratchpad (SPAD): rows of 16-bit lanes, one write port, two read ports."""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from .mem_ports import ReadPortSignature, row_write_layout

__all__ = ["Scratchpad"]


class Scratchpad(wiring.Component):
    """``depth`` rows of ``lanes`` 16-bit lanes.

    Only LOAD writes the scratchpad (whole rows), and only COMPUTE reads it (activation rows and
    weight rows at the same time), so the memory has one write port and two read ports and no
    arbitration. On an FPGA the two read ports replicate the block RAM.

    Parameters
    ----------
    depth : int
        Rows.
    lanes : int
        16-bit lanes per row.

    Members
    -------
    w : In(stream.Signature(row_write_layout(depth, ArrayLayout(16, lanes))))
        Whole-row writes; ``ready`` is always 1 (one row per cycle).
    ra, rw : In(ReadPortSignature(depth, ArrayLayout(16, lanes)))
        Read ports for activation rows and weight rows.

    Latency
    -------
    A read returns the row one cycle after ``en``; a row written at an edge is seen by reads
    issued at later edges (reads of the row being written in the same cycle return the old
    value: the dispatcher never lets that happen).
    """

    def __init__(self, depth, lanes):
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be an integer >= 1, not {lanes!r}")
        self._depth, self._lanes = depth, lanes
        row = data.ArrayLayout(16, lanes)
        super().__init__({
            "w": In(stream.Signature(row_write_layout(depth, row))),
            "ra": In(ReadPortSignature(depth, row)),
            "rw": In(ReadPortSignature(depth, row)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=16 * self._lanes, depth=self._depth, init=[])
        wp = mem.write_port()
        m.d.comb += [
            wp.addr.eq(self.w.payload.addr),
            wp.data.eq(self.w.payload.data),
            wp.en.eq(self.w.valid),
            self.w.ready.eq(1),
        ]
        for port in (self.ra, self.rw):
            rp = mem.read_port()
            m.d.comb += [rp.addr.eq(port.addr), rp.en.eq(port.en), port.data.eq(rp.data)]
        return m
