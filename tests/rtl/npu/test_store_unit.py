"""StoreUnit with its DMA writer, an ACC and the real PostProcess: every output type, scale
row, clamp, odd alignments and strides, a slow bus, and a bus error."""

import dataclasses
import random

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from dure.rtl.npu.acc import Accumulator
from dure.rtl.npu.commands import ElemType, LoadTarget, OutType
from dure.rtl.npu.dma import Dma
from dure.rtl.npu.isa import Precision
from dure.rtl.npu.store_unit import StoreUnit, store_row_bytes
from dure.sim.verif import coverage
from dure.sim.verif.npu_datapath import (
    Command,
    MemoryTarget,
    check_stores,
    reference,
    send_stream,
    store_mode,
)

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=2, npu_cols=3, npu_spad_rows=16, npu_acc_rows=16)
ACC_AT = 256        # ACC contents live here in the memory image (loaded by the reference)


class Bench(wiring.Component):
    def __init__(self, config=CFG):
        self.acc = Accumulator(16, config.npu_cols)
        self.store = StoreUnit(config)
        self.dma = Dma(8, store_row_bytes(config), depth=4)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.acc, m.submodules.store, m.submodules.dma = self.acc, self.store, self.dma
        st = self.store
        wiring.connect(m, st.acc_r, self.acc.r_store)
        wiring.connect(m, st.wr_cmd, self.dma.wr_cmd)
        wiring.connect(m, st.wr_rows, self.dma.wr_rows)
        m.d.comb += [st.wr_done.eq(self.dma.wr_done), st.wr_error.eq(self.dma.wr_error)]
        return m


def acc_image(rng):
    """16 ACC rows: rows 0-5 int32, rows 6-11 fp32, row 14 int scales, row 15 fp scales."""
    acc = np.zeros((16, 3), np.uint32)
    acc[0:6] = rng.integers(-40000, 40000, (6, 3)).astype(np.int32).view(np.uint32)
    acc[6:12] = (rng.standard_normal((6, 3)) * 50).astype(np.float32).view(np.uint32)
    acc[7, 1] = 0x7FC00001          # a NaN
    acc[14] = np.float32([0.004, 0.01, 0.0007]).view(np.uint32)
    acc[15] = np.float32([0.5, -1.5, 3.0]).view(np.uint32)
    return acc


def f32(x):
    return int(np.float32(x).view(np.uint32))


def run(cmds, err_words=(), seed=0, image=None, config=CFG):
    """Run ``cmds`` on the bench (ACC rows from ``image(rng)``, default :func:`acc_image`);
    returns (memory, the command model's memory, bus error per command)."""
    rng = np.random.default_rng(seed)
    acc = (image or acc_image)(rng)
    c = config.npu_cols
    mem = bytearray(random.Random(seed).randbytes(ACC_AT)) + bytearray(acc.tobytes())
    preload = Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32,
                                   dram_addr=ACC_AT, dram_stride=4 * c, rows=16, cols=c,
                                   local_addr=0))
    expect, _, _ = reference(config, [preload] + cmds, mem)
    dut = Bench(config)
    target = MemoryTarget(dut.dma.bus, mem, latency=4, jitter=3, gnt_probability=0.6,
                          seed=seed, err_words=set(err_words))
    errors = []

    async def bench(ctx):
        for r in range(16):
            ctx.set(dut.acc.w_load.payload, {"addr": r, "data": [int(v) for v in acc[r]],
                                             "mask": (1 << c) - 1})
            ctx.set(dut.acc.w_load.valid, 1)
            await ctx.tick()
        ctx.set(dut.acc.w_load.valid, 0)
        for cmd in cmds:
            fields = {k: getattr(v, "value", v) for k, v in cmd.fields.items()}
            await send_stream(ctx, dut.store.cmd, [fields])
            while True:
                _, _, done, err = await ctx.tick().sample(dut.store.done, dut.store.bus_error)
                if done:
                    errors.append(err)
                    break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(target.serve, background=True)
    sim.add_testbench(bench)
    sim.run()
    return mem, expect, errors


def store(**kw):
    return Command("store", kw)


