"""ExecUnit with a 2x2 INT8 array, SPAD and ACC: pipelined COMPUTEs, lane masks (n < cols),
accumulate / overwrite, a dependent COMPUTE after done, ACC write contention from LOAD."""


import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from dure.rtl.npu.acc import Accumulator
from dure.rtl.npu.array import SystolicArray
from dure.rtl.npu.exec_unit import ExecUnit
from dure.rtl.npu.spad import Scratchpad
from dure.sim import golden

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=2, npu_cols=2, npu_fp16=False, npu_spad_rows=16, npu_acc_rows=16)


class Bench(wiring.Component):
    def __init__(self):
        self.spad = Scratchpad(16, 2)
        self.acc = Accumulator(16, 2)
        self.array = SystolicArray(2, 2, fp16=False)
        self.ex = ExecUnit(CFG)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.spad, m.submodules.acc = self.spad, self.acc
        m.submodules.array, m.submodules.ex = self.array, self.ex
        ex = self.ex
        wiring.connect(m, ex.spad_a, self.spad.ra)
        wiring.connect(m, ex.spad_w, self.spad.rw)
        wiring.connect(m, ex.acc_r, self.acc.r_exec)
        wiring.connect(m, ex.acc_w, self.acc.w_exec)
        wiring.connect(m, ex.ops, self.array.ops)
        wiring.connect(m, ex.weights, self.array.weights)
        wiring.connect(m, self.array.results, ex.results)
        return m


def test_compute_sequence():
    rng = np.random.default_rng(7)
    spad = rng.integers(-128, 128, (16, 2)).astype(np.int64)
    acc = rng.integers(-2**31, 2**31, (16, 2)).astype(np.int64)
    cmds = [
        dict(a_addr=0, w_addr=8, acc_addr=0, m=5, k=2, n=2, accumulate=1),
        dict(a_addr=3, w_addr=10, acc_addr=6, m=4, k=1, n=1, accumulate=0),
        dict(a_addr=1, w_addr=12, acc_addr=10, m=3, k=2, n=2, accumulate=1),
        dict(a_addr=5, w_addr=14, acc_addr=0, m=5, k=2, n=1, accumulate=1),   # after #0
    ]
    waits = [[], [], [], [0]]
    expect = acc.copy()
    for c in cmds:
        a = spad[c["a_addr"]:c["a_addr"] + c["m"], :c["k"]].astype(np.int8)
        w = spad[c["w_addr"]:c["w_addr"] + c["k"], :c["n"]].astype(np.int8)
        rows = slice(c["acc_addr"], c["acc_addr"] + c["m"])
        init = expect[rows, :c["n"]] if c["accumulate"] else 0
        res = golden.gemm_int8(a, w).astype(np.int64) + init
        expect[rows, :c["n"]] = (res + 2**31) % 2**32 - 2**31
    side = {13: [5, 6], 14: [7, 8], 15: [9, 10]}      # LOAD writes during the COMPUTEs
    expect[13:16] = [side[13], side[14], side[15]]
    dut = Bench()
    done = []

    async def bench(ctx):
        for r in range(16):
            ctx.set(dut.spad.w.payload, {"addr": r, "data": [int(v) & 0xFFFF for v in spad[r]]})
            ctx.set(dut.spad.w.valid, 1)
            ctx.set(dut.acc.w_load.payload, {"addr": r, "data": [int(v) & 0xFFFF_FFFF
                                                                 for v in acc[r]], "mask": 3})
            ctx.set(dut.acc.w_load.valid, 1)
            await ctx.tick()
        ctx.set(dut.spad.w.valid, 0)
        ctx.set(dut.acc.w_load.valid, 0)
        for c, wait in zip(cmds, waits, strict=True):
            while any(j >= len(done) for j in wait):
                await ctx.tick()
            ctx.set(dut.ex.cmd.payload, {**c, "precision": 0})
            ctx.set(dut.ex.cmd.valid, 1)
            await ctx.tick().until(dut.ex.cmd.ready)
            ctx.set(dut.ex.cmd.valid, 0)
        while len(done) < len(cmds):
            await ctx.tick()
        for r in range(16):
            ctx.set(dut.acc.r_store.addr, r)
            ctx.set(dut.acc.r_store.en, 1)
            await ctx.tick()
            got = [ctx.get(dut.acc.r_store.data[j]) for j in range(2)]
            assert got == [int(v) & 0xFFFF_FFFF for v in expect[r]], f"ACC row {r}"

    async def loader(ctx):
        await ctx.tick().repeat(20)
        for row, data in side.items():
            ctx.set(dut.acc.w_load.payload, {"addr": row, "data": data, "mask": 3})
            ctx.set(dut.acc.w_load.valid, 1)
            await ctx.tick().until(dut.acc.w_load.ready)
            ctx.set(dut.acc.w_load.valid, 0)

    async def monitor(ctx):
        while True:
            _, _, pulse = await ctx.tick().sample(dut.ex.done)
            if pulse:
                done.append(1)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(loader)
    sim.add_testbench(monitor, background=True)
    sim.run()


