"""DMA reader / writer through one bus port: strides, alignments, backpressure, bus errors;
each with and without ``side_slices`` (a register slice on each side of the DMA's arbiter)."""

import random

import pytest
from amaranth.sim import Simulator
from dure.rtl.npu.dma import Dma
from dure.sim.verif.npu_datapath import MemoryTarget, send_stream

MAXR, MAXW = 12, 10       # longest read / write row in bytes
MEM = 512
# Every test runs without and with the register slices between the sides and the arbiter.
SLICES = pytest.mark.parametrize("slices", [False, True], ids=["direct", "slices"])
# Requests a side's slice may hold granted and not yet presented on the bus (besides the one
# presented): with slices they reach the bus after an err response stopped the side.
QUEUED = {False: 0, True: 2}


def run(dma, target, benches, timeout=20_000):
    sim = Simulator(dma)
    sim.add_clock(1e-8)
    sim.add_testbench(target.serve, background=True)
    state = {"cycles": 0}

    async def clock(ctx):
        while True:
            await ctx.tick()
            state["cycles"] += 1
            assert state["cycles"] < timeout, "timeout"
    sim.add_testbench(clock, background=True)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()
    return state["cycles"]


def expected_rows(mem, cmd):
    return [bytes(mem[cmd["addr"] + r * cmd["stride"]:][:cmd["row_bytes"]])
            for r in range(cmd["rows"])]


def random_read_cmd(rng, maxb, mem_size):
    row_bytes = rng.randint(1, maxb)
    rows = rng.randint(1, 5)
    stride = rng.choice([row_bytes, row_bytes + rng.randint(0, 9), 0])
    span = (rows - 1) * stride + row_bytes
    addr = rng.randint(0, mem_size - span)
    return {"addr": addr, "stride": stride, "rows": rows, "row_bytes": row_bytes}


async def read_commands(ctx, dma, cmds, rng, ready_p, out):
    """Issue each read command, collect its rows and its done/error; returns via ``out``."""
    for cmd in cmds:
        await send_stream(ctx, dma.rd_cmd, [cmd])
        rows = []
        while True:
            ready = int(rng.random() < ready_p)
            ctx.set(dma.rd_rows.ready, ready)
            _, _, valid, payload, done, error = await ctx.tick().sample(
                dma.rd_rows.valid, dma.rd_rows.payload, dma.rd_done, dma.rd_error)
            if valid and ready:
                rows.append(payload.to_bytes(MAXR, "little")[:cmd["row_bytes"]])
            if done:
                out.append((rows, error))
                break
        ctx.set(dma.rd_rows.ready, 0)


@SLICES
@pytest.mark.parametrize("gnt,latency,jitter,ready", [
    (1.0, 1, 0, 1.0), (0.5, 3, 4, 0.6), (0.8, 10, 0, 0.3), (0.3, 2, 8, 1.0),
])
def test_reads(gnt, latency, jitter, ready, slices):
    rng = random.Random(int(gnt * 100 + latency + jitter * 7 + ready * 13))
    mem = bytearray(rng.randbytes(MEM))
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=latency, jitter=jitter, gnt_probability=gnt,
                          seed=latency)
    cmds = [random_read_cmd(rng, MAXR, MEM) for _ in range(25)]
    out = []

    async def bench(ctx):
        await read_commands(ctx, dma, cmds, rng, ready, out)
    run(dma, target, [bench])
    for cmd, (rows, error) in zip(cmds, out, strict=True):
        assert not error
        assert rows == expected_rows(mem, cmd), cmd
    assert all(we == 0 for _, _, we, _, _ in target.log)


