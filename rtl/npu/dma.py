"""The NPU's DMA engine: a reader (LOAD) and a writer (STORE) sharing one bus initiator."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.arbiter import Arbiter
from ..bus.register_slice import RegisterSlice
from ..bus.signature import BusSignature
from .dma_command import dma_cmd_layout
from .dma_reader import DmaReader
from .dma_writer import DmaWriter

__all__ = ["Dma"]


class Dma(wiring.Component):
    """2-D strided DMA with one bus port: :class:`DmaReader` and :class:`DmaWriter` behind a
    round-robin :class:`~dure.rtl.bus.arbiter.Arbiter` (each gets every other grant when both
    request), so a LOAD and a STORE run at once.

    Parameters
    ----------
    max_read_bytes, max_write_bytes : int
        Longest row of a read and of a write command, in bytes.
    depth : int
        Most words in flight per direction (cover the memory's latency to reach its bandwidth).
    addr_width : int
        Word-address width of the bus.
    read_overlap : bool
        The reader's ``overlap``: it takes the next command while the current one's responses
        are outstanding (:class:`DmaReader`).
    side_slices : bool
        A :class:`~dure.rtl.bus.register_slice.RegisterSlice` between the reader and the
        arbiter and another between the writer and the arbiter: the arbitration then sees
        each side's request from that side's slice registers, and each side's grant depends
        only on its own slice's fill level, so neither side's request logic (its address,
        skip test, hold) reaches the other side or the arbiter combinationally (for the FPGA
        clock). ``False``: the sides drive the arbiter directly.

    Members
    -------
    rd_cmd, rd_rows, rd_done, rd_error : the reader's ``cmd``, ``rows``, ``done``, ``error``.
    wr_cmd, wr_rows, wr_done, wr_error, wr_bytes : the writer's ``cmd``, ``rows``, ``done``,
        ``error``, ``wr_bytes``.
    rd_word : Out(1)
        A read response (4 bytes) arrives this cycle.
    bus : Out(BusSignature(addr_width))

    Latency
    -------
    Without ``side_slices`` no cycles added to the reader's and writer's own (the arbiter is
    combinational). With them one cycle more from a side's request to ``bus`` (each access;
    the slices pass one request per cycle, so the streams keep their rate); responses pass
    straight through either way.
    """

    def __init__(self, max_read_bytes, max_write_bytes, *, depth=16, addr_width=30,
                 read_overlap=False, side_slices=False):
        if not isinstance(side_slices, bool):
            raise TypeError(f"side_slices must be a bool, not {side_slices!r}")
        self._side_slices = side_slices
        self._reader = DmaReader(max_read_bytes, depth=depth, addr_width=addr_width,
                                 overlap=read_overlap)
        self._writer = DmaWriter(max_write_bytes, depth=depth, addr_width=addr_width)
        self._arbiter = Arbiter(2, addr_width=addr_width, max_outstanding=2 * depth)
        super().__init__({
            "rd_cmd": In(stream.Signature(dma_cmd_layout(max_read_bytes))),
            "rd_rows": Out(stream.Signature(8 * max_read_bytes)),
            "rd_done": Out(1),
            "rd_error": Out(1),
            "rd_word": Out(1),
            "wr_cmd": In(stream.Signature(dma_cmd_layout(max_write_bytes))),
            "wr_rows": In(stream.Signature(8 * max_write_bytes)),
            "wr_done": Out(1),
            "wr_error": Out(1),
            "wr_bytes": Out(3),
            "bus": Out(BusSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.reader = rd = self._reader
        m.submodules.writer = wr = self._writer
        m.submodules.arbiter = arb = self._arbiter
        if self._side_slices:
            m.submodules.rd_slice = rd_slice = RegisterSlice(len(rd.bus.addr))
            m.submodules.wr_slice = wr_slice = RegisterSlice(len(wr.bus.addr))
            wiring.connect(m, rd.bus, rd_slice.up)
            wiring.connect(m, rd_slice.down, arb.port(0))
            wiring.connect(m, wr.bus, wr_slice.up)
            wiring.connect(m, wr_slice.down, arb.port(1))
        else:
            wiring.connect(m, rd.bus, arb.port(0))
            wiring.connect(m, wr.bus, arb.port(1))
        wiring.connect(m, arb.bus, wiring.flipped(self.bus))
        wiring.connect(m, wiring.flipped(self.rd_cmd), rd.cmd)
        wiring.connect(m, rd.rows, wiring.flipped(self.rd_rows))
        wiring.connect(m, wiring.flipped(self.wr_cmd), wr.cmd)
        wiring.connect(m, wiring.flipped(self.wr_rows), wr.rows)
        m.d.comb += [
            self.rd_done.eq(rd.done), self.rd_error.eq(rd.error),
            self.rd_word.eq(rd.bus.rvalid),
            self.wr_done.eq(wr.done), self.wr_error.eq(wr.error), self.wr_bytes.eq(wr.wr_bytes),
        ]
        return m
