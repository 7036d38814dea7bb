"""Test support for the NPU datapath on the Amaranth simulator: a byte-addressed main-memory
target with random grant stalls, random in-order latency and error ranges, and a stream driver.
"""

import random
from dataclasses import dataclass, field

from dure.rtl.npu.commands import Opcode

__all__ = ["MemoryTarget", "send_stream", "Command", "dependencies", "reference",
           "run_datapath", "store_mode", "check_stores"]


@dataclass
class MemoryTarget:
    """A bus target over a ``bytearray`` starting at byte address ``base``.

    Grants with probability ``gnt_probability`` per cycle (combinationally independent of
    ``req``); each response comes ``latency`` to ``latency + jitter`` cycles after its grant, in
    order. Word addresses in ``err_words`` answer ``err`` (writes there change nothing).
    ``log`` gets ``(cycle, word_addr, we, wdata, be)`` per grant and ``responses`` gets
    ``(cycle, err)`` per response. Run :meth:`serve` as a background testbench.
    """
    bus: object
    mem: bytearray
    base: int = 0
    latency: int = 1
    jitter: int = 0
    gnt_probability: float = 1.0
    seed: int = 0
    err_words: set = field(default_factory=set)
    log: list = field(default_factory=list)
    responses: list = field(default_factory=list)

    def word(self, addr):
        off = addr * 4 - self.base
        if not 0 <= off <= len(self.mem) - 4:
            raise AssertionError(f"bus access outside the memory model: word 0x{addr:x}")
        return off

    async def serve(self, ctx):
        rng = random.Random(self.seed)
        pending = []                                # (due cycle, rdata, err)
        cycle = 0
        gnt = rng.random() < self.gnt_probability
        while True:
            if pending and pending[0][0] <= cycle:
                _, rdata, err = pending.pop(0)
                ctx.set(self.bus.rvalid, 1)
                ctx.set(self.bus.rdata, rdata)
                ctx.set(self.bus.err, err)
                self.responses.append((cycle, err))
            else:
                ctx.set(self.bus.rvalid, 0)
                ctx.set(self.bus.err, 0)
            ctx.set(self.bus.gnt, gnt)
            *_, req, addr, we, wdata, be = await ctx.tick().sample(
                self.bus.req, self.bus.addr, self.bus.we, self.bus.wdata, self.bus.be)
            if req and gnt:
                self.log.append((cycle, addr, we, wdata, be))
                err = int(addr in self.err_words)
                off = self.word(addr)
                rdata = int.from_bytes(self.mem[off:off + 4], "little")
                if we and not err:
                    for i in range(4):
                        if be >> i & 1:
                            self.mem[off + i] = wdata >> (8 * i) & 0xFF
                due = cycle + self.latency + rng.randint(0, self.jitter)
                due = max(due, pending[-1][0] + 1 if pending else cycle + 1)
                pending.append((due, rdata, err))
            cycle += 1
            gnt = rng.random() < self.gnt_probability


async def send_stream(ctx, port, payloads, *, rng=None, idle=0.0):
    """Send ``payloads`` on stream ``port`` in order, with random idle cycles before each."""
    for payload in payloads:
        while rng is not None and rng.random() < idle:
            ctx.set(port.valid, 0)
            await ctx.tick()
        ctx.set(port.payload, payload)
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)


# --- Commands, their hazards, and a reference of their effect --------------------------------

_OPCODES = {"load": Opcode.LOAD, "exec": Opcode.COMPUTE, "store": Opcode.STORE}

@dataclass
class Command:
    """One command for a datapath unit: ``unit`` is ``"load"``, ``"exec"`` or ``"store"``;
    ``fields`` are the :func:`~dure.rtl.npu.descriptor.command_layout` fields (missing ones
    are 0)."""
    unit: str
    fields: dict

    def get(self, name):
        return int(getattr(self.fields.get(name, 0), "value", self.fields.get(name, 0)))

    def all_fields(self):
        """Every field of the command's opcode as an int (missing ones 0)."""
        from dure.rtl.npu.descriptor import FIELDS
        return {name: self.get(name) for name in FIELDS[_OPCODES[self.unit]]}


def _ranges(cmd, config):
    """(memory, first row, end row, writes) of every local range ``cmd`` touches."""
    from dure.sim.npu_validate import a_rows_read, local_rows_written

    g = cmd.get
    if cmd.unit == "load":
        mem = "acc" if g("target") == 1 else "spad"
        rows = local_rows_written(cmd.all_fields())
        return [(mem, min(rows), max(rows) + 1, True)]
    if cmd.unit == "exec":
        a_rows = a_rows_read(cmd.all_fields())
        out = [("spad", min(a_rows), max(a_rows) + 1, False),
               ("spad", g("w_addr"), g("w_addr") + g("k"), False),
               ("acc", g("acc_addr"), g("acc_addr") + g("m"), True)]
        return out
    out = [("acc", g("acc_addr"), g("acc_addr") + g("rows"), False)]
    if g("scale"):
        rows = 2 if g("requant") else 1     # TFLite modes: multiplier and shift rows
        out.append(("acc", g("scale_addr"), g("scale_addr") + rows, False))
    return out


