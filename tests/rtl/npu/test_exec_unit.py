"""ExecUnit with a 2x2 INT8 array, SPAD and ACC: pipelined COMPUTEs, lane masks (n < cols),
accumulate / overwrite, a dependent COMPUTE after done, ACC write contention from LOAD;
accumulate chains issued back to back (ordered per ACC row by the unit), INT8 and FP16."""


import numpy as np
import pytest
from dure.sim import golden
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_unit_bench import (
    ExecBench,
    PulseLog,
    issue,
    preload,
    read_acc_row,
    write_acc_row,
)

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=2, npu_cols=2, npu_fp16=False, npu_spad_rows=16, npu_acc_rows=16)


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
    dut = ExecBench(CFG)
    monitor = PulseLog(dut.ex.done)
    done = monitor.pulses

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, 16)
        for c, wait in zip(cmds, waits, strict=True):
            while any(j >= len(done) for j in wait):
                await ctx.tick()
            await issue(ctx, dut.ex, {**c, "precision": 0})
        while len(done) < len(cmds):
            await ctx.tick()
        for r in range(16):
            got = await read_acc_row(ctx, dut.acc, r, 2)
            assert got == [int(v) & 0xFFFF_FFFF for v in expect[r]], f"ACC row {r}"

    async def loader(ctx):
        await ctx.tick().repeat(20)
        for row, data in side.items():
            await write_acc_row(ctx, dut, row, data)

    simulate(dut, [bench, loader], [monitor.run])


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
    dut = ExecBench(CFG)
    monitor = PulseLog(dut.ex.done, dut.ex.ev_macs)
    done = monitor.pulses

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, 16)
        for c in cmds:
            await issue(ctx, dut.ex, {**c, "precision": 0})
        while len(done) < len(cmds):
            await ctx.tick()
        for r in range(16):
            got = await read_acc_row(ctx, dut.acc, r, 2)
            assert got == [int(v) for v in model.acc[r]], f"ACC row {r}"

    simulate(dut, [bench], [monitor.run])
    assert sum(ev for ev, in monitor.samples) == model.macs == 4 * 4 + 3 * 4 + 3 * 2 + 3 * 1 + 1


# --- Accumulate chains ordered per ACC row -----------------------------------------------------

CHAIN_ROWS = 32


def _chain_state(precision, cmds, seed):
    """The bench of the chain tests (2x2, ``CHAIN_ROWS`` SPAD and ACC rows; FP16 array with
    ``precision`` 1), random SPAD and ACC contents (``seed``), and the command model after
    running ``cmds`` one after another on them: ``(dut, spad, acc, model)``."""
    from dure.rtl.npu.commands import Opcode
    from dure.sim.npu_model import NpuModel

    cfg = SoCConfig(npu_rows=2, npu_cols=2, npu_fp16=precision == 1, npu_spad_rows=CHAIN_ROWS,
                    npu_acc_rows=CHAIN_ROWS)
    dut = ExecBench(cfg)
    rng = np.random.default_rng(seed)
    if precision:
        spad = _random_fp16(rng, (CHAIN_ROWS, 2))
        acc = rng.normal(0, 4, (CHAIN_ROWS, 2)).astype(np.float32).view(np.uint32)
    else:
        spad = rng.integers(-128, 128, (CHAIN_ROWS, 2)).astype(np.int16).view(np.uint16)
        acc = rng.integers(0, 2**32, (CHAIN_ROWS, 2), dtype=np.uint64).astype(np.uint32)
    model = NpuModel(cfg)
    model.spad[:] = spad
    model.acc[:] = acc
    for c in cmds:
        model.apply(Opcode.COMPUTE, {**c, "precision": precision})
    return dut, spad, acc, model


def _random_fp16(rng, shape):
    """fp16 bit patterns: mostly small normals, some zeros, subnormals, Inf and NaN."""
    vals = rng.normal(0, 2, shape).astype(np.float16).view(np.uint16)
    special = rng.choice(np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x7E00],
                                  dtype=np.uint16), shape)
    return np.where(rng.random(shape) < 0.05, special, vals)


