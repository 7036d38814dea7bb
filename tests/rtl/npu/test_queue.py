# amaranth: UnusedElaboratable=no
"""The command queue: descriptors out in push order under random push / pop, ``level`` exact
and ``full`` whenever ``level == depth``, at the board depth 1 and at 2 and 4."""

import random

import pytest
from dure.rtl.npu.queue import CommandQueue
from dure.sim.verif.bus import simulate


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_order_level_and_full(depth):
    dut = CommandQueue(depth)
    rng = random.Random(depth)
    pushed = [[rng.getrandbits(32) for _ in range(8)] for _ in range(40)]
    popped, held = [], []

    async def bench(ctx):
        nxt = 0
        for _ in range(400):
            push = nxt < len(pushed) and rng.random() < 0.6
            pop = rng.random() < 0.5
            if push:
                ctx.set(dut.i.payload, pushed[nxt])
            ctx.set(dut.i.valid, push)
            ctx.set(dut.o.ready, pop)
            assert ctx.get(dut.level) == len(held)
            assert ctx.get(dut.full) == (not ctx.get(dut.i.ready))
            if len(held) == depth:          # (one entry may still move to the output)
                assert ctx.get(dut.full)
            took = pop and ctx.get(dut.o.valid)
            if took:
                popped.append([ctx.get(dut.o.payload[i]) for i in range(8)])
            if push and ctx.get(dut.i.ready):
                held.append(pushed[nxt])
                nxt += 1
            if took:
                held.pop(0)
            await ctx.tick()

    simulate(dut, [bench])
    assert len(popped) > 20
    assert popped == pushed[:len(popped)]


def test_depth_is_checked():
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        CommandQueue(0)
