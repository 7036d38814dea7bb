"""LoadUnit's ``spad_wait`` (``npu_load_follow``) for 2-D placements: with
``npu_row_hazard`` it says exactly whether an accepted LOAD (the one being written or the
queued one) has still to write the queried row; without it a placement's whole range waits
(a superset). Checked every cycle against a model of the accepted LOADs' unwritten rows, on
back-to-back FILLs and LOADs of side columns, image rows and 1-D rows."""

import dataclasses
import random

import pytest
from dure.rtl.npu.commands import ElemType, LoadTarget
from dure.sim.npu_validate import local_rows_written
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_datapath import Command, MemoryTarget, send_stream
from dure.sim.verif.npu_unit_bench import LoadBench

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=3, npu_cols=2, npu_spad_rows=64, npu_acc_rows=16,
                npu_load_overlap=True, npu_load_follow=True, npu_row_hazard=True)
PITCH = 6


def placed(col, first, groups, cols=1, fill=True):
    """Columns ``col .. col + cols - 1`` of tile rows ``first ..`` (pitch PITCH), a FILL or a
    LOAD from main memory."""
    src = dict(fill=1, fill_value=0x80) if fill else dict(dram_addr=8, dram_stride=3)
    return Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, rows=cols * groups,
                                cols=2, local_addr=first * PITCH + col, local_cols=cols,
                                local_groups=groups, local_row_step=PITCH, **src))


def stream():
    return [placed(1, 0, 4, cols=4, fill=False),     # image rows, columns 1-4
            placed(0, 1, 6),                          # left side column (queued behind)
            placed(5, 0, 5),                          # right side column
            Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=40,
                                 dram_stride=2, rows=5, cols=2, local_addr=44)),
            placed(2, 2, 3, cols=2, fill=False),
            placed(0, 0, 8)]


def watch(config, cmds, seed):
    """Runs ``cmds`` back to back; every cycle queries two random rows. Returns the list of
    (query, wait, expected) with ``expected`` the model's exact answer."""
    dut = LoadBench(config)
    load = dut.load
    rng = random.Random(seed)
    target = MemoryTarget(dut.dma.bus, bytearray(rng.randbytes(256)), latency=3, jitter=2,
                          gnt_probability=0.7, seed=seed)
    fields = [{k: getattr(v, "value", v) for k, v in c.fields.items()} for c in cmds]
    left = []           # per accepted, unfinished LOAD: its rows not yet written, in order
    seen, state = [], {"accepted": 0, "done": 0}

    async def feed(ctx):
        await send_stream(ctx, load.cmd, fields, rng=rng, idle=0.2)

    async def check(ctx):
        ctx.set(load.spad_w.ready, 1)
        ctx.set(load.acc_w.ready, 1)
        for _ in range(2_000):
            qa, qw = rng.randrange(50), rng.randrange(50)
            ctx.set(load.spad_query_a, qa)
            ctx.set(load.spad_query_w, qw)
            _, _, wa, ww, sv, addr, cv, cr, done = await ctx.tick().sample(
                load.spad_wait_a, load.spad_wait_w, load.spad_w.valid, load.spad_w.payload.addr,
                load.cmd.valid, load.cmd.ready, load.done)
            for q, w in ((qa, wa), (qw, ww)):
                seen.append((q, w, any(q in rows for rows in left)))
            if sv:
                assert left and left[0] and left[0][0] == addr
                left[0].pop(0)
            if done:
                assert left and not left[0]
                left.pop(0)
                state["done"] += 1
            if cv and cr:
                left.append(local_rows_written(fields[state["accepted"]]))
                state["accepted"] += 1
            if state["done"] == len(cmds):
                return
        raise AssertionError("timeout")

    simulate(dut, [check], [target.serve, feed])
    return seen


@pytest.mark.parametrize("seed", range(3))
def test_row_exact_wait_of_placements(seed):
    """With ``npu_row_hazard`` the answer is the model's every cycle: a queued FILL of a side
    column does not hold a read of an image column inside its range, a row still to be
    written waits."""
    seen = watch(CFG, stream(), seed)
    assert all(w == exp for _, w, exp in seen), [s for s in seen if s[1] != s[2]][:5]
    assert sum(w for _, w, _ in seen) >= 8              # rows did wait


def test_range_wait_without_the_option():
    """Without it every row that must wait still does, and rows in a placement's gaps wait
    too (what the option removes)."""
    seen = watch(dataclasses.replace(CFG, npu_row_hazard=False), stream(), 0)
    assert all(w for _, w, exp in seen if exp)
    assert sum(w and not exp for _, w, exp in seen) >= 20