def test_walk_and_diagonal_against_the_model():
    """Walked A rows (steps 2 / 5, steps 0) and diagonal COMPUTEs, back to back, equal the
    command model; ev_macs counts only the products that take part."""
    from dure.rtl.npu.commands import Opcode
    from dure.sim.npu_model import NpuModel

    rng = np.random.default_rng(11)
    spad = rng.integers(-128, 128, (16, 2)).astype(np.int16).view(np.uint16)
    acc = rng.integers(0, 2**32, (16, 2), dtype=np.uint64).astype(np.uint32)
    cmds = [
        dict(a_addr=1, w_addr=12, acc_addr=0, m=4, k=2, n=2, accumulate=1,
             a_cols=2, a_rows=2, a_col_step=2, a_row_step=5),          # rows 1, 3, 6, 8
        dict(a_addr=4, w_addr=14, acc_addr=5, m=3, k=2, n=2, a_cols=3, a_rows=1),  # row 4 x3
        dict(a_addr=0, w_addr=10, acc_addr=9, m=3, k=2, n=2, accumulate=1, diagonal=1),
        dict(a_addr=2, w_addr=8, acc_addr=12, m=3, k=1, n=2, accumulate=1, diagonal=1,
             a_cols=1, a_rows=3, a_row_step=3),                         # rows 2, 5, 8
        dict(a_addr=15, w_addr=6, acc_addr=15, m=1, k=2, n=1, diagonal=1, a_cols=1, a_rows=1,
             a_col_step=0xFFFF, a_row_step=0xFFFF),
    ]
    model = NpuModel(CFG)
    model.spad[:] = spad
    model.acc[:] = acc
    for c in cmds:
        model.apply(Opcode.COMPUTE, {**c, "precision": 0})
    dut = Bench()
    done = []
    macs = []

    async def bench(ctx):
        for r in range(16):
            ctx.set(dut.spad.w.payload, {"addr": r, "data": [int(v) for v in spad[r]]})
            ctx.set(dut.spad.w.valid, 1)
            ctx.set(dut.acc.w_load.payload, {"addr": r, "data": [int(v) for v in acc[r]],
                                             "mask": 3})
            ctx.set(dut.acc.w_load.valid, 1)
            await ctx.tick()
        ctx.set(dut.spad.w.valid, 0)
        ctx.set(dut.acc.w_load.valid, 0)
        for c in cmds:
            ctx.set(dut.ex.cmd.payload, {**c, "precision": 0})
            ctx.set(dut.ex.cmd.valid, 1)
            await ctx.tick().until(dut.ex.cmd.ready)
            ctx.set(dut.ex.cmd.valid, 0)
        while len(done) < len(cmds):
            await ctx.tick()
        for r in range(16):
            ctx.set(dut.acc.r_store.addr, r)
            ctx.set(dut.acc.r_store.en, 1)
            await ctx.tick()
            got = [ctx.get(dut.acc.r_store.data[j]) for j in range(2)]
            assert got == [int(v) for v in model.acc[r]], f"ACC row {r}"

    async def monitor(ctx):
        while True:
            _, _, pulse, ev = await ctx.tick().sample(dut.ex.done, dut.ex.ev_macs)
            macs.append(ev)
            if pulse:
                done.append(1)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(monitor, background=True)
    sim.run()
    assert sum(macs) == model.macs == 4 * 4 + 3 * 4 + 3 * 2 + 3 * 1 + 1
