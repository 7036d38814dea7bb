"""Test support for the NPU datapath on the Amaranth simulator: a byte-addressed main-memory
target with random grant stalls, random in-order latency and error ranges, and a stream driver.
"""

import random
from dataclasses import dataclass, field

__all__ = ["MemoryTarget", "send_stream"]


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