def run_chain(precision, cmds, *, seed, backpressure, scratch_rows=()):
    """Issues ``cmds`` back to back (no waits), ``backpressure`` the probability that a LOAD
    row write to a ``scratch_rows`` ACC row competes for the write port in a cycle; checks
    every ACC row against the command model running the commands one after another; returns
    the cycles at which ``cmd`` was accepted and ``done`` pulsed."""
    dut, spad, acc, model = _chain_state(precision, cmds, seed)
    side = {}                                    # scratch row -> last value the LOAD wrote
    accepted = []
    monitor = PulseLog(dut.ex.done)
    done = monitor.pulses

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, CHAIN_ROWS)
        started[0] = True
        for c in cmds:
            await issue(ctx, dut.ex, {**c, "precision": precision})
            accepted.append(monitor.cycle - 1)
        while len(done) < len(cmds):
            await ctx.tick()
        stop[0] = True
        await ctx.tick().repeat(2)
        for r in range(CHAIN_ROWS):
            got = await read_acc_row(ctx, dut.acc, r, 2)
            want = side.get(r, [int(v) for v in model.acc[r]])
            assert got == want, f"ACC row {r}: {[hex(v) for v in got]} != {want}"

    started, stop = [False], [False]

    async def loader(ctx):
        lrng = np.random.default_rng(seed + 1)
        while not started[0]:
            await ctx.tick()
        while not stop[0]:
            if scratch_rows and lrng.random() < backpressure:
                row = int(lrng.choice(scratch_rows))
                data = [int(v) for v in lrng.integers(0, 2**32, 2, dtype=np.uint64)]
                await write_acc_row(ctx, dut, row, data)
                side[row] = data
            else:
                await ctx.tick()

    simulate(dut, [bench, loader], [monitor.run])
    return accepted, done, dut.array.latency


def random_chain(rng, count):
    """COMPUTEs whose ACC ranges overlap their predecessors' fully, partly or not at all
    (mostly accumulating), on ACC rows 0..23; rows 24..31 stay free for the LOAD."""
    cmds = []
    for _ in range(count):
        m = int(rng.integers(1, 7))
        kind = rng.random()
        if cmds and kind < 0.4:
            acc_addr = cmds[-1]["acc_addr"]                              # same rows
        elif cmds and kind < 0.7:
            acc_addr = max(0, min(24 - m, cmds[-1]["acc_addr"] + int(rng.integers(-3, 4))))
        else:
            acc_addr = int(rng.integers(0, 24 - m + 1))                  # anywhere
        cmds.append(dict(a_addr=int(rng.integers(0, CHAIN_ROWS - m + 1)),
                         w_addr=int(rng.integers(0, CHAIN_ROWS - 2 + 1)),
                         acc_addr=acc_addr, m=m, k=int(rng.integers(1, 3)),
                         n=int(rng.integers(1, 3)), accumulate=int(rng.random() < 0.8)))
    return cmds


@pytest.mark.parametrize("precision", [0, 1], ids=["int8", "fp16"])
@pytest.mark.parametrize("backpressure", [0.0, 0.5])
def test_accumulate_chains_bit_exact(precision, backpressure):
    """Chains of COMPUTEs accumulating onto each other's rows (overlapping fully, partly, not
    at all), issued back to back, with or without the LOAD stealing ACC write cycles, equal
    the command model running them one after another, bit for bit."""
    rng = np.random.default_rng(100 + precision)
    cmds = random_chain(rng, 14)
    run_chain(precision, cmds, seed=3 + precision, backpressure=backpressure,
              scratch_rows=list(range(24, 32)))


@pytest.mark.parametrize("precision", [0, 1], ids=["int8", "fp16"])
@pytest.mark.parametrize("m", [1, 3, 12])
def test_accumulate_chain_links_overlap(precision, m):
    """A K-tiled chain (every link accumulates onto the same ``m`` rows) runs one link per
    ``max(m, latency + 2)`` cycles: row ``i`` of a link is issued as soon as the previous
    link's row ``i`` is written (issue -> ops register 1 -> array ``latency`` -> ACC write at
    the edge 1), instead of waiting for the whole previous command. With the dispatcher's
    per-command hold a link took at least ``m + latency + 2`` cycles."""
    links = 6
    cmds = [dict(a_addr=2 * i, w_addr=20 + 2 * (i % 4), acc_addr=4, m=m, k=2, n=2,
                 accumulate=1) for i in range(links)]
    accepted, done, latency = run_chain(precision, cmds, seed=m, backpressure=0.0)
    gaps = np.diff(done)
    bound = max(m, latency + 2)
    assert gaps.max() <= bound, (list(gaps), bound)


