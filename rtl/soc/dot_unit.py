"""INT8 dot-product unit: four signed 8 x 8 products per operand pair, summed into an int32.

A board-sized INT8 accelerator for SoCs that have no room for the NPU (the iCEBreaker,
``SoCConfig.dot_unit``). Operands come either from the core (register writes) or from main
memory, which the unit reads itself (a stream of word pairs); requantization stays in software
(firmware/include/dot_unit.h).

Register map (byte offsets from ``DURE_DOT_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ======  ====  ========================================================================
offset  name    acc.  meaning
======  ======  ====  ========================================================================
0x00    a       R/W   four int8 operands, lane i in bits ``8i..8i+7``; honours byte enables
0x04    b       W     four int8 operands; a write does ``acc += sum_i a[i] * b[i]`` (products
                      exact, the sum wraps modulo 2**32) with ``a`` as it is when the write is
                      granted (disabled bytes of the write are 0). Reads return 0.
0x08    acc     R/W   the int32 accumulator; a write sets it (bias, or 0), honouring byte
                      enables; a read returns it with every earlier write to ``b`` included
0x0C    xaddr   R/W   byte offset in main memory of the stream's first ``a`` word (bits 1..0
                      ignored; the offset wraps at the end of main memory)
0x10    waddr   R/W   the same for the stream's first ``b`` word
0x14    count   R/W   a write of n (16 bits) streams n word pairs: for i < n,
                      ``acc += dot(word at xaddr + 4i, word at waddr + 4i)``, the unit reading
                      main memory itself (``xaddr`` / ``waddr`` keep their values). Reads
                      return the pairs not yet added: 0 when the stream is done.
======  ======  ====  ========================================================================

While a stream runs (``count`` reads non-zero) every write to the unit waits (the bus grant is
held) until it is done, so accesses take effect in program order; a read of ``acc`` returns the
partial sum. Register writes of ``a`` and ``b`` take effect in the order they are granted, so a
program may write ``a``, ``b`` and ``acc`` and read ``acc`` back to back, one access per cycle.
Any other offset answers with a bus error.

The four products are ``*`` of 8-bit signed values: Yosys's ``synth_ice40 -dsp`` maps each onto
one ``SB_MAC16``; the sum and accumulator are in logic.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import registers

__all__ = ["DotUnit", "LANES", "COUNT_BITS"]

#: Products per operand pair.
LANES = 4
#: Width of ``count``: the most word pairs one stream adds is ``2**COUNT_BITS - 1``.
COUNT_BITS = 16


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
    after the grant. A write to ``b`` is registered when granted and its products reach the
    accumulator at the end of the next cycle; a read of ``acc`` granted in that cycle returns
    the updated value (the read data includes the pending sum). Memory port: requests the
    stream's words alternately (``a`` then ``b``) back to back, up to one per cycle, and takes
    every response in the cycle it comes: a memory that grants every cycle gives one pair
    (4 MACs) per two cycles. Peak with register writes: one write to ``b`` (4 MACs) per cycle.
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
        m.submodules.regs = regs = RegisterBank(registers("dot"), addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        mem = self.mem
        aw = self._mem_addr_width

        # The stream: words left to request, pairs not yet added, the two pointers.
        issue = Signal(COUNT_BITS)
        pending = Signal(COUNT_BITS)
        x_ptr = Signal(aw)
        w_ptr = Signal(aw)
        req_b = Signal()            # the next request is the b word of its pair
        resp_b = Signal()           # the next response is the b word of its pair
        busy = pending != 0
        for name in ("a", "b", "acc", "xaddr", "waddr", "count"):
            m.d.comb += getattr(regs, name).w_ready.eq(~busy)
        m.d.comb += regs.count.r_data.eq(pending)

        m.d.comb += [mem.req.eq(issue != 0), mem.we.eq(0), mem.be.eq(0xF),
                     mem.addr.eq(Mux(req_b, w_ptr, x_ptr))]
        with m.If(mem.req & mem.gnt):
            m.d.sync += req_b.eq(~req_b)
            with m.If(req_b):
                m.d.sync += [w_ptr.eq(w_ptr + 1), issue.eq(issue - 1)]
            with m.Else():
                m.d.sync += x_ptr.eq(x_ptr + 1)
        with m.If(regs.count.w_stb):
            m.d.sync += [issue.eq(regs.count.w_data), pending.eq(regs.count.w_data),
                         x_ptr.eq(regs.xaddr.data[2:]), w_ptr.eq(regs.waddr.data[2:]),
                         req_b.eq(0), resp_b.eq(0)]

        # Stage 1: the operands of a granted write to b, or of a pair from memory.
        a_q = Signal(32)
        b_q = Signal(32)
        go = Signal()
        m.d.sync += go.eq(regs.b.w_stb)
        with m.If(regs.b.w_stb):
            m.d.sync += [a_q.eq(regs.a.data), b_q.eq(regs.b.w_data)]
        with m.If(mem.rvalid):
            m.d.sync += resp_b.eq(~resp_b)
            with m.If(resp_b):
                m.d.sync += [b_q.eq(mem.rdata), go.eq(1), pending.eq(pending - 1)]
            with m.Else():
                m.d.sync += a_q.eq(mem.rdata)

        # Stage 2: four products, their sum, the accumulator.
        products = [a_q.word_select(i, 8).as_signed() * b_q.word_select(i, 8).as_signed()
                    for i in range(LANES)]
        pair0 = Signal(17)
        pair1 = Signal(17)
        total = Signal(18)
        m.d.comb += [pair0.eq(products[0] + products[1]), pair1.eq(products[2] + products[3]),
                     total.eq(pair0.as_signed() + pair1.as_signed())]
        acc = Signal(32)
        acc_sum = Signal(32)        # acc with the pair of the last cycle added
        m.d.comb += acc_sum.eq(acc)
        with m.If(go):
            m.d.comb += acc_sum.eq(acc + total.as_signed())
        # A read is never granted in the cycle of a write, so r_data is the next value of a
        # read's cycle; a write's byte enables merge over the same up-to-date value.
        m.d.comb += regs.acc.r_data.eq(acc_sum)
        with m.If(regs.acc.w_stb):
            m.d.sync += acc.eq(regs.acc.w_data)
        with m.Else():
            m.d.sync += acc.eq(acc_sum)
        return m