def test_every_output_type():
    cmds = [
        store(out=OutType.INT8, acc_type=Precision.INT8, scale=1, zero_point=-5,
              lo=(-100) & 0xFFFF_FFFF, hi=70, dram_addr=1, dram_stride=5, rows=4, cols=3,
              acc_addr=0, scale_addr=14),
        store(out=OutType.INT32, acc_type=Precision.INT8, dram_addr=40, dram_stride=16,
              rows=3, cols=2, acc_addr=2),
        store(out=OutType.FP16, acc_type=Precision.INT8, scale=1, clamp=1, lo=f32(-20.0),
              hi=f32(60.0), dram_addr=94, dram_stride=6, rows=5, cols=3, acc_addr=1,
              scale_addr=14),
        store(out=OutType.FP16, acc_type=Precision.FP16, scale=1, clamp=1, lo=0,
              hi=f32(1000.0), dram_addr=130, dram_stride=8, rows=6, cols=3, acc_addr=6,
              scale_addr=15),
        store(out=OutType.FP32, acc_type=Precision.FP16, dram_addr=180, dram_stride=12,
              rows=2, cols=3, acc_addr=7),
        store(out=OutType.FP32, acc_type=Precision.FP16, scale=1, dram_addr=212,
              dram_stride=8, rows=2, cols=1, acc_addr=10, scale_addr=15),
    ]
    mem, expect, errors = run(cmds)
    check_stores(cmds, mem, expect, errors)


def test_bus_error():
    bad = store(out=OutType.INT32, acc_type=Precision.INT8, dram_addr=0, dram_stride=12,
                rows=6, cols=3, acc_addr=0)
    good = store(out=OutType.INT8, acc_type=Precision.INT8, scale=1, lo=(-128) & 0xFFFF_FFFF,
                 hi=127, dram_addr=200, dram_stride=3, rows=2, cols=3, acc_addr=3,
                 scale_addr=14)
    mem, expect, errors = run([bad, good], err_words={4})      # the word at byte 16: row 1
    assert errors == [1, 0]
    assert mem[200:206] == expect[200:206]
    assert mem[:16] == expect[:16]                             # row 0 and row 1's first word
    assert mem[36:72] != expect[36:72]                         # rows 3.. never written


def test_tflite_requant_modes():
    """One STORE per TFLite mode: multipliers in ACC row 12, shifts in row 13 (preloaded by
    the reference too, so the command model reads the same two rows)."""
    from dure.rtl.npu.commands import RequantMode
    global acc_image
    plain = acc_image

    def with_params(rng):
        acc = plain(rng)
        acc[12] = np.array([1 << 30, 0x7FFF_FFFF, 1_500_000_000], np.uint32)
        acc[13] = np.array([-8, -12, 30], np.int32).view(np.uint32)     # 30: saturates
        acc[0, 0] = 0x8000_0000                                          # INT32_MIN
        acc[1, 1] = 0x7FFF_FFFF                                          # INT32_MAX
        acc[2] = np.array([128, -384, 3], np.int32).view(np.uint32)      # ties
        return acc

    acc_image = with_params
    try:
        cmds = [
            store(out=OutType.INT8, acc_type=Precision.INT8, scale=1, zero_point=mode_zp,
                  lo=(-120) & 0xFFFF_FFFF, hi=100, dram_addr=addr, dram_stride=4, rows=6,
                  cols=3, acc_addr=0, scale_addr=12, requant=mode)
            for mode, mode_zp, addr in ((RequantMode.TFLITE_DOUBLE_ROUNDING, 3, 9),
                                        (RequantMode.TFLITE_SINGLE_ROUNDING, -7, 40))
        ]
        mem, expect, errors = run(cmds, seed=3)
    finally:
        acc_image = plain
    check_stores(cmds, mem, expect, errors)
    # The two roundings differ on this data (so the mode really selects the path).
    assert mem[9:33] != mem[40:64]