@SLICES
def test_read_error_stops_command(slices):
    """The row holding the failing word and every later row are not delivered; no new request
    is presented after the err response; the next command works."""
    rng = random.Random(5)
    mem = bytearray(rng.randbytes(MEM))
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=4, jitter=2, gnt_probability=0.7, seed=2)
    bad = {"addr": 3, "stride": 20, "rows": 8, "row_bytes": 9}
    bad_row = 4
    target.err_words = {(bad["addr"] + bad_row * bad["stride"] + 4) // 4}
    good = {"addr": 200, "stride": 12, "rows": 3, "row_bytes": 12}
    out = []

    async def bench(ctx):
        await read_commands(ctx, dma, [bad, good], rng, 0.7, out)
    run(dma, target, [bench])
    (rows, error), (rows2, error2) = out
    assert error and rows == expected_rows(mem, bad)[:bad_row]
    assert not error2 and rows2 == expected_rows(mem, good)
    err_cycle = next(c for c, e in target.responses if e)
    first_good = min(c for c, a, *_ in target.log if a >= 50)
    # At most the one request already presented (never withdrawn) is granted after the err,
    # plus with slices those a slice holds.
    assert sum(c > err_cycle for c, a, *_ in target.log if a < 50) <= 1 + QUEUED[slices]
    assert first_good > err_cycle


async def write_commands(ctx, dma, cmds, rows_of, rng, idle, out):
    for cmd, rows in zip(cmds, rows_of, strict=True):
        await send_stream(ctx, dma.wr_cmd, [cmd])
        await send_stream(ctx, dma.wr_rows, [int.from_bytes(r, "little") for r in rows],
                          rng=rng, idle=idle)
        while True:
            _, _, done, error = await ctx.tick().sample(dma.wr_done, dma.wr_error)
            if done:
                out.append(error)
                break


@SLICES
@pytest.mark.parametrize("gnt,latency,jitter,idle", [
    (1.0, 1, 0, 0.0), (0.5, 3, 4, 0.3), (0.8, 9, 0, 0.0), (0.3, 2, 8, 0.5),
])
def test_writes(gnt, latency, jitter, idle, slices):
    rng = random.Random(int(gnt * 100 + latency + jitter * 7 + idle * 13))
    mem = bytearray(rng.randbytes(MEM))
    ref = bytearray(mem)
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=latency, jitter=jitter, gnt_probability=gnt,
                          seed=latency)
    cmds, rows_of = [], []
    for _ in range(25):
        cmd = random_read_cmd(rng, MAXW, MEM)
        if cmd["stride"] < cmd["row_bytes"]:
            cmd["stride"] = cmd["row_bytes"] + rng.randint(0, 3)
            cmd["addr"] = rng.randint(0, MEM - (cmd["rows"] - 1) * cmd["stride"]
                                      - cmd["row_bytes"])
        rows = [rng.randbytes(cmd["row_bytes"]) for _ in range(cmd["rows"])]
        for r, row in enumerate(rows):
            a = cmd["addr"] + r * cmd["stride"]
            ref[a:a + len(row)] = row
        cmds.append(cmd)
        rows_of.append(rows)
    out = []

    async def bench(ctx):
        await write_commands(ctx, dma, cmds, rows_of, rng, idle, out)
    run(dma, target, [bench])
    assert out == [0] * len(cmds)
    assert mem == ref
    assert all(we == 1 for _, _, we, _, _ in target.log)


@SLICES
def test_write_error_stops_command(slices):
    """After the err response no new write is presented; the remaining rows are consumed;
    done comes with error; the next command writes normally."""
    rng = random.Random(9)
    mem = bytearray(MEM)
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=5, gnt_probability=0.6, seed=4)
    bad = {"addr": 1, "stride": 10, "rows": 20, "row_bytes": 10}
    target.err_words = {(1 + 3 * 10) // 4}
    good = {"addr": 300, "stride": 10, "rows": 2, "row_bytes": 7}
    rows_of = [[b"\xAA" * 10] * 20, [b"\x55" * 7] * 2]
    out = []

    async def bench(ctx):
        await write_commands(ctx, dma, [bad, good], rows_of, rng, 0.0, out)
    run(dma, target, [bench])
    assert out == [1, 0]
    err_cycle = next(c for c, e in target.responses if e)
    assert sum(c > err_cycle for c, a, *_ in target.log if a < 75) <= 1 + QUEUED[slices]
    assert mem[300:307] == b"\x55" * 7 and mem[310:317] == b"\x55" * 7
    written = max(i for i in range(200) if mem[i]) + 1
    assert written < 200     # stopped well before the end of the failing command


def stream_both(dma, target, rcmd, wcmd, wrows, rng, read_ready, write_idle):
    """Run one read command (``read_ready``: probability of rows' ready) and one write command
    of ``wrows`` (``write_idle``: probability of an idle cycle between rows) at the same time,
    check that each completed without error with the right data (the rows read as memory held
    them before; the rows written in memory afterwards), and return ``(rout, wout)`` as
    :func:`read_commands` and :func:`write_commands` collect them."""
    expect = expected_rows(target.mem, rcmd)
    rout, wout = [], []

    async def reader(ctx):
        await read_commands(ctx, dma, [rcmd], rng, read_ready, rout)

    async def writer(ctx):
        await write_commands(ctx, dma, [wcmd], [wrows], rng, write_idle, wout)
    run(dma, target, [reader, writer])
    assert rout == [(expect, 0)] and wout == [0]
    assert expected_rows(target.mem, wcmd) == wrows
    return rout, wout


@SLICES
def test_read_and_write_share_the_bus(slices):
    """A read and a write command at the same time each complete correctly."""
    rng = random.Random(3)
    mem = bytearray(rng.randbytes(MEM))
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=3, jitter=3, gnt_probability=0.8, seed=1)
    rcmd = {"addr": 0, "stride": 12, "rows": 10, "row_bytes": 12}
    wcmd = {"addr": 301, "stride": 10, "rows": 10, "row_bytes": 10}
    wrows = [rng.randbytes(10) for _ in range(10)]
    stream_both(dma, target, rcmd, wcmd, wrows, rng, 0.8, 0.2)