def random_init_row_chain(rng, count):
    """:func:`random_chain` with some COMPUTEs starting from one ACC row (``init_row``): a row
    the previous command writes (RAW through the init row), or any other row outside their own
    range (the validator refuses an ``init_addr`` among the command's own rows)."""
    cmds = random_chain(rng, count)
    for i, c in enumerate(cmds):
        if rng.random() < 0.5:
            continue
        own = range(c["acc_addr"], c["acc_addr"] + c["m"])
        prev = range(cmds[i - 1]["acc_addr"], cmds[i - 1]["acc_addr"] + cmds[i - 1]["m"]) \
            if i else range(0)
        choices = [r for r in prev if r not in own] if rng.random() < 0.6 else []
        choices = choices or [r for r in range(24) if r not in own]
        c.update(accumulate=0, init_row=1, init_addr=int(rng.choice(choices)))
    return cmds


@pytest.mark.parametrize("precision", [0, 1], ids=["int8", "fp16"])
@pytest.mark.parametrize("backpressure", [0.0, 0.5])
def test_init_row_chains_bit_exact(precision, backpressure):
    """COMPUTEs with ``init_row`` (every row starts from ACC row ``init_addr``: a bias row)
    mixed into accumulate chains, issued back to back, the init row often one an earlier
    command's result is still on its way to, equal the command model bit for bit."""
    rng = np.random.default_rng(200 + precision)
    cmds = random_init_row_chain(rng, 16)
    assert sum(c.get("init_row", 0) for c in cmds) >= 4
    run_chain(precision, cmds, seed=7 + precision, backpressure=backpressure,
              scratch_rows=list(range(24, 32)))


# --- Rows an outside reader may read (acc_query / acc_pending) ---------------------------------

def run_follower(precision, cmds, *, seed):
    """Issues ``cmds`` back to back while a reader (the STORE unit's role) takes every ACC row
    the commands write (the last command's rows first, then the others in order: a slow earlier
    chain must not hold up the read of the last command's rows), as soon as all the commands
    are accepted and ``acc_pending``
    is low for it, through the store read port; each value read must be the row's final one
    (the command model running the commands one after another). Returns the cycle each row
    was read and the cycle of the last ``done``."""
    dut, spad, acc, model = _chain_state(precision, cmds, seed)
    last = cmds[-1]
    first = list(range(last["acc_addr"], last["acc_addr"] + last["m"]))
    rows = first + sorted({r for c in cmds for r in range(c["acc_addr"], c["acc_addr"] + c["m"])}
                          - set(first))
    monitor = PulseLog(dut.ex.done)
    done, read_at = monitor.pulses, {}
    issued = [False]

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, CHAIN_ROWS)
        for c in cmds:
            await issue(ctx, dut.ex, {**c, "precision": precision})
        issued[0] = True
        while len(done) < len(cmds) or len(read_at) < len(rows):
            await ctx.tick()

    async def reader(ctx):
        while not issued[0]:
            await ctx.tick()
        for r in rows:
            ctx.set(dut.ex.acc_query, r)
            while ctx.get(dut.ex.acc_pending):
                await ctx.tick()
            got = await read_acc_row(ctx, dut.acc, r, 2)
            ctx.set(dut.acc.r_store.en, 0)
            read_at[r] = monitor.cycle
            want = [int(v) for v in model.acc[r]]
            assert got == want, f"ACC row {r} read at {monitor.cycle} before its last write: " \
                f"{[hex(v) for v in got]} != {[hex(v) for v in want]}"

    simulate(dut, [bench, reader], [monitor.run])
    return read_at, done[-1]


@pytest.mark.parametrize("precision", [0, 1], ids=["int8", "fp16"])
@pytest.mark.parametrize("seed", [1, 2])
def test_acc_pending_follows_results(precision, seed):
    """An outside reader that waits for ``acc_pending`` to fall reads every row's final value
    (chains of overlapping COMPUTEs, init rows), and reads the first rows of the last COMPUTE
    before that COMPUTE's ``done``: it follows the results instead of the command."""
    rng = np.random.default_rng(300 + seed)
    cmds = random_init_row_chain(rng, 12)
    cmds.append(dict(a_addr=0, w_addr=4, acc_addr=24, m=8, k=2, n=2, accumulate=0))
    read_at, last_done = run_follower(precision, cmds, seed=seed)
    assert read_at[24] < last_done, (read_at[24], last_done)
