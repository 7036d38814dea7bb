"""INT8 dot-product unit: four signed 8 x 8 products per operand pair, summed into an int32.

A board-sized INT8 accelerator for SoCs that have no room for the NPU (the iCEBreaker,
``SoCConfig.dot_unit``): the core points it at two int8 vectors in main memory, the unit reads
them itself (a stream of word pairs) and accumulates; requantization stays in software
(firmware/include/dot_unit.h). A first version also took operands by register writes from the
core, at 4 MACs per ~28 cycles of the tiny core against 2 cycles from memory; it was dropped for
the logic cells it cost (fpga/README.md).

Register map (byte offsets from ``DURE_DOT_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ======  ====  ========================================================================
offset  name    acc.  meaning
======  ======  ====  ========================================================================
0x00    acc     R/W   the int32 accumulator; a write sets it (bias, or 0), honouring byte
                      enables; a read returns it (during a stream: the partial sum)
0x04    xaddr   W     byte offset in main memory of the stream's first ``x`` word
                      (``mem_addr_width + 2`` bits, so offsets wrap at the end of main memory;
                      bits 1..0 are not used); reads return 0
0x08    waddr   W     the same for the stream's first ``w`` word
0x0C    count   R/W   a write of n (``mem_addr_width`` bits) streams n word pairs: for i < n,
                      ``acc += sum_j x_i[j] * w_i[j]`` over the four int8 lanes j (lane j in
                      bits ``8j..8j+7``) of the words ``x_i`` at ``xaddr + 4i`` and ``w_i`` at
                      ``waddr + 4i``; the products are exact, the sum wraps modulo 2**32. The
                      unit reads main memory itself; ``xaddr`` / ``waddr`` keep their values.
                      Reads return 1 while the stream runs, 0 once every pair is added.
======  ======  ====  ========================================================================

While a stream runs (``count`` reads 1) every write to the unit waits (the bus grant is
held) until it is done, so accesses take effect in program order and only the stream's end
needs polling. Any other offset answers with a bus error.

The four products are ``*`` of 8-bit signed values: Yosys's ``synth_ice40 -dsp`` maps each onto
one ``SB_MAC16``; the sum and accumulator are in logic.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import with_changes

__all__ = ["DotUnit", "LANES"]

#: Products per word pair.
LANES = 4


class DotUnit(wiring.Component):
    """The INT8 dot-product unit.

    Parameters
    ----------
    addr_width : int
        Word-address width of the register port (the region's size).
    mem_addr_width : int
        Word-address width of the main-memory port (main memory's size).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    mem : Out(BusSignature(mem_addr_width))
        Read-only initiator port into main memory (word addresses from its base).

    Latency
    -------
    Register port: grants every request except a write while a stream runs; responds one cycle
    after the grant. Memory port: requests the stream's words alternately (``x`` then ``w``)
    back to back, up to one per cycle, and takes every response in the cycle it comes (at most
    three requests in flight); a pair is added in the cycle its ``w`` word arrives, so a memory
    that grants every cycle gives one pair (4 MACs) per two cycles.
    """

    def __init__(self, addr_width=10, *, mem_addr_width=14):
        self._addr_width = addr_width
        self._mem_addr_width = mem_addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "mem": Out(BusSignature(mem_addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self._mem_addr_width
        table = with_changes("dot", xaddr={"width": aw + 2}, waddr={"width": aw + 2},
                             count={"width": aw})
        m.submodules.regs = regs = RegisterBank(table, addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        mem = self.mem

        # The stream: pairs left to request, words requested and not yet answered, the two
        # pointers.
        issue = Signal(aw)
        in_flight = Signal(2)
        x_ptr = Signal(aw)
        w_ptr = Signal(aw)
        req_w = Signal()            # the next request is the w word of its pair
        resp_w = Signal()           # the next response is the w word of its pair
        busy = (issue != 0) | (in_flight != 0)
        for name in ("acc", "xaddr", "waddr", "count"):
            m.d.comb += getattr(regs, name).w_ready.eq(~busy)
        m.d.comb += regs.count.r_data.eq(busy)

        granted = mem.req & mem.gnt
        # At most three words in flight (in_flight counts to 3; a request is never withdrawn:
        # in_flight only grows on a grant).
        m.d.comb += [mem.req.eq((issue != 0) & (in_flight != 3)), mem.we.eq(0), mem.be.eq(0xF),
                     mem.addr.eq(Mux(req_w, w_ptr, x_ptr))]
        m.d.sync += in_flight.eq(in_flight + granted - mem.rvalid)
        with m.If(granted):
            m.d.sync += req_w.eq(~req_w)
            with m.If(req_w):
                m.d.sync += [w_ptr.eq(w_ptr + 1), issue.eq(issue - 1)]
            with m.Else():
                m.d.sync += x_ptr.eq(x_ptr + 1)
        with m.If(regs.count.w_stb):
            m.d.sync += [issue.eq(regs.count.w_data),
                         x_ptr.eq(regs.xaddr.data[2:]), w_ptr.eq(regs.waddr.data[2:]),
                         req_w.eq(0), resp_w.eq(0)]

        # The x word of a pair waits in a register; the w word is used as it arrives.
        x_q = Signal(32)
        pair = Signal()             # the w word of a pair arrives in this cycle
        m.d.comb += pair.eq(mem.rvalid & resp_w)
        with m.If(mem.rvalid):
            m.d.sync += resp_w.eq(~resp_w)
            with m.If(~resp_w):
                m.d.sync += x_q.eq(mem.rdata)

        # Four products, their sum, the accumulator.
        products = [x_q.word_select(i, 8).as_signed() * mem.rdata.word_select(i, 8).as_signed()
                    for i in range(LANES)]
        pair0 = Signal(17)
        pair1 = Signal(17)
        total = Signal(18)
        m.d.comb += [pair0.eq(products[0] + products[1]), pair1.eq(products[2] + products[3]),
                     total.eq(pair0.as_signed() + pair1.as_signed())]
        acc = Signal(32)
        acc_sum = Signal(32)        # acc with the pair arriving in this cycle added
        addend = Signal(18)         # gated, not multiplexed: the gate fits the adder's LUTs
        m.d.comb += [addend.eq(total & pair.replicate(18)),
                     acc_sum.eq(acc + addend.as_signed())]
        # Writes wait while a stream runs, so they never meet a pair; a read during a stream
        # returns the partial sum.
        m.d.comb += regs.acc.r_data.eq(acc_sum)
        with m.If(regs.acc.w_stb):
            m.d.sync += acc.eq(regs.acc.w_data)
        with m.Else():
            m.d.sync += acc.eq(acc_sum)
        return m
