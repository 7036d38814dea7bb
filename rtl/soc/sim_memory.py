"""Word memories, either as an Amaranth ``Memory`` or as a simulation-only Verilog primitive.

Why the primitive exists: Amaranth 0.5 always gives a ``Memory`` an initial value for every word,
and converting one costs about 8 s per 64 KiB (the init constant passes through Python word by
word). The simulation variant has 1.25 MiB of RAM and main memory, so its Verilog took minutes
to generate. For Verilator builds the large memories are instead an :class:`~amaranth.hdl.Instance`
of :func:`sim_memory_verilog`, a behavioural array with the same port behaviour and no init
(Verilator's ``--x-initial 0`` starts it at zero; programs are loaded through the loader port).
The Amaranth simulator cannot run an ``Instance``, so Amaranth-level tests keep ``Memory``.

Port behaviour (both implementations)
-------------------------------------
Each port ``i`` has ``addr``, ``wdata``, ``we`` (one enable per byte lane) and ``rdata``.
Writes and reads are synchronous: ``rdata`` shows the word at the ``addr`` of the previous cycle,
read before that cycle's writes (no write-to-read transparency, within a port or across ports).
Two ports writing the same byte in one cycle leave it undefined.

In synthesis the Amaranth ``Memory`` carries Yosys's ``no_rw_check`` attribute: what a port
reads in the cycle a port writes the same word is left to the block RAM (the ECP5's DP16KD
leaves a read of a word the other port writes undefined, and could not give the old word
across ports at all: without the attribute Yosys builds a dual-ported memory from flip-flops,
unless it happens to prove such collisions impossible, which depended on the logic around
the memory). The bus users never rely on it: a write's response carries no data, and the
instruction port reads a word the data side writes only after ``fence.i``.
"""

from amaranth.hdl import ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["WordMemory", "sim_memory_verilog", "SIM_MEMORY_PORT_COUNTS"]

#: Port counts for which :func:`sim_memory_verilog` is emitted by the Verilog generator (more
#: than 2: the main memory of SoCs with several NPU tiles and ``main_bandwidth="scaled"``).
SIM_MEMORY_PORT_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8)


def _module_name(ports):
    return f"dure_sim_memory_{ports}p"


def sim_memory_verilog(ports):
    """Verilog source of the behavioural memory with ``ports`` read/write ports."""
    decl = []
    body = []
    for i in range(ports):
        decl += [f"    input  wire [AW-1:0] addr{i},", f"    input  wire [31:0]  wdata{i},",
                 f"    input  wire [3:0]   we{i},", f"    output reg  [31:0]  rdata{i},"]
        body.append(f"        rdata{i} <= mem[addr{i}];")
        for lane in range(4):
            bits = f"[{8 * lane + 7}:{8 * lane}]"
            body.append(f"        if (we{i}[{lane}]) mem[addr{i}]{bits} <= wdata{i}{bits};")
    decl[-1] = decl[-1].rstrip(",")
    return "\n".join([
        f"// Simulation-only word memory, {ports} port(s); see dure/rtl/soc/sim_memory.py.",
        f"module {_module_name(ports)} #(parameter DEPTH = 1, parameter AW = 1) (",
        "    input  wire         clk,",
        *decl,
        ");",
        "    reg [31:0] mem [0:DEPTH-1];",
        "    always @(posedge clk) begin",
        *body,
        "    end",
        "endmodule",
        "",
    ])


class WordMemory(wiring.Component):
    """``depth`` 32-bit words with ``ports`` synchronous read/write ports.

    Parameters
    ----------
    depth : int
        Words, a power of two.
    ports : int
        Number of ports, one of :data:`SIM_MEMORY_PORT_COUNTS`.
    init : list of int
        Initial words (Amaranth implementation only).
    primitive : bool
        Build the simulation-only Verilog primitive instead of an Amaranth ``Memory``; the
        Verilog generator then has to include :func:`sim_memory_verilog`. ``init`` must be
        empty.
    read_only_ports : iterable of int
        Ports that never write: their ``we`` / ``wdata`` are ignored (keep them 0) and the
        Amaranth ``Memory`` gets no write port for them. A memory with two write ports keeps
        Amaranth's write-port priority in Yosys, which the ECP5's block RAM cannot give: unless
        Yosys proves the ports never write together it builds the memory from flip-flops.

    Members
    -------
    addr{i} : In(log2(depth)), wdata{i} : In(32), we{i} : In(4), rdata{i} : Out(32)
        Port ``i``, behaving as the module docstring says.
    """

    def __init__(self, depth, ports, *, init=(), primitive=False, read_only_ports=()):
        if ports not in SIM_MEMORY_PORT_COUNTS:
            raise ValueError(f"ports must be one of {SIM_MEMORY_PORT_COUNTS}, not {ports!r}")
        if depth < 2 or depth & (depth - 1):
            raise ValueError(f"depth must be a power of two >= 2, not {depth!r}")
        self._init = list(init)
        if primitive and any(self._init):
            raise ValueError("the simulation primitive has no initial contents; load them")
        self._depth = depth
        self._ports = ports
        self._primitive = primitive
        self._read_only_ports = frozenset(read_only_ports)
        if not self._read_only_ports <= set(range(ports)):
            raise ValueError(f"read_only_ports must be among 0..{ports - 1}, "
                             f"not {sorted(self._read_only_ports)!r}")
        self._aw = depth.bit_length() - 1
        members = {}
        for i in range(ports):
            members |= {f"addr{i}": In(self._aw), f"wdata{i}": In(32), f"we{i}": In(4),
                        f"rdata{i}": Out(32)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        if self._primitive:
            connections = {"p_DEPTH": self._depth, "p_AW": self._aw, "i_clk": ClockSignal()}
            for i in range(self._ports):
                connections |= {f"i_addr{i}": getattr(self, f"addr{i}"),
                                f"i_wdata{i}": getattr(self, f"wdata{i}"),
                                f"i_we{i}": getattr(self, f"we{i}"),
                                f"o_rdata{i}": getattr(self, f"rdata{i}")}
            m.submodules.mem = Instance(_module_name(self._ports), **connections)
            return m
        m.submodules.mem = mem = Memory(shape=32, depth=self._depth, init=self._init,
                                        attrs={"no_rw_check": 1})
        for i in range(self._ports):
            if i not in self._read_only_ports:
                write = mem.write_port(granularity=8)
                m.d.comb += [
                    write.addr.eq(getattr(self, f"addr{i}")),
                    write.data.eq(getattr(self, f"wdata{i}")),
                    write.en.eq(getattr(self, f"we{i}")),
                ]
            read = mem.read_port()
            rdata = Signal(32, name=f"rdata{i}")
            m.d.comb += [
                read.addr.eq(getattr(self, f"addr{i}")),
                rdata.eq(read.data),
                getattr(self, f"rdata{i}").eq(rdata),
            ]
        return m
