# amaranth: UnusedElaboratable=no
"""Performance counters: event sums against the behavioural datapath's own totals, stall_dep,
CONTROL.perf_clear, and the HI latch on LO reads."""

import pytest
from dure.rtl.npu.commands import (
    PERF_COUNTERS,
    Control,
    ElemType,
    LoadTarget,
    Opcode,
    OutType,
    Status,
)
from dure.rtl.npu.control import NpuControl
from dure.rtl.npu.descriptor import encode
from dure.rtl.npu.perf import PerfCounters
from dure.rtl.npu.regs import NpuRegisters
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_control import StandInDatapath, reg_read, reg_write, submit

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4)
BASE = 0x4000_0000


async def read64(ctx, bus, name):
    lo, err_lo = await reg_read(ctx, bus, f"PERF_{name}_LO")
    hi, err_hi = await reg_read(ctx, bus, f"PERF_{name}_HI")
    assert not err_lo and not err_hi
    return hi << 32 | lo


def test_counters_match_datapath_events():
    dut = NpuControl(CFG)
    datapath = StandInDatapath(dut.datapath,
                               latency=lambda unit, f: 60 + f.get("rows", f.get("m", 0)))
    seen = {}

    async def bench(ctx):
        bus = dut.bus
        assert not await reg_write(ctx, bus, "DMA_BASE", BASE)
        assert not await reg_write(ctx, bus, "DMA_SIZE", 0x1000)
        load = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=BASE,
                      dram_stride=4, rows=4, cols=4, local_addr=0)
        compute = encode(Opcode.COMPUTE, a_addr=0, w_addr=8, acc_addr=0, m=4, k=3, n=2)
        store = encode(Opcode.STORE, out=OutType.INT32, dram_addr=BASE, dram_stride=16, rows=4,
                       cols=4, acc_addr=0)
        for words in (load, compute, store, load, compute, store):   # dependent chain
            await submit(ctx, bus, words)
        while (await reg_read(ctx, bus, "STATUS"))[0] & Status.BUSY.value:
            pass
        for name in PERF_COUNTERS:
            seen[name] = await read64(ctx, bus, name)
        assert not await reg_write(ctx, bus, "CONTROL", Control.PERF_CLEAR.value)
        seen["cleared"] = [await read64(ctx, bus, name) for name in PERF_COUNTERS]
        seen["control"] = (await reg_read(ctx, bus, "CONTROL"))[0]

    simulate(dut, [bench], [datapath.run])
    totals = datapath.totals
    assert seen["MACS"] == totals["macs"] > 0
    assert seen["COMPUTE"] == totals["compute_rows"] > 0
    assert seen["DMA_RD"] == totals["rd"] > 0
    assert seen["DMA_WR"] == totals["wr"] > 0
    assert seen["STALL_MEM"] == totals["stall_mem"] > 0
    assert seen["STALL_OUT"] == totals["stall_out"] > 0
    runs = datapath.runs
    span = max(r.done for r in runs) - min(r.accepted for r in runs)
    assert span < seen["BUSY"] < span + 300
    # Every command but the first waited for its predecessor with its unit idle.
    assert seen["STALL_DEP"] >= 4 * (60 + 4 - 30)
    assert seen["cleared"] == [0] * len(PERF_COUNTERS)
    assert seen["control"] == 0


def test_hi_is_latched_on_lo_read():
    dut = NpuRegisters(CFG)

    async def bench(ctx):
        from dure.sim.verif.bus import transact
        values = [(i + 1) * 0x1_0000_0001 + (0xFFFF_FFFF if i == 3 else 0)
                  for i in range(len(PERF_COUNTERS))]
        ctx.set(dut.perf, values)
        ctx.set(dut.push.ready, 1)
        base = 0x80 // 4
        lo, _ = await transact(ctx, dut.bus, base + 2 * 3)
        ctx.set(dut.perf, [v + (5 << 32) for v in values])        # the counter moves on
        hi, _ = await transact(ctx, dut.bus, base + 2 * 3 + 1)
        assert hi << 32 | lo == values[3]
        # Each counter has its own latch: reading another LO does not disturb counter 3's.
        lo0, _ = await transact(ctx, dut.bus, base)
        hi3, _ = await transact(ctx, dut.bus, base + 7)
        hi0, _ = await transact(ctx, dut.bus, base + 1)
        assert hi3 == values[3] >> 32
        assert hi0 << 32 | lo0 == values[0] + (5 << 32)

    simulate(dut, [bench])


