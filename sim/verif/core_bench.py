"""Test bench for the core in the Amaranth simulator: bus memory model, trace monitor, runner.

The memory model speaks the Dure bus protocol on both ports with configurable grant
probability and answer latency (random, seeded), checks the initiator side of the protocol
(a request is never withdrawn or changed before its grant) and answers addresses outside its
regions with ``err``. A small MMIO block drives the interrupt inputs, so programs can raise and
clear their own interrupts.
"""

import random
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

from dure.rtl.core.core import Core
from dure.rtl.core.options import CoreOptions
from dure.rtl.soc.cpu import make_core
from dure.sim.verif.asm import Program
from dure.sim.verif.reusable_sim import ReusableSimulation, reusable

RAM_BASE = 0x8000_0000
RAM_SIZE = 0x1_0000
#: MMIO: word 0 drives irq_software, 1 irq_timer, 2 irq_external (write 0 / 1; reads 0).
IRQ_BASE = 0x2000_0000
IRQ_NAMES = ("irq_software", "irq_timer", "irq_external")
HALT = 0x0000_006F   # jal x0, 0
#: Core options of :func:`run` when none are given (the small-core tests switch it).
DEFAULT_OPTIONS = CoreOptions()


@dataclass
class Timing:
    """Bus target timing: grant with probability ``grant``; answer 1 + randint(0, extra)
    cycles after the grant (in order)."""
    grant: float = 1.0
    extra: int = 0


#: Slow buses for :func:`run` (``run(..., **SLOW_BUS)``): grants now and then, answers late.
SLOW_BUS = dict(ibus=Timing(0.5, 3), dbus=Timing(0.4, 4))


class MemoryModel:
    def __init__(self, words=(), base=RAM_BASE, err_ranges=()):
        self.words = {}
        self.irq = [0, 0, 0]
        self.err_ranges = list(err_ranges)   # (first byte, end byte) inside RAM answering err
        self.writes = []                      # (byte address, be, data) in order
        for i, w in enumerate(words):
            self.words[(base >> 2) + i] = w

    def _kind(self, word_addr):
        addr = word_addr << 2
        for lo, hi in self.err_ranges:
            if lo <= addr < hi:
                return None
        if RAM_BASE <= addr < RAM_BASE + RAM_SIZE:
            return "ram"
        if IRQ_BASE <= addr < IRQ_BASE + 4 * len(IRQ_NAMES):
            return "irq"
        return None

    def read(self, word_addr):
        kind = self._kind(word_addr)
        if kind is None:
            return 0, 1
        if kind == "irq":
            return 0, 0
        return self.words.get(word_addr, 0), 0

    def write(self, word_addr, be, data):
        kind = self._kind(word_addr)
        if kind is None:
            return 1
        if kind == "irq":
            self.irq[word_addr - (IRQ_BASE >> 2)] = data & 1
            return 0
        old = self.words.get(word_addr, 0)
        mask = sum(0xFF << (8 * i) for i in range(4) if be >> i & 1)
        self.words[word_addr] = (old & ~mask) | (data & mask)
        self.writes.append((word_addr << 2, be, data))
        return 0

    def load_word(self, byte_addr):
        return self.words.get(byte_addr >> 2, 0)


@dataclass
class Result:
    trace: list = field(default_factory=list)    # dicts of rvfi fields + "cycle", "irq"
    cycles: int = 0
    halted: bool = False
    mem: MemoryModel = None
    protocol_errors: list = field(default_factory=list)

    @property
    def retired(self):
        return [r for r in self.trace if not r["trap"]]

    def regs(self):
        """Architectural registers reconstructed from the trace."""
        regs = [0] * 32
        for r in self.retired:
            if r["rd_addr"]:
                regs[r["rd_addr"]] = r["rd_wdata"]
        return regs

    def ipc(self):
        """Retirements per cycle between the first and the last retirement."""
        first, last = self.trace[0]["cycle"], self.trace[-1]["cycle"]
        return (len(self.trace) - 1) / (last - first)


RVFI_FIELDS = ("valid", "insn", "trap", "intr", "pc_rdata", "pc_wdata", "rd_addr", "rd_wdata",
               "mem_addr", "mem_rmask", "mem_wmask", "mem_rdata", "mem_wdata", "rs1_rdata",
               "rs2_rdata")


