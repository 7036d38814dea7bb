# amaranth: UnusedElaboratable=no
"""Dispatcher (through the NPU control block) against a behavioural datapath: overlap of
independent commands, serialisation of dependent ones, FENCE, refusals and bus errors, and
random command streams checked against the in-order semantics."""

import random

import pytest
from dure.rtl.bus.testing import simulate
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Status
from dure.rtl.npu.control import NpuControl
from dure.rtl.npu.control_testing import (
    StandInDatapath,
    check_schedule,
    reg_read,
    reg_write,
    submit,
)
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.npu_validate import validate

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4)
BASE = 0x4000_0000


def load(local, rows=4, target=LoadTarget.SPAD, addr=BASE):
    elem = ElemType.INT8 if target == LoadTarget.SPAD else ElemType.WORD32
    return encode(Opcode.LOAD, target=target, elem=elem, dram_addr=addr, dram_stride=16,
                  rows=rows, cols=4, local_addr=local)


def compute(a, w, acc, m=4, accumulate=0):
    return encode(Opcode.COMPUTE, a_addr=a, w_addr=w, acc_addr=acc, m=m, k=4, n=4,
                  accumulate=accumulate)


def store(acc, rows=4, addr=BASE + 0x800, scale=None):
    extra = dict(scale=1, scale_addr=scale) if scale is not None else {}
    return encode(Opcode.STORE, out=OutType.INT32, dram_addr=addr, dram_stride=16, rows=rows,
                  cols=4, acc_addr=acc, **extra)


def fence(irq=0):
    return encode(Opcode.FENCE, irq=irq)


def run(commands, *, latency=None, bus_error=None, seed=0, prefill=True, after=None):
    """Submits ``commands`` (all units held until the queue is full when ``prefill``), waits
    until the NPU is idle, checks the schedule; returns (runs by seq, datapath, registers)."""
    dut = NpuControl(CFG)
    datapath = StandInDatapath(dut, latency=latency, bus_error=bus_error, seed=seed)
    if prefill:
        datapath.hold = {"load", "exec", "store"}
    regs = {}

    async def bench(ctx):
        assert not await reg_write(ctx, dut.bus, "DMA_BASE", BASE)
        assert not await reg_write(ctx, dut.bus, "DMA_SIZE", 0x1000)
        for index, words in enumerate(commands):
            if prefill and index == CFG.npu_queue_depth:
                datapath.hold.clear()
            await submit(ctx, dut.bus, words)
        datapath.hold.clear()
        for _ in range(20_000):
            status, _ = await reg_read(ctx, dut.bus, "STATUS")
            if not status & Status.BUSY.value:
                break
        else:
            raise AssertionError("the NPU never became idle")
        for name in ("STATUS", "ERROR", "ISSUED", "DONE", "PERF_STALL_DEP_LO"):
            regs[name] = (await reg_read(ctx, dut.bus, name))[0]
        if after:
            await after(ctx, dut)

    simulate(dut, [bench], [datapath.run])
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    matched = check_schedule([decode(w) for w in commands], codes, datapath.runs)
    assert regs["ISSUED"] == regs["DONE"] == len(commands)
    return matched, datapath, regs


def overlaps(a, b):
    return a.accepted <= b.done and b.accepted <= a.done


def test_independent_load_overlaps_compute_and_store():
    # Double-buffered tiling: LOAD(next) || COMPUTE(this) || STORE(previous).
    commands = [load(0), load(4), compute(0, 4, 0), load(8), load(12), store(0),
                compute(8, 12, 4), load(16), load(20), store(4), compute(16, 20, 0), store(0)]
    latency = {"load": 20, "exec": 40, "store": 40}
    matched, _, regs = run(commands, latency=lambda unit, f: latency[unit])
    assert overlaps(matched[2], matched[3])                 # compute(0) || load(8)
    # store(0) || compute(8) || load(16), all three at once.
    assert max(matched[s].accepted for s in (5, 6, 7)) < min(matched[s].done for s in (5, 6, 7))
    # compute(16 -> acc 0) waits for store(0) (WAR on ACC rows 0..3).
    assert matched[10].accepted > matched[5].done
    assert regs["ERROR"] == 0 and not regs["STATUS"] & Status.ERROR.value