@SLICES
def test_read_bandwidth(slices):
    """A long contiguous read keeps a 10-cycle-latency memory busy (>= 90 % of its grants)."""
    mem = bytearray(random.Random(1).randbytes(2048))
    dma = Dma(8, 8, depth=16, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=10)
    cmd = {"addr": 0, "stride": 8, "rows": 200, "row_bytes": 8}
    out = []
    stamps = {}

    async def bench(ctx):
        await send_stream(ctx, dma.rd_cmd, [cmd])
        ctx.set(dma.rd_rows.ready, 1)
        cycles = 0
        rows = []
        while True:
            _, _, valid, payload, done = await ctx.tick().sample(
                dma.rd_rows.valid, dma.rd_rows.payload, dma.rd_done)
            cycles += 1
            if valid:
                rows.append(payload.to_bytes(8, "little"))
            if done:
                break
        stamps["cycles"] = cycles
        out.append(rows)
    run(dma, target, [bench])
    assert out[0] == expected_rows(mem, cmd)
    words = 400
    utilisation = words / stamps["cycles"]
    print(f"DMA read: {words} words in {stamps['cycles']} cycles: {utilisation:.1%}")
    assert utilisation >= 0.9


@SLICES
@pytest.mark.parametrize("row_bytes", [6, 10])
def test_straddling_rows_read_at_the_bus_rate(row_bytes, slices):
    """Rows that straddle words at a stride of their length (the gather GEMV's 6-byte int4 and
    10-byte int8 2:4 records: each row shares a word with its neighbour) are issued one word
    per cycle: a grant every cycle keeps the bus >= 90 % busy, not one cycle per word each row
    covers (before: 601 words in 813 cycles for 6-byte rows). Rows lying wholly inside the
    previous row's last word still cost an issue cycle each (3-byte rows: 3 / 4)."""
    mem = bytearray(random.Random(row_bytes).randbytes(8192))
    dma = Dma(16, 8, depth=16, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=10)
    cmd = {"addr": 2, "stride": row_bytes, "rows": 400, "row_bytes": row_bytes}
    out, stamps = [], {}

    async def bench(ctx):
        await send_stream(ctx, dma.rd_cmd, [cmd])
        ctx.set(dma.rd_rows.ready, 1)
        cycles, rows = 0, []
        while True:
            _, _, valid, payload, done = await ctx.tick().sample(
                dma.rd_rows.valid, dma.rd_rows.payload, dma.rd_done)
            cycles += 1
            if valid:
                rows.append(payload.to_bytes(16, "little")[:row_bytes])
            if done:
                break
        stamps["cycles"] = cycles
        out.append(rows)
    run(dma, target, [bench])
    assert out[0] == expected_rows(mem, cmd)
    words = len(covering_words(cmd))
    assert len(target.log) == words
    print(f"{row_bytes}-byte rows: {words} words in {stamps['cycles']} cycles")
    assert words / stamps["cycles"] >= 0.9, (words, stamps["cycles"])