def _bus_process(port, mem, timing, rng, result, name):
    async def process(ctx):
        pending = deque()
        cycle = 0
        last_due = -1
        prev = None   # request presented and not granted in the previous cycle
        while True:
            resp = pending[0] if pending and pending[0][0] <= cycle else None
            ctx.set(port.rvalid, resp is not None)
            ctx.set(port.rdata, resp[1] if resp else rng.getrandbits(32))
            ctx.set(port.err, resp[2] if resp else rng.getrandbits(1))
            gnt = timing.grant >= 1 or rng.random() < timing.grant
            ctx.set(port.gnt, gnt)
            _, _, req, addr, we, be, wdata = await ctx.tick().sample(
                port.req, port.addr, port.we, port.be, port.wdata)
            if resp:
                pending.popleft()
            now = (addr, we, be, wdata) if we else (addr, we)
            if prev is not None and (not req or now != prev):
                result.protocol_errors.append(f"{name}: request withdrawn or changed at "
                                              f"cycle {cycle}: {prev} -> {req} {now}")
            prev = now if req and not gnt else None
            if req and gnt:
                due = max(cycle + 1 + (rng.randint(0, timing.extra) if timing.extra else 0),
                          last_due + 1)
                last_due = due
                if we:
                    pending.append((due, 0, mem.write(addr, be, wdata)))
                else:
                    pending.append((due, *mem.read(addr)))
            cycle += 1
    return process


def run(program, *, max_cycles=3000, ibus=None, dbus=None, seed=0, data=None,
        err_ranges=(), mtime=0, stop_on_halt=True, irq_schedule=(), options=None,
        pmp_entries=16, triggers=1):
    """Run ``program`` (a :class:`Program` or a list of words at RAM_BASE) on a core from reset
    (the compiled core of these options is reused across runs unless :func:`fresh_cores`).

    ``irq_schedule``: (cycle, line index, value) events driving the interrupt lines from the
    bench (in addition to the program's own MMIO writes). ``options``: the core's
    :class:`CoreOptions`, or a variant name such as ``"tiny"`` (default: :data:`DEFAULT_OPTIONS`,
    which the small- and tiny-core tests switch). ``pmp_entries``, ``triggers``: the core's
    PMP entries and address triggers.
    """
    ibus = ibus or Timing()
    dbus = dbus or Timing()
    words = program.assemble() if isinstance(program, Program) else list(program)
    mem = MemoryModel(words, err_ranges=err_ranges)
    for addr, value in (data or {}).items():
        mem.words[addr >> 2] = value
    options = options or DEFAULT_OPTIONS
    sim = _core_simulation(options, pmp_entries, triggers)
    dut = sim.design
    result = Result(mem=mem)
    rng = random.Random(seed)
    buses = [_bus_process(dut.ibus, mem, ibus, random.Random(rng.random()), result, "ibus"),
             _bus_process(dut.dbus, mem, dbus, random.Random(rng.random()), result, "dbus")]
    signals = [getattr(dut.rvfi, f) for f in RVFI_FIELDS]

    async def testbench(ctx):
        ctx.set(dut.mtime, mtime)
        for cycle in range(max_cycles):
            for when, line, value in irq_schedule:
                if when == cycle:
                    mem.irq[line] = value
            for name, value in zip(IRQ_NAMES, mem.irq, strict=True):
                ctx.set(getattr(dut, name), value)
            _, _, *values = await ctx.tick().sample(*signals)
            if values[0]:
                record = dict(zip(RVFI_FIELDS, values, strict=True))
                record["cycle"] = cycle
                record["irq"] = tuple(mem.irq)     # the interrupt lines in that cycle
                result.trace.append(record)
                if stop_on_halt and record["insn"] == HALT and not record["trap"]:
                    result.halted = True
                    break
        result.cycles = cycle + 1

    sim.run([testbench], processes=buses)
    return result


_FRESH = [False]


@contextmanager
def fresh_cores():
    """Inside, :func:`run` builds a new core for every run instead of reusing the compiled one
    of its options: for tests that patch the core's modules (a planted bug), which a reused
    core would not contain, and whose planted core must not be reused afterwards."""
    _FRESH[0] = True
    try:
        yield
    finally:
        _FRESH[0] = False


def _core_simulation(options, pmp_entries, triggers):
    """The core of ``options`` (a :class:`CoreOptions` or a variant name) on a simulator, reused
    from reset across runs (:mod:`dure.sim.verif.reusable_sim`) unless :func:`fresh_cores`."""
    prot = dict(pmp_entries=pmp_entries, triggers=triggers)

    def build():
        if isinstance(options, str):   # a named variant (dure.rtl.soc.cpu.CORE_VARIANTS)
            return make_core(options, reset_vector=RAM_BASE, **prot)
        return Core(reset_vector=RAM_BASE, options=options, **prot)

    slots = dict(period=1e-6, critical=1, background=0, processes=2)
    if _FRESH[0]:
        return ReusableSimulation(build(), **slots)
    return reusable(("core", options, pmp_entries, triggers), build, **slots)