def test_perf_counter_unit_adds_wraps_and_clears():
    dut = PerfCounters()

    async def bench(ctx):
        ctx.set(dut.macs, 0xFFFF)
        ctx.set(dut.dma_rd_bytes, 4)
        ctx.set(dut.busy, 1)
        for _ in range(10):
            await ctx.tick()
        counters = ctx.get(dut.counters)
        assert counters[0] == 10 and counters[1] == 10 * 0xFFFF and counters[3] == 40
        assert counters[2] == counters[4] == counters[5] == 0
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert list(ctx.get(dut.counters)) == [0] * len(PERF_COUNTERS)

    simulate(dut, [bench])


def test_perf_counter_unit_32_bits_wraps_at_2_32():
    """``npu_perf_bits = 32``: the counters wrap modulo 2**32 and their upper halves are 0."""
    from amaranth.sim import Simulator
    dut = PerfCounters(32)
    with pytest.raises(ValueError, match="32 or 64"):
        PerfCounters(48)

    async def bench(ctx):
        ctx.set(dut.macs, 0xFFFF)
        ctx.set(dut.busy, 1)
        for _ in range(65540):
            await ctx.tick()
        counters = ctx.get(dut.counters)
        assert counters[1] == (65540 * 0xFFFF) % (1 << 32)
        assert counters[0] == 65540

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def _split(trace):
    """FILL, GAPS, DRAIN of a (busy, row) trace, from their definitions (perf.py)."""
    busy = [i for i, (b, _) in enumerate(trace) if b]
    rows = [i for i, (_, r) in enumerate(trace) if r]
    if not rows:
        return (len(trace) - busy[0] if busy else 0), 0, 0
    fill = rows[0] - busy[0] if busy and busy[0] < rows[0] else 0
    gaps = rows[-1] - rows[0] + 1 - len(rows)
    after = [i for i in busy if i > rows[-1]]
    return fill, gaps, (after[-1] - rows[-1] if after else 0)


@pytest.mark.parametrize("seed", range(4))
def test_fill_gaps_drain_split_the_cycles_around_the_rows(seed):
    """FILL / GAPS / DRAIN against their definitions on random busy / row traces (idle lead-in,
    bursts of rows, idle holes while busy, idle cycles after the end), cleared mid-way; a row
    is an array row (``compute_row``) or an element-wise row (``lane_row``, seeds 2 and 3:
    bursts of either), and only the array's count as COMPUTE."""
    import random
    rng = random.Random(seed)
    fill, gaps, drain = (PERF_COUNTERS.index(n) for n in ("FILL", "GAPS", "DRAIN"))
    dut = PerfCounters()

    def trace():
        t = [(0, 0)] * rng.randrange(0, 5) + [(1, 0)] * rng.randrange(0, 30)
        for _ in range(rng.randrange(0, 6)):
            t += [(1, 1)] * rng.randrange(1, 12)
            t += [(rng.random() < 0.8, 0) for _ in range(rng.randrange(0, 20))]
        return t + [(1, 0)] * rng.randrange(0, 9) + [(0, 0)] * rng.randrange(0, 5)

    async def bench(ctx):
        for _ in range(3):
            t = trace()
            lane = [seed >= 2 and (i // 7) % 2 == 1 for i in range(len(t))]
            for (b, r), e in zip(t, lane, strict=True):
                ctx.set(dut.busy, b)
                ctx.set(dut.compute_row, r and not e)
                ctx.set(dut.lane_row, r and e)
                await ctx.tick()
            ctx.set(dut.busy, 0)
            ctx.set(dut.compute_row, 0)
            ctx.set(dut.lane_row, 0)
            counters = ctx.get(dut.counters)
            assert counters[PERF_COUNTERS.index("COMPUTE")] == \
                sum(r and not e for (_, r), e in zip(t, lane, strict=True))
            assert (counters[fill], counters[gaps], counters[drain]) == _split(t), t
            rows = sum(r for _, r in t)
            busy = [i for i, (b, r) in enumerate(t) if b or r]
            if rows and busy:
                assert counters[fill] + counters[gaps] + counters[drain] + rows == \
                    busy[-1] - busy[0] + 1
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            assert list(ctx.get(dut.counters)) == [0] * len(PERF_COUNTERS)

    simulate(dut, [bench])