def dependencies(commands, config):
    """For each command, the earlier commands it must wait for (a dispatcher's hazards:
    overlapping rows of the same memory where at least one of the two writes). With
    ``config.npu_load_follow`` a COMPUTE does not wait for an earlier LOAD's SPAD rows (the
    execute unit follows them row by row; the LOAD is issued first, as commands go in order)."""
    follow = getattr(config, "npu_load_follow", False)
    deps = []
    for i, cmd in enumerate(commands):
        mine = _ranges(cmd, config)
        wait = []
        for j in range(i):
            spad_ok = follow and cmd.unit == "exec" and commands[j].unit == "load"
            if any(ma == mb and a0 < b1 and b0 < a1 and (wa or wb)
                   and not (spad_ok and ma == "spad")
                   for ma, a0, a1, wa in mine for mb, b0, b1, wb in _ranges(commands[j], config)):
                wait.append(j)
        deps.append(wait)
    return deps


def reference(config, commands, mem, base=0):
    """Apply ``commands`` in order to ``mem`` (a bytearray at byte address ``base``) with the
    golden command model (:class:`dure.sim.npu_model.NpuModel`, the project's one command-level
    model); returns the final ``(mem, spad, acc)``."""
    from dure.sim.npu_model import NpuModel

    model = NpuModel(config, memory={base: bytes(mem)})
    for cmd in commands:
        model.apply(_OPCODES[cmd.unit], cmd.fields)
    return bytearray(model.read(base, len(mem))), model.spad, model.acc


def store_mode(fields):
    """The ``npu.store_mode`` coverage bin (:mod:`dure.sim.verif.coverage`) of a STORE with
    descriptor ``fields``: ``acc_type->out``, then the requantization mode (INT8 -> INT8), the
    scales (``none`` / ``per_column`` / ``lane_scales``) and the clamp; INT8 -> INT32 is
    ``raw``."""
    from dure.rtl.npu.commands import OutType, RequantMode
    from dure.rtl.npu.isa import Precision

    def get(name):
        return int(getattr(fields.get(name, 0), "value", fields.get(name, 0)))

    acc, out = Precision(get("acc_type")).name, OutType(get("out")).name
    scales = ("lane_scales" if get("lane_scales") else
              "per_column" if get("scale") else "none")
    if (acc, out) == ("INT8", "INT8"):
        return f"{acc}->{out}/{RequantMode(get('requant')).name}/{scales}"
    if (acc, out) == ("INT8", "INT32"):
        return f"{acc}->{out}/raw"
    return f"{acc}->{out}/{scales}/{'clamp' if get('clamp') else 'no_clamp'}"


def check_stores(commands, mem, expect, errors):
    """Check a run bit-exactly: no command reported a bus error (``errors``, one per command)
    and main memory ``mem`` equals the golden model's ``expect`` byte for byte (the first
    differing byte named); then count the output mode of every STORE among ``commands``
    (``npu.store_mode``, :func:`store_mode`), each of which was compared."""
    from .coverage import cover

    assert list(errors) == [0] * len(commands), f"bus errors reported: {list(errors)}"
    if mem != expect:
        first = next((i for i, (a, b) in enumerate(zip(mem, expect, strict=False)) if a != b),
                     min(len(mem), len(expect)))
        raise AssertionError(f"memory differs from the command model from byte {first}: "
                             f"got {bytes(mem[first:first + 8]).hex()}, "
                             f"want {bytes(expect[first:first + 8]).hex()}")
    for cmd in commands:
        if cmd.unit == "store":
            cover("npu.store_mode", store_mode(cmd.fields))


# --- Driving NpuDatapath on the Amaranth simulator ---------------------------------------------

def run_datapath(dut, config, commands, target, *, seed=0, idle=0.0, timeout=100_000):
    """Dispatch ``commands`` to ``dut`` (an NpuDatapath) in order, each only after the earlier
    commands it depends on (:func:`dependencies`) are done, with ``target`` (a
    :class:`MemoryTarget` on ``dut.bus``) as main memory. Returns ``(cycles, errors, stamps)``:
    the cycle count, per command whether it reported a bus error, and per command its
    (issue, done) cycles."""
    from amaranth.sim import Simulator

    rng = random.Random(seed)
    deps = dependencies(commands, config)
    done = [False] * len(commands)
    errors = [None] * len(commands)
    stamps = [[None, None] for _ in commands]
    state = {"cycle": 0}
    link = dut.control
    ports = {"load": link.load_cmd, "exec": link.exec_cmd, "store": link.store_cmd}
    dones = {"load": (link.load_done, link.load_bus_error), "exec": (link.exec_done, None),
             "store": (link.store_done, link.store_bus_error)}
    issued = {unit: [] for unit in ports}

    async def monitor(ctx):
        while True:
            sampled = await ctx.tick().sample(*[s for pair in dones.values() for s in pair
                                                if s is not None])
            values = list(sampled[2:])
            state["cycle"] += 1
            if state["cycle"] > timeout:
                raise AssertionError(f"timeout: done {sum(done)} of {len(commands)}")
            for unit, (_, err) in dones.items():
                pulse = values.pop(0)
                e = values.pop(0) if err is not None else 0
                if pulse:
                    if not issued[unit]:
                        raise AssertionError(f"{unit} done pulse with no command in flight")
                    i = issued[unit].pop(0)
                    done[i], errors[i] = True, bool(e)
                    stamps[i][1] = state["cycle"] - 1

    async def dispatcher(ctx):
        for i, cmd in enumerate(commands):
            while not all(done[j] for j in deps[i]) or rng.random() < idle:
                await ctx.tick()
            port = ports[cmd.unit]
            ctx.set(port.payload, {k: getattr(v, "value", v) for k, v in cmd.fields.items()})
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)
            issued[cmd.unit].append(i)
            stamps[i][0] = state["cycle"]
        while not all(done):
            await ctx.tick()
        for _ in range(4):
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(target.serve, background=True)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(dispatcher)
    sim.run()
    return state["cycle"], errors, stamps
