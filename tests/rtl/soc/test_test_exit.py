"""Test-exit register: a write pulses exit_valid for exactly one cycle with the value."""

from dure.rtl.soc.registers import offset
from dure.rtl.soc.test_exit import TestExit
from dure.sim.verif.bus import BusInitiator, Request, simulate, transact

EXIT = offset("test_exit", "exit") // 4


def test_write_pulses_exit_once():
    dut = TestExit()
    initiator = BusInitiator(dut.bus)
    requests = [Request(EXIT, we=1, wdata=7, idle=3), Request(EXIT, we=1, wdata=1, idle=4),
                Request(EXIT, we=1, wdata=0xAB, be=0b0010)]
    pulses = []

    async def issue(ctx):
        await initiator.issue(ctx, requests)

    async def collect(ctx):
        await initiator.collect(ctx, len(requests))
        for _ in range(3):
            await ctx.tick()

    async def monitor(ctx):
        cycle = 0
        while True:
            *_, valid, code = await ctx.tick().sample(dut.exit_valid, dut.exit_code)
            if valid:
                pulses.append((cycle, code))
            cycle += 1

    simulate(dut, [issue, collect], [monitor])
    assert [g + 1 for g in initiator.grants] == [p[0] for p in pulses]
    assert [p[1] for p in pulses] == [7, 1, 0]          # lane 1 holds 0x00 of 0xAB
    assert all(r.err == 0 for r in initiator.responses)


def test_other_offsets_answer_err_and_reads_return_zero():
    dut = TestExit()
    results = []

    async def bench(ctx):
        results.append(await transact(ctx, dut.bus, EXIT))
        results.append(await transact(ctx, dut.bus, EXIT + 1))
        results.append(await transact(ctx, dut.bus, EXIT + 1, we=1, wdata=1))
        results.append(ctx.get(dut.exit_valid))

    simulate(dut, [bench])
    assert results == [(0, 0), (0, 1), (0, 1), 0]
