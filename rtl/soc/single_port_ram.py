"""On-chip RAM on a single-port memory (iCE40 SPRAM): two bus ports take turns."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.signature import BusSignature
from .ram import check_init
from .sim_memory import WordMemory
from .spram import SpramMemory, check_spram_depth

__all__ = ["SinglePortRam", "BACKINGS"]

#: How the words are built: an Amaranth ``Memory`` (Amaranth simulator, any tool), the
#: simulation-only Verilog primitive (:mod:`.sim_memory`, Verilator), or ``SB_SPRAM256KA``
#: blocks (iCE40UP5K bitstreams).
BACKINGS = ("memory", "sim_primitive", "spram")


class SinglePortRam(wiring.Component):
    """Word memory with one access per cycle, shared by two bus ports.

    A drop-in for :class:`~.ram.Ram` (same ports, same one-cycle answer) on a memory with one
    port: in each cycle at most one of the two ports is granted. Port ``b`` (the data side)
    wins, except that a port ``a`` request that was refused in the previous cycle wins now;
    so when both ports request every cycle they alternate, and no request waits more than one
    cycle.

    Parameters
    ----------
    size : int
        Bytes, a power of two (``spram``: at most 128 KiB).
    init : iterable of int
        Initial words from word 0 (``memory`` backing only; the others start unknown / zero).
    backing : str
        One of :data:`BACKINGS`.

    Members
    -------
    a : In(BusSignature(log2(size / 4)))
        Port A (the core's instruction port in the SoC).
    b : In(BusSignature(log2(size / 4)))
        Port B (the data side).

    Writes honour the byte enables ``be``; reads return the whole word as it was before any
    write of the same cycle (there is none: one access per cycle). ``err`` is always 0.

    Latency
    -------
    ``gnt`` is combinational from both ports' ``req`` (never from their other fields); each
    granted access is answered in the next cycle. One access per cycle in total.
    """

    def __init__(self, size, *, init=(), backing="memory"):
        self._init = check_init(size, init)
        if backing not in BACKINGS:
            raise ValueError(f"backing must be one of {', '.join(BACKINGS)}, not {backing!r}")
        if backing != "memory" and any(self._init):
            raise ValueError(f"the {backing!r} backing has no initial contents; load them")
        self._depth = size // 4
        if self._depth < 2:
            raise ValueError(f"size must be at least 8 bytes, not {size!r}")
        self._backing = backing
        if backing == "spram":
            check_spram_depth(self._depth)
        width = max(1, self._depth.bit_length() - 1)
        super().__init__({"a": In(BusSignature(width)), "b": In(BusSignature(width))})

    def elaborate(self, platform):
        m = Module()
        if self._backing == "spram":
            m.submodules.mem = mem = SpramMemory(self._depth)
        else:
            m.submodules.mem = mem = WordMemory(self._depth, 1, init=self._init,
                                                primitive=self._backing == "sim_primitive")
        a, b = self.a, self.b
        a_refused = Signal()        # port A requested last cycle and was not granted
        grant_a = Signal()
        grant_b = Signal()
        m.d.comb += [
            grant_b.eq(b.req & ~(a.req & a_refused)),
            grant_a.eq(a.req & ~grant_b),
            a.gnt.eq(grant_a),
            b.gnt.eq(grant_b),
        ]
        m.d.sync += a_refused.eq(a.req & ~grant_a)
        with m.If(grant_a):
            m.d.comb += [mem.addr0.eq(a.addr), mem.wdata0.eq(a.wdata)]
            with m.If(a.we):
                m.d.comb += mem.we0.eq(a.be)
        with m.Else():
            m.d.comb += [mem.addr0.eq(b.addr), mem.wdata0.eq(b.wdata)]
            with m.If(grant_b & b.we):
                m.d.comb += mem.we0.eq(b.be)
        a_answer = Signal()
        b_answer = Signal()
        m.d.sync += [a_answer.eq(grant_a), b_answer.eq(grant_b)]
        for port, answer in ((a, a_answer), (b, b_answer)):
            m.d.comb += [
                port.rvalid.eq(answer),
                port.rdata.eq(mem.rdata0),
                port.err.eq(0),
            ]
        return m
