"""The single-unit NPU benches (sim/verif/npu_unit_bench.py): ExecBench is sized by its config
and preload / read_acc_row / write_acc_row round-trip the ACC, PulseLog counts the one
``done`` pulse of a COMPUTE; LoadBench with load_cycle sees a fill LOAD's row writes."""

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_unit_bench import (
    ExecBench,
    LoadBench,
    PulseLog,
    issue,
    load_cycle,
    preload,
    read_acc_row,
    write_acc_row,
)

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=2, npu_cols=2, npu_fp16=False, npu_spad_rows=16, npu_acc_rows=16)


def test_exec_bench_round_trip_and_pulse_log():
    dut = ExecBench(CFG)
    spad = np.arange(32).reshape(16, 2) - 16
    acc = np.arange(32).reshape(16, 2) * 1000 - 5000
    monitor = PulseLog(dut.ex.done)
    got = {}

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, 8)
        await write_acc_row(ctx, dut, 7, [11, 22])
        got["before"] = [await read_acc_row(ctx, dut.acc, r, 2) for r in range(8)]
        await issue(ctx, dut.ex, dict(a_addr=0, w_addr=4, acc_addr=0, m=1, k=1, n=1,
                                      accumulate=0, precision=0))
        while not monitor.pulses:
            await ctx.tick()
        got["after"] = await read_acc_row(ctx, dut.acc, 0, 2)

    simulate(dut, [bench], [monitor.run])
    want = [[int(v) & 0xFFFF_FFFF for v in acc[r]] for r in range(7)] + [[11, 22]]
    assert got["before"] == want
    assert len(monitor.pulses) == 1 and monitor.cycle > monitor.pulses[0]
    # one product: spad[0][0] * spad[4][0] into lane 0, lane 1 untouched (n = 1)
    assert got["after"] == [(int(spad[0][0]) * int(spad[4][0])) & 0xFFFF_FFFF, want[0][1]]


def test_load_bench_fill_writes():
    config = SoCConfig(npu_rows=3, npu_cols=2, npu_spad_rows=16, npu_acc_rows=16)
    dut = LoadBench(config)
    writes, result = [], {}

    async def bench(ctx):
        ctx.set(dut.load.cmd.payload, dict(target=LoadTarget.SPAD.value,
                                           elem=ElemType.INT8.value, fill=1,
                                           fill_value=0x7F, rows=2, cols=3, local_addr=5))
        ctx.set(dut.load.cmd.valid, 1)
        await ctx.tick().until(dut.load.cmd.ready)
        ctx.set(dut.load.cmd.valid, 0)
        for _ in range(50):
            done, err = await load_cycle(ctx, dut.load, writes, acc_ready=1,
                                         spad_lanes=config.npu_lanes, acc_lanes=2)
            if done:
                result["err"] = err
                return
        raise AssertionError("the LOAD never finished")

    simulate(dut, [bench])
    assert result["err"] == 0
    assert writes == [("spad", 5, [0x7F, 0x7F, 0x7F]), ("spad", 6, [0x7F, 0x7F, 0x7F])]
