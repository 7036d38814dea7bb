"""On-chip RAM whose data-port writes reach the block RAM from registers, a cycle late."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.signature import BusSignature
from .ram import check_init
from .sim_memory import WordMemory

__all__ = ["LateWriteRam"]


class LateWriteRam(wiring.Component):
    """The SoC's on-chip RAM (:class:`.ram.Ram`'s ports and answers) with port B's writes
    performed one cycle after their grant, from registers.

    In :class:`.ram.Ram` a write's byte enables reach the block RAM's write enables in the
    cycle of the request, so the requester's address logic (the core's address adder, the
    data-bus decoder's region match, the RAM arbiter) ends at the block RAM's pins across
    the die. Here a granted write on ``b`` is only registered (address, data, byte
    enables); the next cycle the registers write the words, whatever ``b`` does then. So
    that ``b`` can read in that cycle, the words are kept twice: one copy read by ``a``,
    one by ``b``, both written from the registers (two block RAMs each with one write and
    one read port instead of one with two read/write ports: twice the block RAM).

    Bus behaviour is :class:`.ram.Ram`'s (both ports grant every cycle and answer one cycle
    after the grant) with these differences:

    * a read on ``b`` in the cycle after a write on ``b`` to the same word returns the
      written bytes from the registers (forwarded) and the others from the block RAM (each
      byte lane is its own block RAM write enable, so the lanes not written are read
      normally: Yosys maps the 64 KiB copies to 16384 x 1 DP16KD blocks, one per bit, so a
      block whose lane is not written sees no write at all); ``b`` sees its own writes
      exactly as :class:`.ram.Ram` does;
    * ``a`` sees a write on ``b`` one cycle later than with :class:`.ram.Ram` (a read on
      ``a`` in the cycle after the write's grant returns the old word in simulation and is
      undefined in a bitstream: the instruction port reads words the data side writes only
      after ``fence.i``);
    * ``a`` is read-only: a write on ``a`` is answered with ``err`` and changes nothing (in
      the SoC ``a`` is the instruction port).

    Parameters
    ----------
    size : int
        Bytes, a power of two.
    init : iterable of int
        Initial words from word 0 (both copies); the rest is 0.
    sim_primitive : bool
        Build both copies as the simulation-only Verilog primitive (:mod:`.sim_memory`);
        ``init`` must then be empty.

    Members
    -------
    a : In(BusSignature(log2(size / 4)))
        Port A, reads (the core's instruction port in the SoC).
    b : In(BusSignature(log2(size / 4)))
        Port B, reads and writes (the data side).

    Latency
    -------
    Each port grants every cycle and answers one cycle after the grant; a write's response
    comes one cycle after its grant as with :class:`.ram.Ram` (it carries no data).
    """

    def __init__(self, size, *, init=(), sim_primitive=False):
        self._init = check_init(size, init)
        self._sim_primitive = bool(sim_primitive)
        self._depth = size // 4
        width = max(1, self._depth.bit_length() - 1)
        super().__init__({"a": In(BusSignature(width)), "b": In(BusSignature(width))})

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        # The write registers: loaded every cycle from port B (no enable on the fields, so
        # only the lanes' enables wait for the request).
        w_addr = Signal.like(b.addr)
        w_data = Signal(32)
        w_lanes = Signal(4)
        m.d.sync += [w_addr.eq(b.addr), w_data.eq(b.wdata),
                     w_lanes.eq(Mux(b.req & b.we, b.be, 0))]

        # Forwarding into a read on B of the word the registers write in its cycle.
        fwd_lanes = Signal(4)
        fwd_data = Signal(32)
        m.d.sync += [fwd_lanes.eq(Mux(b.req & ~b.we & (b.addr == w_addr), w_lanes, 0)),
                     fwd_data.eq(w_data)]

        for name, port in (("a", a), ("b", b)):
            copy = WordMemory(self._depth, 2, init=self._init, primitive=self._sim_primitive)
            m.submodules[f"mem_{name}"] = copy
            m.d.comb += [
                # Port 0 writes from the registers; port 1 reads for the bus port.
                copy.addr0.eq(w_addr), copy.wdata0.eq(w_data), copy.we0.eq(w_lanes),
                copy.addr1.eq(port.addr), copy.wdata1.eq(0), copy.we1.eq(0),
                port.gnt.eq(1),
            ]
            rvalid = Signal(name=f"{name}_rvalid")
            m.d.sync += rvalid.eq(port.req)
            m.d.comb += port.rvalid.eq(rvalid)
            if name == "a":
                err = Signal(name="a_err")
                m.d.sync += err.eq(port.req & port.we)
                m.d.comb += [port.rdata.eq(copy.rdata1), port.err.eq(err)]
            else:
                m.d.comb += [
                    port.rdata.eq(Cat(*(Mux(fwd_lanes[i], fwd_data.word_select(i, 8),
                                            copy.rdata1.word_select(i, 8))
                                        for i in range(4)))),
                    port.err.eq(0),
                ]
        return m