def covering_words(cmd):
    """The distinct bus words a read command's rows cover."""
    return {(cmd["addr"] + r * cmd["stride"] + b) // 4 for r in range(cmd["rows"])
            for b in range(cmd["row_bytes"])}


@SLICES
@pytest.mark.parametrize("gnt,latency,ready", [(1.0, 1, 1.0), (0.6, 5, 0.5)])
def test_reads_coalesce_short_rows(gnt, latency, ready, slices):
    """Rows shorter than a word at strides that share words (1-byte rows at stride 1, int4
    rows of 2 bytes at stride 2, 3-byte rows at stride 3, ...): every row right, and every
    covered word requested exactly once (a row inside the previous row's last word costs no
    request), under grant stalls and backpressure."""
    rng = random.Random(int(gnt * 10 + latency))
    mem = bytearray(rng.randbytes(MEM))
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=latency, gnt_probability=gnt, seed=latency)
    cmds = [{"addr": 0, "stride": 1, "rows": 40, "row_bytes": 1},
            {"addr": 66, "stride": 2, "rows": 21, "row_bytes": 2},
            {"addr": 129, "stride": 3, "rows": 17, "row_bytes": 3},
            {"addr": 3, "stride": 5, "rows": 9, "row_bytes": 2}]
    for _ in range(12):
        row_bytes = rng.randint(1, 6)
        stride = row_bytes + rng.randint(0, 2)
        rows = rng.randint(1, 20)
        cmds.append({"addr": rng.randint(0, MEM - (rows - 1) * stride - row_bytes),
                     "stride": stride, "rows": rows, "row_bytes": row_bytes})
    out = []

    async def bench(ctx):
        for cmd in cmds:
            before = len(target.log)
            got = []
            await read_commands(ctx, dma, [cmd], rng, ready, got)
            out.append((got[0], [a for _, a, *_ in target.log[before:]]))
    run(dma, target, [bench], timeout=40_000)
    for cmd, ((rows, error), words) in zip(cmds, out, strict=True):
        assert not error
        assert rows == expected_rows(mem, cmd), cmd
        assert sorted(words) == sorted(covering_words(cmd)), cmd
    assert len(out[0][1]) == 10 and len(out[1][1]) == 11       # 40 bytes; 42 bytes from 66


@SLICES
def test_read_error_in_a_shared_word(slices):
    """A bus error on a word two short rows share: the rows before it are delivered, the two
    rows holding it and every later row are not; the next command works."""
    rng = random.Random(9)
    mem = bytearray(rng.randbytes(MEM))
    dma = Dma(MAXR, MAXW, depth=4, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=3)
    cmd = {"addr": 40, "stride": 2, "rows": 12, "row_bytes": 2}
    target.err_words = {(40 + 8) // 4}          # rows 4 and 5
    good = {"addr": 100, "stride": 1, "rows": 9, "row_bytes": 1}
    out = []

    async def bench(ctx):
        await read_commands(ctx, dma, [cmd, good], rng, 0.8, out)
    run(dma, target, [bench])
    (rows, error), (rows2, error2) = out
    assert error and rows == expected_rows(mem, cmd)[:4]
    assert not error2 and rows2 == expected_rows(mem, good)


@SLICES
def test_read_and_write_streams_together_at_the_bus_rate(slices):
    """A long read and a long write at once, a target granting every cycle with 10 cycles of
    latency: the arbiter alternates and the bus stays >= 90 % busy (with slices too: each
    side's slice passes one request per cycle)."""
    rng = random.Random(7)
    mem = bytearray(rng.randbytes(4096))
    dma = Dma(8, 8, depth=16, side_slices=slices)
    target = MemoryTarget(dma.bus, mem, latency=10)
    rcmd = {"addr": 0, "stride": 8, "rows": 150, "row_bytes": 8}
    wcmd = {"addr": 2048, "stride": 8, "rows": 150, "row_bytes": 8}
    wrows = [rng.randbytes(8) for _ in range(150)]
    stream_both(dma, target, rcmd, wcmd, wrows, rng, 1.0, 0.0)
    words = len(target.log)
    assert words == 600
    first, last = target.log[0][0], target.log[-1][0]
    print(f"read + write: {words} words granted in {last - first + 1} cycles")
    assert words / (last - first + 1) >= 0.9
