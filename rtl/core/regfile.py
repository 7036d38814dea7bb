"""Integer register file x0..x31: two synchronous read ports, one write port."""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """32 x 32-bit register file built on one memory per read port (FPGA block or LUT RAM).

    Reads are synchronous (address in one cycle, data the next) and transparent: a read of the
    register written in the same cycle returns the new value. x0 is never written, so it reads
    as zero.

    Members
    -------
    raddr1, raddr2 : In(5)
    rdata1, rdata2 : Out(32)
        Data of the addresses presented in the previous cycle.
    waddr : In(5)
    wdata : In(32)
    we : In(1)
        Writes to x0 are ignored.

    Latency
    -------
    One cycle from ``raddr`` to ``rdata``.
    """

    raddr1: In(5)
    raddr2: In(5)
    rdata1: Out(32)
    rdata2: Out(32)
    waddr: In(5)
    wdata: In(32)
    we: In(1)

    def elaborate(self, platform):
        m = Module()
        we = Signal()
        m.d.comb += we.eq(self.we & (self.waddr != 0))
        for raddr, rdata, name in ((self.raddr1, self.rdata1, "rf1"),
                                   (self.raddr2, self.rdata2, "rf2")):
            mem = memory.Memory(shape=32, depth=32, init=[])
            m.submodules[name] = mem
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            m.d.comb += [
                wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(we),
                rp.addr.eq(raddr),
            ]
            m.d.comb += rdata.eq(rp.data)
        return m