@pytest.mark.parametrize("wait_reg", [False, True])
def test_lane_scales(wait_reg):
    """``lane_scales``: one column of channels, row r taking lane r % C of parameter group
    r // C (C = 3 here, so groups change mid-STORE), in each requantization mode and for the
    fp outputs; bit-exact with the command model, which reads the same ACC rows."""
    from dure.rtl.npu.commands import RequantMode
    global acc_image
    plain = acc_image

    def with_params(rng):
        acc = plain(rng)
        acc[0:6, 0] = np.array([-2**31, 2**31 - 1, 128, -384, 77, -5000], np.int32).view(
            np.uint32)
        # TFLite groups at rows 8..11: (multipliers, shifts) x 2 groups of 3 channels.
        acc[8] = np.array([1 << 30, 0x7FFF_FFFF, 1_500_000_000], np.uint32)
        acc[9] = np.array([-8, -12, 30], np.int32).view(np.uint32)
        acc[10] = np.array([1_200_000_000, 1 << 30, 2_000_000_000], np.uint32)
        acc[11] = np.array([-1, -31, 2], np.int32).view(np.uint32)
        return acc

    lo = (-120) & 0xFFFF_FFFF
    acc_image = with_params
    try:
        cmds = [store(out=OutType.INT8, acc_type=Precision.INT8, scale=1, lane_scales=1,
                      zero_point=zp, lo=lo, hi=100, dram_addr=addr, dram_stride=stride,
                      rows=6, cols=1, acc_addr=0, scale_addr=8, requant=mode)
                for mode, zp, addr, stride in ((RequantMode.TFLITE_DOUBLE_ROUNDING, 3, 9, 1),
                                               (RequantMode.TFLITE_SINGLE_ROUNDING, -7, 40, 2),
                                               (RequantMode.FLOAT_SCALE, 1, 60, 1))]
        cmds[2].fields["scale_addr"] = 14          # fp32 scales: rows 14, 15 (p = 1)
        cmds += [
            store(out=OutType.FP16, acc_type=Precision.FP16, scale=1, lane_scales=1, clamp=1,
                  lo=f32(-30.0), hi=f32(30.0), dram_addr=80, dram_stride=2, rows=5, cols=1,
                  acc_addr=6, scale_addr=14),
            store(out=OutType.FP16, acc_type=Precision.INT8, scale=1, lane_scales=1,
                  dram_addr=100, dram_stride=4, rows=4, cols=1, acc_addr=2, scale_addr=14),
            # Plain per-column STORE right after: the unit starts from scale_addr again.
            store(out=OutType.INT8, acc_type=Precision.INT8, scale=1, lo=lo, hi=100,
                  dram_addr=120, dram_stride=3, rows=2, cols=3, acc_addr=0, scale_addr=14),
        ]
        mem, expect, errors = run(cmds, seed=5,
                                  config=dataclasses.replace(CFG, npu_store_wait_reg=wait_reg))
    finally:
        acc_image = plain
    check_stores(cmds, mem, expect, errors)
    # Per-row parameters really differ from lane 0's: the same rows with lane 0's scale
    # alone would give another output.
    rng = np.random.default_rng(5)
    acc = with_params(rng)
    from dure.sim.postproc_ref import postprocess
    lane0 = postprocess(acc[0:6, :1], acc[8, :1], acc_type=Precision.INT8, out=OutType.INT8,
                        scale_en=True, clamp_en=False, zero_point=3, lo=lo, hi=100,
                        requant=RequantMode.TFLITE_DOUBLE_ROUNDING, shift=acc[9, :1])
    assert bytes(mem[9:15]) != bytes(lane0.astype(np.uint8).reshape(-1))


