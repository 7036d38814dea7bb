# amaranth: UnusedElaboratable=no
"""NPU registers through the control block: reads, writes, byte enables, W1C, undefined offsets,
doorbell backpressure with a full queue, error recording and the interrupt."""

from dure.rtl.npu.commands import (
    ID_MAGIC,
    Control,
    ErrorCode,
    Opcode,
    Register,
    Status,
    config_word,
)
from dure.rtl.npu.control import NpuControl
from dure.rtl.npu.descriptor import encode
from dure.sim.verif.bus import BusInitiator, Request, simulate, transact
from dure.sim.verif.npu_control import StandInDatapath, reg_read, reg_write, submit

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4)


def _run(bench, hold=()):
    dut = NpuControl(CFG)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 10, hold=set(hold))
    async def top(ctx):
        await bench(ctx, dut, datapath)
    simulate(dut, [top], [datapath.run])


def test_read_write_registers():
    async def bench(ctx, dut, datapath):
        bus = dut.bus
        assert await reg_read(ctx, bus, "ID") == (ID_MAGIC, 0)
        assert await reg_read(ctx, bus, "CONFIG") == (config_word(CFG), 0)
        assert await reg_read(ctx, bus, "STATUS") == (0, 0)
        for name in ("DMA_BASE", "DMA_SIZE"):
            assert await reg_read(ctx, bus, name) == (0, 0)
            assert not await reg_write(ctx, bus, name, 0x1234_5678)
            assert not await reg_write(ctx, bus, name, 0xAABB_CCDD, be=0b0101)
            assert await reg_read(ctx, bus, name) == (0x12BB_56DD, 0)
        assert not await reg_write(ctx, bus, "CONTROL", 0xFFFF_FFFF)
        assert await reg_read(ctx, bus, "CONTROL") == (
            (Control.IRQ_ERROR | Control.IRQ_FENCE).value, 0)      # perf_clear reads 0
        # Read-only registers ignore writes; write-only registers read 0.
        assert not await reg_write(ctx, bus, "ID", 0)
        assert not await reg_write(ctx, bus, "ISSUED", 5)
        assert await reg_read(ctx, bus, "ID") == (ID_MAGIC, 0)
        assert await reg_read(ctx, bus, "ISSUED") == (0, 0)
        assert not await reg_write(ctx, bus, "CMD3", 0xDEAD_BEEF)
        assert await reg_read(ctx, bus, "CMD3") == (0, 0)
        assert await reg_read(ctx, bus, "DOORBELL") == (0, 0)
        assert await reg_read(ctx, bus, "ISSUED") == (0, 0)        # a read does not push
        # Undefined offsets answer err.
        defined = {r.value for r in Register}
        for offset in (0x28, 0x3C, 0x64, 0x7C, 0xD8, 0xFFFC):
            assert offset not in defined
            assert (await transact(ctx, bus, offset // 4))[1] == 1
            assert (await transact(ctx, bus, offset // 4, we=1, wdata=1))[1] == 1
    _run(bench)


def test_error_recording_w1c_and_irq():
    async def bench(ctx, dut, datapath):
        bus = dut.bus
        await submit(ctx, bus, [0] * 8)                            # BAD_OPCODE, seq 0
        await submit(ctx, bus, encode(Opcode.COMPUTE, m=1, k=9, n=1))   # DIM_TOO_LARGE, seq 1
        await submit(ctx, bus, encode(Opcode.FENCE))
        for _ in range(20):
            await ctx.tick()
        status, _ = await reg_read(ctx, bus, "STATUS")
        assert status == Status.ERROR.value
        assert await reg_read(ctx, bus, "ERROR") == (ErrorCode.BAD_OPCODE.value, 0)
        assert await reg_read(ctx, bus, "DONE") == (3, 0)
        assert not ctx.get(dut.irq)
        assert not await reg_write(ctx, bus, "CONTROL", Control.IRQ_ERROR.value)
        assert ctx.get(dut.irq)
        # A W1C write of other bits (or of the right bit in a disabled byte) keeps it.
        assert not await reg_write(ctx, bus, "STATUS", Status.FENCE_IRQ.value)
        assert not await reg_write(ctx, bus, "STATUS", 0xFF, be=0b0010)
        assert (await reg_read(ctx, bus, "STATUS"))[0] == Status.ERROR.value
        assert not await reg_write(ctx, bus, "STATUS", Status.ERROR.value)
        assert not ctx.get(dut.irq)
        assert (await reg_read(ctx, bus, "STATUS"))[0] == 0
        # The next failure is recorded afresh (window empty: DMA_WINDOW, seq 3).
        await submit(ctx, bus, encode(Opcode.LOAD, rows=1, cols=1, dram_stride=1))
        for _ in range(15):
            await ctx.tick()
        assert await reg_read(ctx, bus, "ERROR") == (3 << 8 | ErrorCode.DMA_WINDOW.value, 0)
        assert ctx.get(dut.irq)
    _run(bench)


def test_doorbell_backpressure_and_queue_full():
    # All units held: 3 commands fill the pending slots, 3 the validator and front, then the
    # queue (depth 4) fills; the next doorbell is not granted until a unit takes a command.
    load = encode(Opcode.LOAD, rows=1, cols=1, dram_addr=0x100, dram_stride=1)

    async def bench(ctx, dut, datapath):
        bus = dut.bus
        assert not await reg_write(ctx, bus, "DMA_SIZE", 0x1000)
        for index, word in enumerate(load):
            assert not await reg_write(ctx, bus, f"CMD{index}", word)
        pushed = 0
        while True:
            status, _ = await reg_read(ctx, bus, "STATUS")
            if status & Status.QUEUE_FULL.value:
                break
            assert status & Status.BUSY.value or pushed == 0
            assert not await reg_write(ctx, bus, "DOORBELL", 0)
            pushed += 1
            assert pushed < 20
        assert await reg_read(ctx, bus, "ISSUED") == (pushed, 0)
        assert pushed >= CFG.npu_queue_depth
        # The next doorbell waits (no grant) until the releaser lets the load unit go.
        initiator = BusInitiator(bus)
        await initiator.issue(ctx, [Request(Register.DOORBELL.value // 4, we=1)])
        assert initiator.grants[0] >= 50
        while not (await ctx.tick().sample(bus.rvalid))[-1]:
            pass
        for _ in range(200):
            await ctx.tick()
        assert await reg_read(ctx, bus, "ISSUED") == (pushed + 1, 0)
        assert await reg_read(ctx, bus, "DONE") == (pushed + 1, 0)
        assert await reg_read(ctx, bus, "STATUS") == (0, 0)

    dut = NpuControl(CFG)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 3, hold={"load"})

    async def releaser(ctx):
        # Clear the hold 50 cycles after the queue became full.
        while True:
            *_, req, addr, gnt = await ctx.tick().sample(dut.bus.req, dut.bus.addr,
                                                         dut.bus.gnt)
            if req and addr == Register.DOORBELL.value // 4 and not gnt:
                break
        for _ in range(50):
            await ctx.tick()
        datapath.hold.clear()

    async def top(ctx):
        await bench(ctx, dut, datapath)
    simulate(dut, [top], [datapath.run, releaser])
