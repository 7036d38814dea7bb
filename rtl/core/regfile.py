"""Integer register file x0..x31: synchronous read ports, one write port."""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """32 x 32-bit register file built on one memory per read port (FPGA block or LUT RAM).

    Reads are synchronous (address in one cycle, data the next). x0 is never written, so it
    reads as zero.

    Parameters
    ----------
    read_ports : int
        Number of read ports (one memory copy each), 1 or more.
    transparent : bool
        Write-first reads: a read of the register written in the same cycle returns the new
        value (the five-stage core reads in D while W writes). With ``False`` such a read
        returns the old value and no bypass logic is built (the multi-cycle core never reads
        a register in the cycle it writes it).

    Members
    -------
    raddr1 .. raddrN : In(5)
        ``N`` = ``read_ports``.
    rdata1 .. rdataN : Out(32)
        Data of the addresses presented in the previous cycle.
    waddr : In(5)
    wdata : In(32)
    we : In(1)
        Writes to x0 are ignored.

    Latency
    -------
    One cycle from ``raddr`` to ``rdata``.
    """

    def __init__(self, *, read_ports=2, transparent=True):
        if not isinstance(read_ports, int) or read_ports < 1:
            raise ValueError(f"read_ports must be a positive integer, not {read_ports!r}")
        self._read_ports = read_ports
        self._transparent = bool(transparent)
        members = {}
        for i in range(1, read_ports + 1):
            members[f"raddr{i}"] = In(5)
            members[f"rdata{i}"] = Out(32)
        members.update({"waddr": In(5), "wdata": In(32), "we": In(1)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        we = Signal()
        m.d.comb += we.eq(self.we & (self.waddr != 0))
        for i in range(1, self._read_ports + 1):
            mem = memory.Memory(shape=32, depth=32, init=[])
            m.submodules[f"rf{i}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,) if self._transparent else ())
            m.d.comb += [
                wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(we),
                rp.addr.eq(getattr(self, f"raddr{i}")),
                getattr(self, f"rdata{i}").eq(rp.data),
            ]
        return m
