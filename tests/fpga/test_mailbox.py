"""ExitMailbox on its own (Amaranth simulator): the writes it makes and how long it holds the
core. The whole loop (program exit -> boot loader -> EXIT frame) is in test_simboard.py."""

from amaranth.sim import Simulator
from dure.fpga.mailbox import ExitMailbox
from dure.fpga.protocol import MAILBOX_MAGIC, mailbox_offsets

from dure.config import preset


def test_clear_then_exit_writes_code_and_magic():
    config = preset("ulx3s")
    dut = ExitMailbox(config)
    magic_off, code_off = mailbox_offsets(config.rom_size)
    writes = []
    holds = []

    async def target(ctx):
        # A bus target that grants every request and answers one cycle after the grant.
        ctx.set(dut.bus_free, 1)
        ctx.set(dut.bus.gnt, 1)
        async for _clk, _rst, req, addr, wdata, we, hold in ctx.tick().sample(
                dut.bus.req, dut.bus.addr, dut.bus.wdata, dut.bus.we, dut.hold):
            holds.append(hold)
            if req:
                writes.append((addr * 4, wdata, we))
            ctx.set(dut.bus.rvalid, req)

    async def driver(ctx):
        await ctx.tick().repeat(20)
        assert writes == [(magic_off, 0, 1)]              # cleared after reset
        assert not ctx.get(dut.hold)
        ctx.set(dut.exit_code, 0x2B)
        ctx.set(dut.exit_valid, 1)
        await ctx.tick()
        ctx.set(dut.exit_valid, 0)
        ctx.set(dut.exit_code, 0)                          # the code was latched
        assert ctx.get(dut.hold)
        await ctx.tick().repeat(20)
        assert writes[1:] == [(code_off, 0x2B, 1), (magic_off, MAILBOX_MAGIC, 1)]
        assert not ctx.get(dut.hold)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(target)
    sim.add_testbench(driver)
    sim.run_until(1e-6)
    assert holds[0] == 1                                   # the core is held from reset on
