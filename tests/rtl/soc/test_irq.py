"""External-interrupt controller: pending mirrors sources, enable masks irq_external."""

from dure.rtl.soc.irq import IrqController
from dure.rtl.soc.registers import IRQ_SOURCES, offset
from dure.sim.verif.bus import simulate, transact

PENDING = offset("irq", "pending") // 4
ENABLE = offset("irq", "enable") // 4


def test_pending_enable_and_output():
    dut = IrqController(len(IRQ_SOURCES))
    log = []

    async def bench(ctx):
        uart = 1 << IRQ_SOURCES["uart"]
        npu = 1 << IRQ_SOURCES["npu"]
        ctx.set(dut.sources, uart)
        log.append(ctx.get(dut.irq_external))                   # not enabled: 0
        log.append(await transact(ctx, dut.bus, PENDING))
        await transact(ctx, dut.bus, ENABLE, we=1, wdata=0xFFFF_FFFF)
        log.append(await transact(ctx, dut.bus, ENABLE))        # only the existing sources
        log.append(ctx.get(dut.irq_external))
        await transact(ctx, dut.bus, ENABLE, we=1, wdata=npu)
        log.append(ctx.get(dut.irq_external))                   # uart masked now
        ctx.set(dut.sources, uart | npu)
        log.append(ctx.get(dut.irq_external))
        ctx.set(dut.sources, 0)
        log.append(ctx.get(dut.irq_external))
        log.append(await transact(ctx, dut.bus, PENDING, we=1, wdata=3))   # read-only
        log.append(await transact(ctx, dut.bus, 2))

    simulate(dut, [bench])
    assert log == [0, (1, 0), (3, 0), 1, 0, 1, 0, (0, 0), (0, 1)]
