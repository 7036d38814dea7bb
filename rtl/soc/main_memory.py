"""Main memory model: a pipelined memory with set latency and bandwidth, for simulation."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus.signature import BusSignature
from .ram import check_init
from .sim_memory import WordMemory
from .spram import SpramMemory, check_spram_depth

__all__ = ["MainMemory"]


class MainMemory(wiring.Component):
    """Word memory behind a fixed-latency, bandwidth-limited pipeline.

    Models an off-chip memory (DRAM behind a controller) well enough to measure the NPU
    against a roofline: every access takes ``latency`` cycles from grant to response, any
    number of accesses are in flight at once (one per grant slot), and the grant rate is capped
    at ``bytes_per_cycle`` bytes per cycle. Each access moves one 32-bit word whatever its byte
    enables, so it costs ``4 / bytes_per_cycle`` cycles of bandwidth.

    Parameters
    ----------
    size : int
        Bytes, a power of two.
    latency : int
        Cycles from the grant of a request to its response, >= 1.
    bytes_per_cycle : int
        1, 2 or 4: a grant at most every 4, 2 or 1 cycles.
    init : iterable of int
        Initial words from word 0.
    sim_primitive : bool
        Build the words as the simulation-only Verilog primitive (:mod:`.sim_memory`).
    spram : bool
        Build the words from iCE40UP5K SPRAM blocks (:class:`.spram.SpramMemory`, no
        ``init``); the bus behaviour is the same.
    ports : int
        Independent bus ports onto the same words, 1..8 (more than one: the "scaled" bandwidth
        of a multi-tile SoC; not with ``spram``). Each port has its own ``latency`` and
        ``bytes_per_cycle``, so the aggregate bandwidth is ``ports * bytes_per_cycle``. Two
        ports writing the same byte in one cycle leave it undefined; a read sees the writes of
        other ports granted in earlier cycles.

    Members
    -------
    bus : In(BusSignature(log2(size / 4)))
        Target port (port 0). Writes honour ``be`` and take effect at the grant (so a later
        read, which is granted later, sees them).
    bus1 .. bus<ports-1> : In(BusSignature(log2(size / 4)))
        The other ports, each behaving as ``bus``.

    Latency
    -------
    ``gnt`` is 1 when ``4 / bytes_per_cycle - 1`` cycles have passed since the previous grant
    (it does not depend on ``req``); the response comes exactly ``latency`` cycles after the
    grant. Sustained throughput: ``bytes_per_cycle`` bytes per cycle with enough requests in
    flight (``latency * bytes_per_cycle / 4`` of them).
    """

    def __init__(self, size, *, latency, bytes_per_cycle, init=(), sim_primitive=False,
                 spram=False, ports=1):
        self._init = check_init(size, init)
        self._sim_primitive = bool(sim_primitive)
        self._spram = bool(spram)
        if self._spram:
            if any(self._init):
                raise ValueError("SPRAM has no initial contents; load them")
            check_spram_depth(size // 4)
        if not isinstance(latency, int) or latency < 1:
            raise ValueError(f"latency must be an integer >= 1, not {latency!r}")
        if bytes_per_cycle not in (1, 2, 4):
            raise ValueError(f"bytes_per_cycle must be 1, 2 or 4, not {bytes_per_cycle!r}")
        if not isinstance(ports, int) or not 1 <= ports <= 8 or (self._spram and ports > 1):
            raise ValueError(f"ports must be an integer in 1..8 (1 with spram), not {ports!r}")
        self._depth = size // 4
        self._latency = latency
        self._interval = 4 // bytes_per_cycle
        self._ports = ports
        sig = BusSignature(max(1, self._depth.bit_length() - 1))
        super().__init__({"bus": In(sig), **{f"bus{p}": In(sig) for p in range(1, ports)}})

    def port(self, p):
        """Bus port ``p`` (``bus`` for 0, ``bus<p>`` after it)."""
        return self.bus if p == 0 else getattr(self, f"bus{p}")

    def elaborate(self, platform):
        m = Module()
        if self._spram:
            m.submodules.mem = mem = SpramMemory(self._depth)
        else:
            m.submodules.mem = mem = WordMemory(self._depth, self._ports, init=self._init,
                                                primitive=self._sim_primitive)
        for p in range(self._ports):
            self._port(m, mem, p)
        return m

    def _port(self, m, mem, p):
        bus = self.port(p)
        suffix = "" if p == 0 else f"_p{p}"
        addr, wdata, we = (getattr(mem, f"{name}{p}") for name in ("addr", "wdata", "we"))
        wait = Signal(range(self._interval), name=f"wait{suffix}")
        granted = Signal(name=f"granted{suffix}")
        m.d.comb += [
            bus.gnt.eq(wait == 0),
            granted.eq(bus.req & (wait == 0)),
            addr.eq(bus.addr),
            wdata.eq(bus.wdata),
        ]
        with m.If(granted & bus.we):
            m.d.comb += we.eq(bus.be)
        if self._interval > 1:
            with m.If(granted):
                m.d.sync += wait.eq(self._interval - 1)
            with m.Elif(wait != 0):
                m.d.sync += wait.eq(wait - 1)

        # Stage 1 is the memory's own read register; stages 2..latency are a delay line.
        valid = Signal(name=f"stage1_valid{suffix}")
        m.d.sync += valid.eq(granted)
        data = getattr(mem, f"rdata{p}")
        for stage in range(2, self._latency + 1):
            next_valid = Signal(name=f"stage{stage}_valid{suffix}")
            next_data = Signal(32, name=f"stage{stage}_data{suffix}")
            m.d.sync += [next_valid.eq(valid), next_data.eq(data)]
            valid, data = next_valid, next_data
        m.d.comb += [
            bus.rvalid.eq(valid),
            bus.rdata.eq(data),
            bus.err.eq(0),
        ]
