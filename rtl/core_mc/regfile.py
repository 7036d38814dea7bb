"""Register file of the multi-cycle core: two synchronous, non-transparent read ports."""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SimpleRegisterFile"]


class SimpleRegisterFile(wiring.Component):
    """32 x 32-bit register file on two memory copies (one per read port; block RAM).

    Reads are synchronous (data one cycle after the address) and not transparent: the caller
    never reads a register in the cycle it is written (the multi-cycle core writes at the end
    of an instruction and reads at the start of the next one), so no bypass logic is built.
    x0 is never written and reads as zero.

    Members
    -------
    raddr1, raddr2 : In(5)
    rdata1, rdata2 : Out(32)
        Data of the addresses presented in the previous cycle.
    waddr : In(5)
    wdata : In(32)
    we : In(1)
        Writes to x0 are ignored.
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
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(we),
                rp.addr.eq(raddr), rdata.eq(rp.data),
            ]
        return m