def store_for_mode(mode, dram_addr):
    """One STORE of coverage bin ``mode`` (``npu.store_mode``) on the ACC of
    :func:`mode_image`, writing at ``dram_addr``; returns (command, bytes it spans)."""
    from dure.rtl.npu.commands import RequantMode
    pair, *rest = mode.split("/")
    acc, out = pair.split("->")
    f = dict(acc_type=Precision[acc], out=OutType[out])
    scales = rest[1] if pair == "INT8->INT8" else rest[0]
    if scales != "none" and scales != "raw":
        f["scale"] = 1
    if scales == "lane_scales":
        f["lane_scales"] = 1
    rows, cols = (3, 1) if scales == "lane_scales" else (2, 3)
    if pair == "INT8->INT8":
        requant = RequantMode[rest[0]]
        f.update(requant=requant, zero_point=3, lo=(-120) & 0xFFFF_FFFF, hi=100,
                 scale_addr=14 if requant == RequantMode.FLOAT_SCALE else 12)
    elif acc == "INT8":
        f["scale_addr"] = 14
    else:
        f["scale_addr"] = 15
    if rest[-1] == "clamp":
        f.update(clamp=1, lo=f32(-20.0), hi=f32(25.0))
    size = {"INT8": 1, "INT32": 4, "FP16": 2, "FP32": 4}[out]
    f.update(acc_addr=0 if acc == "INT8" else 6, rows=rows, cols=cols,
             dram_addr=dram_addr, dram_stride=cols * size)
    cmd = store(**f)
    assert store_mode(cmd.fields) == mode
    return cmd, rows * cols * size


def mode_image(rng):
    """:func:`acc_image` with TFLite multipliers / shifts in ACC rows 12 / 13."""
    acc = acc_image(rng)
    acc[12] = np.array([1 << 30, 0x7FFF_FFFF, 1_500_000_000], np.uint32)
    acc[13] = np.array([-8, -12, 3], np.int32).view(np.uint32)
    return acc


@pytest.mark.parametrize("wait_reg", [False, True])
def test_every_store_mode(wait_reg):
    """One STORE per bin of the ``npu.store_mode`` coverpoint group (every output mode of the
    STORE table: each requantization mode and the raw int32 output, per-column and per-row
    scales, with and without the clamp), bit-exact with the command model; packed into as
    few runs as the 256 bytes below the ACC image allow."""
    before = coverage.counts().get("npu.store_mode", {})
    runs, cmds, at = [], [], 0
    for mode in coverage.GROUPS["npu.store_mode"]:
        cmd, size = store_for_mode(mode, at)
        if at + size > ACC_AT:
            runs.append(cmds)
            cmd, size = store_for_mode(mode, 0)
            cmds, at = [], 0
        cmds.append(cmd)
        at = (at + size + 3) & ~3
    runs.append(cmds)
    for seed, cmds in enumerate(runs):
        mem, expect, errors = run(cmds, seed=seed, image=mode_image,
                                  config=dataclasses.replace(CFG, npu_store_wait_reg=wait_reg))
        check_stores(cmds, mem, expect, errors)
    after = coverage.counts()["npu.store_mode"]
    assert all(after.get(b, 0) > before.get(b, 0) for b in coverage.GROUPS["npu.store_mode"])


def test_lane_sum():
    """``lane_sum`` (a build with ``npu_gather``, 5 columns): lanes 0..3 of each row summed
    as int32 with wrap-around (lane 4 left out), then raw int32 or the per-row requantization
    (``lane_scales``); bit-exact with the command model and with the sums written out here."""
    config = SoCConfig(npu_rows=2, npu_cols=5, npu_spad_rows=16, npu_acc_rows=16,
                       npu_gather=True)

    def image(rng):
        acc = np.zeros((16, 5), np.uint32)
        acc[0:6] = rng.integers(-2**31, 2**31, (6, 5)).astype(np.int32).view(np.uint32)
        acc[0, :4] = np.array([2**31 - 1, 1, 0, 0], np.int32).view(np.uint32)    # wraps
        acc[1, :4] = np.array([-2**31, -1, -2**31, 5], np.int32).view(np.uint32)
        acc[6:10] = rng.integers(-3000, 3000, (4, 5)).astype(np.int32).view(np.uint32)
        acc[14] = np.float32([0.004, 0.01, 0.0007, 0.02, 0.5]).view(np.uint32)
        acc[15] = np.float32([0.03, 0.002, 1.0, 0.25, 2.0]).view(np.uint32)
        return acc

    lo = (-110) & 0xFFFF_FFFF
    cmds = [store(out=OutType.INT32, acc_type=Precision.INT8, lane_sum=1, dram_addr=4,
                  dram_stride=4, rows=6, cols=1, acc_addr=0),
            store(out=OutType.INT8, acc_type=Precision.INT8, lane_sum=1, scale=1,
                  lane_scales=1, zero_point=4, lo=lo, hi=120, dram_addr=40, dram_stride=3,
                  rows=7, cols=1, acc_addr=3, scale_addr=14)]
    mem, expect, errors = run(cmds, seed=9, image=image, config=config)
    check_stores(cmds, mem, expect, errors)
    acc = image(np.random.default_rng(9)).view(np.int32).astype(np.int64)
    sums = ((acc[0:6, :4].sum(axis=1) + 2**31) % 2**32 - 2**31).astype(np.int32)
    assert bytes(mem[4:28]) == b"".join(int(v).to_bytes(4, "little", signed=True)
                                        for v in sums)
    assert sums[0] == -2**31 and sums[1] == 4             # wrapped both ways


