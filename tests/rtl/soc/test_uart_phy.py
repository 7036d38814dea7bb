"""8N1 serializer and deserializer against a Python model of the line, at small divisors."""

import pytest
from dure.rtl.soc.uart_phy import UartRx, UartTx
from dure.sim.verif.bus import simulate


def _frame(byte):
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]


@pytest.mark.parametrize("divisor", [1, 3, 8])
def test_serializer_bit_timing(divisor):
    dut = UartTx()
    data = [0x55, 0x00, 0xFF, 0xA3]
    line = []

    async def feed(ctx):
        ctx.set(dut.divisor, divisor)
        for byte in data:
            ctx.set(dut.data.valid, 1)
            ctx.set(dut.data.payload, byte)
            await ctx.tick().until(dut.data.ready)
        ctx.set(dut.data.valid, 0)
        await ctx.tick().repeat(12 * divisor)

    async def monitor(ctx):
        while True:
            *_, tx = await ctx.tick().sample(dut.tx)
            line.append(tx)

    simulate(dut, [feed], [monitor])
    start = line.index(0)
    assert all(line[:start])
    # Back-to-back frames, each bit exactly `divisor` cycles long, then idle high.
    expected = [bit for byte in data for bit in _frame(byte) for _ in range(divisor)]
    assert line[start:start + len(expected)] == expected
    assert all(line[start + len(expected):])


@pytest.mark.parametrize("divisor", [2, 5, 16])
def test_deserializer_decodes_frames_and_flags_errors(divisor):
    dut = UartRx()
    # Two good frames, idle, a frame with a bad stop bit (dropped), idle, a good frame.
    frames = [_frame(0x3C), _frame(0x81), [1] * 3, _frame(0x00)[:-1] + [0], [1] * 12,
              _frame(0xFE)]
    received = []
    errors = []

    async def drive(ctx):
        ctx.set(dut.divisor, divisor)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(4)
        for bits in frames:
            for bit in bits:
                ctx.set(dut.rx, bit)
                await ctx.tick().repeat(divisor)
        if divisor > 2:                      # a glitch of one cycle: ignored
            ctx.set(dut.rx, 0)
            await ctx.tick()
            ctx.set(dut.rx, 1)
        await ctx.tick().repeat(4 * divisor + 4)

    async def monitor(ctx):
        while True:
            *_, valid, payload, frame_error = await ctx.tick().sample(
                dut.data.valid, dut.data.payload, dut.frame_error)
            if valid:
                received.append(payload)
            if frame_error:
                errors.append(1)

    simulate(dut, [drive], [monitor])
    assert received == [0x3C, 0x81, 0xFE]
    assert errors == [1]
