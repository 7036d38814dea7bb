"""RouteQueue: the same order and fill level as a FIFO of its depth, random pushes and pops."""

import random
from collections import deque

import pytest
from amaranth.sim import Simulator
from dure.rtl.bus.route_queue import RouteQueue


@pytest.mark.parametrize("seed", [1])
@pytest.mark.parametrize("depth", [1, 2, 3, 16])
def test_route_queue_against_a_model(depth, seed):
    dut = RouteQueue(width=5, depth=depth)
    rng = random.Random(seed)
    model = deque()

    async def bench(ctx):
        for cycle in range(600):
            w_en, r_en = rng.random() < 0.55, rng.random() < 0.5
            data = rng.getrandbits(5)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, data)
            ctx.set(dut.r_en, r_en)
            w_rdy, r_rdy, r_data = ctx.get(dut.w_rdy), ctx.get(dut.r_rdy), ctx.get(dut.r_data)
            assert w_rdy == (len(model) < depth), cycle
            assert r_rdy == bool(model), cycle
            if model:
                assert r_data == model[0], cycle
            if r_en and model:
                model.popleft()
            if w_en and w_rdy:
                model.append(data)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_route_queue_refuses_bad_sizes():
    with pytest.raises(ValueError, match="depth"):
        RouteQueue(width=1, depth=0)
    with pytest.raises(ValueError, match="width"):
        RouteQueue(width=0, depth=2)