@pytest.mark.parametrize("wait_reg", [False, True])
@pytest.mark.parametrize("gap", [7, 0, 1])
def test_waits_for_rows_not_yet_written(wait_reg, gap):
    """``acc_wait`` (the execute unit's ``acc_pending`` in the NPU) holds each ACC row read
    until the row is written: ACC rows 0-5 start as junk and get their values one every
    ``gap + 1`` cycles while the STORE runs, with ``acc_wait`` high for the rows not written
    yet; the output is the written values', and the STORE finishes after the last write.
    With ``npu_store_wait_reg`` the answer is for ``acc_query`` and registered; a read of a
    row not yet written would put its junk into the output."""
    from amaranth.hdl import Signal

    config = dataclasses.replace(CFG, npu_store_wait_reg=wait_reg)

    rng = np.random.default_rng(5)
    acc = acc_image(rng)
    junk = rng.integers(0, 2**32, (6, 3), dtype=np.uint64).astype(np.uint32)
    cmd = store(out=OutType.INT32, acc_type=Precision.INT8, dram_addr=8, dram_stride=12,
                rows=6, cols=3, acc_addr=0)
    mem = bytearray(random.Random(5).randbytes(ACC_AT)) + bytearray(acc.tobytes())
    preload = Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32,
                                   dram_addr=ACC_AT, dram_stride=12, rows=16, cols=3,
                                   local_addr=0))
    expect, _, _ = reference(config, [preload, cmd], mem)

    class WaitBench(Bench):
        def __init__(self):
            super().__init__(config)
            self.written = Signal(8)         # rows 0 .. written - 1 hold their values

        def elaborate(self, platform):
            m = super().elaborate(platform)
            query = self.store.acc_query if wait_reg else self.store.acc_r.addr
            m.d.comb += self.store.acc_wait.eq(query >= self.written)
            return m

    dut = WaitBench()
    target = MemoryTarget(dut.dma.bus, mem, latency=4, seed=5)
    times = {}

    async def monitor(ctx):
        cycle = 0
        while True:
            _, _, done = await ctx.tick().sample(dut.store.done)
            cycle += 1
            if done:
                times["done"] = cycle

    async def bench(ctx):
        for r in range(16):
            row = junk[r] if r < 6 else acc[r]
            ctx.set(dut.acc.w_load.payload, {"addr": r, "data": [int(v) for v in row],
                                             "mask": 7})
            ctx.set(dut.acc.w_load.valid, 1)
            await ctx.tick()
        ctx.set(dut.acc.w_load.valid, 0)
        fields = {k: getattr(v, "value", v) for k, v in cmd.fields.items()}
        await send_stream(ctx, dut.store.cmd, [fields])
        for r in range(6):
            if gap:
                await ctx.tick().repeat(gap)
            ctx.set(dut.acc.w_exec.payload, {"addr": r, "data": [int(v) for v in acc[r]],
                                             "mask": 7})
            ctx.set(dut.acc.w_exec.valid, 1)
            await ctx.tick()
            ctx.set(dut.acc.w_exec.valid, 0)
            ctx.set(dut.written, r + 1)
        times["last_write"] = times.get("done")
        for _ in range(200):
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(target.serve, background=True)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(bench)
    sim.run()
    assert times["last_write"] is None and "done" in times     # done after the last write
    assert bytes(mem[8:8 + 72]) == bytes(expect[8:8 + 72])
