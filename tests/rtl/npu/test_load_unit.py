"""LoadUnit with its DMA reader: lane conversion, zero lanes, broadcast, ACC target with a
stalling write port, bus error (no row written after the failing one)."""

import random

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from dure.rtl.npu.commands import ElemType, LoadTarget
from dure.rtl.npu.dma import Dma
from dure.rtl.npu.load_unit import LoadUnit, load_row_bytes
from dure.sim.verif.npu_datapath import Command, MemoryTarget, reference, send_stream

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=3, npu_cols=2, npu_spad_rows=16, npu_acc_rows=16)


class Bench(wiring.Component):
    def __init__(self):
        self.load = LoadUnit(CFG)
        self.dma = Dma(load_row_bytes(CFG), 8, depth=4)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.load = self.load
        m.submodules.dma = self.dma
        wiring.connect(m, self.load.rd_cmd, self.dma.rd_cmd)
        wiring.connect(m, self.dma.rd_rows, self.load.rd_rows)
        m.d.comb += [self.load.rd_done.eq(self.dma.rd_done),
                     self.load.rd_error.eq(self.dma.rd_error)]
        return m


def run(cmds, mem, err_words=(), acc_ready=0.5, seed=0):
    dut = Bench()
    rng = random.Random(seed)
    target = MemoryTarget(dut.dma.bus, mem, latency=3, jitter=2, gnt_probability=0.7,
                          seed=seed, err_words=set(err_words))
    writes, results = [], []
    load = dut.load

    async def bench(ctx):
        for cmd in cmds:
            fields = {k: getattr(v, "value", v) for k, v in cmd.fields.items()}
            await send_stream(ctx, load.cmd, [fields])
            while True:
                ready = int(rng.random() < acc_ready)
                ctx.set(load.acc_w.ready, ready)
                ctx.set(load.spad_w.ready, 1)
                _, _, sv, sp, av, ap, done, err = await ctx.tick().sample(
                    load.spad_w.valid, load.spad_w.payload, load.acc_w.valid,
                    load.acc_w.payload, load.done, load.bus_error)
                if sv:
                    writes.append(("spad", sp.addr, [sp.data[i] for i in range(3)]))
                if av and ready:
                    assert ap.mask == 0b11
                    writes.append(("acc", ap.addr, [ap.data[i] for i in range(2)]))
                if done:
                    results.append(err)
                    break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(target.serve, background=True)
    sim.add_testbench(bench)
    sim.run()
    return writes, results


def expected_writes(cmds, mem):
    """(memory, row, lanes) of every row write the reference makes, in order."""
    out = []
    for cmd in cmds:
        _, spad, acc = reference(CFG, [cmd], mem)
        tgt, arr = ("acc", acc) if cmd.get("target") else ("spad", spad)
        for r in range(cmd.get("rows")):
            row = cmd.get("local_addr") + r
            out.append((tgt, row, [int(v) for v in arr[row]]))
    return out


def test_loads():
    rng = random.Random(2)
    mem = bytearray(rng.randbytes(256))
    cmds = [
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=3,
                             dram_stride=7, rows=4, cols=3, local_addr=2)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=41,
                             dram_stride=5, rows=3, cols=1, local_addr=9)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=66,
                             dram_stride=10, rows=3, cols=2, local_addr=0)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=102,
                             dram_stride=0, rows=5, cols=3, local_addr=11, broadcast=1)),
        Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=120,
                             dram_stride=12, rows=3, cols=2, local_addr=4)),
        Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=200,
                             dram_stride=0, rows=4, cols=1, local_addr=12, broadcast=1)),
    ]
    writes, errors = run(cmds, mem)
    assert errors == [0] * len(cmds)
    assert writes == expected_writes(cmds, mem)


def test_bus_error_stops_writes():
    mem = bytearray(random.Random(3).randbytes(256))
    bad = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=2,
                               dram_stride=20, rows=6, cols=3, local_addr=0))
    good = Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=160,
                                dram_stride=8, rows=2, cols=2, local_addr=3))
    writes, errors = run([bad, good], mem, err_words={(2 + 3 * 20) // 4})
    assert errors == [1, 0]
    assert writes == expected_writes([bad], mem)[:3] + expected_writes([good], mem)
