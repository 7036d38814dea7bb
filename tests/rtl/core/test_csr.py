"""CSR file: WARL masks, trap entry / MRET, counters, interrupt priority."""

from amaranth.sim import Simulator
from dure.rtl.core.csr import CSRFile
from dure.rtl.core.isa import CSR, MISA_VALUE, TINFO_VALUE


def make():
    dut = CSRFile(hartid=5)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    return dut, sim


async def csr_op(ctx, dut, addr, op, value, write=True):
    """One CSR instruction: returns the old value, writes at the clock edge."""
    ctx.set(dut.op_valid, 1)
    ctx.set(dut.addr, addr)
    ctx.set(dut.op, op)
    ctx.set(dut.write, write)
    ctx.set(dut.wval, value)
    old = ctx.get(dut.rdata)
    await ctx.tick()
    ctx.set(dut.op_valid, 0)
    return old


async def read(ctx, dut, addr):
    ctx.set(dut.addr, addr)
    return ctx.get(dut.rdata)


def test_warl_fields():
    dut, sim = make()
    ones = 0xFFFF_FFFF

    async def bench(ctx):
        expect = {CSR.MSTATUS: 0x22_1888, CSR.MIE: 0x888, CSR.MTVEC: 0xFFFF_FFFD,
                  CSR.MEPC: 0xFFFF_FFFC, CSR.MCAUSE: ones, CSR.MTVAL: ones, CSR.MSCRATCH: ones,
                  CSR.MCOUNTINHIBIT: 0b101, CSR.MISA: MISA_VALUE, CSR.MSTATUSH: 0,
                  CSR.MIP: 0, CSR.MHARTID: 5, CSR.MVENDORID: 0, CSR.MCONFIGPTR: 0,
                  CSR.MCOUNTEREN: 0b111, CSR.TSELECT: 0, CSR.TDATA2: ones, CSR.TDATA3: 0,
                  CSR.TINFO: TINFO_VALUE, CSR.TCONTROL: 0x88}
        for csr, value in expect.items():
            await csr_op(ctx, dut, csr.value, 1, ones)
            assert await read(ctx, dut, csr.value) == value, csr
        # Set / clear.
        await csr_op(ctx, dut, CSR.MSCRATCH.value, 1, 0x00F0)
        assert await csr_op(ctx, dut, CSR.MSCRATCH.value, 2, 0x0F00) == 0x00F0
        assert await csr_op(ctx, dut, CSR.MSCRATCH.value, 3, 0x0030) == 0x0FF0
        assert await read(ctx, dut, CSR.MSCRATCH.value) == 0x0FC0
        # A read-only use (write = 0) changes nothing.
        await csr_op(ctx, dut, CSR.MSCRATCH.value, 1, 0, write=False)
        assert await read(ctx, dut, CSR.MSCRATCH.value) == 0x0FC0

    sim.add_testbench(bench)
    sim.run()


def test_trap_and_mret():
    dut, sim = make()

    async def bench(ctx):
        await csr_op(ctx, dut, CSR.MSTATUS.value, 1, 0x8)          # MIE = 1
        ctx.set(dut.trap, 1)
        ctx.set(dut.trap_interrupt, 1)
        ctx.set(dut.trap_cause, 7)
        ctx.set(dut.trap_tval, 0x1234)
        ctx.set(dut.trap_pc, 0x8000_0102)
        await ctx.tick()
        ctx.set(dut.trap, 0)
        assert await read(ctx, dut, CSR.MCAUSE.value) == 0x8000_0007
        assert await read(ctx, dut, CSR.MEPC.value) == 0x8000_0100
        assert await read(ctx, dut, CSR.MTVAL.value) == 0x1234
        assert await read(ctx, dut, CSR.MSTATUS.value) == 0x1880  # MPIE = 1, MIE = 0
        ctx.set(dut.mret, 1)
        await ctx.tick()
        ctx.set(dut.mret, 0)
        # MIE = MPIE, MPIE = 1, MPP = U; back in M-mode (MPP was M).
        assert await read(ctx, dut, CSR.MSTATUS.value) == 0x0088
        assert ctx.get(dut.prot.priv_m) == 1

    sim.add_testbench(bench)
    sim.run()


def test_counters():
    dut, sim = make()

    async def bench(ctx):
        c0 = await read(ctx, dut, CSR.MCYCLE.value)
        ctx.set(dut.retire, 1)
        for _ in range(3):
            await ctx.tick()
        ctx.set(dut.retire, 0)
        assert await read(ctx, dut, CSR.MCYCLE.value) == c0 + 3
        assert await read(ctx, dut, CSR.INSTRET.value) == 3
        await csr_op(ctx, dut, CSR.MCYCLE.value, 1, 0xFFFF_FFFF)
        assert await read(ctx, dut, CSR.CYCLE.value) == 0xFFFF_FFFF
        await ctx.tick()
        assert await read(ctx, dut, CSR.CYCLEH.value) == 1
        await csr_op(ctx, dut, CSR.MCOUNTINHIBIT.value, 1, 0b101)
        c1 = await read(ctx, dut, CSR.MCYCLE.value)
        ctx.set(dut.retire, 1)
        await ctx.tick()
        assert await read(ctx, dut, CSR.MCYCLE.value) == c1
        assert await read(ctx, dut, CSR.MINSTRET.value) == 3
        ctx.set(dut.mtime, 0x1_0000_0002)
        assert await read(ctx, dut, CSR.TIME.value) == 2
        assert await read(ctx, dut, CSR.TIMEH.value) == 1

    sim.add_testbench(bench)
    sim.run()


def test_interrupt_priority():
    dut, sim = make()

    async def bench(ctx):
        await csr_op(ctx, dut, CSR.MIE.value, 1, 0x888)
        for sw, tim, ext, cause in [(1, 1, 1, 11), (1, 1, 0, 3), (0, 1, 0, 7), (0, 1, 1, 11)]:
            ctx.set(dut.irq_software, sw)
            ctx.set(dut.irq_timer, tim)
            ctx.set(dut.irq_external, ext)
            assert ctx.get(dut.irq_cause) == cause
            assert ctx.get(dut.irq_waiting) and not ctx.get(dut.irq_pending)  # MIE = 0
            assert await read(ctx, dut, CSR.MIP.value) == sw << 3 | tim << 7 | ext << 11
        await csr_op(ctx, dut, CSR.MSTATUS.value, 2, 0x8)
        assert ctx.get(dut.irq_pending)
        await csr_op(ctx, dut, CSR.MIE.value, 3, 0x880)   # only MSIE left; MSIP is 0
        assert not ctx.get(dut.irq_waiting) and not ctx.get(dut.irq_pending)

    sim.add_testbench(bench)
    sim.run()
