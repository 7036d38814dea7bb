"""On-chip RAM (and boot ROM): two independent bus ports on one block of memory."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.signature import BusSignature
from .sim_memory import WordMemory

__all__ = ["Ram", "check_init"]


def check_init(size, init):
    """``init`` as a list of 32-bit words for a memory of ``size`` bytes; ValueError if it
    does not fit."""
    if not isinstance(size, int) or size < 4 or size & (size - 1):
        raise ValueError(f"memory size must be a power of two >= 4 bytes, not {size!r}")
    init = list(init)
    if len(init) > size // 4:
        raise ValueError(f"init has {len(init)} words but the memory holds only {size // 4}")
    for word in init:
        if not isinstance(word, int) or not 0 <= word < 1 << 32:
            raise ValueError(f"init words must be integers in 0..2**32-1, not {word!r}")
    return init


class Ram(wiring.Component):
    """Dual-ported word memory: both ports reach every word, every cycle, without contention.

    Maps to one true-dual-port block RAM (each port has one address shared by its read and
    write side).

    Parameters
    ----------
    size : int
        Bytes, a power of two.
    init : iterable of int
        Initial words from word 0; the rest is 0.
    read_only : bool
        Boot-ROM mode: writes are answered with ``err`` and change nothing, except writes on
        port B while ``write_enable`` is 1 (the simulator's loader fills the ROM that way,
        through the data side). Port A never writes, so the memory has one write port: with
        two, Yosys keeps the memory's write-port priority and, unless it can prove the two
        never write in the same cycle, builds it from flip-flops (a 4 KiB boot ROM: ~33 k
        flip-flops and ~100 k LUTs on the ECP5) instead of a block RAM.
    sim_primitive : bool
        Build the words as the simulation-only Verilog primitive (:mod:`.sim_memory`): for
        Verilator builds of large memories; ``init`` must then be empty.

    Members
    -------
    a : In(BusSignature(log2(size / 4)))
        Port A (the core's instruction port in the SoC).
    b : In(BusSignature(log2(size / 4)))
        Port B (the data side).
    write_enable : In(1)
        Only with ``read_only=True``: allows writes on port B.

    Writes honour the byte enables ``be``. A read on one port and a write to the same word on
    the other port in the same cycle returns the old word in simulation and is undefined in a
    bitstream (block RAM; :mod:`.sim_memory`); two writes to the same word in the same cycle
    leave it undefined.

    Latency
    -------
    Each port grants every cycle and answers one cycle after the grant: one access per cycle
    per port is sustained.
    """

    def __init__(self, size, *, init=(), read_only=False, sim_primitive=False):
        self._init = check_init(size, init)
        self._sim_primitive = bool(sim_primitive)
        self._depth = size // 4
        self._read_only = bool(read_only)
        width = max(1, self._depth.bit_length() - 1)
        members = {"a": In(BusSignature(width)), "b": In(BusSignature(width))}
        if self._read_only:
            members["write_enable"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = WordMemory(self._depth, 2, init=self._init,
                                            primitive=self._sim_primitive,
                                            read_only_ports=(0,) if self._read_only else ())
        for index, name in enumerate(("a", "b")):
            port = getattr(self, name)
            if not self._read_only:
                allowed = 1
            elif name == "b":
                allowed = self.write_enable
            else:
                allowed = 0
            rvalid = Signal(name=f"{name}_rvalid")
            err = Signal(name=f"{name}_err")
            m.d.comb += [
                port.gnt.eq(1),
                getattr(mem, f"addr{index}").eq(port.addr),
                getattr(mem, f"wdata{index}").eq(port.wdata),
                getattr(mem, f"we{index}").eq(Mux(port.req & port.we & allowed, port.be, 0)),
            ]
            m.d.sync += [
                rvalid.eq(port.req),
                err.eq(port.req & port.we & ~allowed),
            ]
            m.d.comb += [
                port.rvalid.eq(rvalid),
                port.rdata.eq(getattr(mem, f"rdata{index}")),
                port.err.eq(err),
            ]
        return m