@pytest.mark.parametrize("case", ["raw_spad", "war_spad", "waw_acc", "raw_acc", "scale_row"])
def test_dependent_commands_serialise(case):
    commands = {
        "raw_spad": [load(0), compute(0, 8, 0)],            # compute reads what load writes
        "war_spad": [compute(0, 8, 0), load(10, rows=1)],   # load overwrites W rows
        "waw_acc": [compute(0, 8, 0), load(3, rows=1, target=LoadTarget.ACC)],
        "raw_acc": [compute(0, 8, 4), store(7, rows=1)],
        "scale_row": [load(20, rows=1, target=LoadTarget.ACC), store(0, scale=20)],
    }[case]
    independent = {
        "raw_spad": [load(4), compute(0, 8, 0)],
        "war_spad": [compute(0, 8, 0), load(12, rows=1)],
        "waw_acc": [compute(0, 8, 0), load(4, rows=1, target=LoadTarget.ACC)],
        "raw_acc": [compute(0, 8, 4), store(8, rows=1)],
        "scale_row": [load(20, rows=1, target=LoadTarget.ACC), store(0, scale=21)],
    }[case]
    if case == "scale_row":
        commands[1] = encode(Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=20, lo=-128,
                             hi=127, dram_addr=BASE, dram_stride=4, rows=4, cols=4)
        independent[1] = encode(Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=21,
                                lo=-128, hi=127, dram_addr=BASE, dram_stride=4, rows=4, cols=4)
    matched, _, regs = run(commands, latency=lambda unit, f: 30)
    assert not overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] >= 20
    matched, _, regs = run(independent, latency=lambda unit, f: 30)
    assert overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] == 0


def test_fence_waits_and_interrupts():
    commands = [load(0), store(0), fence(irq=1), load(8, rows=1)]
    seen = {}

    async def after(ctx, dut):
        seen["irq_off"] = ctx.get(dut.irq)
        assert not await reg_write(ctx, dut.bus, "CONTROL", 0b10)
        await ctx.tick()
        seen["irq_on"] = ctx.get(dut.irq)
        assert not await reg_write(ctx, dut.bus, "STATUS", Status.FENCE_IRQ.value)
        await ctx.tick()
        seen["irq_cleared"] = ctx.get(dut.irq)
        seen["status"] = (await reg_read(ctx, dut.bus, "STATUS"))[0]

    matched, _, regs = run(commands, latency=lambda unit, f: 25, after=after)
    assert matched[3].accepted > max(matched[0].done, matched[1].done)
    assert regs["STATUS"] & Status.FENCE_IRQ.value
    assert seen == {"irq_off": 0, "irq_on": 1, "irq_cleared": 0, "status": 0}


def test_refusals_and_bus_errors_recorded_first_only():
    commands = [load(0), [0] * 8, load(60, rows=8), compute(0, 8, 0), [9] + [0] * 7]
    _, _, regs = run(commands)
    assert regs["ERROR"] == (1 << 8) | ErrorCode.BAD_OPCODE.value
    assert regs["STATUS"] & Status.ERROR.value

    def bus_error(unit, fields):
        return unit == "store"
    commands = [load(0), compute(0, 8, 0), store(0), store(4), load(8, rows=1)]
    matched, _, regs = run(commands, bus_error=bus_error)
    assert regs["ERROR"] == (2 << 8) | ErrorCode.BUS_ERROR.value
    assert all(seq in matched for seq in (0, 1, 2, 3, 4))


def random_command(rng):
    kind = rng.random()
    local = lambda: rng.randrange(0, 24)            # noqa: E731 -- small ranges: many hazards
    if kind < 0.3:
        target = rng.choice([LoadTarget.SPAD, LoadTarget.ACC])
        return load(local(), rows=rng.randint(1, 8), target=target)
    if kind < 0.6:
        return compute(local(), local(), local(), m=rng.randint(1, 8),
                       accumulate=rng.randint(0, 1))
    if kind < 0.85:
        scale = rng.choice([None, local()])
        return store(local(), rows=rng.randint(1, 8), scale=scale)
    if kind < 0.92:
        return fence(rng.randint(0, 1))
    words = load(0)
    words[rng.randrange(8)] ^= 1 << rng.randrange(32)      # mostly refused
    return words


@pytest.mark.parametrize("seed", range(3))
def test_random_streams_keep_order(seed):
    rng = random.Random(seed)
    commands = [random_command(rng) for _ in range(40)]
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    run(commands, latency=latency, seed=seed, prefill=seed % 2 == 0,
        bus_error=lambda unit, f: rng.random() < 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 30))
def test_random_streams_keep_order_long(seed):
    test_random_streams_keep_order(seed)
